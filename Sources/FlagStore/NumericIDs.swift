import FlagModel

/// The numeric ids PostgreSQL's state projection gives organizations, projects,
/// environments, flags and segments, which the management API accepts besides their keys
/// (SPEC §14). Environments and segments have a row per project and per environment, so
/// each of their rows' ids names the same key.
public enum NumericIDs {
    public enum Kind: String, Sendable {
        case organization, project, environment, flag, segment
    }

    /// The key (`project:key` for flags and segments) of the row with this id, or nil.
    public static func key(of kind: Kind, id: Int64, on connection: PostgresConnection) throws(StoreError) -> String? {
        let sql: String
        switch kind {
        case .organization: sql = "SELECT key FROM organizations WHERE id = $1::bigint"
        case .project: sql = "SELECT key FROM projects WHERE id = $1::bigint"
        case .environment: sql = "SELECT key FROM environments WHERE id = $1::bigint"
        case .flag:
            sql = "SELECT p.key || ':' || f.key FROM feature_flags f JOIN projects p ON p.id = f.project_id WHERE f.id = $1::bigint"
        case .segment:
            sql = """
                SELECT p.key || ':' || s.key FROM segments s JOIN environments e ON e.id = s.environment_id
                JOIN projects p ON p.id = e.project_id WHERE s.id = $1::bigint
                """
        }
        return try StoreError.during("look up \(kind.rawValue) \(id)") { () throws(StoreError) -> String? in
            try connection.rows(sql, [String(id)]).first?.string(0)
        }
    }

    /// Ids by key for these keys (`project:key` for flags; project keys for projects; for
    /// environments `project/environment`; for segments `project:key/environment`).
    public static func ids(of kind: Kind, keys: [String], on connection: PostgresConnection) throws(StoreError)
        -> [String: Int64]
    {
        guard !keys.isEmpty else { return [:] }
        let sql: String
        switch kind {
        case .organization: sql = "SELECT key, id FROM organizations WHERE key = ANY($1::text[])"
        case .project: sql = "SELECT key, id FROM projects WHERE key = ANY($1::text[])"
        case .environment:
            sql = """
                SELECT p.key || '/' || e.key, e.id FROM environments e JOIN projects p ON p.id = e.project_id
                WHERE p.key || '/' || e.key = ANY($1::text[])
                """
        case .flag:
            sql = """
                SELECT p.key || ':' || f.key, f.id FROM feature_flags f JOIN projects p ON p.id = f.project_id
                WHERE p.key || ':' || f.key = ANY($1::text[])
                """
        case .segment:
            sql = """
                SELECT p.key || ':' || s.key || '/' || e.key, s.id FROM segments s
                JOIN environments e ON e.id = s.environment_id JOIN projects p ON p.id = e.project_id
                WHERE p.key || ':' || s.key || '/' || e.key = ANY($1::text[])
                """
        }
        let array = "{" + keys.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }.joined(separator: ",") + "}"
        return try StoreError.during("look up \(kind.rawValue) ids") { () throws(StoreError) -> [String: Int64] in
            var out: [String: Int64] = [:]
            for row in try connection.rows(sql, [array]) { out[try row.string(0)] = try row.int64(1) }
            return out
        }
    }
}
