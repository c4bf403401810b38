import FlagModel

/// The newest audit row's id and hash, kept outside PostgreSQL so that deleting the newest
/// rows shows: the chain that is left still holds by itself, but it no longer reaches the
/// anchored head. The daemon writes it after every sync that appended rows (to a reference
/// of the flag repository, `refs/flagstaff/audit-head`, and to its log); `flagstaff audit
/// verify` reads it back.
public struct AuditHead: Sendable, Hashable, CustomStringConvertible {
    public var id: Int64
    public var hash: String

    public init(id: Int64, hash: String) {
        self.id = id
        self.hash = hash
    }

    /// The reference of the flag repository (or of the daemon's mirror) that holds it.
    public static let reference = "refs/flagstaff/audit-head"

    /// `{"hash":"…","id":120}`: canonical JSON, one line.
    public var encoded: [UInt8] { CanonicalJSON.encodeBytes(.object(["id": .int(id), "hash": .string(hash)])) }

    /// Reads what `encoded` wrote; nil for anything else.
    public init?(decoding bytes: [UInt8]) {
        guard
            case .object(let object)? = try? JSONParser.parse(bytes: bytes),
            case .int(let id)? = object["id"], case .string(let hash)? = object["hash"],
            hash.utf8.count == 64, hash.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
        else { return nil }
        self.init(id: id, hash: hash)
    }

    public var description: String { "row \(id) (hash \(hash.prefix(12))…)" }
}

extension AuditLog {
    /// The newest row's id and hash, or nil for an empty log.
    public static func head(on connection: PostgresConnection) throws(StoreError) -> AuditHead? {
        try StoreError.during("read the audit head") { () throws(StoreError) -> AuditHead? in
            guard let row = try connection.rows("SELECT id, hash FROM audit_logs ORDER BY id DESC LIMIT 1").first
            else { return nil }
            return AuditHead(id: try row.int64(0), hash: try row.string(1))
        }
    }

    /// The stored hash of row `id`, or nil when there is no such row.
    public static func storedHash(ofRow id: Int64, on connection: PostgresConnection) throws(StoreError) -> String? {
        try StoreError.during("read audit row \(id)") { () throws(StoreError) -> String? in
            try connection.rows("SELECT hash FROM audit_logs WHERE id = $1::bigint", [String(id)]).first?.string(0)
        }
    }
}
