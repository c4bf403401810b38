import FlagModel
import FlagStore
import Foundation
import Testing

@Suite("The notification outbox")
struct NotificationStoreTests {
    static func draft(_ key: String, environment: String = "production", event: String = "flags.changed")
        -> NotificationDraft
    {
        NotificationDraft(
            event: event, project: "shop", environment: environment, revision: 1, details: .object(["k": .string(key)]),
            dedupeKey: key)
    }

    @Test func aReceiverGetsWhatHappensAfterItWasFirstSeenAndNotTheHistory() throws {
        let db = try TestDatabase.migrated()
        let store = NotificationStore(connection: db)
        #expect(try store.insert([Self.draft("old")]) == 1)
        let receiver = try store.register(fingerprint: "f1", name: "http://a:80#f1")
        #expect(try store.register(fingerprint: "f1", name: "http://a:80#f1") == receiver, "seen once")
        #expect(try store.insert([Self.draft("new"), Self.draft("new")]) == 1, "a dedupe key is inserted once")
        let pending = try store.pending(receiver: receiver, filter: NotificationFilter(), limit: 10)
        #expect(pending.map(\.draft.dedupeKey) == ["new"])
        #expect(pending.first?.draft.details == .object(["k": .string("new")]))
    }

    @Test func doneMessagesLeaveThePendingListAndAreCountedByState() throws {
        let db = try TestDatabase.migrated()
        let store = NotificationStore(connection: db)
        let receiver = try store.register(fingerprint: "f1", name: "r")
        try store.insert([Self.draft("a"), Self.draft("b"), Self.draft("c"), Self.draft("d", environment: "staging")])
        let all = try store.pending(receiver: receiver, filter: NotificationFilter(), limit: 10)
        try store.record(notification: all[0].id, receiver: receiver, state: .delivered, attempts: 1, statusCode: 200, error: nil)
        try store.record(notification: all[0].id, receiver: receiver, state: .failed, attempts: 2, statusCode: 400, error: "x")
        try store.record(notification: all[1].id, receiver: receiver, state: .failed, attempts: 1, statusCode: 400, error: "HTTP 400")
        try store.record(notification: all[2].id, receiver: receiver, state: .givenUp, attempts: 9, statusCode: nil, error: "down")
        let counts = try store.counts(receiver: receiver, filter: NotificationFilter())
        #expect(counts == DeliveryCounts(pending: 1, delivered: 1, failed: 1, givenUp: 1), "the first mark stands")
        let staging = NotificationFilter(environments: ["staging"])
        #expect(try store.pending(receiver: receiver, filter: staging, limit: 10).map(\.draft.dedupeKey) == ["d"])
        let killed = NotificationFilter(events: ["flag.killed"])
        #expect(try store.counts(receiver: receiver, filter: killed).pending == 0)
    }

    @Test func theDaemonRoleMayWriteTheOutbox() throws {
        let db = try TestDatabase.migrated()
        let role = "notify_" + UUID().uuidString.prefix(8).lowercased()
        try db.query("CREATE ROLE \(role) LOGIN IN ROLE flagstaff_writer")
        let daemon = try PostgresConnection(url: TestDatabase.url(try TestDatabase.url(of: db), user: role))
        let store = NotificationStore(connection: daemon)
        let receiver = try store.register(fingerprint: "f", name: "r")
        try store.insert([Self.draft("a")])
        let pending = try store.pending(receiver: receiver, filter: NotificationFilter(), limit: 1)
        try store.record(notification: pending[0].id, receiver: receiver, state: .delivered, attempts: 1, statusCode: 204, error: nil)
        #expect(try store.prune(olderThan: 0) == 1)
    }
}
