import FlagBus
import FlagServer
import FlagStore
import Foundation
import Logging
import NIOPosix
import ServiceLifecycle
import Synchronization

/// How analytics run (`--analytics-flush`, `--events-retention`, `--events-queue`).
public struct AnalyticsConfiguration: Sendable {
    /// How often counts are flushed; they are also flushed at every hour's end.
    public var flushInterval: Duration = .seconds(10)
    /// Event partitions (days) older than this are dropped.
    public var retentionDays: Int = 30
    /// Events waiting to be written; more are dropped and counted.
    public var queueCapacity: Int = 100_000

    public init() {}
}

/// Where analytics go and how: counts and events into PostgreSQL when this server has it,
/// else into the Redis stream `<prefix>:analytics` for the leader; and, on the leader, the
/// stream read back into PostgreSQL.
///
/// A batch leaves memory only once it is written (PostgreSQL) or added to the stream (Redis);
/// until then it is retried at every flush. What is counted in memory and not yet flushed is
/// lost if the process dies — at most one flush interval's worth. Stream entries are
/// acknowledged only after their batch is committed, and a batch id is committed with it, so
/// a leader killed in between gets the entry again and counts it once.
final class AnalyticsService: Service, @unchecked Sendable {
    static let group = "flagstaff"
    /// One consumer name for whichever daemon leads: entries a dead leader read and never
    /// acknowledged are read again by the next one, from the group's pending list.
    static let consumer = "leader"
    /// Batches kept for retry while neither PostgreSQL nor Redis takes them.
    static let maxUnsent = 360
    static let eventsPerWrite = 20_000

    let configuration: AnalyticsConfiguration
    let registry: SnapshotRegistry
    let events: EventQueue
    let postgres: String?
    let redis: String?
    let streamKey: String
    /// A thread of its own: a database that is down makes every connection attempt wait, and
    /// that must not hold the threads the sync loop and the key reloads run on.
    let pool = NIOThreadPool(numberOfThreads: 1)
    let logger: Logger
    /// Whether this daemon leads (reads the stream); always false on a replica.
    let isLeader: @Sendable () -> Bool

    private var connection: PostgresConnection?
    private var redisCommands: RedisConnection?
    private var unsentCounts: [CountBatch] = []
    private var unsentEvents: [EventBatch] = []
    private var partitionDays: Set<Int64> = []
    private var environmentIDs: [EnvironmentName: Int64] = [:]
    private var lastMaintenance: Date = .distantPast
    private var groupReady = false
    /// After a failure, writes wait until then (doubling up to 30 s) rather than retrying and
    /// waiting on a dead database every second.
    private var retryAt: ContinuousClock.Instant?
    private var retryDelay: Duration = .zero
    // For the metrics, read while a pass may be running (the state above is the pass's own:
    // passes run one at a time).
    private let countsFlushed = Atomic<UInt64>(0)
    private let eventsWritten = Atomic<UInt64>(0)
    private let streamBatches = Atomic<UInt64>(0)
    private let countsLost = Atomic<UInt64>(0)
    private let eventsLost = Atomic<UInt64>(0)
    private let lastFlushNanos = Atomic<UInt64>(0)
    private let flushFailures = Atomic<UInt64>(0)
    private let streamLag = Atomic<Int64>(0)
    private let unsentCountTotal = Atomic<UInt64>(0)
    private let unsentEventTotal = Atomic<Int>(0)

