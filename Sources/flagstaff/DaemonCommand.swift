import ArgumentParser
import FlagAccess
import FlagDaemon
import FlagNotify
import FlagServer
import Foundation
import GitSource
import Logging

struct DaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon",
        abstract: "Follow the flag repository: sync PostgreSQL and Redis, and serve evaluations over HTTP.",
        discussion: """
            Every option is also read from FLAGSTAFF_<NAME> (e.g. FLAGSTAFF_POLL_INTERVAL) and from \
            --config FILE; the command line wins over the environment, which wins over the file. \
            Without --postgres or --redis the daemon still compiles and serves, and says what is off.
            """)

    @Option(help: "A config file of 'name: value' lines.") var config: String?
    @Option(help: "The repository: a local path, or a file:// or https:// URL to mirror (default: .).") var repo: String?
    @Option(help: "The flag repository root inside the repository.") var root: String?
    @Option(help: "The branch whose manifest names the environments (default: main).") var controlBranch: String?
    @Option(help: "PostgreSQL URL (postgresql://user@host:port/db).") var postgres: String?
    @Option(help: "Redis URL (redis://host:port).") var redis: String?
    @Option(help: "Prefix of Redis keys and channels (default: flagstaff).") var redisPrefix: String?
    @Option(help: "Address to serve HTTP on (default: 127.0.0.1:8080).") var listen: String?
    @Option(help: "Serve HTTPS: the PEM certificate chain (with --tls-key).") var tlsCert: String?
    @Option(help: "Serve HTTPS: the PEM private key (with --tls-cert).") var tlsKey: String?
    @Option(help: "Seconds between polls of the repository (default: 5).") var pollInterval: String?
    @Option(help: "Secret of the POST /hooks/git webhook (HMAC-SHA256).") var webhookSecret: String?
    @Option(help: "Seconds before a connection that finishes no request, or sits idle, is closed (default: 30).")
    var idleTimeout: String?
    @Flag(help: "Serve without API keys (local use only).") var noAuth = false
    @Option(help: "API keys from a file of hashes instead of PostgreSQL.") var keysFile: String?
    @Option(help: "Requests per second allowed per API key (default: off).") var rateLimit: String?
    @Option(help: "Requests a key may make at once before the rate applies (default: the rate).") var rateBurst: String?
    @Option(help: "Where a remote repository is mirrored.") var mirror: String?
    @Option(help: "A folder of SQL migrations to use instead of those built in.") var migrations: String?
    @Option(
        help: ArgumentHelp(
            "Send webhooks to this URL (repeatable): 'URL [format=json|slack] [secret=S] [events=a,b] "
                + "[projects=p,q] [environments=e,f]'; see docs/notifications.md.", valueName: "URL"))
    var notify: [String] = []
    @Option(help: "Sign every --notify receiver's bodies with this secret (HMAC-SHA256), unless it has its own.")
    var notifySecret: String?
    @Option(help: "Body format of every --notify receiver without its own: json (default) or slack.")
    var notifyFormat: String?
    @Option(help: "Give up a notification still undelivered this long after its event (default: 24h).")
    var notifyMaxAge: String?
    @OptionGroup var analytics: AnalyticsOptions
    @OptionGroup var management: ManagementOptions

    func run() async throws {
        let settings = try Settings(configFile: config)
        var configuration = DaemonConfiguration(repository: settings.value("repo", repo) ?? ".")
        configuration.root = settings.value("root", root)
        configuration.controlBranch = settings.value("control-branch", controlBranch) ?? "main"
        configuration.postgres = settings.value("postgres", postgres)
        configuration.redis = settings.value("redis", redis)
        configuration.redisPrefix = settings.value("redis-prefix", redisPrefix) ?? "flagstaff"
        (configuration.host, configuration.port) = try Settings.listen(settings.value("listen", listen) ?? "127.0.0.1:8080")
        configuration.tls = try Settings.tls(settings, tlsCert, tlsKey)
        if let text = settings.value("poll-interval", pollInterval) {
            configuration.pollInterval = try Settings.seconds(text, option: "poll-interval")
        }
        configuration.webhookSecret = settings.value("webhook-secret", webhookSecret)
        configuration.idleTimeout = try Settings.idleTimeout(settings, idleTimeout)
        configuration.noAuth = settings.flag("no-auth", noAuth)
        configuration.keysFile = settings.value("keys-file", keysFile)
        configuration.rateLimit = try Self.rateLimit(settings, rateLimit, rateBurst)
        configuration.mirror = settings.value("mirror", mirror)
        configuration.migrations = settings.value("migrations", migrations)
        configuration.notify = try Self.notifications(settings, notify, notifySecret, notifyFormat, notifyMaxAge)
        configuration.analytics = try analytics.configuration(settings)
        configuration.gitCredentials = try management.credentials(settings)
        configuration.jwt = try management.jwt(settings)

        JSONLogHandler.bootstrap()
        let logger = Logger(label: "flagstaff.daemon")
        do {
            try await Daemon.run(configuration, logger: logger)
        } catch let error as SetupError {
            printError("error: \(error)")
            throw ExitStatus.failed
        } catch let error as TLSSetupError {
            printError("error: \(error)")
            throw ExitStatus.failed
        }
    }

    /// `--notify` and its companions; nil when no receiver is configured.
    static func notifications(
        _ settings: Settings, _ urls: [String], _ secret: String?, _ format: String?, _ maxAge: String?
    ) throws -> NotifyConfiguration? {
        let values = settings.values("notify", urls)
        var defaultFormat = NotificationFormat.json
        if let text = settings.value("notify-format", format) {
            guard let parsed = NotificationFormat(rawValue: text) else {
                throw ValidationError("--notify-format must be json or slack, not '\(text)'")
            }
            defaultFormat = parsed
        }
        let secret = settings.value("notify-secret", secret)
        let maxAgeText = settings.value("notify-max-age", maxAge)
        guard !values.isEmpty else {
            if secret != nil || maxAgeText != nil || format != nil {
                throw ValidationError("--notify-secret, --notify-format and --notify-max-age need a --notify URL")
            }
            return nil
        }
        var receivers: [Receiver] = []
        for value in values {
            do {
                receivers.append(try Receiver.parse(value, format: defaultFormat, secret: secret))
            } catch {
                throw ValidationError(error.description)
            }
        }
        let names = receivers.map(\.fingerprint)
        if Set(names).count != names.count { throw ValidationError("--notify: the same URL is given twice") }
        var configuration = NotifyConfiguration(receivers: receivers)
        if let maxAgeText { configuration.maxAge = try Settings.duration(maxAgeText, option: "notify-max-age") }
        configuration.userAgent = "Flagstaff/\(flagstaffVersion) (notifications)"
        return configuration
    }

    static func rateLimit(_ settings: Settings, _ rate: String?, _ burst: String?) throws -> RateLimiter.Configuration {
        guard let text = settings.value("rate-limit", rate) else { return .off }
        guard let perSecond = Double(text), perSecond >= 0 else {
            throw ValidationError("--rate-limit '\(text)' is not a number of requests per second")
        }
        var burstValue: Double?
        if let burstText = settings.value("rate-burst", burst) {
            guard let parsed = Double(burstText), parsed >= 1 else {
                throw ValidationError("--rate-burst '\(burstText)' must be a number of at least 1")
            }
            burstValue = parsed
        }
        return perSecond == 0 ? .off : RateLimiter.Configuration(rate: perSecond, burst: burstValue)
    }
}

