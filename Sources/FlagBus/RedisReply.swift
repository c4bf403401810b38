import CHiredis

/// One reply from Redis, copied out of hiredis' reply object.
public indirect enum RedisReply: Sendable, Hashable {
    /// A simple string such as `OK` or `QUEUED`.
    case status(String)
    /// An error reply such as `ERR unknown command`. Commands throw these at the top level, so
    /// they are seen here only inside arrays.
    case error(String)
    case integer(Int64)
    /// A bulk string, binary-safe.
    case bulk([UInt8])
    /// A missing value: a null bulk string or a null array.
    case null
    case array([RedisReply])

    /// A status, or a bulk string that is valid UTF-8.
    public var string: String? {
        switch self {
        case .status(let text): text
        case .bulk(let bytes): String(validating: bytes, as: UTF8.self)
        default: nil
        }
    }

    public var integer: Int64? {
        if case .integer(let value) = self { value } else { nil }
    }

    /// The bytes of a bulk string.
    public var bytes: [UInt8]? {
        if case .bulk(let bytes) = self { bytes } else { nil }
    }

    public var array: [RedisReply]? {
        if case .array(let elements) = self { elements } else { nil }
    }
}

extension RedisReply {
    /// Copies a hiredis reply tree; the caller still frees it.
    init(_ reply: UnsafePointer<redisReply>) {
        let reply = reply.pointee
        switch reply.type {
        case REDIS_REPLY_STATUS: self = .status(String(decoding: Self.bytes(of: reply), as: UTF8.self))
        case REDIS_REPLY_ERROR: self = .error(String(decoding: Self.bytes(of: reply), as: UTF8.self))
        case REDIS_REPLY_INTEGER: self = .integer(Int64(reply.integer))
        case REDIS_REPLY_STRING: self = .bulk(Self.bytes(of: reply))
        case REDIS_REPLY_ARRAY:
            self = .array((0..<reply.elements).map { index in reply.element?[index].map { RedisReply($0) } ?? .null })
        case REDIS_REPLY_NIL: self = .null
        default: self = .error("unsupported reply type \(reply.type)")
        }
    }

    private static func bytes(of reply: redisReply) -> [UInt8] {
        guard let text = reply.str, reply.len > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: text, count: reply.len))
    }
}
