import AsyncHTTPClient
import FlagEngine
import FlagModel
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Evaluates Flagstaff flags in process (SPEC §16): loads the service's snapshot, follows
/// its event stream, and answers from memory with the engine itself, so a flag costs
/// nanoseconds and keeps answering while the service is down.
///
/// Run it as a `Service` in the application's `ServiceGroup` (or call `run()` in a task);
/// getters work from any thread at any time, answering their defaults until a snapshot is
/// there.
public final class FlagstaffClient: Service, Sendable {
    public let configuration: FlagstaffConfiguration
    let logger: Logger
    let httpClient: HTTPClient
    private let current = Mutex<LoadedSnapshot?>(nil)
    private let observers = Mutex(Observers())
    let reporter: Reporter

    struct Observers {
        var state: ClientState = .notReady
        var states: [UInt64: AsyncStream<ClientState>.Continuation] = [:]
        var revisions: [UInt64: AsyncStream<RevisionEvent>.Continuation] = [:]
        var next: UInt64 = 0
    }

    public init(
        configuration: FlagstaffConfiguration, httpClient: HTTPClient = .shared,
        logger: Logger = Logger(label: "flagstaff.sdk")
    ) {
        self.configuration = configuration
        self.httpClient = httpClient
        self.logger = logger
        self.reporter = Reporter(configuration: configuration, httpClient: httpClient, logger: logger)
    }

    /// A client that serves a compiled snapshot file (`flagstaff compile` output) at once,
    /// without running and without any request: offline mode, and what tests and
    /// benchmarks use.
    public convenience init(offlineSnapshot path: String, logger: Logger = Logger(label: "flagstaff.sdk")) throws {
        self.init(configuration: .offline(path), logger: logger)
        try loadFile(path, revision: 0)
        setState(.ready)
    }

    // MARK: State

    public var state: ClientState { observers.withLock { $0.state } }

    /// The current state first, then every change, until the caller stops iterating.
    public func states() -> AsyncStream<ClientState> {
        let (stream, continuation) = AsyncStream.makeStream(of: ClientState.self, bufferingPolicy: .bufferingNewest(16))
        let id = observers.withLock { o -> UInt64 in
            o.next += 1
            o.states[o.next] = continuation
            continuation.yield(o.state)
            return o.next
        }
        continuation.onTermination = { [weak self] _ in self?.observers.withLock { _ = $0.states.removeValue(forKey: id) } }
        return stream
    }

