import FlagEngine
import FlagModel
import FlagStore
import Foundation
import Hummingbird

/// Which report a request asks for.
public enum ReportKind: Sendable, Hashable {
    case usage(flag: String)
    case stale
    case experiment(flag: String)
}

/// A report request, resolved to the environment the caller may read.
public struct ReportQuery: Sendable {
    public var kind: ReportKind
    public var snapshot: Snapshot
    /// The query string's parameters (`days`, `granularity`, `event`), unchecked.
    public var parameters: [String: String]
}

/// A report in the three forms the routes and the command line give.
public struct RenderedReport: Sendable {
    public var json: Value
    public var text: String
    public var markdown: String

    public init(json: Value, text: String, markdown: String) {
        self.json = json
        self.text = text
        self.markdown = markdown
    }
}

/// Why a report could not be made: a bad parameter (400, naming it), an unknown flag (404), a
/// flag that is not what the report needs (409), or the database (503).
public struct ReportFailure: Error, Sendable {
    /// `conflict`: the flag is not what the report needs (an experiment of a flag without a split).
    public enum Kind: Sendable { case badParameter, notFound, conflict, unavailable }
    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
}

/// What answers `/api/v1/analytics/…`: the daemon's, over PostgreSQL.
public protocol AnalyticsReports: Sendable {
    func report(_ query: ReportQuery) async -> Result<RenderedReport, ReportFailure>
}

/// A value, or the response that refuses the request.
enum Checked<T> {
    case value(T)
    case refused(Response)
}

/// Ingest (`POST /api/v1/metrics`, `POST /api/v1/events`) and reports.
extension FlagServer {
    /// The most counts or events one body may carry (64 KiB holds fewer anyway).
    static let maxIngestItems = 5_000

