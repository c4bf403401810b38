import Crypto
import FlagEngine
import FlagModel
import FlagStore
import Foundation
import Synchronization

/// Evaluation and tracking events waiting to be written, in a bounded queue that an
/// evaluation never waits on: when it is full, the event is dropped and counted.
///
/// An evaluation only appends a reference to its snapshot, a few integers, its targeting key
/// and the context attributes the manifest keeps (nothing else of the context is held: a big
/// context cannot fill memory through the queue, and an attribute the manifest does not keep
/// never waits here). Hashing the key and encoding JSON happen in `take`, on the writer's
/// thread.
public final class EventQueue: @unchecked Sendable {
    enum Kind {
        /// Evaluated here: flag index and decision in `snapshot`.
        case evaluated(flag: Int32, variant: Int32, reason: Reason)
        /// Evaluated by an SDK and reported through `POST /api/v1/events`.
        case reported(flag: String, variant: String, reason: String, version: String)
        /// `details` as canonical JSON, at most `maxDetails` bytes.
        case tracking(name: String, value: Double?, details: String?)
    }

    struct Pending {
        var time: Double
        var snapshot: ActiveSnapshot
        var kind: Kind
        /// The context's `targetingKey` as text (a number or a boolean as evaluation reads it).
        var targetingKey: String?
        /// Whether `targetingKey` is already its SHA-256 (a key too long to hold as given).
        var keyHashed = false
        /// The attributes `analytics.keep` lists that the context has; empty for none.
        var kept: [String: Value]

        init(time: Double, snapshot: ActiveSnapshot, kind: Kind, context: [String: Value]) {
            self.time = time
            self.snapshot = snapshot
            self.kind = kind
            // What waits here is bounded whatever the request: a targeting key over
            // `maxKept` bytes is hashed now, and only scalars of at most that size are kept.
            switch context["targetingKey"] {
            case .string(let key)? where key.utf8.count > EventQueue.maxKept:
                targetingKey = EventQueue.hashed(key)
                keyHashed = true
            case .string(let key)?: targetingKey = key
            case .int(let number)?: targetingKey = String(number)
            case .double(let number)?: targetingKey = String(number)
            case .bool(let flag)?: targetingKey = flag ? "true" : "false"
            default: targetingKey = nil
            }
            var kept: [String: Value] = [:]
            for name in snapshot.snapshot.analytics.keep {
                switch context[name] {
                case .string(let text)? where text.utf8.count <= EventQueue.maxKept: kept[name] = .string(text)
                case .int(let number)?: kept[name] = .int(number)
                case .double(let number)?: kept[name] = .double(number)
                case .bool(let flag)?: kept[name] = .bool(flag)
                default: break
                }
            }
            self.kept = kept
        }
    }

    /// The longest targeting key stored as given, and the longest kept attribute (bytes).
    static let maxKept = 256
    /// The most JSON a tracking event's `details` may hold (bytes): with the above, what one
    /// queued event holds is bounded, and so is the queue.
    static let maxDetails = 4096

