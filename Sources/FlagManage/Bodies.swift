import FlagModel
import Hummingbird
import NIOCore

/// A JSON request body read strictly: an unknown field, a wrong type or a missing field is a
/// 400 that names the field, so a typo never silently does nothing.
struct Body {
    private(set) var fields: [String: Value]
    private var read: Set<String> = []

    /// Reads the body of `request` (at most `limit` bytes: 413 beyond). An empty body is `{}`
    /// when `optional`.
    static func read(_ request: Request, limit: Int, optional: Bool = false) async throws -> Body {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch {
            throw ManageError(.contentTooLarge, "PAYLOAD_TOO_LARGE", "the body is larger than \(limit) bytes")
        }
        if buffer.readableBytes == 0 {
            if optional { return Body(fields: [:]) }
            throw ManageError.badRequest("a JSON object body is required", field: "body")
        }
        let value: Value
        do {
            value = try JSONParser.parse(bytes: Array(buffer.readableBytesView))
        } catch {
            throw ManageError(.badRequest, "PARSE_ERROR", "the body is not JSON: \(error)", field: "body")
        }
        guard case .object(let object) = value else {
            throw ManageError.badRequest("the body must be a JSON object", field: "body")
        }
        return Body(fields: object)
    }

    init(fields: [String: Value]) {
        self.fields = fields
    }

    mutating func string(_ name: String, required: Bool = false) throws(ManageError) -> String? {
        read.insert(name)
        switch fields[name] {
        case nil, .null?:
            if required { throw ManageError.badRequest("'\(name)' is required", field: name) }
            return nil
        case .string(let text)?: return try Self.checked(text, name)
        default: throw ManageError.badRequest("'\(name)' must be a string", field: name)
        }
    }

    /// Text goes into Git commits, YAML files and PostgreSQL: no NUL, which none of them keeps.
    static func checked(_ text: String, _ field: String) throws(ManageError) -> String {
        if text.utf8.contains(0) {
            throw ManageError.badRequest("'\(field)' must not contain a NUL character", field: field)
        }
        return text
    }

    mutating func bool(_ name: String, required: Bool = false) throws(ManageError) -> Bool? {
        read.insert(name)
        switch fields[name] {
        case nil, .null?:
            if required { throw ManageError.badRequest("'\(name)' is required", field: name) }
            return nil
        case .bool(let flag)?: return flag
        default: throw ManageError.badRequest("'\(name)' must be true or false", field: name)
        }
    }

    mutating func strings(_ name: String) throws(ManageError) -> [String]? {
        read.insert(name)
        switch fields[name] {
        case nil, .null?: return nil
        case .array(let items)?:
            var out: [String] = []
            for (index, item) in items.enumerated() {
                guard case .string(let text) = item else {
                    throw ManageError.badRequest("'\(name)[\(index)]' must be a string", field: "\(name)[\(index)]")
                }
                out.append(try Self.checked(text, "\(name)[\(index)]"))
            }
            return out
        default: throw ManageError.badRequest("'\(name)' must be a list of strings", field: name)
        }
    }

    /// Any JSON value (checked by the compiler afterwards), or nil when absent.
    mutating func value(_ name: String) -> Value? {
        read.insert(name)
        return fields[name]
    }

    /// Call after reading every known field: a field nobody read is a mistake.
    func rejectUnknown() throws(ManageError) {
        if let unknown = fields.keys.sorted().first(where: { !read.contains($0) }) {
            let known = read.sorted().map { "'\($0)'" }.joined(separator: ", ")
            throw ManageError.badRequest(
                "unknown field '\(unknown)'" + (known.isEmpty ? "" : "; this route takes \(known)"), field: unknown)
        }
    }
}
