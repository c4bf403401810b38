import FlagAccess
import FlagCompiler
import FlagEngine
import FlagModel
import FlagServer
import Foundation
import GitSource
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOPosix

/// The management API (SPEC §14): every route under `/api/v1/` that reads or changes
/// organizations, projects, environments, flags, segments, keys, changes and the audit
/// trail. Reads come from what is served and from PostgreSQL; writes are Git commits that
/// the daemon then applies as it applies any commit.
public final class ManagementAPI: ManagementResponder, @unchecked Sendable {
    let configuration: ManagementConfiguration
    let writer: GitWriter
    /// One thread: Git and the compiler block, and writes of this process go one at a time.
    let pool: NIOThreadPool
    let database: DatabaseHandle
    let logger: Logger
    /// Rung after a commit lands, so the daemon syncs at once.
    let onWritten: @Sendable () -> Void
    let callers: CallerCheck
    private let lock = NSLock()
    private var attached: FlagServer?
    private var responder: RouterResponder<BasicRequestContext>?

    public init(
        configuration: ManagementConfiguration, postgres: String?, logger: Logger,
        onWritten: @escaping @Sendable () -> Void
    ) throws {
        self.configuration = configuration
        self.writer = GitWriter(configuration: configuration)
        self.pool = NIOThreadPool(numberOfThreads: 1)
        self.database = DatabaseHandle(url: postgres)
        self.logger = logger
        self.onWritten = onWritten
        self.callers = CallerCheck(jwt: try configuration.jwt.map { try JWTVerifier(configuration: $0, logger: logger) })
        pool.start()
    }

    deinit {
        pool.shutdownGracefully { _ in }
    }

    var server: FlagServer {
        lock.lock()
        defer { lock.unlock() }
        return attached!
    }

    public func respond(to request: Request, context: BasicRequestContext, server: FlagServer) async throws -> Response? {
        let responder = lock.withLock {
            if attached == nil {
                attached = server
                self.responder = buildRoutes(metrics: server.metrics).router.buildResponder()
            }
            return self.responder!
        }
        do {
            return try await responder.respond(to: request, context: context)
        } catch let error as HTTPError where error.status == .notFound {
            return nil
        }
    }

    /// Runs blocking work (Git, the compiler, libpq) on the API's own thread.
    func blocking<T: Sendable>(_ body: @escaping @Sendable () throws(ManageError) -> T) async throws(ManageError) -> T {
        do {
            return try await pool.runIfActive { () throws -> T in try body() }
        } catch let error as ManageError {
            throw error
        } catch {
            throw ManageError.unavailable("the management API is stopping")
        }
    }

    // MARK: Routes

    func buildRoutes(metrics: Metrics) -> Routes {
        let routes = Routes(metrics: metrics)
        let api = routes.router.group("api/v1")
        // Organizations: one per flag repository.
        routes.resource(api, "organizations", [(.get, organizations), (.post, createOrganization)])
        routes.resource(api, "organizations/{organizationId}", [(.get, organization)])
        routes.resource(api, "organizations/{organizationId}/projects", [(.get, projects)])
        // Projects and their environments.
        routes.resource(api, "projects", [(.get, projects), (.post, createProject)])
        routes.resource(api, "projects/{projectId}", [(.get, project), (.patch, updateProject), (.delete, deleteProject)])
        routes.resource(api, "projects/{projectId}/environments", [(.get, environments)])
        routes.resource(api, "environments", [(.get, environments), (.post, createEnvironment)])
        routes.resource(
            api, "environments/{environmentId}",
            [(.get, environment), (.patch, updateEnvironment), (.delete, deleteEnvironment)])
        // Flags and their per-environment configuration.
        routes.resource(api, "projects/{projectId}/flags", [(.get, flags), (.post, createFlag)])
        routes.resource(api, "flags", [(.get, flags)])
        routes.resource(api, "flags/{flagId}", [(.get, flag), (.patch, updateFlag), (.delete, deleteFlag)])
        routes.resource(api, "flags/{flagId}/archive", [(.post, archiveFlag)])
        routes.resource(api, "flags/{flagId}/restore", [(.post, restoreFlag)])
        routes.resource(
            api, "flags/{flagId}/environments/{environmentId}", [(.get, configurationRead), (.patch, configurationWrite)])
        routes.resource(api, "flags/{flagId}/environments/{environmentId}/toggle", [(.patch, toggle)])
        // Segments.
        routes.resource(api, "projects/{projectId}/segments", [(.get, segments), (.post, createSegment)])
        routes.resource(api, "segments", [(.get, segments)])
        routes.resource(
            api, "segments/{segmentId}", [(.get, segment), (.patch, updateSegment), (.delete, deleteSegment)])
        // Keys and the audit trail (PostgreSQL).
        routes.resource(api, "api-keys", [(.get, keys), (.post, createKey)])
        routes.resource(api, "api-keys/{keyId}", [(.get, key), (.delete, revokeKey)])
        routes.resource(api, "audit-logs", [(.get, auditLogs)])
        // Changes under review.
        routes.resource(api, "changes", [(.get, changes)])
        routes.resource(api, "changes/{changeId}", [(.get, change)])
        routes.resource(api, "changes/{changeId}/merge", [(.post, mergeChange)])
        routes.resource(api, "changes/{changeId}/close", [(.post, closeChange)])
        routes.resource(api, "promotions", [(.post, promote)])
        return routes
    }
}