struct ReplicaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replica",
        abstract: "Serve evaluations from the snapshots in Redis, swapping on every message.")

    @Option(help: "A config file of 'name: value' lines.") var config: String?
    @Option(help: "Redis URL (redis://host:port).") var redis: String?
    @Option(help: "Prefix of Redis keys and channels (default: flagstaff).") var redisPrefix: String?
    @Option(help: "Address to serve HTTP on (default: 127.0.0.1:8080).") var listen: String?
    @Option(help: "Serve HTTPS: the PEM certificate chain (with --tls-key).") var tlsCert: String?
    @Option(help: "Serve HTTPS: the PEM private key (with --tls-cert).") var tlsKey: String?
    @Option(help: "PostgreSQL URL, for API keys.") var postgres: String?
    @Option(help: "API keys from a file of hashes instead of PostgreSQL.") var keysFile: String?
    @Flag(help: "Serve without API keys (local use only).") var noAuth = false
    @Option(help: "Requests per second allowed per API key (default: off).") var rateLimit: String?
    @Option(help: "Requests a key may make at once before the rate applies.") var rateBurst: String?
    @Option(help: "Seconds before a connection that finishes no request, or sits idle, is closed (default: 30).")
    var idleTimeout: String?
    @Option(help: "Serve only this project (repeatable).") var project: [String] = []
    @Option(help: "Serve only this environment (repeatable).") var environment: [String] = []
    @OptionGroup var analytics: AnalyticsOptions

    func run() async throws {
        let settings = try Settings(configFile: config)
        guard let redisURL = settings.value("redis", redis) else {
            throw ValidationError("give --redis URL (or FLAGSTAFF_REDIS)")
        }
        var configuration = ReplicaConfiguration(redis: redisURL)
        configuration.redisPrefix = settings.value("redis-prefix", redisPrefix) ?? "flagstaff"
        (configuration.host, configuration.port) = try Settings.listen(settings.value("listen", listen) ?? "127.0.0.1:8080")
        configuration.tls = try Settings.tls(settings, tlsCert, tlsKey)
        configuration.postgres = settings.value("postgres", postgres)
        configuration.keysFile = settings.value("keys-file", keysFile)
        configuration.noAuth = settings.flag("no-auth", noAuth)
        configuration.rateLimit = try DaemonCommand.rateLimit(settings, rateLimit, rateBurst)
        configuration.idleTimeout = try Settings.idleTimeout(settings, idleTimeout)
        configuration.analytics = try analytics.configuration(settings)
        configuration.projects = Set(project.isEmpty ? (settings.value("project", nil).map { [$0] } ?? []) : project)
        configuration.environments = Set(
            environment.isEmpty ? (settings.value("environment", nil).map { [$0] } ?? []) : environment)

        JSONLogHandler.bootstrap()
        let logger = Logger(label: "flagstaff.replica")
        do {
            try await Replica.run(configuration, logger: logger)
        } catch let error as SetupError {
            printError("error: \(error)")
            throw ExitStatus.failed
        } catch let error as TLSSetupError {
            printError("error: \(error)")
            throw ExitStatus.failed
        }
    }
}