    init(
        configuration: AnalyticsConfiguration, registry: SnapshotRegistry, events: EventQueue, postgres: String?,
        redis: String?, redisPrefix: String, logger: Logger,
        isLeader: @escaping @Sendable () -> Bool
    ) {
        self.configuration = configuration
        self.registry = registry
        self.events = events
        self.postgres = postgres
        self.redis = redis
        self.streamKey = redisPrefix + ":analytics"
        pool.start()
        self.logger = logger
        self.isLeader = isLeader
        registry.collectCounts()
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var nextFlush = ContinuousClock.now + self.configuration.flushInterval
            var busy = false
            while !Task.isCancelled {
                // Counts land in the hour they are flushed in: flush just before each hour ends,
                // so that at most those last milliseconds are counted in the next hour.
                let hourLeft = 3600 - Date().timeIntervalSince1970.truncatingRemainder(dividingBy: 3600) - 0.05
                let hourEnds = hourLeft > 0.01 && hourLeft <= 1
                // A full batch of events last time: the queue is filling faster than a batch a
                // second, so write again at once.
                let pause: Duration = hourEnds ? .milliseconds(Int64(hourLeft * 1000)) : busy ? .zero : .seconds(1)
                try? await Task.sleep(for: pause)
                if Task.isCancelled { break }
                let flushCounts = ContinuousClock.now >= nextFlush || hourEnds
                if flushCounts { nextFlush = ContinuousClock.now + self.configuration.flushInterval }
                busy = (try? await self.pool.runIfActive { self.tick(flushCounts: flushCounts) }) ?? false
            }
        }
        // What is counted so far goes out on the way down.
        _ = try? await pool.runIfActive { self.tick(flushCounts: true, last: true) }
        try? await pool.shutdownGracefully()
    }

    /// One pass, blocking: events, counts when due, the leader's stream, upkeep. Passes run one
    /// at a time (the run loop's, then the last one on the way down).
    @discardableResult
    func tick(flushCounts: Bool, last: Bool = false) -> Bool {
        let started = DispatchTime.now().uptimeNanoseconds
        if flushCounts {
            let counts = registry.takeCounts()
            if !counts.isEmpty { unsentCounts.append(CountBatch(counts: counts)) }
        }
        if !last, let retryAt, ContinuousClock.now < retryAt {
            // Waiting after a failure: what is counted and queued waits too (bounded).
            trimUnsentEvents()
            unsentCountTotal.store(unsentCounts.reduce(0) { $0 + $1.total }, ordering: .relaxed)
            return false
        }
        let failuresBefore = flushFailures.load(ordering: .relaxed)
        let busy = writeEvents()
        if flushCounts { sendCounts() }
        if postgres != nil, redis != nil, isLeader() { readStream() }
        if postgres != nil, Date().timeIntervalSince(lastMaintenance) >= 3600 { maintain() }
        if flushFailures.load(ordering: .relaxed) == failuresBefore {
            retryAt = nil
            retryDelay = .zero
        } else {
            retryDelay = min(.seconds(30), max(.seconds(1), retryDelay * 2))
            retryAt = ContinuousClock.now + retryDelay
        }
        if flushCounts { lastFlushNanos.store(DispatchTime.now().uptimeNanoseconds - started, ordering: .relaxed) }
        unsentCountTotal.store(unsentCounts.reduce(0) { $0 + $1.total }, ordering: .relaxed)
        return busy
    }

    // MARK: Counts

    private func sendCounts() {
        while let batch = unsentCounts.first {
            do {
                if let store = try store() {
                    try store.add(batch)
                } else {
                    try xadd(kind: "counts", batch.json)
                }
                countsFlushed.add(batch.total, ordering: .relaxed)
                unsentCounts.removeFirst()
            } catch {
                failed("flushing evaluation counts", error)
                break
            }
        }
        while unsentCounts.count > Self.maxUnsent {
            let lost = unsentCounts.removeFirst()
            countsLost.add(lost.total, ordering: .relaxed)
            logger.error("analytics: dropped an unsent batch of counts", metadata: ["counts": "\(lost.total)"])
        }
    }

    // MARK: Events

    /// Writes what the queue holds, a batch at a time, oldest first (after any batch kept from
    /// a failed write). Returns whether the queue held a full batch or more: the run loop then
    /// comes back at once rather than after a second.
    @discardableResult
    private func writeEvents() -> Bool {
        var busy = false
        while true {
            if unsentEvents.isEmpty {
                let (evaluations, tracking) = events.take(limit: Self.eventsPerWrite)
                if evaluations.isEmpty && tracking.isEmpty { break }
                busy = evaluations.count + tracking.count >= Self.eventsPerWrite
                unsentEvents.append(EventBatch(evaluations: evaluations, tracking: tracking))
            }
            unsentEventTotal.store(unsentEvents.reduce(0) { $0 + $1.count }, ordering: .relaxed)
            let batch = unsentEvents[0]
            do {
                if let store = try store() {
                    try store.write(try prepared(batch, store: store), ids: environmentIDs)
                } else {
                    try xadd(kind: "events", batch.json)
                }
                eventsWritten.add(UInt64(batch.count), ordering: .relaxed)
                unsentEvents.removeFirst()
            } catch {
                failed("writing events", error)
                // Keeps what the queue holds within its capacity while the writes fail.
                let (evaluations, tracking) = events.take()
                if !evaluations.isEmpty || !tracking.isEmpty {
                    unsentEvents.append(EventBatch(evaluations: evaluations, tracking: tracking))
                }
                busy = false
                break
            }
            if !busy { break }
        }
        trimUnsentEvents()
        return busy
    }

    /// Keeps the events taken and not yet written within the queue's capacity, dropping (and
    /// counting) the oldest batches.
    private func trimUnsentEvents() {
        if unsentEvents.isEmpty, events.depth >= configuration.queueCapacity {
            // A full queue while writes wait: move it here so that new events are kept, not old.
            let (evaluations, tracking) = events.take()
            unsentEvents.append(EventBatch(evaluations: evaluations, tracking: tracking))
        }
        var kept = unsentEvents.reduce(0) { $0 + $1.count }
        while kept > configuration.queueCapacity, !unsentEvents.isEmpty {
            let lost = unsentEvents.removeFirst()
            kept -= lost.count
            eventsLost.add(UInt64(lost.count), ordering: .relaxed)
        }
        unsentEventTotal.store(kept, ordering: .relaxed)
    }

    /// `batch` without the events past the retention (they would land in a partition that is
    /// dropped), with the partitions of its days made and the ids of its environments known.
    private func prepared(_ batch: EventBatch, store: AnalyticsStore) throws(StoreError) -> EventBatch {
        let oldest = Date().timeIntervalSince1970 - Double(configuration.retentionDays) * 86_400
        var batch = batch
        batch.evaluations.removeAll { $0.time < oldest }
        batch.tracking.removeAll { $0.time < oldest }
        var days = Set(batch.evaluations.map { Int64($0.time.rounded(.down)) / 86_400 })
        days.formUnion(batch.tracking.map { Int64($0.time.rounded(.down)) / 86_400 })
        for day in days where !partitionDays.contains(day) {
            try store.ensurePartition("evaluation_events", day: day * 86_400)
            try store.ensurePartition("tracking_events", day: day * 86_400)
            partitionDays.insert(day)
        }
        let named = batch.evaluations.map { EnvironmentName(project: $0.project, environment: $0.environment) }
            + batch.tracking.map { EnvironmentName(project: $0.project, environment: $0.environment) }
        if named.contains(where: { environmentIDs[$0] == nil }) { environmentIDs = try store.environmentIDs() }
        return batch
    }

    // MARK: The stream (replicas → leader)

    private func xadd(kind: String, _ json: [UInt8]) throws {
        guard redis != nil else { throw SetupError("analytics need PostgreSQL or Redis") }
        let connection = try redisConnection()
        do {
            try connection.command(bytes: [
                Array("XADD".utf8), Array(streamKey.utf8), Array("MAXLEN".utf8), Array("~".utf8),
                Array("1000000".utf8), Array("*".utf8), Array("kind".utf8), Array(kind.utf8), Array("batch".utf8), json,
            ])
        } catch {
            redisCommands = nil
            throw error
        }
    }

    /// Reads what replicas added, writes it, and acknowledges it: first this consumer's own
    /// pending entries (read by a leader that died before acknowledging), then new ones.
    private func readStream() {
        do {
            let connection = try redisConnection()
            if !groupReady {
                try Self.createGroup(connection, key: streamKey)
                groupReady = true
            }
            for start in ["0", ">"] {
                while true {
                    let reply = try connection.command([
                        "XREADGROUP", "GROUP", Self.group, Self.consumer, "COUNT", "100", "STREAMS", streamKey, start,
                    ])
                    let entries = Self.entries(reply)
                    if entries.isEmpty { break }
                    for (id, fields) in entries {
                        try apply(fields)
                        // A leader killed here has written the batch and not acknowledged it.
                        FaultInjection.point("analytics.after-write")
                        try connection.command(["XACK", streamKey, Self.group, id])
                        streamBatches.add(1, ordering: .relaxed)
                    }
                    if entries.count < 100 { break }
                }
            }
            if let groups = try? connection.command(["XINFO", "GROUPS", streamKey]).array {
                for group in groups {
                    let info = Self.pairs(group.array ?? [])
                    if info["name"]?.string == Self.group {
                        streamLag.store((info["lag"]?.integer ?? 0) + (info["pending"]?.integer ?? 0), ordering: .relaxed)
                    }
                }
            }
        } catch {
            // A Redis that restarted has lost the group: make it again next time.
            groupReady = false
            redisCommands = nil
            failed("reading the analytics stream", error)
        }
    }

    /// The consumer group, from the stream's first entry; one that exists already is kept.
    static func createGroup(_ connection: RedisConnection, key: String) throws(RedisError) {
        let created: RedisError?
        do {
            try connection.command(["XGROUP", "CREATE", key, group, "0", "MKSTREAM"])
            created = nil
        } catch {
            created = error
        }
        if let created, !created.description.contains("BUSYGROUP") { throw created }
    }

    /// Writes one stream entry's batch. A batch that cannot be read is logged and skipped
    /// (acknowledged): retrying it would never succeed.
    private func apply(_ fields: [String: [UInt8]]) throws {
        guard let store = try store() else { return }
        switch fields["kind"].map({ String(decoding: $0, as: UTF8.self) }) {
        case "counts":
            guard let json = fields["batch"], let batch = CountBatch(json: json) else {
                logger.error("analytics: skipped a stream entry that is not a batch of counts")
                return
            }
            try store.add(batch)
        case "events":
            guard let json = fields["batch"], let batch = EventBatch(json: json) else {
                logger.error("analytics: skipped a stream entry that is not a batch of events")
                return
            }
            try store.add(try prepared(batch, store: store), ids: environmentIDs)
        default:
            logger.error("analytics: skipped a stream entry of an unknown kind")
        }
    }

    /// A Redis list of alternating names and values (stream fields, `XINFO`) as a dictionary.
    static func pairs(_ list: [RedisReply]) -> [String: RedisReply] {
        var out: [String: RedisReply] = [:]
        var i = 0
        while i + 1 < list.count {
            if let name = list[i].string { out[name] = list[i + 1] }
            i += 2
        }
        return out
    }

    /// `XREADGROUP`'s reply as (id, fields) pairs.
    static func entries(_ reply: RedisReply) -> [(String, [String: [UInt8]])] {
        guard let streams = reply.array else { return [] }
        var out: [(String, [String: [UInt8]])] = []
        for stream in streams {
            guard let pair = stream.array, pair.count == 2, let entries = pair[1].array else { continue }
            for entry in entries {
                guard let parts = entry.array, parts.count == 2, let id = parts[0].string else { continue }
                out.append((id, Self.pairs(parts[1].array ?? []).compactMapValues(\.bytes)))
            }
        }
        return out
    }

    // MARK: Upkeep

    /// Partitions for today and tomorrow, old partitions dropped, old batch ids forgotten.
    private func maintain() {
        do {
            guard let store = try store() else { return }
            let now = Date()
            let today = Int64(now.timeIntervalSince1970) / 86_400
            for day in [today, today + 1] where !partitionDays.contains(day) {
                try store.ensurePartition("evaluation_events", day: day * 86_400)
                try store.ensurePartition("tracking_events", day: day * 86_400)
                partitionDays.insert(day)
            }
            let cutoff = now.addingTimeInterval(-Double(configuration.retentionDays) * 86_400)
            let dropped = try store.dropPartitions(before: cutoff)
            if !dropped.isEmpty {
                let cutoffDay = Int64(cutoff.timeIntervalSince1970) / 86_400
                partitionDays = partitionDays.filter { $0 >= cutoffDay }
                logger.info("analytics: dropped event partitions past the retention", metadata: ["partitions": "\(dropped)"])
            }
            try store.forgetBatches(before: now.addingTimeInterval(-7 * 86_400))
            lastMaintenance = now
        } catch {
            failed("event partition upkeep", error)
        }
    }

    // MARK: Connections

    private func store() throws -> AnalyticsStore? {
        guard let postgres else { return nil }
        if let connection { return AnalyticsStore(connection: connection) }
        let opened = try PostgresConnection(url: postgres)
        connection = opened
        return AnalyticsStore(connection: opened)
    }

    private func redisConnection() throws -> RedisConnection {
        if let redisCommands { return redisCommands }
        guard let redis else { throw SetupError("no Redis") }
        let opened = try RedisConnection(url: redis)
        redisCommands = opened
        return opened
    }

    private func failed(_ doing: String, _ error: any Error) {
        flushFailures.add(1, ordering: .relaxed)
        if error is StoreError { connection = nil }
        logger.error("analytics: \(doing) failed; kept for the next try", metadata: ["error": "\(error)"])
    }

    // MARK: Metrics

    func metricsText() -> String {
        let pendingCounts = unsentCountTotal.load(ordering: .relaxed)
        let pendingEvents = unsentEventTotal.load(ordering: .relaxed)
        let text = """
            # HELP flagstaff_analytics_counts_flushed_total Evaluations counted and written (PostgreSQL or the stream).
            # TYPE flagstaff_analytics_counts_flushed_total counter
            flagstaff_analytics_counts_flushed_total \(countsFlushed.load(ordering: .relaxed))
            # HELP flagstaff_analytics_events_written_total Events written (PostgreSQL or the stream).
            # TYPE flagstaff_analytics_events_written_total counter
            flagstaff_analytics_events_written_total \(eventsWritten.load(ordering: .relaxed))
            # HELP flagstaff_analytics_dropped_total Analytics dropped, by what was dropped and why.
            # TYPE flagstaff_analytics_dropped_total counter
            flagstaff_analytics_dropped_total{kind="events",reason="queue_full"} \(events.dropped)
            flagstaff_analytics_dropped_total{kind="events",reason="unsent"} \(eventsLost.load(ordering: .relaxed))
            flagstaff_analytics_dropped_total{kind="events",reason="sdk"} \(events.reportedDropped)
            flagstaff_analytics_dropped_total{kind="counts",reason="unsent"} \(countsLost.load(ordering: .relaxed))
            # HELP flagstaff_analytics_queue_depth Events waiting in memory to be written.
            # TYPE flagstaff_analytics_queue_depth gauge
            flagstaff_analytics_queue_depth \(events.depth + pendingEvents)
            # HELP flagstaff_analytics_unsent_counts Evaluations counted and not yet written (retried each flush).
            # TYPE flagstaff_analytics_unsent_counts gauge
            flagstaff_analytics_unsent_counts \(pendingCounts)
            # HELP flagstaff_analytics_flush_seconds How long the last flush of counts took.
            # TYPE flagstaff_analytics_flush_seconds gauge
            flagstaff_analytics_flush_seconds \(Double(lastFlushNanos.load(ordering: .relaxed)) / 1e9)
            # HELP flagstaff_analytics_flush_failures_total Flushes, writes or stream reads that failed (retried).
            # TYPE flagstaff_analytics_flush_failures_total counter
            flagstaff_analytics_flush_failures_total \(flushFailures.load(ordering: .relaxed))

            """
        let leader = postgres != nil && redis != nil && isLeader()
        let stream = leader ? """
            # HELP flagstaff_analytics_stream_batches_total Batches read from replicas through the stream and written.
            # TYPE flagstaff_analytics_stream_batches_total counter
            flagstaff_analytics_stream_batches_total \(streamBatches.load(ordering: .relaxed))
            # HELP flagstaff_analytics_stream_lag Stream entries not yet read or not yet acknowledged by the leader.
            # TYPE flagstaff_analytics_stream_lag gauge
            flagstaff_analytics_stream_lag \(streamLag.load(ordering: .relaxed))

            """ : ""
        return text + stream
    }
}
