import FlagBus
import FlagEngine
import FlagModel
import FlagServer
import Foundation
import Logging
import NIOPosix
import ServiceLifecycle

/// What `flagstaff replica` is told (SPEC §13).
public struct ReplicaConfiguration: Sendable {
    public var redis: String
    public var redisPrefix: String = "flagstaff"
    public var host: String = "127.0.0.1"
    public var port: Int = 8080
    /// Serve HTTPS with this certificate and key (`--tls-cert`, `--tls-key`).
    public var tls: TLSFiles?
    public var postgres: String?
    public var keysFile: String?
    public var noAuth: Bool = false
    public var rateLimit: RateLimiter.Configuration = .off
    /// Connections that finish no request head, or sit idle, this long are closed.
    public var idleTimeout: Duration? = FlagServer.Configuration.defaultIdleTimeout
    /// Only these projects (all when empty).
    public var projects: Set<String> = []
    /// Only these environments (all when empty).
    public var environments: Set<String> = []
    /// Evaluation counts and events: into PostgreSQL when given, else through the Redis stream
    /// to the leader; nil when off (`--analytics-flush 0`).
    public var analytics: AnalyticsConfiguration? = AnalyticsConfiguration()

    public init(redis: String) {
        self.redis = redis
    }

    func wants(project: String, environment: String) -> Bool {
        (projects.isEmpty || projects.contains(project)) && (environments.isEmpty || environments.contains(environment))
    }
}

/// `flagstaff replica`: serves from Redis alone (SPEC §9): load every snapshot, subscribe,
/// swap on each message; after a lost connection, reconnect and load everything again.
public enum Replica {
    public static func run(_ configuration: ReplicaConfiguration, logger: Logger) async throws {
        if ProcessInfo.processInfo.environment["PGCONNECT_TIMEOUT"] == nil { setenv("PGCONNECT_TIMEOUT", "3", 1) }
        let pool = NIOThreadPool(numberOfThreads: 2)
        pool.start()
        let registry = SnapshotRegistry()
        let metrics = Metrics()
        let setup = try await pool.runIfActive {
            try Wiring.authentication(
                noAuth: configuration.noAuth, keysFile: configuration.keysFile, postgres: configuration.postgres,
                pool: pool, refresh: .seconds(5), logger: logger)
        }
        let follower = RedisFollower(configuration: configuration, registry: registry, logger: logger)
        let analytics = configuration.analytics.map { analytics in
            AnalyticsService(
                configuration: analytics, registry: registry, events: EventQueue(capacity: analytics.queueCapacity),
                postgres: configuration.postgres, redis: configuration.redis, redisPrefix: configuration.redisPrefix,
                logger: logger, isLeader: { false })
        }
        if let analytics { metrics.addSource { analytics.metricsText() } }
        var serverConfiguration = FlagServer.Configuration(
            host: configuration.host, port: configuration.port, rateLimit: configuration.rateLimit, role: "replica")
        serverConfiguration.tls = configuration.tls
        serverConfiguration.idleTimeout = configuration.idleTimeout
        let server = FlagServer(
            configuration: serverConfiguration,
            registry: registry, metrics: metrics, authentication: setup.authentication,
            statusExtras: { ["redisConnected": .bool(follower.isConnected), "analytics": .bool(analytics != nil)] },
            events: analytics?.events, reports: configuration.postgres.map { AnalyticsReporter(postgres: $0, pool: pool) })
        let host = configuration.host
        let scheme = configuration.tls == nil ? "http" : "https"
        // A certificate or key that cannot be used stops the start here (TLSSetupError).
        let application = try server.application(logger: logger) { port in
            logger.notice(
                "listening", metadata: ["address": "\(host):\(port)", "port": "\(port)", "scheme": "\(scheme)"])
            SystemdNotifier.notify("READY=1\nSTATUS=serving \(scheme) on \(host):\(port)")
        }
        // A replica follows the clock itself: it tells its own streams when a schedule steps.
        let clock = ScheduleClock(registry: registry, logger: logger)
        var services: [any Service] = []
        // First, so that it stops last (see Daemon): the last flush holds every request's counts.
        if let analytics { services.append(analytics) }
        services += [application, FollowService(follower: follower, pool: pool), clock]
        if let keyService = setup.keyService { services.append(keyService) }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        registry.close()
        try? await pool.shutdownGracefully()
    }
}

/// Runs the follower's blocking steps on the thread pool until shutdown.
struct FollowService: Service {
    let follower: RedisFollower
    let pool: NIOThreadPool

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            var failures = 0
            while !Task.isCancelled {
                let ok = try await pool.runIfActive { follower.step() }
                if ok {
                    failures = 0
                } else {
                    failures += 1
                    try await Task.sleep(for: .milliseconds(min(10_000, 250 << min(failures - 1, 6))))
                }
            }
        }
    }
}