/// The analytics options of `daemon` and `replica` (docs/analytics.md).
struct AnalyticsOptions: ParsableArguments {
    @Option(help: "Seconds between flushes of evaluation counts; 0 turns analytics off (default: 10).")
    var analyticsFlush: String?
    @Option(help: "How long evaluation and tracking events are kept, in days or as 30d (default: 30).")
    var eventsRetention: String?
    @Option(help: "Events waiting to be written before more are dropped and counted (default: 100000).")
    var eventsQueue: String?

    /// `--analytics-flush` (0: off), `--events-retention` (days, `30` or `30d`), `--events-queue`.
    func configuration(_ settings: Settings) throws -> AnalyticsConfiguration? {
        var analytics = AnalyticsConfiguration()
        if let text = settings.value("analytics-flush", analyticsFlush) {
            if text == "0" || text == "off" { return nil }
            analytics.flushInterval = try Settings.seconds(text, option: "analytics-flush")
        }
        if let text = settings.value("events-retention", eventsRetention) {
            let digits = text.hasSuffix("d") ? String(text.dropLast()) : text
            guard let days = Int(digits), days >= 1 else {
                throw ValidationError("--events-retention '\(text)' must be a whole number of days, at least 1 (such as 30 or 30d)")
            }
            analytics.retentionDays = days
        }
        if let text = settings.value("events-queue", eventsQueue) {
            guard let capacity = Int(text), capacity >= 1 else {
                throw ValidationError("--events-queue '\(text)' must be a whole number of events, at least 1")
            }
            analytics.queueCapacity = capacity
        }
        return analytics
    }
}

/// The management API's options of `daemon` (docs/service.md, "Management API").
struct ManagementOptions: ParsableArguments {
    @Option(help: "User name for an http(s) repository that needs credentials (fetch and push).")
    var gitUsername: String?
    @Option(help: "Password or token for that user; better from FLAGSTAFF_GIT_PASSWORD or the config file.")
    var gitPassword: String?
    @Option(help: "Accept JWT bearer tokens on the management API, checked against this JWKS (a file or an http(s) URL).")
    var jwtJwks: String?
    @Option(help: "The issuer (iss) management tokens must name.") var jwtIssuer: String?
    @Option(help: "The audience (aud) management tokens must name.") var jwtAudience: String?
    @Option(help: "The claim holding the caller's role: viewer, editor or owner (default: flagstaff_role).")
    var jwtRoleClaim: String?
    @Option(help: "The claim limiting a caller to one project (default: flagstaff_project).")
    var jwtProjectClaim: String?

    func credentials(_ settings: Settings) throws -> GitCredentials? {
        let user = settings.value("git-username", gitUsername)
        let password = settings.value("git-password", gitPassword)
        switch (user, password) {
        case (nil, nil): return nil
        case (let user?, let password?): return GitCredentials(username: user, password: password)
        default: throw ValidationError("--git-username and --git-password go together")
        }
    }

    func jwt(_ settings: Settings) throws -> JWTConfiguration? {
        let issuer = settings.value("jwt-issuer", jwtIssuer)
        let audience = settings.value("jwt-audience", jwtAudience)
        guard let jwks = settings.value("jwt-jwks", jwtJwks) else {
            if issuer != nil || audience != nil {
                throw ValidationError("--jwt-issuer and --jwt-audience need --jwt-jwks")
            }
            return nil
        }
        var configuration = JWTConfiguration(jwks: jwks, issuer: issuer, audience: audience)
        if let claim = settings.value("jwt-role-claim", jwtRoleClaim) { configuration.roleClaim = claim }
        if let claim = settings.value("jwt-project-claim", jwtProjectClaim) { configuration.projectClaim = claim }
        return configuration
    }
}
