import FlagDiff
import FlagManage
import FlagModel
import FlagNotify
import FlagServer
import Foundation
import Logging
import NIOPosix
import ServiceLifecycle

/// `flagstaff daemon`: sync and serve, as one ServiceGroup (HTTP, sync loop, keys,
/// watchdog) that stops gracefully on SIGTERM or SIGINT.
public enum Daemon {
    public static func run(_ configuration: DaemonConfiguration, logger: Logger) async throws {
        announce(configuration, logger: logger)
        if ProcessInfo.processInfo.environment["PGCONNECT_TIMEOUT"] == nil {
            // A database that is down must not hold a pass for long.
            setenv("PGCONNECT_TIMEOUT", "3", 1)
        }
        let pool = NIOThreadPool(numberOfThreads: 2)
        pool.start()

        let registry = SnapshotRegistry()
        let metrics = Metrics()
        let engine = SyncEngine(configuration: configuration, registry: registry, metrics: metrics, logger: logger)
        metrics.setGauge("flagstaff_leader", engine.isLeader ? 1 : 0)
        try await pool.runIfActive { engine.loadFromDatabase() }
        let notifier = configuration.notify.map { notify in
            Notifier(configuration: notify, postgres: configuration.postgres, logger: logger) { engine.isLeader }
        }
        if let notifier {
            engine.notifier = notifier
            metrics.addSource { notifier.metricsText() }
            // After the migrations that loading ran, before the first sync can notify.
            await notifier.prepare()
        }

        let setup = try await pool.runIfActive {
            try Wiring.authentication(
                noAuth: configuration.noAuth, keysFile: configuration.keysFile, postgres: configuration.postgres,
                pool: pool, refresh: .seconds(5), logger: logger)
        }
        // Analytics need somewhere to go: PostgreSQL, or Redis for the leader to pick up.
        let analytics = configuration.analytics.flatMap { analytics -> AnalyticsService? in
            guard configuration.postgres != nil || configuration.redis != nil else { return nil }
            return AnalyticsService(
                configuration: analytics, registry: registry, events: EventQueue(capacity: analytics.queueCapacity),
                postgres: configuration.postgres, redis: configuration.redis, redisPrefix: configuration.redisPrefix,
                logger: logger, isLeader: { engine.isLeader })
        }
        if let analytics { metrics.addSource { analytics.metricsText() } }
        let doorbell = Wakeup()
        let heartbeat = Heartbeat()
        var managementConfiguration = ManagementConfiguration(
            repository: configuration.repository, isRemote: configuration.isRemote,
            mirrorPath: configuration.mirrorPath, root: configuration.root, controlBranch: configuration.controlBranch)
        managementConfiguration.credentials = configuration.gitCredentials
        managementConfiguration.jwt = configuration.jwt
        managementConfiguration.keysFromFile = configuration.keysFile != nil
        let management: ManagementAPI
        do {
            management = try ManagementAPI(
                configuration: managementConfiguration, postgres: configuration.postgres, logger: logger,
                onWritten: { doorbell.ring() })
        } catch {
            throw SetupError("management API: \(error)")
        }
        if configuration.noAuth {
            logger.warning("--no-auth: anyone who reaches this port may change flags through the management API")
        }
        var serverConfiguration = FlagServer.Configuration(
            host: configuration.host, port: configuration.port, rateLimit: configuration.rateLimit,
            webhookSecret: configuration.webhookSecret, role: "daemon")
        serverConfiguration.tls = configuration.tls
        serverConfiguration.idleTimeout = configuration.idleTimeout
        let server = FlagServer(
            configuration: serverConfiguration,
            registry: registry, metrics: metrics, authentication: setup.authentication,
            onWebhook: { push in
                logger.info(
                    "webhook: syncing now", metadata: ["event": "\(push.event)", "ref": "\(push.ref ?? "")"])
                doorbell.ring()
            },
            statusExtras: {
                [
                    "leader": .bool(engine.isLeader),
                    "postgres": .bool(configuration.postgres != nil), "redis": .bool(configuration.redis != nil),
                    "notifications": notifier?.status() ?? .null,
                    "analytics": .bool(analytics != nil),
                ]
            },
            events: analytics?.events, reports: configuration.postgres.map { AnalyticsReporter(postgres: $0, pool: pool) },
            management: management)
        let host = configuration.host
        let scheme = configuration.tls == nil ? "http" : "https"
        // A certificate or key that cannot be used stops the start here (TLSSetupError).
        let application = try server.application(logger: logger) { port in
            logger.notice(
                "listening", metadata: ["address": "\(host):\(port)", "port": "\(port)", "scheme": "\(scheme)"])
            SystemdNotifier.notify("READY=1\nSTATUS=serving \(scheme) on \(host):\(port)")
        }

        let clock = ScheduleClock(registry: registry, logger: logger, onStep: { step in
            // Every server tells its own streams; only the daemon that syncs tells Redis and
            // the webhook receivers (the outbox's dedupe key keeps a step to one message).
            guard engine.isLeader else { return }
            try? await pool.runIfActive {
                if configuration.redis != nil { engine.publishStep(step) }
                if let notifier {
                    do {
                        _ = try notifier.scheduleStepReached(
                            project: step.snapshot.project, environment: step.snapshot.environment,
                            revision: step.snapshot.revision, version: step.snapshot.version,
                            at: Date(timeIntervalSince1970: Double(step.at.seconds) + Double(step.at.nanos) / 1e9),
                            flags: step.flags, changes: ScheduleEffects.changes(in: step.snapshot.snapshot, at: step.at))
                    } catch {
                        logger.error("notifications: recording a schedule step", metadata: ["error": "\(error)"])
                    }
                }
            }
        })
        var services: [any Service] = []
        // Before the HTTP server, so that it stops after it (a group stops its services in
        // reverse order): the last flush holds every request's counts.
        if let analytics { services.append(analytics) }
        services.append(application)
        // Before the sync loop, so that it stops after it: what a last pass commits still goes out.
        if let notifier { services.append(notifier) }
        services.append(SyncService(engine: engine, doorbell: doorbell, pool: pool, heartbeat: heartbeat))
        services.append(clock)
        if let keyService = setup.keyService { services.append(keyService) }
        if let interval = SystemdNotifier.watchdogInterval {
            let tolerance = max(60, Double(configuration.pollInterval.components.seconds) * 6)
            services.append(WatchdogService(interval: interval, heartbeat: heartbeat, tolerance: tolerance, logger: logger))
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        SystemdNotifier.notify("STOPPING=1")
        registry.close()
        try? await pool.shutdownGracefully()
        logger.notice("stopped")
    }

    /// Says at start what is off, so nobody wonders later why there are no audit rows.
    static func announce(_ configuration: DaemonConfiguration, logger: Logger) {
        logger.notice(
            "starting",
            metadata: [
                "repository": "\(configuration.repository)", "root": "\(configuration.root ?? ".")",
                "controlBranch": "\(configuration.controlBranch)",
                "pollInterval": "\(configuration.pollInterval)",
            ])
        if configuration.postgres == nil {
            logger.warning("PostgreSQL is off (no --postgres): no state tables, audit trail, revisions kept across restarts, or leader election")
        }
        if configuration.redis == nil {
            logger.warning("Redis is off (no --redis): replicas get nothing from this daemon")
        } else if configuration.postgres == nil {
            logger.warning("Redis without PostgreSQL: snapshots are published best effort, without an outbox")
        }
        if let notify = configuration.notify {
            logger.notice(
                "notifications on",
                metadata: ["receivers": "\(notify.receivers.map(\.name).joined(separator: ", "))",
                           "maxAge": "\(notify.maxAge)",
                           "outbox": "\(configuration.postgres == nil ? "memory (best effort)" : "PostgreSQL")"])
            for receiver in notify.receivers where receiver.secret == nil {
                logger.warning("notifications to this receiver are not signed (no secret)", metadata: ["receiver": "\(receiver.name)"])
            }
        }
        if configuration.analytics == nil {
            logger.info("analytics are off (--analytics-flush 0): no counts or events are kept")
        } else if configuration.postgres == nil && configuration.redis == nil {
            logger.warning("analytics are off: counts and events need --postgres or --redis")
        }
        if configuration.webhookSecret == nil {
            logger.info("webhooks are off (no --webhook-secret): syncing on the poll interval only")
        }
    }
}
