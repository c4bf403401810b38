import FlagEngine
import FlagModel
import Foundation
import Hummingbird

/// OFREP evaluation (single and bulk).
extension FlagServer {
    /// Limits on a request's context: deep or huge JSON is refused before evaluation.
    static let contextLimits = JSONParser.Limits(maxDepth: 32, maxMembers: 10_000)
    static let maxAttributes = 1_000

    func evaluateOne(_ request: Request, key rawKey: String) async throws -> Response {
        let key = rawKey.removingPercentEncoding ?? rawKey
        let caller: APIKey?
        switch authorize(request, .evaluate) {
        case .refused(let response): return response
        case .granted(let granted): caller = granted
        }
        let context: [String: Value]
        switch await readContext(request) {
        case .failure(let failure): return failure.response(key: key)
        case .success(let parsed): context = parsed
        }
        let active: ActiveSnapshot
        switch target(request, key: caller) {
        case .failure(let error):
            if case .notFound(let details) = error {
                return Responses.error(.notFound, code: "FLAG_NOT_FOUND", details: details, key: key)
            }
            return error.response
        case .success(let found): active = found
        }
        let evaluator = active.evaluator
        let prepared = evaluator.prepare(context, now: Self.now())
        let result = evaluator.evaluate(key, context: prepared)
        metrics.recordEvaluation(project: active.project, environment: active.environment, result)
        switch result.errorCode {
        case nil: return Responses.json(result.ofrepJSON)
        case .flagNotFound?: return Responses.json(result.ofrepJSON, status: .notFound)
        case .general?: return Responses.json(result.ofrepJSON, status: .internalServerError)
        default: return Responses.json(result.ofrepJSON, status: .badRequest)
        }
    }

    func evaluateAll(_ request: Request) async throws -> Response {
        let caller: APIKey?
        switch authorize(request, .evaluate) {
        case .refused(let response): return response
        case .granted(let granted): caller = granted
        }
        let active: ActiveSnapshot
        switch target(request, key: caller) {
        case .failure(let error): return error.response
        case .success(let found): active = found
        }
        if request.matches(etag: active.etag) { return Responses.notModified(etag: active.etag) }
        let context: [String: Value]
        switch await readContext(request) {
        case .failure(let failure): return failure.response(key: nil)
        case .success(let parsed): context = parsed
        }
        let evaluator = active.evaluator
        let results = evaluator.evaluateAll(context: evaluator.prepare(context, now: Self.now()))
        metrics.recordEvaluations(project: active.project, environment: active.environment, results)
        let body: Value = .object([
            "flags": .array(results.map(\.ofrepJSON)),
            "eventStreams": .array([
                .object([
                    "type": .string("sse"),
                    "endpoint": .object(["requestUri": .string("/api/v1/stream?events=ofrep")]),
                    "inactivityDelaySec": .int(120),
                ])
            ]),
            "metadata": .object([
                "project": .string(active.project), "environment": .string(active.environment),
                "version": .string(active.version), "revision": .int(active.revision),
            ]),
        ])
        return Responses.json(body, headers: [.eTag: active.etag])
    }

    static func now() -> Instant {
        let t = Date().timeIntervalSince1970
        let seconds = t.rounded(.down)
        return Instant(seconds: Int64(seconds), nanos: Int32((t - seconds) * 1_000_000_000))
    }

    // MARK: Request bodies

    /// Why a request body was refused.
    enum BodyFailure: Error {
        case tooLarge(Int)
        case parse(String)
        case invalidContext(String)

        func response(key: String?) -> Response {
            switch self {
            case .tooLarge(let limit):
                Responses.error(.contentTooLarge, code: nil, details: "the request body is over \(limit) bytes", key: key)
            case .parse(let details): Responses.error(.badRequest, code: "PARSE_ERROR", details: details, key: key)
            case .invalidContext(let details):
                Responses.error(.badRequest, code: "INVALID_CONTEXT", details: details, key: key)
            }
        }
    }

    /// Reads at most `limit` bytes; a longer body is refused as soon as that is known (from
    /// `Content-Length`, or while streaming), without reading the rest.
    func readBody(_ request: Request, limit: Int) async -> Result<ByteBuffer, BodyFailure> {
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > limit {
            return .failure(.tooLarge(limit))
        }
        do {
            return .success(try await request.body.collect(upTo: limit))
        } catch let error as HTTPError where error.status == .contentTooLarge {
            return .failure(.tooLarge(limit))
        } catch {
            return .failure(.parse("the request body could not be read: \(error)"))
        }
    }

    /// `{"context": {…}}`. An empty body or a missing `context` is the empty context.
    func readContext(_ request: Request) async -> Result<[String: Value], BodyFailure> {
        let buffer: ByteBuffer
        switch await readBody(request, limit: configuration.maxBodySize) {
        case .failure(let failure): return .failure(failure)
        case .success(let read): buffer = read
        }
        if buffer.readableBytes == 0 { return .success([:]) }
        let parsed: Value
        do {
            parsed = try buffer.withUnsafeReadableBytes { raw throws(JSONParser.Error) -> Value in
                try JSONParser.parse(bytes: raw.bindMemory(to: UInt8.self), limits: Self.contextLimits)
            }
        } catch {
            return .failure(.parse("the request body is not valid JSON: \(error)"))
        }
        guard case .object(let body) = parsed else {
            return .failure(.parse("the request body must be a JSON object with a 'context' member"))
        }
        guard let context = body["context"] else { return .success([:]) }
        if case .null = context { return .success([:]) }
        guard case .object(let attributes) = context else {
            return .failure(.invalidContext("'context' must be a JSON object"))
        }
        if attributes.count > Self.maxAttributes {
            return .failure(
                .invalidContext("the context has \(attributes.count) attributes; at most \(Self.maxAttributes) are accepted"))
        }
        return .success(attributes)
    }
}
