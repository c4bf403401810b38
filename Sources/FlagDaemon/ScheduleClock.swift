import FlagEngine
import FlagModel
import FlagNotify
import FlagServer
import Foundation
import Logging
import ServiceLifecycle

/// Watches the served snapshots for the next step of their schedules (a ramp's next whole
/// percent, a dated step, a window opening or closing) and, at that moment, tells the event
/// streams (`refetchEvaluation`) and `onStep` (the daemon publishes to Redis and notifies).
/// The bulk ETag needs no telling: it is computed from the clock on each request.
public struct ScheduleClock: Service {
    /// One step reached by one served snapshot.
    public struct Step: Sendable {
        public var snapshot: ActiveSnapshot
        public var at: Instant
        /// The flags whose answers may change at `at`, sorted.
        public var flags: [String]
    }

    let registry: SnapshotRegistry
    let logger: Logger
    let onStep: @Sendable (Step) async -> Void
    let clock: @Sendable () -> Instant

    public init(
        registry: SnapshotRegistry, logger: Logger, clock: @escaping @Sendable () -> Instant = { FlagServer.now() },
        onStep: @escaping @Sendable (Step) async -> Void = { _ in }
    ) {
        self.registry = registry
        self.logger = logger
        self.clock = clock
        self.onStep = onStep
    }

    public func run() async throws {
        let events = registry.events()
        let wakeup = Wakeup()
        try await withThrowingTaskGroup(of: Void.self) { group in
            // Any swap may bring a nearer step: wake the loop to look again.
            group.addTask {
                for await event in events {
                    if case .closing = event { break }
                    if case .applied = event { wakeup.ring() }
                }
            }
            group.addTask {
                var tracker = StepTracker()
                while !Task.isCancelled {
                    let now = clock()
                    let steps = tracker.due(registry.all, now: now)
                    for step in steps {
                        logger.info(
                            "schedule step",
                            metadata: [
                                "project": "\(step.snapshot.project)", "environment": "\(step.snapshot.environment)",
                                "revision": "\(step.snapshot.revision)", "at": "\(Timestamp.formatPrecise(step.at))",
                                "flags": "\(step.flags.joined(separator: ","))",
                            ])
                        registry.stepReached(step.snapshot, at: step.at)
                    }
                    // Streams first; then what may wait on the network (Redis, notifications).
                    for step in steps { await onStep(step) }
                    let wait = tracker.next.map { Self.duration(from: now, to: $0) } ?? .seconds(3600)
                    await wakeup.wait(timeout: min(wait, .seconds(3600)))
                }
            }
            try await gracefulShutdown()
            group.cancelAll()
        }
    }

    static func duration(from now: Instant, to then: Instant) -> Duration {
        let seconds = then.seconds - now.seconds
        let nanos = Int64(then.nanos) - Int64(now.nanos)
        return max(.zero, .seconds(seconds) + .nanoseconds(nanos))
    }
}

/// Which steps have fallen due, per served snapshot: a plain state machine the clock drives.
struct StepTracker {
    /// Per environment: the snapshot last seen and the last step already announced for it.
    private var seen: [EnvironmentKey: (snapshot: ActiveSnapshot, last: Instant?)] = [:]
    /// The earliest step still to come among the snapshots last looked at.
    private(set) var next: Instant?

    /// The steps that fell due by `now`, one per snapshot (the latest, when several passed
    /// at once). A snapshot seen for the first time announces nothing already past.
    mutating func due(_ served: [ActiveSnapshot], now: Instant) -> [ScheduleClock.Step] {
        var out: [ScheduleClock.Step] = []
        var nearest: Instant?
        var kept: [EnvironmentKey: (snapshot: ActiveSnapshot, last: Instant?)] = [:]
        for active in served where active.evaluator.changesWithTime {
            let key = EnvironmentKey(project: active.project, environment: active.environment)
            let latest = active.evaluator.lastTimeBoundary(atOrBefore: now)
            var last = latest
            if let previous = seen[key], previous.snapshot === active {
                last = previous.last
                if let latest, latest != previous.last {
                    out.append(
                        ScheduleClock.Step(
                            snapshot: active, at: latest, flags: active.evaluator.flagsChanging(at: latest)))
                    last = latest
                }
            }
            kept[key] = (active, last)
            if let upcoming = active.evaluator.nextTimeBoundary(after: now), nearest.map({ upcoming < $0 }) ?? true {
                nearest = upcoming
            }
        }
        seen = kept
        next = nearest
        return out
    }
}
