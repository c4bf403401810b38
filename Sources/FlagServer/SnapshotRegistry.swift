import FlagEngine
import FlagModel
import FlagStore
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
    /// Its OFREP answers, pre-encoded.
    let answers: OFREPAnswers
    /// What was evaluated on it, for the metrics and the analytics counts.
    let counters: EvaluationCounters
    /// Per flag index, the share of evaluations recorded as events (0: none).
    let eventRates: [Double]
    /// Whether any flag records events, so that bulk evaluation skips the check otherwise.
    let recordsEvents: Bool

    /// `json`, when given, must be the canonical JSON of `snapshot` (the daemon has it
    /// already and a big snapshot costs a while to encode).
    public init(snapshot: Snapshot, revision: Int64, json: [UInt8]? = nil, appliedAt: Date = Date()) {
        self.snapshot = snapshot
        self.evaluator = Evaluator(snapshot: snapshot)
        self.revision = revision
        self.json = json ?? CanonicalJSON.encodeBytes(snapshot.json)
        self.etag = "\"" + snapshot.version + "\""
        self.appliedAt = appliedAt
        self.answers = OFREPAnswers(
            evaluator: evaluator, project: snapshot.project, environment: snapshot.environment, revision: revision)
        self.counters = EvaluationCounters(
            evaluator: evaluator, project: snapshot.project, environment: snapshot.environment,
            version: snapshot.version)
        var rates = [Double](repeating: 0, count: evaluator.flagCount)
        for i in 0..<evaluator.flagCount {
            if let rate = snapshot.flag(evaluator.flagKey(at: i))?.events { rates[i] = rate }
        }
        self.eventRates = rates
        self.recordsEvents = rates.contains { $0 > 0 }
    }

    public var project: String { snapshot.project }
    public var environment: String { snapshot.environment }
    public var version: String { snapshot.version }

    /// The ETag of bulk evaluations at `now`: the snapshot's, and for a snapshot whose answers
    /// change with time, also the step it is at (`"<version>@<unix seconds>"`), so that a
    /// client caching bulk answers never keeps an outdated step.
    public func bulkETag(at now: Instant) -> String {
        guard evaluator.changesWithTime, let step = evaluator.lastTimeBoundary(atOrBefore: now) else { return etag }
        return "\"" + version + "@" + Self.stepLabel(step) + "\""
    }

    /// Unix seconds, with the fraction when there is one (ramps step at any nanosecond).
    static func stepLabel(_ step: Instant) -> String {
        guard step.nanos != 0 else { return String(step.seconds) }
        var digits = String(step.nanos)
        digits = String(repeating: "0", count: 9 - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return String(step.seconds) + "." + digits
    }
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
    /// The served snapshot reached a step of its schedules: answers changed with time alone.
    case stepped(ActiveSnapshot, at: Instant)
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
    /// Counters of replaced snapshots that requests may still be adding to.
    private var retiredCounters: [EvaluationCounters] = []
    private var evaluationTotals: [EvaluationKey: UInt64] = [:]
    /// What a request without key or headers is about, kept from swap to swap (see `target`).
    private var preferred: ActiveSnapshot?
    private var notFoundTotals: [EnvironmentKey: UInt64] = [:]
    /// The environments the manifest names, once the daemon has read it; nil for a replica.
    private var expected: Set<EnvironmentKey>?
    /// Whether drained counts are also kept for analytics (`pendingCounts`), by hour and version.
    private var collectingCounts = false
    private var pendingCounts: [CountKey: UInt64] = [:]

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
        if let replaced = active[key] { retiredCounters.append(replaced.counters) }
        active[key] = snapshot
        let projects = Set(active.keys.map(\.project))
        preferred = projects.count == 1 ? Self.production(of: Array(active.values)) : nil
        drainRetiredCounters(hour: CountKey.hour(of: Int64(Date().timeIntervalSince1970.rounded(.down))))
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

    /// The snapshot of a request that names no project or environment: the production
    /// environment of the only project served, if there is one project and it has one.
    var defaultSnapshot: ActiveSnapshot? {
        lock.lock()
        defer { lock.unlock() }
        return preferred
    }

    /// The production environment among `served` (one project's): the only one marked
    /// `production`, else the one named `production`.
    static func production(of served: [ActiveSnapshot]) -> ActiveSnapshot? {
        let marked = served.filter { $0.snapshot.production }
        if marked.count == 1 { return marked[0] }
        return served.first { $0.environment == "production" }
    }

    public var isEmpty: Bool {
        lock.lock()
        defer { lock.unlock() }
        return active.isEmpty
    }

    /// Names the environments that should be served (the daemon, from the manifest), so
    /// that readiness waits for all of them rather than the first.
    public func expect(_ keys: Set<EnvironmentKey>) {
        lock.lock()
        defer { lock.unlock() }
        expected = keys
    }

    /// Expected environments that are neither served nor dealt with yet (a branch that was
    /// read and rejected, or is missing, counts as dealt with: waiting would never end).
    public var pending: [EnvironmentKey] {
        lock.lock()
        defer { lock.unlock() }
        guard let expected else { return [] }
        return expected.filter { key in
            active[key] == nil && states[key].map { $0.lastCheck == nil && $0.lastError == nil } ?? true
        }.sorted()
    }

    // MARK: Evaluation counts

    /// Every evaluation counted so far, by labels, and the unknown keys asked for per
    /// environment. Counts survive swaps: a replaced snapshot's are kept.
    func evaluationCounts() -> (counts: [EvaluationKey: UInt64], notFound: [EnvironmentKey: UInt64]) {
        lock.lock()
        defer { lock.unlock() }
        drainAll(now: Date())
        return (evaluationTotals, notFoundTotals)
    }

    /// From now on, counts are also kept per hour and snapshot version until `takeCounts`.
    public func collectCounts() {
        lock.lock()
        collectingCounts = true
        lock.unlock()
    }

    /// The counts since the last call, per (environment, flag, variant, reason, version, hour),
    /// counted in the hour `now` is in: the analytics flush calls this every few seconds and
    /// at each hour's end.
    public func takeCounts(now: Date = Date()) -> [CountKey: UInt64] {
        lock.lock()
        defer { lock.unlock() }
        drainAll(now: now)
        let taken = pendingCounts
        pendingCounts.removeAll(keepingCapacity: true)
        return taken
    }

    /// Drains every counter, served and retired. Called with the lock held.
    private func drainAll(now: Date) {
        let hour = CountKey.hour(of: Int64(now.timeIntervalSince1970.rounded(.down)))
        for served in active.values { drain(served.counters, hour: hour) }
        drainRetiredCounters(hour: hour)
    }

    private func drain(_ counters: EvaluationCounters, hour: Int64) {
        let project = counters.project
        let environment = counters.environment
        counters.drain(
            { flag, variant, reason, count in
                evaluationTotals[
                    EvaluationKey(
                        project: project, environment: environment, flag: flag, variant: variant,
                        reason: reason.rawValue),
                    default: 0] += count
                if collectingCounts {
                    pendingCounts[
                        CountKey(
                            project: project, environment: environment, flag: flag, variant: variant,
                            reason: reason.rawValue, version: counters.version, hour: hour),
                        default: 0] += count
                }
            },
            notFound: { notFoundTotals[EnvironmentKey(project: project, environment: environment), default: 0] += $0 })
    }

    /// How many replaced snapshots' counters are still kept.
    var retiredCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return retiredCounters.count
    }

    /// Folds retired counters into the totals, and forgets those that nothing can add to any
    /// more: once the registry holds the only reference, no request has their snapshot.
    /// Called with the lock held.
    private func drainRetiredCounters(hour: Int64) {
        var kept: [EvaluationCounters] = []
        while var counters = retiredCounters.popLast() {
            let finished = isKnownUniquelyReferenced(&counters)
            drain(counters, hour: hour)
            if !finished { kept.append(counters) }
        }
        retiredCounters = kept
    }

    /// Adds counts that an SDK reported (`POST /api/v1/metrics`) to what the next
    /// `takeCounts` returns; nothing when counts are not collected.
    public func addCounts(_ counts: [CountKey: UInt64]) {
        lock.lock()
        defer { lock.unlock() }
        guard collectingCounts else { return }
        for (key, count) in counts { pendingCounts[key, default: 0] &+= count }
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

    /// Tells every stream that `snapshot`, still served, reached a step of its schedules.
    public func stepReached(_ snapshot: ActiveSnapshot, at step: Instant) {
        lock.lock()
        let current = active[EnvironmentKey(project: snapshot.project, environment: snapshot.environment)]
        let listeners = current === snapshot ? Array(subscribers.values) : []
        lock.unlock()
        for listener in listeners { listener.yield(.stepped(snapshot, at: step)) }
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