    public let capacity: Int
    private let lock = NSLock()
    private var pending: [Pending] = []
    private var droppedCount: UInt64 = 0
    private var acceptedCount: UInt64 = 0
    private var reportedDroppedCount: UInt64 = 0
    /// The sampler's state: one atomic step of a Weyl sequence per sampled evaluation, mixed by
    /// SplitMix64, so sampling takes no lock and makes no system call.
    private let sampler = Atomic<UInt64>(UInt64.random(in: .min ... .max))

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
        pending.reserveCapacity(min(self.capacity, 65_536))
    }

    /// Events dropped because the queue was full, since start.
    public var dropped: UInt64 {
        lock.lock()
        defer { lock.unlock() }
        return droppedCount
    }

    /// Events accepted into the queue, since start.
    public var accepted: UInt64 {
        lock.lock()
        defer { lock.unlock() }
        return acceptedCount
    }

    public var depth: Int {
        lock.lock()
        defer { lock.unlock() }
        return pending.count
    }

    /// Whether an evaluation of a flag sampled at `rate` (0…1) is recorded.
    @inline(__always)
    func sample(_ rate: Double) -> Bool {
        if rate >= 1 { return true }
        let step = sampler.wrappingAdd(0x9E37_79B9_7F4A_7C15, ordering: .relaxed).newValue
        var z = step
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) * 0x1p-53 < rate
    }

    func offer(_ event: Pending) {
        lock.lock()
        if pending.count < capacity {
            pending.append(event)
            acceptedCount &+= 1
        } else {
            droppedCount &+= 1
        }
        lock.unlock()
    }

    /// Adds what an SDK says it dropped on its side (its own queue was full).
    func countReportedDropped(_ count: Int64) {
        guard count > 0 else { return }
        lock.lock()
        reportedDroppedCount &+= UInt64(count)
        lock.unlock()
    }

    /// Events SDKs reported dropping before they were sent, since start.
    public var reportedDropped: UInt64 {
        lock.lock()
        defer { lock.unlock() }
        return reportedDroppedCount
    }

    /// Records evaluation `decision` of flag `index` on `snapshot`, if the flag's sample says so.
    @inline(__always)
    func record(_ snapshot: ActiveSnapshot, flag index: Int, _ decision: Decision, context: [String: Value], now: Instant) {
        let rate = snapshot.eventRates[index]
        guard rate > 0, sample(rate) else { return }
        offer(
            Pending(
                time: Double(now.seconds) + Double(now.nanos) / 1e9, snapshot: snapshot,
                kind: .evaluated(flag: Int32(index), variant: Int32(decision.variant), reason: decision.reason),
                context: context))
    }

    /// Takes up to `limit` events, oldest first, as rows ready to write: targeting keys hashed
    /// (unless the manifest keeps them plain) and contexts cut to the attributes it keeps.
    public func take(limit: Int = .max) -> (evaluations: [EvaluationEventRow], tracking: [TrackingEventRow]) {
        lock.lock()
        let taken: [Pending]
        if pending.count <= limit {
            taken = pending
            pending.removeAll(keepingCapacity: true)
        } else {
            taken = Array(pending.prefix(limit))
            pending.removeFirst(limit)
        }
        lock.unlock()
        var evaluations: [EvaluationEventRow] = []
        var tracking: [TrackingEventRow] = []
        for event in taken {
            let policy = event.snapshot.snapshot.analytics
            let key = event.targetingKey.map { policy.targetingKey == .plain || event.keyHashed ? $0 : Self.hashed($0) }
            let context = event.kept.isEmpty ? nil : CanonicalJSON.encode(.object(event.kept))
            let project = event.snapshot.project
            let environment = event.snapshot.environment
            switch event.kind {
            case .evaluated(let flag, let variant, let reason):
                let evaluator = event.snapshot.evaluator
                let names = evaluator.variantNames(at: Int(flag))
                evaluations.append(
                    EvaluationEventRow(
                        time: event.time, project: project, environment: environment,
                        flag: evaluator.flagKey(at: Int(flag)), variant: variant >= 0 ? names[Int(variant)] : "",
                        reason: reason.rawValue, version: event.snapshot.version, targetingKey: key, context: context))
            case .reported(let flag, let variant, let reason, let version):
                evaluations.append(
                    EvaluationEventRow(
                        time: event.time, project: project, environment: environment, flag: flag, variant: variant,
                        reason: reason, version: version, targetingKey: key, context: context))
            case .tracking(let name, let value, let details):
                tracking.append(
                    TrackingEventRow(
                        time: event.time, project: project, environment: environment, name: name, targetingKey: key,
                        value: value, details: details, context: context))
            }
        }
        return (evaluations, tracking)
    }

    /// SHA-256 of the targeting key, lower-case hex: the same user gets the same digest on every
    /// server, which is what experiment reports count by.
    public static func hashed(_ key: String) -> String {
        let digest = SHA256.hash(data: Array(key.utf8))
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in digest {
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
