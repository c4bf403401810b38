import AsyncHTTPClient
import FlagModel
import FlagStore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// Delivers notifications from the outbox to every configured receiver (SPEC §18): one task
/// per receiver, woken as soon as a sync commits, each attempt bounded by a timeout, so a
/// slow or hanging receiver delays nobody but itself, and never a sync.
///
/// Per receiver and environment, messages go out in the order they happened; a failing one
/// holds back the later ones of its environment (not other environments, not other
/// receivers) and is retried with exponential backoff until it is delivered, refused (4xx)
/// or older than the maximum age. Only the leader daemon delivers.
public final class Notifier: Service, @unchecked Sendable {
    public let configuration: NotifyConfiguration
    /// True when the outbox is in PostgreSQL; false: in memory, best effort.
    public let persistent: Bool
    let outbox: any Outbox
    let logger: Logger
    let isLeader: @Sendable () -> Bool
    let policy: RetryPolicy
    private let workers: [Worker]
    private let lock = NSLock()
    private var latency = LatencyHistogram()

    /// `postgres` nil keeps the outbox in memory. `isLeader` says whether this daemon is
    /// the one that delivers.
    public init(
        configuration: NotifyConfiguration, postgres: String?, logger: Logger,
        isLeader: @escaping @Sendable () -> Bool = { true }
    ) {
        self.configuration = configuration
        self.persistent = postgres != nil
        self.outbox = postgres.map { PostgresOutbox(url: $0) } ?? MemoryOutbox()
        self.logger = logger
        self.isLeader = isLeader
        self.policy = RetryPolicy(
            first: configuration.firstBackoff.seconds, cap: configuration.maxBackoff.seconds,
            maxAge: configuration.maxAge.seconds)
        self.workers = configuration.receivers.map(Worker.init)
    }

    /// Records each receiver's first sighting, so that it gets what happens from now on and
    /// not the history. Call at start, once the schema is there and before the first sync;
    /// a receiver that cannot be recorded now is recorded when delivery starts.
    public func prepare() async {
        for worker in workers {
            do {
                worker.id = try await outbox.register(worker.receiver)
            } catch {
                logger.error(
                    "notifications: cannot record the receiver yet",
                    metadata: ["receiver": "\(worker.receiver.name)", "error": "\(worker.receiver.redact("\(error)"))"])
            }
        }
    }

    /// Starts delivering now: called right after a sync commits.
    public func wake() {
        for worker in workers { worker.wakeup.ring() }
    }

    /// Blocking: puts drafts in the outbox outside a sync's transaction (a daemon without
    /// PostgreSQL puts everything here), then wakes the deliverers.
    @discardableResult
    public func enqueue(_ drafts: [NotificationDraft]) throws -> Int {
        let inserted = try outbox.insert(drafts)
        if inserted > 0 { wake() }
        return inserted
    }

    /// A time-based rollout of `revision` reached the step that starts at `at`, for `flags`.
    ///
    /// The entry point of the schedule timer: blocking (call it from a thread that may block,
    /// as the sync pass is), safe from any thread, and idempotent: the outbox row's dedupe key
    /// is made of project, environment, revision and `at`, so two daemons that both notice a
    /// step, or one that notices it again after a restart, announce it once. Returns whether
    /// this call was the one that recorded it.
    @discardableResult
    public func scheduleStepReached(
        project: String, environment: String, revision: Int64, version: String, at: Date, flags: [String],
        changes: [String] = []
    ) throws -> Bool {
        let draft = Events.scheduleStep(
            project: project, environment: environment, revision: revision, version: version, at: at, flags: flags,
            changes: changes)
        return try enqueue([draft]) > 0
    }

    // MARK: Service

