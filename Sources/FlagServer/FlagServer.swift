import FlagEngine
import FlagModel
import Foundation
import Hummingbird
import Logging
import NIOCore

/// The HTTP side of Flagstaff (SPEC §12): OFREP evaluation, the snapshot and its event
/// stream, health, readiness, metrics, status and the Git webhook, served from a
/// `SnapshotRegistry` that the daemon or a replica keeps current.
public struct FlagServer: Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// Largest request body accepted on evaluation routes (SPEC §12: 64 KiB).
        public var maxBodySize: Int
        /// Largest webhook body (push events list commits, so they can be larger).
        public var maxWebhookSize: Int
        public var rateLimit: RateLimiter.Configuration
        /// Secret of `POST /hooks/git`; without it the route answers 404.
        public var webhookSecret: String?
        /// How often an idle event stream gets a comment, so proxies keep it open.
        public var keepAliveInterval: Duration
        /// "daemon" or "replica", reported by `/api/v1/status`.
        public var role: String
        /// Serve HTTPS with this certificate and key; plain HTTP when nil.
        public var tls: TLSFiles?
        /// How long a connection may go without finishing a request's head, or sit idle between
        /// requests, before it is closed: what stops slow-loris clients and idle connections from
        /// holding descriptors and memory for ever. An answer still being written (an event
        /// stream) is not cut. `nil` never closes.
        public var idleTimeout: Duration? = Self.defaultIdleTimeout
        public static let defaultIdleTimeout: Duration = .seconds(30)
        /// Connections the kernel queues before the server accepts them. Hummingbird's 256 overflows
        /// under a connection flood, and a client whose connection is dropped there waits a second
        /// for its SYN to be sent again; Linux caps this at `net.core.somaxconn` (4,096 here).
        public var backlog: Int = 4_096

        public init(
            host: String = "127.0.0.1", port: Int = 8080, maxBodySize: Int = 64 * 1024,
            maxWebhookSize: Int = 4 * 1024 * 1024, rateLimit: RateLimiter.Configuration = .off,
            webhookSecret: String? = nil, keepAliveInterval: Duration = .seconds(15), role: String = "daemon"
        ) {
            self.host = host
            self.port = port
            self.maxBodySize = maxBodySize
            self.maxWebhookSize = maxWebhookSize
            self.rateLimit = rateLimit
            self.webhookSecret = webhookSecret
            self.keepAliveInterval = keepAliveInterval
            self.role = role
        }
    }

    public let configuration: Configuration
    public let registry: SnapshotRegistry
    public let metrics: Metrics
    public let authentication: Authentication
    let limiter: RateLimiter
    /// Called for a verified push webhook: the daemon syncs at once.
    let onWebhook: @Sendable (WebhookPush) -> Void
    /// Extra fields for `/api/v1/status` (leader, database, Redis), asked at each request.
    let statusExtras: @Sendable () -> [String: Value]
    /// Where sampled evaluation events and ingested events go; nil when analytics are off,
    /// and then the ingest routes answer 404 (SDKs stop reporting).
    let events: EventQueue?
    /// What answers the report routes; nil without PostgreSQL (404).
    let reports: (any AnalyticsReports)?
    /// The management API (SPEC §14): asked for every `/api/v1/` request no route above
    /// takes; nil where there is none (a replica).
    let management: (any ManagementResponder)?

    public init(
        configuration: Configuration, registry: SnapshotRegistry, metrics: Metrics = Metrics(),
        authentication: Authentication, onWebhook: @escaping @Sendable (WebhookPush) -> Void = { _ in },
        statusExtras: @escaping @Sendable () -> [String: Value] = { [:] },
        events: EventQueue? = nil, reports: (any AnalyticsReports)? = nil,
        management: (any ManagementResponder)? = nil
    ) {
        self.management = management
        self.configuration = configuration
        self.registry = registry
        self.metrics = metrics
        self.authentication = authentication
        self.limiter = RateLimiter(configuration.rateLimit)
        self.onWebhook = onWebhook
        self.statusExtras = statusExtras
        self.events = events
        self.reports = reports
    }

    /// The Hummingbird application: a Service to run in the daemon's ServiceGroup.
    /// `onListening` receives the bound port (useful with port 0). Throws when the TLS
    /// certificate or key cannot be used.
    public func application(
        logger: Logger, onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws(TLSSetupError) -> some ApplicationProtocol {
        Application(
            responder: Dispatcher(server: self),
            server: try serverBuilder(
                .http1(
                    configuration: .init(
                        additionalChannelHandlers: [BadRequestCloser()],
                        idleTimeout: configuration.idleTimeout.map { TimeAmount($0) }))),
            configuration: ApplicationConfiguration(
                address: .hostname(configuration.host, port: configuration.port), serverName: nil,
                backlog: configuration.backlog),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
    }
}

/// Routes requests by method and path. Written by hand rather than with a router: the set
/// is small and fixed, and this way wrong methods get 405 with `Allow`, and each request is
/// counted under its route's name.
struct Dispatcher: HTTPResponder {
    typealias Context = BasicRequestContext
    let server: FlagServer

    static let evaluatePrefix = "/ofrep/v1/evaluate/flags/"
    static let analyticsFlagPrefix = "/api/v1/analytics/flags/"

    func respond(to request: Request, context: BasicRequestContext) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        let path = request.uri.path
        let route: String
        let response: Response
        if path.hasPrefix(Self.evaluatePrefix) {
            route = "/ofrep/v1/evaluate/flags/{key}"
            response = try await only(.post, request) {
                try await server.evaluateOne(request, key: String(path.dropFirst(Self.evaluatePrefix.count)))
            }
        } else {
            switch path {
            case "/ofrep/v1/evaluate/flags":
                route = path
                response = try await only(.post, request) { try await server.evaluateAll(request) }
            case "/api/v1/snapshot":
                route = path
                response = try await only(.get, request) { server.snapshot(request) }
            case "/api/v1/stream":
                route = path
                response = try await only(.get, request) { server.stream(request) }
            case "/api/v1/status":
                route = path
                response = try await only(.get, request) { server.status(request) }
            case "/healthz":
                route = path
                response = try await only(.get, request) { Responses.text("ok\n") }
            case "/readyz":
                route = path
                response = try await only(.get, request) { server.readiness() }
            case "/metrics":
                route = path
                response = try await only(.get, request) {
                    Responses.text(
                        server.metrics.render(registry: server.registry),
                        contentType: "text/plain; version=0.0.4; charset=utf-8")
                }
            case "/api/v1/metrics":
                route = path
                response = try await only(.post, request) { try await server.ingestMetrics(request) }
            case "/api/v1/events":
                route = path
                response = try await only(.post, request) { try await server.ingestEvents(request) }
            case "/api/v1/analytics/stale":
                route = path
                response = try await only(.get, request) { try await server.report(request, .stale) }
            case _ where path.hasPrefix(Self.analyticsFlagPrefix):
                let rest = path.dropFirst(Self.analyticsFlagPrefix.count)
                if rest.hasSuffix("/usage") {
                    route = Self.analyticsFlagPrefix + "{key}/usage"
                    response = try await only(.get, request) {
                        try await server.report(request, .usage(flag: String(rest.dropLast("/usage".count))))
                    }
                } else if rest.hasSuffix("/experiment") {
                    route = Self.analyticsFlagPrefix + "{key}/experiment"
                    response = try await only(.get, request) {
                        try await server.report(request, .experiment(flag: String(rest.dropLast("/experiment".count))))
                    }
                } else {
                    route = "other"
                    response = Responses.error(.notFound, code: nil, details: "no route \(path)")
                }
            case "/hooks/git":
                route = path
                response = try await only(.post, request) { try await server.webhook(request) }
            case _ where path.hasPrefix("/api/v1/") && server.management != nil:
                // The management routes count their requests under their own route names.
                if let answer = try await server.management?.respond(to: request, context: context, server: server) {
                    return answer
                }
                route = "other"
                response = Responses.error(.notFound, code: nil, details: "no route \(path)")
            default:
                route = "other"
                response = Responses.error(.notFound, code: nil, details: "no route \(path)")
            }
        }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        server.metrics.recordRequest(route: route, status: response.status.code, seconds: elapsed)
        return response
    }

    private func only(
        _ method: HTTPRequest.Method, _ request: Request, _ handler: () async throws -> Response
    ) async throws -> Response {
        if request.method == method || (method == .get && request.method == .head) {
            return try await handler()
        }
        return Responses.error(
            .methodNotAllowed, code: nil, details: "\(request.uri.path) answers \(method.rawValue) only",
            headers: [.allow: method == .get ? "GET, HEAD" : method.rawValue])
    }
}