    /// One event per new snapshot served, from now on.
    public func revisions() -> AsyncStream<RevisionEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: RevisionEvent.self, bufferingPolicy: .bufferingNewest(16))
        let id = observers.withLock { o -> UInt64 in
            o.next += 1
            o.revisions[o.next] = continuation
            return o.next
        }
        continuation.onTermination = { [weak self] _ in
            self?.observers.withLock { _ = $0.revisions.removeValue(forKey: id) }
        }
        return stream
    }

    func setState(_ state: ClientState) {
        let listeners = observers.withLock { o -> [AsyncStream<ClientState>.Continuation] in
            guard o.state != state else { return [] }
            o.state = state
            return Array(o.states.values)
        }
        if !listeners.isEmpty { logger.info("state", metadata: ["state": "\(state)"]) }
        for listener in listeners { listener.yield(state) }
    }

    /// The revision served now, if any.
    public var revision: Int64? { current.withLock { $0?.revision } }
    /// The snapshot version served now, if any.
    public var version: String? { current.withLock { $0?.version } }

    /// Serves `snapshot` unless what is served is the same or newer.
    @discardableResult
    func swap(_ snapshot: Snapshot, revision: Int64, json: [UInt8]) -> Bool {
        let loaded = LoadedSnapshot(snapshot: snapshot, revision: revision, json: json)
        let replaced: LoadedSnapshot?? = current.withLock { served in
            if let served, served.version == loaded.version, served.revision >= revision { return .none }
            let old = served
            served = loaded
            return .some(old)
        }
        guard case .some(let old) = replaced else { return false }
        if let old { reporter.retire(old) }
        let event = RevisionEvent(revision: revision, version: snapshot.version, commit: snapshot.commit)
        for listener in observers.withLock({ Array($0.revisions.values) }) { listener.yield(event) }
        logger.info("serving", metadata: ["revision": "\(revision)", "version": "\(snapshot.version)"])
        return true
    }

    var loaded: LoadedSnapshot? { current.withLock { $0 } }

    // MARK: Contexts

    /// Prepares `attributes` once for the snapshot served now; pass the result to every
    /// getter of a request, so the attributes are parsed once and every flag of the request
    /// is answered from the same snapshot.
    public func context(_ attributes: [String: Value]) -> FlagContext {
        guard let loaded else {
            return FlagContext(attributes: attributes, loaded: nil, loadedRef: nil, prepared: .none)
        }
        return FlagContext(
            attributes: attributes, loaded: loaded, loadedRef: .passUnretained(loaded),
            prepared: loaded.evaluator.prepare(attributes, now: Self.now()))
    }

    static func now() -> Instant {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Instant(seconds: Int64(spec.tv_sec), nanos: Int32(spec.tv_nsec))
    }

    // MARK: Getters

    public func bool(_ key: String, default fallback: Bool, context: FlagContext) -> FlagDetails<Bool> {
        typed(key, .boolean, fallback, context) { if case .bool(let b) = $0 { b } else { nil } }
    }

    public func string(_ key: String, default fallback: String, context: FlagContext) -> FlagDetails<String> {
        typed(key, .string, fallback, context) { if case .string(let s) = $0 { s } else { nil } }
    }

    /// A number flag's value as a Double (integers convert exactly up to 2^53).
    public func number(_ key: String, default fallback: Double, context: FlagContext) -> FlagDetails<Double> {
        typed(key, .number, fallback, context) {
            switch $0 {
            case .int(let i): Double(i)
            case .double(let d): d
            default: nil
            }
        }
    }

    public func json(_ key: String, default fallback: Value, context: FlagContext) -> FlagDetails<Value> {
        typed(key, .json, fallback, context) { $0 }
    }

    public func bool(_ key: String, default fallback: Bool, context: [String: Value] = [:]) -> FlagDetails<Bool> {
        bool(key, default: fallback, context: self.context(context))
    }

    public func string(_ key: String, default fallback: String, context: [String: Value] = [:]) -> FlagDetails<String> {
        string(key, default: fallback, context: self.context(context))
    }

    public func number(_ key: String, default fallback: Double, context: [String: Value] = [:]) -> FlagDetails<Double> {
        number(key, default: fallback, context: self.context(context))
    }

    public func json(_ key: String, default fallback: Value, context: [String: Value] = [:]) -> FlagDetails<Value> {
        json(key, default: fallback, context: self.context(context))
    }

    /// Every flag for one context, in key order, as the engine gives them; empty before the
    /// first snapshot.
    public func evaluateAll(context: FlagContext) -> [EvaluationResult] {
        guard let loaded = context.loaded else { return [] }
        var results: [EvaluationResult] = []
        results.reserveCapacity(loaded.evaluator.flagCount)
        for i in 0..<loaded.evaluator.flagCount {
            let decision = loaded.evaluator.decide(at: i, context: context.prepared)
            if configuration.reporting { loaded.count(flag: i, decision) }
            results.append(loaded.evaluator.result(of: decision, at: i))
        }
        return results
    }

    @inline(__always)
    private func typed<T: Sendable>(
        _ key: String, _ type: FlagType, _ fallback: T, _ context: FlagContext, _ convert: (Value) -> T?
    ) -> FlagDetails<T> {
        guard let ref = context.loadedRef else {
            return Self.failure(key, fallback, .providerNotReady, "no snapshot yet", version: "")
        }
        // The context keeps its snapshot alive: reached unretained, evaluation retains nothing.
        return ref._withUnsafeGuaranteedRef { loaded in
            loaded.evaluatorRef._withUnsafeGuaranteedRef { evaluator in
                typed(key, type, fallback, context, convert, loaded, evaluator)
            }
        }
    }

    @inline(__always)
    private func typed<T: Sendable>(
        _ key: String, _ type: FlagType, _ fallback: T, _ context: FlagContext, _ convert: (Value) -> T?,
        _ loaded: LoadedSnapshot, _ evaluator: Evaluator
    ) -> FlagDetails<T> {
        guard let index = evaluator.index(of: key) else {
            return Self.failure(
                key, fallback, .flagNotFound, "flag '\(key)' is not in this snapshot", version: loaded.version)
        }
        guard loaded.types[index] == type else {
            return Self.failure(
                key, fallback, .typeMismatch,
                "flag '\(key)' is of type \(loaded.types[index].rawValue), not \(type.rawValue)", version: loaded.version)
        }
        // The prepared context is borrowed where it lies: copying it would retain its parts.
        var decision = Decision(variant: -1, reason: .error)
        let result = evaluator.evaluate(at: index, context: context.prepared, decision: &decision)
        if configuration.reporting { loaded.count(flag: index, decision) }
        guard let value = result.value.flatMap(convert) else {
            return FlagDetails(value: fallback, result: result, errorCode: result.errorCode.map(FlagErrorCode.init))
        }
        return FlagDetails(value: value, result: result, errorCode: nil)
    }

    private static func failure<T>(
        _ key: String, _ fallback: T, _ code: FlagErrorCode, _ message: String, version: String
    ) -> FlagDetails<T> {
        FlagDetails(
            value: fallback,
            result: EvaluationResult(
                key: key, value: nil, variant: nil, reason: .error, version: version,
                errorCode: EvaluationErrorCode(rawValue: code.rawValue), errorMessage: message),
            errorCode: code)
    }

    // MARK: Tracking

    /// Records an OpenFeature tracking event (a conversion, a purchase) to send with the next
    /// batch; never blocks, and drops (counting the drops) when the queue is full.
    public func track(_ name: String, context: [String: Value] = [:], value: Double? = nil, details: [String: Value] = [:]) {
        guard configuration.reporting else { return }
        reporter.track(name, context: context, value: value, details: details)
    }

    // MARK: Service

    public func run() async throws {
        if let file = configuration.offlineSnapshot {
            if loaded == nil { try loadFile(file, revision: 0) }
            setState(.ready)
            try await gracefulShutdown()
            return
        }
        if let cache = configuration.cacheFile, FileManager.default.fileExists(atPath: cache) {
            do {
                try loadFile(cache, revision: 0)
                setState(.stale("serving the cache file until the service answers"))
            } catch {
                logger.warning("the cache file could not be read", metadata: ["file": "\(cache)", "error": "\(error)"])
            }
        }
        let follower = SnapshotFollower(client: self)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await follower.run() }
            if configuration.reporting { group.addTask { await self.reporter.run(client: self) } }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        // What was counted since the last batch goes out on the way down.
        if configuration.reporting { await reporter.flush(client: self) }
    }

    /// Loads a snapshot file: `flagstaff compile` output or this client's cache.
    func loadFile(_ path: String, revision: Int64) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FlagstaffSDKError("cannot read the snapshot file '\(path)'")
        }
        let bytes = [UInt8](data)
        let snapshot: Snapshot
        do {
            snapshot = try Snapshot(json: try JSONParser.parse(bytes: bytes, limits: Self.snapshotLimits))
        } catch {
            throw FlagstaffSDKError("'\(path)' is not a snapshot: \(error)")
        }
        // A cache file records its revision next to it; a compiled file has none.
        let recorded = (try? String(contentsOfFile: path + ".revision", encoding: .utf8)).flatMap {
            Int64($0.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        swap(snapshot, revision: recorded ?? revision, json: bytes)
    }

    /// Snapshots come from the service the client trusts, and may be large.
    static let snapshotLimits = JSONParser.Limits(maxDepth: 64, maxMembers: 50_000_000)

    /// Writes the snapshot served now to the cache file, atomically (a temporary file, then
    /// a rename), and its revision beside it.
    func writeCache(_ loaded: LoadedSnapshot) {
        guard let path = configuration.cacheFile else { return }
        do {
            try Data(loaded.json).write(to: URL(fileURLWithPath: path), options: .atomic)
            try Data(String(loaded.revision).utf8).write(to: URL(fileURLWithPath: path + ".revision"), options: .atomic)
        } catch {
            logger.warning("the cache file could not be written", metadata: ["file": "\(path)", "error": "\(error)"])
        }
    }
}

/// Attributes prepared for one snapshot: what getters take to answer every flag of a
/// request from one parse of the context and one snapshot.
public struct FlagContext: Sendable {
    public let attributes: [String: Value]
    let loaded: LoadedSnapshot?
    /// `loaded`, unretained, for the getters.
    let loadedRef: Unmanaged<LoadedSnapshot>?
    /// `.none` when there was no snapshot (then `loaded` is nil and nothing evaluates).
    let prepared: PreparedContext
}