    public func run() async throws {
        if !persistent {
            logger.warning(
                "notifications are kept in memory (no --postgres): best effort, lost if the daemon stops before delivering")
        }
        // Made here, not at init: a notifier used only to enqueue (another process's timer)
        // opens no connections and has no client to shut down.
        let timeout = TimeAmount(configuration.attemptTimeout)
        let client = HTTPClient(
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            configuration: HTTPClient.Configuration(
                redirectConfiguration: .disallow, timeout: .init(connect: timeout, read: timeout)))
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                for worker in self.workers {
                    group.addTask { await self.deliver(worker, client) }
                }
                group.addTask { await self.pruneRegularly() }
            }
        }
        try? await client.shutdown()
        if let outbox = outbox as? PostgresOutbox { await outbox.shutdown() }
    }

    // MARK: Delivery

    private func deliver(_ worker: Worker, _ client: HTTPClient) async {
        while !Task.isCancelled {
            var wait = configuration.pollInterval
            if isLeader() {
                do {
                    if worker.id == nil { worker.id = try await outbox.register(worker.receiver) }
                    wait = try await drain(worker, client)
                } catch {
                    worker.note(error: "outbox: \(worker.receiver.redact("\(error)"))")
                    logger.error(
                        "notifications: the outbox cannot be read",
                        metadata: ["receiver": "\(worker.receiver.name)", "error": "\(worker.receiver.redact("\(error)"))"])
                    wait = .seconds(2)
                }
            } else {
                // A follower: whoever leads now delivers, and keeps its own retry times.
                worker.retries.removeAll()
                worker.update { $0.pending = nil }
            }
            await worker.wakeup.wait(timeout: wait)
        }
    }

    /// Sends what is due for one receiver; returns how long to sleep before looking again.
    private func drain(_ worker: Worker, _ client: HTTPClient) async throws -> Duration {
        guard let id = worker.id else { return configuration.pollInterval }
        let receiver = worker.receiver
        let limit = 100
        var earliest: Date?
        while !Task.isCancelled {
            let batch = try await outbox.pending(receiver: id, filter: receiver.filter, limit: limit)
            var blocked: Set<String> = []
            var progressed = false
            for notification in batch {
                let draft = notification.draft
                let lane = "\(draft.project)/\(draft.environment)"
                if blocked.contains(lane) { continue }
                var now = Date()
                if let retry = worker.retries[lane], retry.notification == notification.id, retry.nextAttempt > now {
                    blocked.insert(lane)
                    earliest = min(earliest ?? retry.nextAttempt, retry.nextAttempt)
                    continue
                }
                let previous = worker.retries[lane].flatMap { $0.notification == notification.id ? $0 : nil }
                if policy.isExpired(draft.occurredAt, now: now) {
                    let reason = previous?.lastError ?? "never attempted"
                    try await outbox.record(
                        notification: notification.id, receiver: id, state: .givenUp,
                        attempts: previous?.failures ?? 0, statusCode: nil, error: reason)
                    worker.retries[lane] = nil
                    worker.update {
                        $0.givenUp += 1
                        $0.lastError = "given up after \(Self.format(configuration.maxAge)): \(reason)"
                        $0.lastErrorAt = now
                    }
                    logger.error(
                        "notification given up: older than --notify-max-age",
                        metadata: Self.metadata(notification, receiver, ["lastError": "\(reason)"]))
                    progressed = true
                    continue
                }
                let payload = Payload(notification, for: receiver)
                let outcome = await send(payload, to: receiver, with: client)
                now = Date()
                let attempts = (previous?.failures ?? 0) + 1
                switch outcome {
                case .delivered(let status):
                    try await outbox.record(
                        notification: notification.id, receiver: id, state: .delivered, attempts: attempts,
                        statusCode: status, error: nil)
                    worker.retries[lane] = nil
                    let seconds = now.timeIntervalSince(draft.occurredAt)
                    observe(seconds)
                    worker.update {
                        $0.delivered += 1
                        $0.lastDeliveredAt = now
                    }
                    logger.info(
                        "notification delivered",
                        metadata: Self.metadata(
                            notification, receiver,
                            ["delivery": "\(payload.deliveryID)", "status": "\(status)", "attempts": "\(attempts)",
                             "seconds": "\(String(format: "%.3f", seconds))"]))
                    progressed = true
                case .refused(let status, let reason):
                    try await outbox.record(
                        notification: notification.id, receiver: id, state: .failed, attempts: attempts,
                        statusCode: status, error: reason)
                    worker.retries[lane] = nil
                    worker.update {
                        $0.failed += 1
                        $0.lastError = "\(reason): not retried"
                        $0.lastErrorAt = now
                    }
                    logger.error(
                        "notification refused by the receiver; not retried",
                        metadata: Self.metadata(notification, receiver, ["status": "\(status)", "delivery": "\(payload.deliveryID)"]))
                    progressed = true
                case .retry(_, let reason, let retryAfter):
                    let next = policy.nextAttempt(
                        failures: attempts, retryAfter: retryAfter, now: now, occurredAt: draft.occurredAt)
                    worker.retries[lane] = RetryState(
                        notification: notification.id, failures: attempts, nextAttempt: next, lastError: reason)
                    worker.update {
                        $0.retries += 1
                        $0.lastError = reason
                        $0.lastErrorAt = now
                    }
                    logger.warning(
                        "notification not delivered; will retry",
                        metadata: Self.metadata(
                            notification, receiver,
                            ["error": "\(reason)", "attempts": "\(attempts)",
                             "retryIn": "\(String(format: "%.3f", next.timeIntervalSince(now)))"]))
                    blocked.insert(lane)
                    earliest = min(earliest ?? next, next)
                }
            }
            if !progressed || batch.count < limit { break }
        }
        let counts = try await outbox.counts(receiver: id, filter: receiver.filter)
        worker.update { $0.stored = counts; $0.pending = counts.pending }
        guard let earliest else { return configuration.pollInterval }
        let seconds = max(0.001, earliest.timeIntervalSinceNow)
        return min(configuration.pollInterval, .milliseconds(Int64(seconds * 1000) + 1))
    }

    /// One POST, bounded by the attempt timeout; errors become retries.
    private func send(_ payload: Payload, to receiver: Receiver, with client: HTTPClient) async -> AttemptOutcome {
        var request = HTTPClientRequest(url: receiver.url.absoluteString)
        request.method = .POST
        request.headers.add(name: "User-Agent", value: configuration.userAgent)
        for (name, value) in payload.headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: payload.body))
        do {
            let response = try await client.execute(request, timeout: TimeAmount(configuration.attemptTimeout))
            // Read (and drop) what the receiver says, so the connection can be kept.
            _ = try? await response.body.collect(upTo: 1 << 16)
            return AttemptOutcome.classify(
                status: Int(response.status.code), retryAfter: response.headers.first(name: "Retry-After"))
        } catch {
            return .retry(status: nil, reason: receiver.redact(String(describing: error)), retryAfter: nil)
        }
    }

    private func pruneRegularly() async {
        let keep = max(2 * configuration.maxAge.seconds, 7 * 86_400)
        while !Task.isCancelled {
            try? await Task.sleep(for: persistent ? .seconds(3600) : .seconds(60))
            if Task.isCancelled { return }
            guard isLeader() else { continue }
            do {
                try await outbox.prune(olderThan: persistent ? keep : configuration.maxAge.seconds)
            } catch {
                logger.error("notifications: pruning the outbox failed", metadata: ["error": "\(error)"])
            }
        }
    }

    private func observe(_ seconds: Double) {
        lock.lock()
        latency.observe(seconds)
        lock.unlock()
    }

    static func metadata(
        _ notification: StoredNotification, _ receiver: Receiver, _ extra: Logger.Metadata = [:]
    ) -> Logger.Metadata {
        var out = extra
        out["receiver"] = "\(receiver.name)"
        out["event"] = "\(notification.draft.event)"
        out["project"] = "\(notification.draft.project)"
        out["environment"] = "\(notification.draft.environment)"
        if let revision = notification.draft.revision { out["revision"] = "\(revision)" }
        out["notification"] = "\(notification.id)"
        return out
    }

    static func format(_ duration: Duration) -> String {
        let seconds = duration.seconds
        if seconds >= 3600, seconds.truncatingRemainder(dividingBy: 3600) == 0 { return "\(Int(seconds / 3600))h" }
        if seconds >= 60, seconds.truncatingRemainder(dividingBy: 60) == 0 { return "\(Int(seconds / 60))m" }
        return "\(seconds)s"
    }

    // MARK: Status and metrics

    /// For `/api/v1/status`: the store, and per receiver (by its safe name) what is pending,
    /// delivered, refused and given up, and the last error.
    public func status() -> Value {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        func time(_ date: Date?) -> Value { date.map { .string(formatter.string(from: $0)) } ?? .null }
        let receivers: [Value] = workers.map { worker in
            let stats = worker.stats
            let r = worker.receiver
            return .object([
                "receiver": .string(r.name), "format": .string(r.format.rawValue),
                "signed": .bool(r.secret != nil),
                "events": r.filter.events.map { .array($0.map(Value.string)) } ?? .null,
                "projects": r.filter.projects.map { .array($0.map(Value.string)) } ?? .null,
                "environments": r.filter.environments.map { .array($0.map(Value.string)) } ?? .null,
                "pending": stats.pending.map { .int(Int64($0)) } ?? .null,
                "delivered": .int(Int64(max(stats.stored.delivered, stats.delivered))),
                "failed": .int(Int64(max(stats.stored.failed, stats.failed))),
                "givenUp": .int(Int64(max(stats.stored.givenUp, stats.givenUp))),
                "retries": .int(Int64(stats.retries)),
                "lastError": stats.lastError.map(Value.string) ?? .null, "lastErrorAt": time(stats.lastErrorAt),
                "lastDeliveredAt": time(stats.lastDeliveredAt),
            ])
        }
        return .object([
            "store": .string(persistent ? "postgres" : "memory"),
            "maxAgeSeconds": .double(configuration.maxAge.seconds),
            "receivers": .array(receivers),
        ])
    }

    /// Prometheus text for `/metrics`: counters since start per receiver, the pending gauge
    /// (the leader's only), and the histogram of seconds from event to delivery.
    public func metricsText() -> String {
        let stats = workers.map { ($0.receiver.name, $0.stats) }
        lock.lock()
        let histogram = latency
        lock.unlock()
        var out = ""
        func counter(_ name: String, _ help: String, _ value: (ReceiverStats) -> Int) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) counter\n"
            for (receiver, s) in stats { out += "\(name){receiver=\(Self.quote(receiver))} \(value(s))\n" }
        }
        counter("flagstaff_notifications_delivered_total", "Notifications a receiver accepted (2xx).") { $0.delivered }
        counter("flagstaff_notifications_failed_total", "Notifications a receiver refused (4xx but 408, 429); not retried.") { $0.failed }
        counter("flagstaff_notifications_retries_total", "Attempts that failed and will be retried (down, 5xx, 408, 429, timeout).") { $0.retries }
        counter("flagstaff_notifications_given_up_total", "Notifications still undelivered at --notify-max-age.") { $0.givenUp }
        out += "# HELP flagstaff_notifications_pending Notifications waiting for a receiver (leader only).\n"
        out += "# TYPE flagstaff_notifications_pending gauge\n"
        for (receiver, s) in stats {
            if let pending = s.pending { out += "flagstaff_notifications_pending{receiver=\(Self.quote(receiver))} \(pending)\n" }
        }
        out += "# HELP flagstaff_notification_delivery_seconds From the event (a sync's commit) to the receiver's 2xx.\n"
        out += "# TYPE flagstaff_notification_delivery_seconds histogram\n"
        var cumulative: UInt64 = 0
        for (index, bound) in LatencyHistogram.bounds.enumerated() {
            cumulative += histogram.counts[index]
            out += "flagstaff_notification_delivery_seconds_bucket{le=\"\(bound)\"} \(cumulative)\n"
        }
        out += "flagstaff_notification_delivery_seconds_bucket{le=\"+Inf\"} \(histogram.count)\n"
        out += "flagstaff_notification_delivery_seconds_sum \(histogram.sum)\n"
        out += "flagstaff_notification_delivery_seconds_count \(histogram.count)\n"
        return out
    }

    static func quote(_ value: String) -> String {
        "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}

/// One receiver's delivery task state. `id`, `retries` are touched by its task alone;
/// `stats` are read by status and metrics from other threads, under the lock.
final class Worker: @unchecked Sendable {
    let receiver: Receiver
    let wakeup = Wakeup()
    var id: Int64?
    var retries: [String: RetryState] = [:]
    private let lock = NSLock()
    private var current = ReceiverStats()

    init(_ receiver: Receiver) {
        self.receiver = receiver
    }

    var stats: ReceiverStats {
        lock.lock()
        defer { lock.unlock() }
        return current
    }

    func update(_ change: (inout ReceiverStats) -> Void) {
        lock.lock()
        change(&current)
        lock.unlock()
    }

    func note(error: String) {
        update {
            $0.lastError = error
            $0.lastErrorAt = Date()
        }
    }
}

/// Counters since start, and the outbox's own counts as last read.
struct ReceiverStats: Sendable {
    var delivered = 0
    var failed = 0
    var givenUp = 0
    var retries = 0
    var pending: Int?
    var stored = DeliveryCounts()
    var lastError: String?
    var lastErrorAt: Date?
    var lastDeliveredAt: Date?
}

struct LatencyHistogram: Sendable {
    static let bounds: [Double] = [0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600]
    var counts = [UInt64](repeating: 0, count: LatencyHistogram.bounds.count)
    var count: UInt64 = 0
    var sum = 0.0

    mutating func observe(_ seconds: Double) {
        count += 1
        sum += seconds
        if let index = Self.bounds.firstIndex(where: { seconds <= $0 }) { counts[index] += 1 }
    }
}

extension Duration {
    var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (s, atto) = duration.components
        self = .nanoseconds(s * 1_000_000_000 + atto / 1_000_000_000)
    }
}
