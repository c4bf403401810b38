import FlagModel
import FlagStore
import Foundation
import Testing

@Suite("Rejections, latest snapshots, outbox")
struct SyncStoreReadTests {
    func reject(_ store: SyncStore, commit: String, environment: String = "production") throws -> Bool {
        try store.recordRejection(
            organization: "acme", project: "shop", environment: environment, branch: "main", production: true,
            commit: commit, author: "Ada <ada@acme.example>", message: "Break it",
            diagnostics: #"[{"file":"shop/flags/x.yaml","line":3,"code":"E101","message":"unknown variant"}]"#,
            summary: "1 error: shop/flags/x.yaml:3:1: unknown variant")
    }

    @Test func aRejectedCommitIsRecordedOnceAndShownInTheStatusUntilAGoodCommitApplies() throws {
        let db = try TestDatabase.migrated()
        let store = SyncStore(connection: db)
        try store.apply(Fixtures.first, commit: "c1")
        let auditRows = try db.count("audit_logs")

        #expect(try reject(store, commit: "bad1"))
        #expect(try !reject(store, commit: "bad1"), "the same commit again is not recorded twice")
        #expect(try db.count("audit_logs") == auditRows + 1)
        let row = try db.query(
            """
            SELECT action, resource_type, resource_key, commit_sha, actor, message, branch, after::text
            FROM audit_logs ORDER BY id DESC LIMIT 1
            """)[0]
        #expect(
            Array(row[0...6])
                == ["sync.rejected", "commit", "bad1", "bad1", "Ada <ada@acme.example>", "Break it", "main"])
        #expect(
            try canonical(row[7])
                == #"[{"code":"E101","file":"shop/flags/x.yaml","line":3,"message":"unknown variant"}]"#)

        var status = try #require(try store.status().first)
        #expect(status.lastError == "1 error: shop/flags/x.yaml:3:1: unknown variant")
        #expect(status.lastErrorAt != nil)
        #expect(status.commit == "c1", "the last good commit is still what is served")
        #expect(status.revision == 1)

        #expect(try reject(store, commit: "bad2"), "another bad commit is recorded")
        #expect(try db.count("audit_logs") == auditRows + 2)
        #expect(try db.count("snapshots") == 1)

        let fixed = Fixtures.snapshot(flags: [Fixtures.checkout], segments: [], version: "sha256:fixed")
        try store.apply(fixed, commit: "c2")
        status = try #require(try store.status().first)
        #expect(status.lastError == nil)
        #expect(status.lastErrorAt == nil)
        #expect(status.commit == "c2")
    }

    @Test func aRejectionBeforeAnyGoodCommitCreatesTheEnvironment() throws {
        let db = try TestDatabase.migrated()
        let store = SyncStore(connection: db)
        #expect(
            try store.recordRejection(
                organization: "acme", project: "shop", environment: "staging", branch: "staging", production: false,
                commit: "bad", author: "Ada", message: "m", diagnostics: "not JSON at all", summary: "broken"))
        let status = try store.status()
        #expect(status.count == 1)
        #expect(status.first?.environment == "staging")
        #expect(status.first?.branch == "staging")
        #expect(status.first?.revision == nil)
        #expect(status.first?.lastError == "broken")
        #expect(try db.scalar("SELECT after::text FROM audit_logs") == #""not JSON at all""#)
        #expect(try store.latestSnapshots().isEmpty)
        #expect(try AuditLog.verify(on: db).isValid)
    }

    @Test func latestSnapshotsGivesTheNewestOfEachEnvironment() throws {
        let db = try TestDatabase.migrated()
        let store = SyncStore(connection: db)
        let second = Fixtures.snapshot(flags: [Fixtures.banner], segments: [], version: "sha256:two")
        let staging = Fixtures.snapshot("staging", flags: [Fixtures.checkout], segments: [], version: "sha256:s")
        try store.apply(Fixtures.first, commit: "c1")
        try store.apply(staging, commit: "s1", branch: "staging")
        try store.apply(second, commit: "c2")

        let latest = try store.latestSnapshots()
        #expect(latest.map(\.environment) == ["production", "staging"])
        #expect(latest.map(\.revision) == [2, 1])
        #expect(latest.map(\.version) == ["sha256:two", "sha256:s"])
        #expect(latest.map(\.commit) == ["c2", "s1"])
        #expect(latest.map(\.branch) == ["main", "staging"])
        #expect(latest.map(\.organization) == ["acme", "acme"])
        var expected = second
        expected.commit = "c2"
        expected.branch = "main"
        #expect(latest[0].content == CanonicalJSON.encode(expected.json), "canonical, as it went in")
        let decoded = try Snapshot(json: try JSONParser.parse(latest[0].content))
        #expect(decoded == expected)

        let revisions = try store.latestRevisions()
        #expect(revisions.map(\.environment) == ["production", "staging"])
        #expect(revisions.map(\.revision) == [2, 1])
        #expect(revisions.map(\.commit) == ["c2", "s1"])
        var first = Fixtures.first
        first.commit = "c1"
        first.branch = "main"
        #expect(
            try store.snapshotContent(project: "shop", environment: "production", revision: 1)
                == CanonicalJSON.encode(first.json))
        #expect(try store.snapshotContent(project: "shop", environment: "production", revision: 3) == nil)
    }

    @Test func pendingOutboxIsOldestFirstAndMarkPublishedRemovesMessages() throws {
        let db = try TestDatabase.migrated()
        let store = SyncStore(connection: db)
        let second = Fixtures.snapshot(flags: [Fixtures.banner], segments: [], version: "sha256:two")
        let first = try #require(try store.apply(Fixtures.first, commit: "c1"))
        let next = try #require(try store.apply(second, commit: "c2"))

        #expect(try store.pendingOutbox(limit: 1).map(\.id) == [first.outboxID])
        let pending = try store.pendingOutbox(limit: 10)
        #expect(pending.map(\.id) == [first.outboxID, next.outboxID])
        #expect(pending.map(\.revision) == [1, 2])
        #expect(pending.map(\.project) == ["shop", "shop"])
        #expect(pending.map(\.environment) == ["production", "production"])
        #expect(try Snapshot(json: JSONParser.parse(pending[1].snapshotContent)).version == "sha256:two")

        try store.markPublished(first.outboxID)
        try store.markPublished(first.outboxID)
        #expect(try store.pendingOutbox(limit: 10).map(\.id) == [next.outboxID])
        try store.markPublished(next.outboxID)
        #expect(try store.pendingOutbox(limit: 10).isEmpty)
        #expect(try db.scalar("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL") == "2")
    }
}
