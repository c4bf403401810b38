import FlagModel
import Foundation
import HTTPTypes
import Hummingbird

/// Building responses: JSON bodies are canonical JSON, errors carry OFREP's error object.
public enum Responses {
    public static let json: HTTPFields = [.contentType: "application/json"]

    public static func json(_ value: Value, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        bytes(CanonicalJSON.encodeBytes(value), status: status, headers: headers)
    }

    public static func bytes(
        _ body: [UInt8], status: HTTPResponse.Status = .ok, contentType: String = "application/json",
        headers: HTTPFields = [:]
    ) -> Response {
        var fields = headers
        fields[.contentType] = contentType
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// A JSON body already written to a buffer.
    public static func buffer(_ body: ByteBuffer, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields = headers.isEmpty ? json : headers
        if !headers.isEmpty { fields[.contentType] = "application/json" }
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: body))
    }

    public static func text(_ body: String, status: HTTPResponse.Status = .ok, contentType: String = "text/plain; charset=utf-8")
        -> Response
    {
        bytes(Array(body.utf8), status: status, contentType: contentType)
    }

    /// `{"errorCode": …, "errorDetails": …}` (plus `key` for a single flag), as OFREP answers errors.
    public static func error(
        _ status: HTTPResponse.Status, code: String?, details: String, key: String? = nil, headers: HTTPFields = [:]
    ) -> Response {
        var object: [String: Value] = ["errorDetails": .string(details)]
        if let code { object["errorCode"] = .string(code) }
        if let key { object["key"] = .string(key) }
        return json(.object(object), status: status, headers: headers)
    }

    public static func notModified(etag: String) -> Response {
        Response(status: .notModified, headers: [.eTag: etag])
    }
}

/// Reading requests.
extension Request {
    func header(_ name: String) -> String? {
        guard let field = HTTPField.Name(name) else { return nil }
        return headers[field]
    }

    /// Whether `If-None-Match` names `etag` (or is `*`).
    func matches(etag: String) -> Bool {
        guard let value = headers[.ifNoneMatch] else { return false }
        for candidate in value.split(separator: ",") {
            var tag = candidate.trimmingCharacters(in: .whitespaces)
            if tag == "*" { return true }
            if tag.hasPrefix("W/") { tag.removeFirst(2) }
            if tag == etag || "\"" + tag + "\"" == etag { return true }
        }
        return false
    }
}
