import FlagModel
import Foundation

/// An API key as stored: never the secret, only its prefix (to find the row) and hash.
public struct APIKeyRecord: Sendable, Hashable {
    public var id: Int64
    /// Empty for a management key of every project.
    public var project: String
    /// Empty for a management key, which is bound to no environment.
    public var environment: String
    /// `server`, `client`, `admin` or `manage`.
    public var type: String
    /// A management key's role: `viewer`, `editor` or `owner`; nil for other types.
    public var role: String?
    public var name: String
    public var prefix: String
    public var secretHash: [UInt8]
    public var expiresAt: Date?
    public var revokedAt: Date?
    public var lastUsedAt: Date?
    public var createdAt: Date

    public init(
        id: Int64, project: String, environment: String, type: String, name: String, prefix: String,
        secretHash: [UInt8], expiresAt: Date?, revokedAt: Date?, lastUsedAt: Date?, createdAt: Date,
        role: String? = nil
    ) {
        self.id = id
        self.role = role
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
    public static let types = ["server", "client", "admin", "manage"]
    public static let roles = ["viewer", "editor", "owner"]

    let connection: PostgresConnection

    public init(connection: PostgresConnection) {
        self.connection = connection
    }

    /// Stores a new key for a project and environment, returning its id. They are named by
    /// key, so a key can be made before the daemon first records the environment (a new
    /// deployment makes its keys first); `environment_id` is filled in when it is known.
    ///
    /// A management key (`type: "manage"`) has a `role`, may leave `project` empty (every
    /// project) and has no environment. With `actor`, the creation is also an audit row
    /// naming who made the key (its prefix, never its secret), in the same transaction.
    public func create(
        project: String, environment: String, type: String, name: String, prefix: String, secretHash: [UInt8],
        expiresAt: Date?, role: String? = nil, actor: String? = nil
    ) throws(StoreError) -> Int64 {
        let scope = type == "manage" ? (project.isEmpty ? "every project" : project) : "\(project)/\(environment)"
        let operation = "create API key '\(name)' for \(scope)"
        guard Self.types.contains(type) else {
            throw StoreError(operation, message: "unknown key type '\(type)': use server, client, admin or manage")
        }
        if type == "manage" {
            guard let role, Self.roles.contains(role) else {
                throw StoreError(operation, message: "a manage key needs a role: viewer, editor or owner")
            }
        } else if role != nil {
            throw StoreError(operation, message: "only manage keys have a role")
        }
        return try StoreError.during(operation) { () throws(StoreError) -> Int64 in
            do throws(StoreError) {
                return try connection.transaction { () throws(StoreError) -> Int64 in
                    let id = try connection.row(
                        """
                        INSERT INTO api_keys (environment_id, project_key, environment_key, name, type, prefix,
                            secret_hash, expires_at, role)
                        SELECT (SELECT e.id FROM environments e JOIN projects p ON p.id = e.project_id
                                WHERE p.key = $1 AND e.key = $2 LIMIT 1),
                            $1, $2, $3, $4, $5, decode($6, 'hex'), to_timestamp($7::double precision), $8
                        RETURNING id
                        """,
                        [
                            project.isEmpty ? nil : project, environment.isEmpty ? nil : environment, name, type, prefix,
                            Hex.encode(secretHash), expiresAt.map(SQLParameter.epoch), role,
                        ]
                    ).int64(0)
                    if let actor {
                        var after: [String: Value] = [
                            "id": .int(id), "name": .string(name), "type": .string(type), "prefix": .string(prefix),
                        ]
                        if let role { after["role"] = .string(role) }
                        if let expiresAt { after["expiresAt"] = .double(expiresAt.timeIntervalSince1970) }
                        try AuditLog.append(
                            [
                                AuditRecord(
                                    actor: actor, action: "key.created", project: project.isEmpty ? nil : project,
                                    environment: environment.isEmpty ? nil : environment, resourceType: "api_key",
                                    resourceKey: prefix, message: "created \(type) key '\(name)'", after: .object(after))
                            ], on: connection)
                    }
                    return id
                }
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

    /// Revokes a key; false when there is no such key or it was already revoked. With
    /// `actor`, an audit row names who revoked it, in the same transaction.
    public func revoke(id: Int64, actor: String? = nil) throws(StoreError) -> Bool {
        try StoreError.during("revoke API key \(id)") { () throws(StoreError) -> Bool in
            try connection.transaction { () throws(StoreError) -> Bool in
                let rows = try connection.rows(
                    """
                    UPDATE api_keys SET revoked_at = now() WHERE id = $1::bigint AND revoked_at IS NULL
                    RETURNING prefix, name, type, project_key, environment_key
                    """, [String(id)])
                if let row = rows.first, let actor {
                    try AuditLog.append(
                        [
                            AuditRecord(
                                actor: actor, action: "key.revoked", project: row.optionalString(3),
                                environment: row.optionalString(4), resourceType: "api_key",
                                resourceKey: try row.string(0),
                                message: "revoked \(try row.string(2)) key '\(try row.string(1))'",
                                before: .object(["id": .int(id), "revoked": .bool(false)]),
                                after: .object(["id": .int(id), "revoked": .bool(true)]))
                        ], on: connection)
                }
                return !rows.isEmpty
            }
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
            extract(epoch FROM k.created_at), k.role
        FROM api_keys k
        """

    private static func record(_ row: SQLRow) throws(StoreError) -> APIKeyRecord {
        APIKeyRecord(
            id: try row.int64(0), project: row.optionalString(1) ?? "", environment: row.optionalString(2) ?? "",
            type: try row.string(3),
            name: try row.string(4), prefix: try row.string(5), secretHash: try row.hexBytes(6),
            expiresAt: try row.optionalDate(7), revokedAt: try row.optionalDate(8), lastUsedAt: try row.optionalDate(9),
            createdAt: try row.date(10), role: row.optionalString(11))
    }
}