/// The management API as the server sees it: something that answers a request under
/// `/api/v1/` (nil: no such route), counting it in the server's metrics itself.
public protocol ManagementResponder: Sendable {
    func respond(to request: Request, context: BasicRequestContext, server: FlagServer) async throws -> Response?
}

extension FlagServer {
    /// The presented key or bearer token, if any.
    public static func presentedCredential(_ request: Request) -> Substring? { presentedKey(request) }

    /// A 429 when `identity` has used up its rate, else nil (SPEC §12's limit, shared with
    /// evaluation).
    public func rateLimited(_ identity: some StringProtocol) -> Response? {
        guard limiter.isEnabled, case .limited(let seconds) = limiter.acquire(String(identity)) else { return nil }
        return Responses.error(
            .tooManyRequests, code: nil,
            details: "rate limit of \(Self.format(limiter.configuration.rate)) requests per second exceeded",
            headers: [.retryAfter: String(seconds)])
    }

    /// The keys the server accepts; nil with `--no-auth`.
    public var keyRing: KeyRing? {
        if case .keys(let ring) = authentication { return ring }
        return nil
    }
}

// MARK: Health and status

extension FlagServer {
    func readiness() -> Response {
        if registry.isEmpty {
            return Responses.text("not ready: no snapshot is served yet\n", status: .serviceUnavailable)
        }
        let pending = registry.pending
        if !pending.isEmpty {
            return Responses.text(
                "not ready: not served yet: \(pending.map(\.description).joined(separator: ", "))\n",
                status: .serviceUnavailable)
        }
        return Responses.text("ready\n")
    }

