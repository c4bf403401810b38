import FlagModel

/// The newest audit row's id and hash, kept outside PostgreSQL so that deleting the newest
/// rows shows: the chain that is left still holds by itself, but it no longer reaches the
/// anchored head. The daemon writes it after every sync that appended rows (to a reference
/// of the flag repository, `refs/flagstaff/audit-head`, and to its log); `flagstaff audit
/// verify` reads it back.
public struct AuditHead: Sendable, Hashable, CustomStringConvertible {
    public var id: Int64
    public var hash: String
    /// The hash of the log's first row: which log this head belongs to, so that a repository
    /// followed by a new or restored database is not taken for a log with rows deleted. nil
    /// in a head given as `ID:HASH`.
    public var log: String?

    public init(id: Int64, hash: String, log: String? = nil) {
        self.id = id
        self.hash = hash
        self.log = log
    }

    /// The reference of the flag repository (or of the daemon's mirror) that holds it.
    public static let reference = "refs/flagstaff/audit-head"

    /// `{"hash":"…","id":120,"log":"…"}`: canonical JSON, one line.
    public var encoded: [UInt8] {
        var fields: [String: Value] = ["id": .int(id), "hash": .string(hash)]
        if let log { fields["log"] = .string(log) }
        return CanonicalJSON.encodeBytes(.object(fields))
    }

    /// Reads what `encoded` wrote; nil for anything else.
    public init?(decoding bytes: [UInt8]) {
        guard
            case .object(let object)? = try? JSONParser.parse(bytes: bytes),
            case .int(let id)? = object["id"], case .string(let hash)? = object["hash"], Self.isHash(hash)
        else { return nil }
        var log: String?
        if let field = object["log"] {
            guard case .string(let text) = field, Self.isHash(text) else { return nil }
            log = text
        }
        self.init(id: id, hash: hash, log: log)
    }

    static func isHash(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    public var description: String { "row \(id) (hash \(hash.prefix(12))…)" }
}

extension AuditLog {
    /// The newest row's id and hash, with the first row's hash naming the log, or nil for an
    /// empty log.
    public static func head(on connection: PostgresConnection) throws(StoreError) -> AuditHead? {
        try StoreError.during("read the audit head") { () throws(StoreError) -> AuditHead? in
            guard
                let row = try connection.rows(
                    """
                    SELECT id, hash, (SELECT hash FROM audit_logs ORDER BY id LIMIT 1)
                    FROM audit_logs ORDER BY id DESC LIMIT 1
                    """
                ).first
            else { return nil }
            return AuditHead(id: try row.int64(0), hash: try row.string(1), log: try row.string(2))
        }
    }

    /// The stored hash of row `id`, or nil when there is no such row.
    public static func storedHash(ofRow id: Int64, on connection: PostgresConnection) throws(StoreError) -> String? {
        try StoreError.during("read audit row \(id)") { () throws(StoreError) -> String? in
            try connection.rows("SELECT hash FROM audit_logs WHERE id = $1::bigint", [String(id)]).first?.string(0)
        }
    }
}
