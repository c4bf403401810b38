import FlagEngine
import FlagModel
import Foundation

/// One snapshot being served: the compiled evaluator and what clients see of it.
public final class ActiveSnapshot: Sendable {
    public let snapshot: Snapshot
    public let evaluator: Evaluator
    /// Counts up from 1 per environment (0 when served without PostgreSQL: a local compile).
    public let revision: Int64
    /// The full snapshot as canonical JSON, served by `GET /api/v1/snapshot`.
    public let json: [UInt8]
    /// `"sha256:…"`, quoted: the ETag of the snapshot and of bulk evaluations.
    public let etag: String
    public let appliedAt: Date

    /// `json`, when given, must be the canonical JSON of `snapshot` (the daemon has it
    /// already and a big snapshot costs a while to encode).
    public init(snapshot: Snapshot, revision: Int64, json: [UInt8]? = nil, appliedAt: Date = Date()) {
        self.snapshot = snapshot
        self.evaluator = Evaluator(snapshot: snapshot)
        self.revision = revision
        self.json = json ?? CanonicalJSON.encodeBytes(snapshot.json)
        self.etag = "\"" + snapshot.version + "\""
        self.appliedAt = appliedAt
    }

    public var project: String { snapshot.project }
    public var environment: String { snapshot.environment }
    public var version: String { snapshot.version }
}

/// Identifies one served (project, environment).
public struct EnvironmentKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var project: String
    public var environment: String

    public init(project: String, environment: String) {
        self.project = project
        self.environment = environment
    }

    public static func < (a: EnvironmentKey, b: EnvironmentKey) -> Bool {
        (a.project, a.environment) < (b.project, b.environment)
    }

    public var description: String { "\(project)/\(environment)" }
}

/// What sync last did for one environment, for `/api/v1/status` and the metrics.
public struct SyncState: Sendable, Hashable {
    /// The branch tip last looked at, applied or not.
    public var lastSeenCommit: String?
    /// When the branch was last read successfully (applied, unchanged or rejected).
    public var lastCheck: Date?
    /// When a snapshot was last applied.
    public var lastSync: Date?
    /// Seconds from noticing a new tip to serving it, for the last applied change.
    public var lastSyncSeconds: Double?
    public var lastError: String?
    public var lastErrorAt: Date?
    public var rejectedCommits: Int = 0
    public var syncErrors: Int = 0

    public init() {}
}

/// A change to what is served, as the stream route tells it.
public enum SnapshotEvent: Sendable {
    case applied(ActiveSnapshot)
    /// The server is shutting down: streams end.
    case closing
}

/// The snapshots being served, one per (project, environment), swapped whole and atomically.
///
/// Reads take a lock for a dictionary lookup and a reference; evaluation then runs on the
/// immutable snapshot without any lock held.
public final class SnapshotRegistry: @unchecked Sendable {
    private let lock = NSLock()
    private var active: [EnvironmentKey: ActiveSnapshot] = [:]
    private var states: [EnvironmentKey: SyncState] = [:]
    private var subscribers: [UInt64: AsyncStream<SnapshotEvent>.Continuation] = [:]
    private var nextSubscriber: UInt64 = 0
    private var closed = false

    public init() {}

    /// Serves `snapshot` for its environment unless what is served is already newer (a
    /// higher revision) or the same content. Returns whether it was swapped in.
    @discardableResult
    public func swap(_ snapshot: ActiveSnapshot) -> Bool {
        let key = EnvironmentKey(project: snapshot.project, environment: snapshot.environment)
        let listeners: [AsyncStream<SnapshotEvent>.Continuation]
        lock.lock()
        if let current = active[key],
            current.revision > snapshot.revision
                || (current.revision == snapshot.revision && current.version == snapshot.version)
        {
            lock.unlock()
            return false
        }
        active[key] = snapshot
        listeners = Array(subscribers.values)
        lock.unlock()
        for listener in listeners { listener.yield(.applied(snapshot)) }
        return true
    }

    public func snapshot(_ key: EnvironmentKey) -> ActiveSnapshot? {
        lock.lock()
        defer { lock.unlock() }
        return active[key]
    }

    public func snapshot(project: String, environment: String) -> ActiveSnapshot? {
        snapshot(EnvironmentKey(project: project, environment: environment))
    }

    /// Everything served, ordered by project and environment.
    public var all: [ActiveSnapshot] {
        lock.lock()
        defer { lock.unlock() }
        return active.keys.sorted().map { active[$0]! }
    }

    public var isEmpty: Bool {
        lock.lock()
        defer { lock.unlock() }
        return active.isEmpty
    }

    // MARK: Sync state

    public func updateState(_ key: EnvironmentKey, _ change: (inout SyncState) -> Void) {
        lock.lock()
        defer { lock.unlock() }
        change(&states[key, default: SyncState()])
    }

    public func state(_ key: EnvironmentKey) -> SyncState {
        lock.lock()
        defer { lock.unlock() }
        return states[key] ?? SyncState()
    }

    /// Every environment that is served or has sync state.
    public var environments: [EnvironmentKey] {
        lock.lock()
        defer { lock.unlock() }
        return Set(active.keys).union(states.keys).sorted()
    }

    // MARK: Events

    /// A stream of every swap from now on; it ends when the registry closes or the caller
    /// stops iterating.
    public func events() -> AsyncStream<SnapshotEvent> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: SnapshotEvent.self, bufferingPolicy: .bufferingNewest(8))
        lock.lock()
        if closed {
            lock.unlock()
            continuation.yield(.closing)
            continuation.finish()
            return stream
        }
        let id = nextSubscriber
        nextSubscriber += 1
        subscribers[id] = continuation
        lock.unlock()
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            self.lock.lock()
            self.subscribers[id] = nil
            self.lock.unlock()
        }
        return stream
    }

    /// Ends every event stream (at shutdown, so open streams let the server stop).
    public func close() {
        lock.lock()
        closed = true
        let listeners = Array(subscribers.values)
        subscribers.removeAll()
        lock.unlock()
        for listener in listeners {
            listener.yield(.closing)
            listener.finish()
        }
    }

    public var subscriberCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return subscribers.count
    }
}