    func status(_ request: Request) -> Response {
        if case .refused(let response) = authorize(request, .administer) { return response }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var environments: [Value] = []
        for key in registry.environments {
            var entry: [String: Value] = ["project": .string(key.project), "environment": .string(key.environment)]
            if let active = registry.snapshot(key) {
                entry["commit"] = active.snapshot.commit.map(Value.string) ?? .null
                entry["branch"] = active.snapshot.branch.map(Value.string) ?? .null
                entry["version"] = .string(active.version)
                entry["revision"] = .int(active.revision)
                entry["flags"] = .int(Int64(active.snapshot.flags.count))
                entry["appliedAt"] = .string(formatter.string(from: active.appliedAt))
                entry["nextScheduleStep"] =
                    active.evaluator.nextTimeBoundary(after: Self.now()).map { .string(Timestamp.formatPrecise($0)) } ?? .null
            }
            let state = registry.state(key)
            entry["lastSeenCommit"] = state.lastSeenCommit.map(Value.string) ?? .null
            entry["lastCheck"] = state.lastCheck.map { .string(formatter.string(from: $0)) } ?? .null
            entry["lastSync"] = state.lastSync.map { .string(formatter.string(from: $0)) } ?? .null
            entry["lastError"] = state.lastError.map(Value.string) ?? .null
            entry["lastErrorAt"] = state.lastErrorAt.map { .string(formatter.string(from: $0)) } ?? .null
            entry["rejectedCommits"] = .int(Int64(state.rejectedCommits))
            entry["syncErrors"] = .int(Int64(state.syncErrors))
            environments.append(.object(entry))
        }
        var body = statusExtras()
        body["role"] = .string(configuration.role)
        body["environments"] = .array(environments)
        return Responses.json(.object(body))
    }
}
