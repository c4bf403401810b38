import Foundation
import FlagServer
import HTTPTypes
import Hummingbird

/// The management routes on Hummingbird's router, one group per resource. What the
/// server's hand-written dispatcher gives its routes, the router gets here: a wrong method
/// is 405 with `Allow` (the router alone would say 404), and each request is counted in
/// the server's metrics under its route's pattern.
struct Routes {
    typealias Context = BasicRequestContext
    typealias Handler = @Sendable (Request, Context) async throws -> Response

    let router: Router<Context>
    let patterns: RoutePatterns

    init(metrics: Metrics) {
        router = Router(context: Context.self, options: [.autoGenerateHeadEndpoints])
        patterns = RoutePatterns()
        router.add(middleware: Counting(metrics: metrics, patterns: patterns))
    }

    /// The group of one resource's routes: `/api/v1/<name>`.
    func group(_ name: String) -> (group: RouterGroup<Context>, prefix: String) {
        (router.group(RouterPath("api/v1/\(name)")), "/api/v1/\(name)")
    }

    /// Registers `handlers` for `path` (relative to the resource's group), and 405 for every
    /// other method.
    func resource(
        _ resource: (group: RouterGroup<Context>, prefix: String), _ path: String,
        _ handlers: [(HTTPRequest.Method, Handler)]
    ) {
        let group = resource.group
        let path = RouterPath(path)
        let allowed = handlers.map(\.0)
        let allowText = patterns.add(group: resource.prefix, path: path.description, allow: allowed)
        for (method, handler) in handlers {
            group.on(path, method: method) { request, context in try await handler(request, context) }
        }
        var others: [HTTPRequest.Method] = [.get, .post, .put, .patch, .delete, .options, .trace]
        if !allowed.contains(.get) { others.append(.head) }
        for method in others where !allowed.contains(method) {
            group.on(path, method: method) { request, _ in
                ManageError(
                    .methodNotAllowed, "METHOD_NOT_ALLOWED", "\(request.uri.path) answers \(allowText) only",
                    headers: [.allow: allowText]
                ).response
            }
        }
    }
}

/// Counts each request under its route's pattern (`/api/v1/flags/{flagId}`), with its status
/// and time, and turns any error into a JSON body.
struct Counting: RouterMiddleware {
    typealias Context = BasicRequestContext
    let metrics: Metrics
    let patterns: RoutePatterns

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let start = ContinuousClock.now
        let response: Response
        do {
            response = try await next(request, context)
        } catch let error as ManageError {
            response = error.response
        } catch let error as HTTPError where error.status == .notFound {
            // A path the API has, with a method the router was never told about (QUERY, say).
            if let allow = patterns.allow(for: request.uri.path) {
                response = ManageError(
                    .methodNotAllowed, "METHOD_NOT_ALLOWED", "\(request.uri.path) answers \(allow) only",
                    headers: [.allow: allow]
                ).response
            } else {
                response = ManageError(.notFound, "NOT_FOUND", "no route \(request.uri.path)").response
            }
        } catch let error as HTTPError {
            response = ManageError(error.status, "GENERAL", error.body ?? error.status.reasonPhrase).response
        }
        let elapsed = ContinuousClock.now - start
        let route = context.endpointPath.flatMap { $0 == "NotFound" ? nil : $0 } ?? "other"
        metrics.recordRequest(
            route: route, status: response.status.code,
            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        return response
    }
}

/// The API's path patterns and the methods each answers, for a method the router does not know.
final class RoutePatterns: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [(components: [Substring], allow: String)] = []

    /// Records a route's pattern and returns its `Allow` text (GET routes answer HEAD too).
    @discardableResult
    func add(group: String, path: String, allow: [HTTPRequest.Method]) -> String {
        let text = ((allow.contains(.get) ? ["GET", "HEAD"] : []) + allow.filter { $0 != .get }.map(\.rawValue))
            .joined(separator: ", ")
        let components = (group + "/" + path).split(separator: "/")
        lock.withLock { entries.append((components, text)) }
        return text
    }

    func allow(for path: String) -> String? {
        let components = path.split(separator: "/")
        return lock.withLock {
            entries.first { entry in
                entry.components.count == components.count
                    && zip(entry.components, components).allSatisfy { $0.0.hasPrefix("{") || $0.0 == $0.1 }
            }?.allow
        }
    }
}
