import FlagEngine
import FlagModel
import Foundation
import Hummingbird

/// OFREP evaluation (single and bulk).
extension FlagServer {
    /// Limits on a request's context: deep or huge JSON is refused before evaluation.
    static let contextLimits = EvaluationContext.limits
    static let maxAttributes = EvaluationContext.maxAttributes

    func evaluateOne(_ request: Request, key rawKey: String) async throws -> Response {
        let key = rawKey.utf8.contains(UInt8(ascii: "%")) ? (rawKey.removingPercentEncoding ?? rawKey) : rawKey
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
        let (found, body) = Self.answer(active, key: key, context: context, events: events)
        return Responses.buffer(body, status: found ? .ok : .notFound)
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
        // The body is checked before `If-None-Match`, so that a malformed request is 400 whatever
        // its preconditions rather than a 304 that hides the mistake.
        let context: [String: Value]
        switch await readContext(request) {
        case .failure(let failure): return failure.response(key: nil)
        case .success(let parsed): context = parsed
        }
        // One clock reading for the ETag and the answers, so that both name the same step.
        let now = Self.now()
        let etag = active.bulkETag(at: now)
        if request.matches(etag: etag) { return Responses.notModified(etag: etag) }
        return Responses.buffer(Self.bulkBody(active, context: context, now: now, events: events), headers: [.eTag: etag])
    }

    // MARK: Answers

    // Once the caller is authorized and the snapshot found, the routes above are these
    // functions of the body's bytes and the snapshot, which the fuzzers (Fuzz/) call without HTTP.

    /// The body of `POST /ofrep/v1/evaluate/flags/{key}`, and whether `key` is in the snapshot
    /// (the status is 404 when it is not, the body then FLAG_NOT_FOUND's). The evaluation is
    /// counted for the metrics and, when its flag records events, offered to `events`.
    public static func answer(
        _ active: ActiveSnapshot, key: String, context: [String: Value], now: Instant = now(),
        events: EventQueue? = nil
    ) -> (found: Bool, body: ByteBuffer) {
        let evaluator = active.evaluator
        let prepared = evaluator.prepare(context, now: now)
        guard let index = evaluator.index(of: key) else {
            active.counters.recordNotFound()
            let notFound = evaluator.evaluate(key, context: prepared).ofrepJSON
            return (false, ByteBuffer(bytes: CanonicalJSON.encodeBytes(notFound)))
        }
        let decision = evaluator.decide(at: index, context: prepared)
        active.counters.record(slot: active.counters.slot(flag: index, decision))
        if let events, active.recordsEvents { events.record(active, flag: index, decision, context: context, now: now) }
        guard OFREPAnswers.isEncodable(decision) else {
            let result = evaluator.result(of: decision, at: index).ofrepJSON
            return (true, ByteBuffer(bytes: CanonicalJSON.encodeBytes(result)))
        }
        var body = ByteBufferAllocator().buffer(capacity: active.answers.averageAnswer)
        active.answers.withWriter { $0.write(flag: index, decision, to: &body) }
        return (true, body)
    }

    /// `{"eventStreams": […], "flags": [every flag's answer], "metadata": {…}}`, the body of
    /// `POST /ofrep/v1/evaluate/flags`, written from the snapshot's pre-encoded answers; the
    /// evaluations are counted under one lock.
    public static func bulkBody(
        _ active: ActiveSnapshot, context: [String: Value], now: Instant = now(), events: EventQueue? = nil
    ) -> ByteBuffer {
        let events = active.recordsEvents ? events : nil
        let evaluator = active.evaluator
        let prepared = evaluator.prepare(context, now: now)
        let count = evaluator.flagCount
        var body = ByteBufferAllocator().buffer(capacity: 512 + count * active.answers.averageAnswer)
        withUnsafeTemporaryAllocation(of: Int.self, capacity: max(count, 1)) { slots in
            active.answers.withWriter { writer in
                writer.writeBulkHead(to: &body)
                for i in 0..<count {
                    let decision = evaluator.decide(at: i, context: prepared)
                    slots[i] = active.counters.slot(flag: i, decision)
                    events?.record(active, flag: i, decision, context: context, now: now)
                    if i > 0 { body.writeInteger(UInt8(ascii: ",")) }
                    if OFREPAnswers.isEncodable(decision) {
                        writer.write(flag: i, decision, to: &body)
                    } else {
                        body.writeBytes(CanonicalJSON.encodeBytes(evaluator.result(of: decision, at: i).ofrepJSON))
                    }
                }
                writer.writeBulkTail(to: &body)
            }
            active.counters.record(slots: UnsafeBufferPointer(rebasing: slots[0..<count]))
        }
        return body
    }

    /// The wall clock as the engine's `Instant`.
    public static func now() -> Instant {
        let t = Date().timeIntervalSince1970
        let seconds = t.rounded(.down)
        return Instant(seconds: Int64(seconds), nanos: Int32((t - seconds) * 1_000_000_000))
    }

    // MARK: Request bodies

    /// Why a request body was refused.
    public enum BodyFailure: Error, Sendable {
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
        // The first Content-Length field, read without joining repeated fields into a string.
        if let field = request.headers.first(where: { $0.name == .contentLength }), let declared = Int(field.value),
            declared > limit
        {
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

    /// The context in the request's body; see `context(fromBody:)`.
    func readContext(_ request: Request) async -> Result<[String: Value], BodyFailure> {
        let buffer: ByteBuffer
        switch await readBody(request, limit: configuration.maxBodySize) {
        case .failure(let failure): return .failure(failure)
        case .success(let read): buffer = read
        }
        return buffer.withUnsafeReadableBytes { Self.context(fromBody: $0) }
    }

    /// The evaluation context in a request body, `{"context": {…}}`, parsed within
    /// `contextLimits` and `maxAttributes`. An empty body or a missing `context` is the empty context.
    public static func context(fromBody body: UnsafeRawBufferPointer) -> Result<[String: Value], BodyFailure> {
        if body.isEmpty { return .success([:]) }
        let parsed: Value
        do {
            parsed = try JSONParser.parse(bytes: body.bindMemory(to: UInt8.self), limits: contextLimits)
        } catch {
            return .failure(.parse("the request body is not valid JSON: \(error)"))
        }
        guard case .object(let members) = parsed else {
            return .failure(.parse("the request body must be a JSON object with a 'context' member"))
        }
        guard let context = members["context"] else { return .success([:]) }
        if case .null = context { return .success([:]) }
        guard case .object(let attributes) = context else {
            return .failure(.invalidContext("'context' must be a JSON object"))
        }
        if let problem = EvaluationContext.problem(with: attributes) { return .failure(.invalidContext(problem)) }
        return .success(attributes)
    }
}
