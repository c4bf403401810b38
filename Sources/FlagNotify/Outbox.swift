import FlagStore
import Foundation
import NIOPosix

/// Where notifications wait for their receivers: PostgreSQL (`PostgresOutbox`) or, for a
/// daemon without it, this process's memory (`MemoryOutbox`, best effort).
protocol Outbox: Sendable {
    /// Blocking: adds drafts whose dedupe key is new; returns how many were.
    func insert(_ drafts: [NotificationDraft]) throws -> Int
    /// The receiver's id; the first time it is seen, later notifications only are for it.
    func register(_ receiver: Receiver) async throws -> Int64
    func pending(receiver: Int64, filter: NotificationFilter, limit: Int) async throws -> [StoredNotification]
    func record(
        notification: Int64, receiver: Int64, state: DeliveryState, attempts: Int, statusCode: Int?, error: String?
    ) async throws
    func counts(receiver: Int64, filter: NotificationFilter) async throws -> DeliveryCounts
    /// Forgets notifications older than `seconds`.
    func prune(olderThan seconds: Double) async throws
}

/// The outbox in PostgreSQL (schema part 5), on a connection of its own used from one
/// thread of its own: a slow database never holds a sync, nor the reverse.
final class PostgresOutbox: Outbox, @unchecked Sendable {
    private let url: String
    private let pool: NIOThreadPool
    private let lock = NSLock()
    private var connection: PostgresConnection?

    init(url: String) {
        self.url = url
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
    }

    func shutdown() async {
        try? await pool.shutdownGracefully()
    }

    /// Runs `body` on the current thread with the connection, reconnecting after a failure.
    private func withStore<T>(_ body: (NotificationStore) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        do {
            let connection = try self.connection ?? PostgresConnection(url: url)
            self.connection = connection
            return try body(NotificationStore(connection: connection))
        } catch {
            connection = nil
            throw error
        }
    }

    private func blocking<T: Sendable>(_ body: @escaping @Sendable (NotificationStore) throws -> T) async throws -> T {
        try await pool.runIfActive { try self.withStore(body) }
    }

    func insert(_ drafts: [NotificationDraft]) throws -> Int {
        try withStore { try $0.insert(drafts) }
    }

    func register(_ receiver: Receiver) async throws -> Int64 {
        let (fingerprint, name) = (receiver.fingerprint, receiver.name)
        return try await blocking { try $0.register(fingerprint: fingerprint, name: name) }
    }

    func pending(receiver: Int64, filter: NotificationFilter, limit: Int) async throws -> [StoredNotification] {
        try await blocking { try $0.pending(receiver: receiver, filter: filter, limit: limit) }
    }

    func record(
        notification: Int64, receiver: Int64, state: DeliveryState, attempts: Int, statusCode: Int?, error: String?
    ) async throws {
        try await blocking {
            try $0.record(
                notification: notification, receiver: receiver, state: state, attempts: attempts,
                statusCode: statusCode, error: error)
        }
    }

    func counts(receiver: Int64, filter: NotificationFilter) async throws -> DeliveryCounts {
        try await blocking { try $0.counts(receiver: receiver, filter: filter) }
    }

    func prune(olderThan seconds: Double) async throws {
        _ = try await blocking { try $0.prune(olderThan: seconds) }
    }
}

/// The outbox of a daemon without PostgreSQL: the same rules, held in memory, lost on exit.
final class MemoryOutbox: Outbox, @unchecked Sendable {
    private let lock = NSLock()
    private var notifications: [StoredNotification] = []
    private var keys: Set<String> = []
    private var nextID: Int64 = 1
    private var receivers: [String: (id: Int64, since: Int64)] = [:]
    /// Per receiver id: notification id → how it ended.
    private var done: [Int64: [Int64: DeliveryState]] = [:]
    private var finished: [Int64: DeliveryCounts] = [:]

    func insert(_ drafts: [NotificationDraft]) throws -> Int {
        lock.lock()
        defer { lock.unlock() }
        var inserted = 0
        for draft in drafts where keys.insert(draft.dedupeKey).inserted {
            notifications.append(StoredNotification(id: nextID, uid: UUID().uuidString.lowercased(), draft: draft))
            nextID += 1
            inserted += 1
        }
        return inserted
    }

    func register(_ receiver: Receiver) async throws -> Int64 {
        lock.withLock {
            if let known = receivers[receiver.fingerprint] { return known.id }
            let id = Int64(receivers.count + 1)
            receivers[receiver.fingerprint] = (id, nextID - 1)
            return id
        }
    }

    private func since(_ receiver: Int64) -> Int64 {
        receivers.values.first { $0.id == receiver }?.since ?? Int64.max
    }

    private func pendingLocked(_ receiver: Int64, _ filter: NotificationFilter) -> [StoredNotification] {
        let since = since(receiver)
        let ended = done[receiver] ?? [:]
        return notifications.filter { $0.id > since && ended[$0.id] == nil && filter.admits($0.draft) }
    }

    func pending(receiver: Int64, filter: NotificationFilter, limit: Int) async throws -> [StoredNotification] {
        lock.withLock {
            Array(pendingLocked(receiver, filter).prefix(limit))
        }
    }

    func record(
        notification: Int64, receiver: Int64, state: DeliveryState, attempts: Int, statusCode: Int?, error: String?
    ) async throws {
        lock.withLock {
            guard done[receiver, default: [:]].updateValue(state, forKey: notification) == nil else { return }
            switch state {
            case .delivered: finished[receiver, default: DeliveryCounts()].delivered += 1
            case .failed: finished[receiver, default: DeliveryCounts()].failed += 1
            case .givenUp: finished[receiver, default: DeliveryCounts()].givenUp += 1
            }
        }
    }

    func counts(receiver: Int64, filter: NotificationFilter) async throws -> DeliveryCounts {
        lock.withLock {
            var counts = finished[receiver] ?? DeliveryCounts()
            counts.pending = pendingLocked(receiver, filter).count
            return counts
        }
    }

    /// Drops what every receiver is done with, and anything older than `seconds`.
    func prune(olderThan seconds: Double) async throws {
        lock.withLock {
            let cutoff = Date().addingTimeInterval(-seconds)
            let ids = receivers.values.map(\.id)
            let gone = Set(
                notifications.filter { n in
                    n.draft.occurredAt < cutoff || ids.allSatisfy { done[$0]?[n.id] != nil || n.id <= since($0) }
                }.map(\.id))
            notifications.removeAll { gone.contains($0.id) }
            for id in ids { done[id] = done[id]?.filter { !gone.contains($0.key) } }
        }
    }
}
