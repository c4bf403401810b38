import FlagModel
import Foundation

/// An API key as stored: never the secret, only its prefix (to find the row) and hash.
public struct APIKeyRecord: Sendable, Hashable {
    public var id: Int64
    public var project: String
    public var environment: String
    /// `server`, `client` or `admin`.
    public var type: String
    public var name: String
    public var prefix: String
    public var secretHash: [UInt8]
    public var expiresAt: Date?
    public var revokedAt: Date?
    public var lastUsedAt: Date?
    public var createdAt: Date

    public init(
        id: Int64, project: String, environment: String, type: String, name: String, prefix: String,
        secretHash: [UInt8], expiresAt: Date?, revokedAt: Date?, lastUsedAt: Date?, createdAt: Date
    ) {
        self.id = id
        self.project = project
        self.environment = environment
        self.type = type
        self.name = name
        self.prefix = prefix
        self.secretHash = secretHash
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.lastUsedAt = lastUsedAt
        self.createdAt = createdAt
    }
}

/// The `api_keys` rows. The key format and its hashing live with the server; this stores
/// what they produce.
public struct APIKeyStore: Sendable {
    public static let types = ["server", "client", "admin"]

    let connection: PostgresConnection

    public init(connection: PostgresConnection) {
        self.connection = connection
    }

    /// Stores a new key for a project and environment, returning its id. They are named by
    /// key, so a key can be made before the daemon first records the environment (a new
    /// deployment makes its keys first); `environment_id` is filled in when it is known.
    public func create(
        project: String, environment: String, type: String, name: String, prefix: String, secretHash: [UInt8],
        expiresAt: Date?
    ) throws(StoreError) -> Int64 {
        let operation = "create API key '\(name)' for \(project)/\(environment)"
        guard Self.types.contains(type) else {
            throw StoreError(operation, message: "unknown key type '\(type)': use server, client or admin")
        }
        return try StoreError.during(operation) { () throws(StoreError) -> Int64 in
            do throws(StoreError) {
                return try connection.row(
                    """
                    INSERT INTO api_keys (environment_id, project_key, environment_key, name, type, prefix,
                        secret_hash, expires_at)
                    SELECT (SELECT e.id FROM environments e JOIN projects p ON p.id = e.project_id
                            WHERE p.key = $1 AND e.key = $2 LIMIT 1),
                        $1, $2, $3, $4, $5, decode($6, 'hex'), to_timestamp($7::double precision)
                    RETURNING id
                    """,
                    [
                        project, environment, name, type, prefix, Hex.encode(secretHash),
                        expiresAt.map(SQLParameter.epoch),
                    ]
                ).int64(0)
            } catch {
                guard error.sqlState == "23505" else { throw error }
                throw StoreError(operation, message: "a key with prefix '\(prefix)' already exists", sqlState: "23505")
            }
        }
    }

    /// Whether the daemon has recorded this environment (a key for it works either way).
    public func isRecorded(project: String, environment: String) throws(StoreError) -> Bool {
        try StoreError.during("look up \(project)/\(environment)") { () throws(StoreError) -> Bool in
            !(try connection.rows(
                "SELECT 1 FROM environments e JOIN projects p ON p.id = e.project_id WHERE p.key = $1 AND e.key = $2",
                [project, environment]
            ).isEmpty)
        }
    }

    /// Every key, revoked and expired ones included, by id.
    public func list() throws(StoreError) -> [APIKeyRecord] {
        try StoreError.during("list API keys") { () throws(StoreError) -> [APIKeyRecord] in
            try connection.rows(Self.select + " ORDER BY k.id").map(Self.record)
        }
    }

    /// The key with this prefix, whatever its state (the caller decides about revoked or
    /// expired keys), or nil.
    public func find(prefix: String) throws(StoreError) -> APIKeyRecord? {
        try StoreError.during("find API key") { () throws(StoreError) -> APIKeyRecord? in
            try connection.rows(Self.select + " WHERE k.prefix = $1", [prefix]).first.map(Self.record)
        }
    }

    /// Revokes a key; false when there is no such key or it was already revoked.
    public func revoke(id: Int64) throws(StoreError) -> Bool {
        try StoreError.during("revoke API key \(id)") { () throws(StoreError) -> Bool in
            !(try connection.rows(
                "UPDATE api_keys SET revoked_at = now() WHERE id = $1::bigint AND revoked_at IS NULL RETURNING id",
                [String(id)]
            ).isEmpty)
        }
    }

    /// Records when keys were last used, all in one statement (the server batches them).
    /// A time never moves back: an older report than the stored one is ignored.
    public func recordLastUsed(_ times: [Int64: Date]) throws(StoreError) {
        guard !times.isEmpty else { return }
        let input: [Value] = times.map { .object(["id": .int($0.key), "at": .double($0.value.timeIntervalSince1970)]) }
        try StoreError.during("record API key use") { () throws(StoreError) in
            try connection.query(
                """
                UPDATE api_keys k SET last_used_at = greatest(k.last_used_at, to_timestamp(x.at))
                FROM jsonb_to_recordset($1::jsonb) AS x(id bigint, at double precision)
                WHERE k.id = x.id
                """, [SQLParameter.json(.array(input))])
        }
    }

    // MARK: - Rows

    private static let select = """
        SELECT k.id, k.project_key, k.environment_key, k.type, k.name, k.prefix, encode(k.secret_hash, 'hex'),
            extract(epoch FROM k.expires_at), extract(epoch FROM k.revoked_at), extract(epoch FROM k.last_used_at),
            extract(epoch FROM k.created_at)
        FROM api_keys k
        """

    private static func record(_ row: SQLRow) throws(StoreError) -> APIKeyRecord {
        APIKeyRecord(
            id: try row.int64(0), project: try row.string(1), environment: try row.string(2), type: try row.string(3),
            name: try row.string(4), prefix: try row.string(5), secretHash: try row.hexBytes(6),
            expiresAt: try row.optionalDate(7), revokedAt: try row.optionalDate(8), lastUsedAt: try row.optionalDate(9),
            createdAt: try row.date(10))
    }
}