/// The blocking side of a replica: one subscription, one command connection.
final class RedisFollower: @unchecked Sendable {
    let configuration: ReplicaConfiguration
    let registry: SnapshotRegistry
    let logger: Logger
    private var subscription: RedisSubscription?
    private var connection: RedisConnection?
    private let connected = LockedFlag()

    init(configuration: ReplicaConfiguration, registry: SnapshotRegistry, logger: Logger) {
        self.configuration = configuration
        self.registry = registry
        self.logger = logger
    }

    var isConnected: Bool { connected.value }

    /// Subscribes (then loads everything, so nothing published in between is missed), or
    /// waits up to a second for a message. False after a failure.
    func step() -> Bool {
        do {
            guard let subscription else {
                let prefix = configuration.redisPrefix
                let subscribed = try RedisSubscription(url: configuration.redis, patterns: [prefix + ":*"])
                self.subscription = subscribed
                try loadAll()
                connected.value = true
                logger.notice("subscribed to Redis", metadata: ["pattern": "\(prefix):*", "served": "\(registry.all.count)"])
                return true
            }
            guard let message = try subscription.next(wait: .seconds(1)) else { return true }
            let parts = message.channel.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 3 else { return true }
            // A schedule step changes no snapshot: this replica's own clock has seen it.
            if Self.isScheduleStep(message.payload) { return true }
            try load(project: String(parts[1]), environment: String(parts[2]))
            return true
        } catch {
            if connected.value { logger.error("lost Redis; reconnecting", metadata: ["error": "\(error)"]) }
            subscription = nil
            connection = nil
            connected.value = false
            return false
        }
    }

    static func isScheduleStep(_ payload: [UInt8]) -> Bool {
        guard case .object(let message)? = try? JSONParser.parse(bytes: payload) else { return false }
        return message["event"] == .string(ScheduleStepMessage.event)
    }

    private func command() throws -> RedisConnection {
        if let connection { return connection }
        let opened = try RedisConnection(url: configuration.redis)
        connection = opened
        return opened
    }

    /// Every `<prefix>:<project>:<environment>:snapshot` key.
    private func loadAll() throws {
        let redis = try command()
        var cursor = "0"
        var keys: [String] = []
        repeat {
            let reply = try redis.command(["SCAN", cursor, "MATCH", configuration.redisPrefix + ":*:snapshot", "COUNT", "1000"])
            guard case .array(let parts) = reply, parts.count == 2, let next = parts[0].string,
                case .array(let found) = parts[1]
            else { break }
            cursor = next
            keys += found.compactMap(\.string)
        } while cursor != "0"
        for key in keys.sorted() {
            let parts = key.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 4 else { continue }
            try load(project: String(parts[1]), environment: String(parts[2]))
        }
    }

    private func load(project: String, environment: String) throws {
        guard configuration.wants(project: project, environment: environment) else { return }
        let base = "\(configuration.redisPrefix):\(project):\(environment)"
        let reply = try command().command(["MGET", base + ":snapshot", base + ":revision"])
        guard case .array(let values) = reply, values.count == 2, case .bulk(let content) = values[0],
            let revisionText = values[1].string, let revision = Int64(revisionText)
        else { return }
        if let served = registry.snapshot(project: project, environment: environment), served.revision >= revision {
            return
        }
        do {
            let snapshot = try Snapshot(json: try JSONParser.parse(bytes: content))
            registry.swap(ActiveSnapshot(snapshot: snapshot, revision: revision))
            logger.info(
                "swapped",
                metadata: ["project": "\(project)", "environment": "\(environment)", "revision": "\(revision)",
                           "commit": "\(snapshot.commit ?? "")"])
        } catch {
            logger.error(
                "a snapshot in Redis could not be read; keeping the served one",
                metadata: ["key": "\(base):snapshot", "error": "\(error)"])
        }
    }
}

/// The Redis message of a schedule step: `{"event":"schedule.step","revision","version",
/// "commit","at","flags"}` on the environment's channel. It carries no snapshot change.
enum ScheduleStepMessage {
    static let event = "schedule.step"

    static func payload(_ step: ScheduleClock.Step) -> String {
        let snapshot = step.snapshot
        return CanonicalJSON.encode(
            .object([
                "event": .string(event), "revision": .int(snapshot.revision), "version": .string(snapshot.version),
                "commit": snapshot.snapshot.commit.map(Value.string) ?? .null,
                "at": .string(Timestamp.formatPrecise(step.at)), "flags": .array(step.flags.map(Value.string)),
            ]))
    }
}
