import FlagModel
import FlagServer
import FlagStore
import Foundation
import Hummingbird

/// The API's PostgreSQL connection, used on the API's own thread only.
final class DatabaseHandle: @unchecked Sendable {
    let url: String?
    private var connection: PostgresConnection?

    init(url: String?) { self.url = url }

    func use<T>(_ body: (PostgresConnection) throws(StoreError) -> T) throws(ManageError) -> T {
        guard let url else {
            throw ManageError.notFound("this daemon has no PostgreSQL (--postgres): there are no keys or audit trail to read")
        }
        do {
            let connection = try self.connection ?? PostgresConnection(url: url)
            self.connection = connection
            return try body(connection)
        } catch {
            self.connection = nil
            throw ManageError.unavailable("PostgreSQL: \(error)")
        }
    }
}

extension ManagementAPI {
    // MARK: API keys

    static func key(_ record: APIKeyRecord, now: Date = Date()) -> Value {
        let state = record.revokedAt != nil ? "revoked" : (record.expiresAt.map { $0 <= now } == true ? "expired" : "active")
        func time(_ date: Date?) -> Value { date.map { .string(APITime.iso($0)) } ?? .null }
        return .object([
            "id": .string(String(record.id)), "prefix": .string(record.prefix), "name": .string(record.name),
            "type": .string(record.type), "role": record.role.map(Value.string) ?? .null,
            "project": record.project.isEmpty ? .null : .string(record.project),
            "environment": record.environment.isEmpty ? .null : .string(record.environment),
            "state": .string(state), "expiresAt": time(record.expiresAt), "revokedAt": time(record.revokedAt),
            "lastUsedAt": time(record.lastUsedAt), "createdAt": time(record.createdAt),
        ])
    }

    func keys(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        try caller.require(.owner, "listing API keys")
        try requireKeysInDatabase()
        let database = self.database
        let records = try await blocking { () throws(ManageError) -> [APIKeyRecord] in
            try database.use { connection throws(StoreError) in try APIKeyStore(connection: connection).list() }
        }
        let items = records.filter { caller.project == nil || $0.project == caller.project }
            .map { (String(format: "%020lld", $0.id), Self.key($0)) }
        return Responses.json(try Page(request).render(items))
    }

    func key(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        try caller.require(.owner, "reading an API key")
        try requireKeysInDatabase()
        let id = try Self.parameter(context, "keyId")
        let database = self.database
        let records = try await blocking { () throws(ManageError) -> [APIKeyRecord] in
            try database.use { connection throws(StoreError) in try APIKeyStore(connection: connection).list() }
        }
        guard let record = records.first(where: { String($0.id) == id || $0.prefix == id }),
            caller.project == nil || record.project == caller.project
        else { throw ManageError.notFound("no API key '\(id)'") }
        return Responses.json(Self.key(record))
    }

    /// `POST /api/v1/api-keys`: `{"name", "type", "project", "environment", "role",
    /// "expiresAt"}`. The answer carries the secret, once.
    func createKey(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        try caller.require(.owner, "creating an API key")
        try requireKeysInDatabase()
        var body = try await Body.read(request, limit: configuration.maxBodySize)
        let name = try body.string("name", required: true)!
        let typeText = try body.string("type", required: true)!
        let project = try body.string("project")
        let environment = try body.string("environment")
        let roleText = try body.string("role")
        let expiresText = try body.string("expiresAt")
        try body.rejectUnknown()
        guard let type = APIKeyType(rawValue: typeText) else {
            throw ManageError.badRequest("type must be server, client, admin or manage", field: "type")
        }
        if type == .admin, let scope = caller.project {
            throw ManageError(
                .forbidden, "FORBIDDEN", "an admin key reads every project's status; this caller may manage '\(scope)' only")
        }
        var role: ManagementRole?
        if type == .manage {
            guard let roleText, let parsed = ManagementRole(rawValue: roleText) else {
                throw ManageError.badRequest("a manage key needs a role: viewer, editor or owner", field: "role")
            }
            guard environment == nil else {
                throw ManageError.badRequest("a manage key is bound to no environment", field: "environment")
            }
            role = parsed
        } else {
            if roleText != nil { throw ManageError.badRequest("only manage keys have a role", field: "role") }
            guard project != nil else { throw ManageError.badRequest("'project' is required", field: "project") }
            guard environment != nil else {
                throw ManageError.badRequest("'environment' is required", field: "environment")
            }
        }
        let manifest = try await manifest()
        if let project { _ = try self.project(project, in: manifest) } else if let scope = caller.project {
            throw ManageError(.forbidden, "FORBIDDEN", "this caller may create keys for project '\(scope)' only")
        }
        if let project { try caller.require(project: project) }
        if let environment { _ = try self.environment(environment, in: manifest) }
        var expires: Date?
        if let expiresText {
            // A time already past makes a key that is expired from the start (listed so);
            // the command line refuses one, but an API caller may be replaying a plan.
            guard let date = KeysFile.parseExpiry(expiresText) ?? APITime.parseISO(expiresText.uppercased()) else {
                throw ManageError.badRequest("expiresAt must be a date (YYYY-MM-DD) or an RFC 3339 time", field: "expiresAt")
            }
            expires = date
        }
        let (secret, prefix) = APIKeyFormat.generate()
        let (chosenRole, expiry) = (role, expires)
        let hash = APIKeyFormat.hash(secret)
        let database = self.database
        let actor = caller.actor
        let record = try await blocking { () throws(ManageError) -> APIKeyRecord? in
            try database.use { connection throws(StoreError) -> APIKeyRecord? in
                let store = APIKeyStore(connection: connection)
                _ = try store.create(
                    project: project ?? "", environment: environment ?? "", type: type.rawValue, name: name,
                    prefix: prefix, secretHash: hash, expiresAt: expiry, role: chosenRole?.rawValue, actor: actor)
                return try store.find(prefix: prefix)
            }
        }
        guard let record else { throw ManageError.unavailable("the new key was not found after creating it") }
        // Usable at once on this server; the others reload keys within seconds.
        server.keyRing?.add(
            APIKey(
                id: String(record.id), name: name, project: project ?? "", environment: environment ?? "", type: type,
                prefix: prefix, secretHash: hash, expiresAt: expires, role: role))
        guard case .object(var object) = Self.key(record) else { fatalError("a key is an object") }
        object["secret"] = .string(secret)
        return Responses.json(.object(object), status: .created)
    }

