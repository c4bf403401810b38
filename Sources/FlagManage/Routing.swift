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

    init(metrics: Metrics) {
        router = Router(context: Context.self, options: [.autoGenerateHeadEndpoints])
        router.add(middleware: Counting(metrics: metrics))
    }

    /// Registers `handlers` for `path` in `group`, and 405 for every other method.
    func resource(_ group: RouterGroup<Context>, _ path: RouterPath, _ handlers: [(HTTPRequest.Method, Handler)]) {
        let allowed = handlers.map(\.0)
        for (method, handler) in handlers {
            group.on(path, method: method) { request, context in try await handler(request, context) }
        }
        let allowText = ((allowed.contains(.get) ? ["GET", "HEAD"] : []) + allowed.filter { $0 != .get }.map(\.rawValue))
            .joined(separator: ", ")
        for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete] where !allowed.contains(method) {
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
            response = ManageError(.notFound, "NOT_FOUND", "no route \(request.uri.path)").response
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
