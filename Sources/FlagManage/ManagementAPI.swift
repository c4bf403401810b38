import FlagAccess
import FlagCompiler
import FlagEngine
import FlagModel
import FlagServer
import Foundation
import Synchronization
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
    /// Per project: the served snapshots a list of flags was worked out from, and the list.
    let definitions = Mutex<[String: (sources: [ObjectIdentifier], entries: [(id: String, key: String, flag: Flag)])]>([:])
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
        // Organizations: one per flag repository.
        let organizations = routes.group("organizations")
        routes.resource(organizations, "", [(.get, self.organizations), (.post, createOrganization)])
        routes.resource(organizations, "{organizationId}", [(.get, organization)])
        routes.resource(organizations, "{organizationId}/projects", [(.get, self.projects)])
        // Projects, and what lives in them.
        let projects = routes.group("projects")
        routes.resource(projects, "", [(.get, self.projects), (.post, createProject)])
        routes.resource(projects, "{projectId}", [(.get, project), (.patch, updateProject), (.delete, deleteProject)])
        routes.resource(projects, "{projectId}/environments", [(.get, self.environments)])
        routes.resource(projects, "{projectId}/flags", [(.get, self.flags), (.post, createFlag)])
        routes.resource(projects, "{projectId}/segments", [(.get, self.segments), (.post, createSegment)])
        // Environments.
        let environments = routes.group("environments")
        routes.resource(environments, "", [(.get, self.environments), (.post, createEnvironment)])
        routes.resource(
            environments, "{environmentId}",
            [(.get, environment), (.patch, updateEnvironment), (.delete, deleteEnvironment)])
        // Flags and their per-environment configuration.
        let flags = routes.group("flags")
        routes.resource(flags, "", [(.get, self.flags)])
        routes.resource(flags, "{flagId}", [(.get, flag), (.patch, updateFlag), (.delete, deleteFlag)])
        routes.resource(flags, "{flagId}/archive", [(.post, archiveFlag)])
        routes.resource(flags, "{flagId}/restore", [(.post, restoreFlag)])
        routes.resource(
            flags, "{flagId}/environments/{environmentId}", [(.get, configurationRead), (.patch, configurationWrite)])
        routes.resource(flags, "{flagId}/environments/{environmentId}/toggle", [(.patch, toggle)])
        // Segments.
        let segments = routes.group("segments")
        routes.resource(segments, "", [(.get, self.segments)])
        routes.resource(segments, "{segmentId}", [(.get, segment), (.patch, updateSegment), (.delete, deleteSegment)])
        // Keys and the audit trail (PostgreSQL).
        let keys = routes.group("api-keys")
        routes.resource(keys, "", [(.get, self.keys), (.post, createKey)])
        routes.resource(keys, "{keyId}", [(.get, key), (.delete, revokeKey)])
        routes.resource(routes.group("audit-logs"), "", [(.get, auditLogs)])
        // Changes under review, and promotions that open them.
        let changes = routes.group("changes")
        routes.resource(changes, "", [(.get, self.changes)])
        routes.resource(changes, "{changeId}", [(.get, change)])
        routes.resource(changes, "{changeId}/merge", [(.post, mergeChange)])
        routes.resource(changes, "{changeId}/close", [(.post, closeChange)])
        routes.resource(routes.group("promotions"), "", [(.post, promote)])
        return routes
    }
}