    func revokeKey(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        try caller.require(.owner, "revoking an API key")
        try requireKeysInDatabase()
        let id = try Self.parameter(context, "keyId")
        let database = self.database
        let actor = caller.actor
        let scope = caller.project
        let found = try await blocking { () throws(ManageError) -> APIKeyRecord? in
            try database.use { connection throws(StoreError) -> APIKeyRecord? in
                let store = APIKeyStore(connection: connection)
                guard let record = try store.list().first(where: { String($0.id) == id || $0.prefix == id }),
                    scope == nil || record.project == scope
                else { return nil }
                _ = try store.revoke(id: record.id, actor: actor)
                return try store.find(prefix: record.prefix)
            }
        }
        guard let record = found else { throw ManageError.notFound("no API key '\(id)'") }
        server.keyRing?.revoke(prefix: record.prefix)
        return Responses.json(Self.key(record))
    }

    func requireKeysInDatabase() throws(ManageError) {
        if configuration.keysFromFile {
            throw ManageError.conflict(
                "KEYS_FILE",
                "this daemon takes its keys from a keys file (--keys-file): manage them with `flagstaff keys … --keys-file`")
        }
    }

    // MARK: Audit trail

    /// `GET /api/v1/audit-logs`: newest first, filtered by `resourceType`, `resource`, `actor`,
    /// `action`, `project`, `environment`, `since`, `until` (RFC 3339), a page at a time.
    func auditLogs(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        let page = try Page(request)
        let parameters = request.uri.queryParameters
        for (name, value) in parameters where value.utf8.contains(0) {
            throw ManageError(.badRequest, "INVALID_QUERY", "\(name) must not contain a NUL character", field: String(name))
        }
        var query = AuditQuery()
        query.limit = page.limit + 1
        query.resourceType = parameters["resourceType"].map(String.init)
        query.resourceKey = parameters["resource"].map(String.init)
        query.actor = parameters["actor"].map(String.init)
        query.action = parameters["action"].map(String.init)
        query.project = parameters["project"].map(String.init) ?? caller.project
        if let scope = caller.project, query.project != scope { try caller.require(project: query.project ?? "") }
        query.environment = parameters["environment"].map(String.init)
        query.since = try Self.time(parameters["since"], "since")
        query.until = try Self.time(parameters["until"], "until")
        if let cursor = page.cursor {
            guard let before = Int64(cursor) else {
                throw ManageError(.badRequest, "INVALID_QUERY", "cursor must be the nextCursor of a page", field: "cursor")
            }
            query.before = before
        }
        let database = self.database
        let finalQuery = query
        let rows = try await blocking { () throws(ManageError) -> [AuditQuery.Row] in
            try database.use { connection throws(StoreError) in try finalQuery.run(on: connection) }
        }
        let shown = rows.prefix(page.limit)
        let next: Value = rows.count > page.limit ? .string(String(shown.last!.id)) : .null
        return Responses.json(.object(["items": .array(shown.map(\.json)), "nextCursor": next]))
    }
}

extension ManagementAPI {
    static func time(_ text: Substring?, _ name: String) throws(ManageError) -> Date? {
        guard let text else { return nil }
        guard let date = APITime.parseISO(String(text).uppercased()) else {
            throw ManageError(.badRequest, "INVALID_QUERY", "\(name) must be an RFC 3339 time", field: name)
        }
        return date
    }
}

/// Times in API bodies: RFC 3339 in UTC.
enum APITime {
    static func iso(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    static func parseISO(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }
}
