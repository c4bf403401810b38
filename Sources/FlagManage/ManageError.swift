import FlagModel
import FlagServer
import HTTPTypes
import Hummingbird

/// A management request that cannot be done, and the answer that says why: OFREP's error
/// object (`errorCode`, `errorDetails`), plus the field at fault or the compiler's
/// diagnostics where there are some.
struct ManageError: Error, Sendable {
    var status: HTTPResponse.Status
    var code: String
    var details: String
    /// The body field, query parameter or header at fault.
    var field: String?
    /// `validate --format json`'s diagnostics, for a change that does not compile (422).
    var diagnostics: Value?
    var headers: HTTPFields = [:]

    init(
        _ status: HTTPResponse.Status, _ code: String, _ details: String, field: String? = nil,
        diagnostics: Value? = nil, headers: HTTPFields = [:]
    ) {
        self.status = status
        self.code = code
        self.details = details
        self.field = field
        self.diagnostics = diagnostics
        self.headers = headers
    }

    static func badRequest(_ details: String, field: String) -> ManageError {
        ManageError(.badRequest, "INVALID_BODY", details, field: field)
    }

    static func notFound(_ details: String) -> ManageError {
        ManageError(.notFound, "NOT_FOUND", details)
    }

    static func conflict(_ code: String, _ details: String) -> ManageError {
        ManageError(.conflict, code, details)
    }

    static func unavailable(_ details: String) -> ManageError {
        ManageError(.serviceUnavailable, "UNAVAILABLE", details)
    }

    var response: Response {
        var object: [String: Value] = ["errorCode": .string(code), "errorDetails": .string(details)]
        if let field { object["field"] = .string(field) }
        if let diagnostics { object["diagnostics"] = diagnostics }
        return Responses.json(.object(object), status: status, headers: headers)
    }
}