    func ingestMetrics(_ request: Request) async throws -> Response {
        guard events != nil else { return Self.analyticsOff }
        let active: ActiveSnapshot
        let members: [String: Value]
        switch await ingestTarget(request) {
        case .refused(let response): return response
        case .value(let found): (active, members) = found
        }
        guard case .array(let items)? = members["counts"] else {
            return Self.invalid("'counts' must be an array of {flag, variant, reason, version, count}")
        }
        if items.count > Self.maxIngestItems {
            return Self.invalid("'counts' has \(items.count) entries; at most \(Self.maxIngestItems) are accepted")
        }
        let now = Date()
        var start = now
        if let window = members["windowStart"] {
            guard case .string(let text) = window, let instant = Timestamp.parse(text) else {
                return Self.invalid("'windowStart' must be an RFC 3339 time, such as 2026-11-30T08:00:00Z")
            }
            // A window from a clock ahead is counted now; one from before the last week (an SDK
            // that kept a window that long) in the hour a week ago, so that a wrong clock cannot
            // spread counts over years.
            let earliest = now.timeIntervalSince1970 - 7 * 86_400
            start = Date(timeIntervalSince1970: min(max(Double(instant.seconds), earliest), now.timeIntervalSince1970))
        }
        let hour = CountKey.hour(of: Int64(start.timeIntervalSince1970.rounded(.down)))
        var counts: [CountKey: UInt64] = [:]
        var total: UInt64 = 0
        for (index, item) in items.enumerated() {
            let at = "counts[\(index)]"
            guard case .object(let count) = item else { return Self.invalid("\(at) must be an object") }
            let flag: String
            switch Self.flagKey(count["flag"], at: at) {
            case .refused(let response): return response
            case .value(let key): flag = key
            }
            let variant: String
            switch Self.variant(count["variant"], at: at) {
            case .refused(let response): return response
            case .value(let name): variant = name
            }
            guard case .string(let reason)? = count["reason"], Reason(rawValue: reason) != nil else {
                return Self.invalid("\(at).reason must be one of \(Reason.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            var version = active.version
            if let given = count["version"] {
                guard case .string(let text) = given, text.count <= 100 else {
                    return Self.invalid("\(at).version must be a snapshot version string of at most 100 characters")
                }
                version = text
            }
            guard let number = Self.wholeNumber(count["count"]), number >= 0, number <= 1_000_000_000_000 else {
                return Self.invalid("\(at).count must be an integer from 0 to 10^12")
            }
            let key = CountKey(
                project: active.project, environment: active.environment, flag: flag, variant: variant,
                reason: reason, version: version, hour: hour)
            counts[key, default: 0] += UInt64(number)
            total += UInt64(number)
        }
        registry.addCounts(counts)
        return Responses.json(.object(["accepted": .int(Int64(clamping: total))]), status: .accepted)
    }

    func ingestEvents(_ request: Request) async throws -> Response {
        guard let queue = events else { return Self.analyticsOff }
        let active: ActiveSnapshot
        let members: [String: Value]
        switch await ingestTarget(request) {
        case .refused(let response): return response
        case .value(let found): (active, members) = found
        }
        guard case .array(let items)? = members["events"] else {
            return Self.invalid("'events' must be an array of events")
        }
        if items.count > Self.maxIngestItems {
            return Self.invalid("'events' has \(items.count) entries; at most \(Self.maxIngestItems) are accepted")
        }
        if let dropped = members["dropped"] {
            guard let number = Self.wholeNumber(dropped), number >= 0 else {
                return Self.invalid("'dropped' must be a non-negative integer")
            }
            queue.countReportedDropped(number)
        }
        let now = Date().timeIntervalSince1970
        var parsed: [EventQueue.Pending] = []
        parsed.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            let at = "events[\(index)]"
            guard case .object(let event) = item else { return Self.invalid("\(at) must be an object") }
            var time = now
            if let given = event["time"] {
                guard case .string(let text) = given, let instant = Timestamp.parse(text) else {
                    return Self.invalid("\(at).time must be an RFC 3339 time, such as 2026-11-30T08:00:03.120Z")
                }
                // An event from a clock ahead is filed now: a time years ahead would make a day's
                // partition for it. One past the retention is dropped by the writer.
                time = min(Double(instant.seconds) + Double(instant.nanos) / 1e9, now)
            }
            var context: [String: Value] = [:]
            if let given = event["context"], given != .null {
                guard case .object(let attributes) = given else { return Self.invalid("\(at).context must be an object") }
                if let problem = EvaluationContext.problem(with: attributes) {
                    return Self.invalid("\(at).context: \(problem)")
                }
                context = attributes
            }
            let kind: EventQueue.Kind
            switch event["kind"] ?? .string("tracking") {
            case .string("tracking"):
                guard case .string(let name)? = event["name"], !name.isEmpty, name.count <= 200 else {
                    return Self.invalid("\(at).name must be a non-empty string of at most 200 characters")
                }
                var value: Double?
                switch event["value"] {
                case nil, .null?: value = nil
                case .int(let number)?: value = Double(number)
                case .double(let number)? where number.isFinite: value = number
                default: return Self.invalid("\(at).value must be a number")
                }
                var details: String?
                switch event["details"] {
                case nil, .null?: details = nil
                case .object(let object)?:
                    // Details over the bound are left out and the event kept: the conversion
                    // still counts, and a queued event stays small.
                    let json = CanonicalJSON.encode(.object(object))
                    details = json.utf8.count <= EventQueue.maxDetails ? json : nil
                default: return Self.invalid("\(at).details must be an object")
                }
                kind = .tracking(name: name, value: value, details: details)
            case .string("evaluation"):
                let flag: String
                switch Self.flagKey(event["flag"], at: at) {
                case .refused(let response): return response
                case .value(let key): flag = key
                }
                let variant: String
                switch Self.variant(event["variant"], at: at) {
                case .refused(let response): return response
                case .value(let name): variant = name
                }
                guard case .string(let reason)? = event["reason"], Reason(rawValue: reason) != nil else {
                    return Self.invalid(
                        "\(at).reason must be one of \(Reason.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                var version = active.version
                if let given = event["version"] {
                    guard case .string(let text) = given, text.count <= 100 else {
                        return Self.invalid("\(at).version must be a snapshot version string of at most 100 characters")
                    }
                    version = text
                }
                kind = .reported(flag: flag, variant: variant, reason: reason, version: version)
            default:
                return Self.invalid("\(at).kind must be \"tracking\" or \"evaluation\"")
            }
            parsed.append(EventQueue.Pending(time: time, snapshot: active, kind: kind, context: context))
        }
        let before = queue.dropped
        for event in parsed { queue.offer(event) }
        let dropped = Int64(clamping: queue.dropped &- before)
        return Responses.json(
            .object(["accepted": .int(Int64(parsed.count) - dropped), "dropped": .int(dropped)]), status: .accepted)
    }

    /// Authorizes an ingest request (server or client key, rate-limited), finds its environment
    /// and parses its body as a JSON object within the evaluation routes' limits.
    private func ingestTarget(_ request: Request) async -> Checked<(ActiveSnapshot, [String: Value])> {
        let caller: APIKey?
        switch authorize(request, .evaluate) {
        case .refused(let response): return .refused(response)
        case .granted(let granted): caller = granted
        }
        let active: ActiveSnapshot
        switch target(request, key: caller) {
        case .failure(let error): return .refused(error.response)
        case .success(let found): active = found
        }
        let body: ByteBuffer
        switch await readBody(request, limit: configuration.maxBodySize) {
        case .failure(let failure): return .refused(failure.response(key: nil))
        case .success(let read): body = read
        }
        let parsed: Value
        do {
            parsed = try body.withUnsafeReadableBytes { bytes in
                try JSONParser.parse(bytes: bytes.bindMemory(to: UInt8.self), limits: Self.contextLimits)
            }
        } catch {
            return .refused(BodyFailure.parse("the request body is not valid JSON: \(error)").response(key: nil))
        }
        guard case .object(let members) = parsed else {
            return .refused(BodyFailure.parse("the request body must be a JSON object").response(key: nil))
        }
        return .value((active, members))
    }

    private static func flagKey(_ value: Value?, at: String) -> Checked<String> {
        guard case .string(let key)? = value, Keys.isValid(key) else {
            return .refused(invalid("\(at).flag must be a flag key (lower-case letters, digits, '_', '.', '-'; at most 50)"))
        }
        return .value(key)
    }

    /// A variant name, or "" for null (an evaluation that served none).
    private static func variant(_ value: Value?, at: String) -> Checked<String> {
        switch value {
        case nil, .null?: return .value("")
        case .string(let name)? where name.count <= 200: return .value(name)
        default: return .refused(invalid("\(at).variant must be a string of at most 200 characters, or null"))
        }
    }

    /// An integer, also when written with a fraction of zero (`503.0`), as JSON Schema reads it.
    static func wholeNumber(_ value: Value?) -> Int64? {
        switch value {
        case .int(let number)?: return number
        case .double(let number)? where number.isFinite && number.rounded() == number:
            // Beyond Int64 a number is clamped (the count checks then refuse it, `dropped` keeps it).
            if number >= 9.2e18 { return .max }
            if number <= -9.2e18 { return .min }
            return Int64(number)
        default: return nil
        }
    }

    static func invalid(_ details: String) -> Response {
        Responses.error(.badRequest, code: "INVALID_BODY", details: details)
    }

    static var analyticsOff: Response {
        Responses.error(.notFound, code: nil, details: "analytics are off on this server (--analytics-flush 0)")
    }

    // MARK: Reports

    func report(_ request: Request, _ kind: ReportKind) async throws -> Response {
        let caller: APIKey?
        switch authorize(request, .readSnapshot) {
        case .refused(let response): return response
        case .granted(let granted): caller = granted
        }
        guard let reports else {
            return Responses.error(
                .notFound, code: nil, details: "reports need PostgreSQL: this server has no --postgres")
        }
        let active: ActiveSnapshot
        switch target(request, key: caller) {
        case .failure(let error): return error.response
        case .success(let found): active = found
        }
        var parameters: [String: String] = [:]
        for (name, value) in request.uri.queryParameters { parameters[String(name)] = String(value) }
        let format = parameters["format"] ?? "json"
        guard ["json", "text", "markdown"].contains(format) else {
            return Responses.error(.badRequest, code: nil, details: "format must be json, text or markdown")
        }
        let query = ReportQuery(kind: kind, snapshot: active.snapshot, parameters: parameters)
        switch await reports.report(query) {
        case .failure(let failure):
            switch failure.kind {
            case .badParameter: return Responses.error(.badRequest, code: nil, details: failure.message)
            case .notFound: return Responses.error(.notFound, code: "FLAG_NOT_FOUND", details: failure.message)
            case .conflict: return Responses.error(.conflict, code: nil, details: failure.message)
            case .unavailable: return Responses.error(.serviceUnavailable, code: nil, details: failure.message)
            }
        case .success(let rendered):
            switch format {
            case "text": return Responses.text(rendered.text)
            case "markdown": return Responses.text(rendered.markdown, contentType: "text/markdown; charset=utf-8")
            default: return Responses.json(rendered.json)
            }
        }
    }
}
