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
        // Each key is looked up by the unique indexes (project key, then key within it).
        let sql: String
        switch kind {
        case .organization: sql = "SELECT k.id, o.id FROM unnest($1::text[]) AS k(id) JOIN organizations o ON o.key = k.id"
        case .project: sql = "SELECT k.id, p.id FROM unnest($1::text[]) AS k(id) JOIN projects p ON p.key = k.id"
        case .environment:
            sql = """
                SELECT k.id, e.id FROM unnest($1::text[]) AS k(id)
                JOIN projects p ON p.key = split_part(k.id, '/', 1)
                JOIN environments e ON e.project_id = p.id AND e.key = split_part(k.id, '/', 2)
                """
        case .flag:
            sql = """
                SELECT k.id, f.id FROM unnest($1::text[]) AS k(id)
                JOIN projects p ON p.key = split_part(k.id, ':', 1)
                JOIN feature_flags f ON f.project_id = p.id AND f.key = split_part(k.id, ':', 2)
                """
        case .segment:
            sql = """
                SELECT k.id, s.id FROM unnest($1::text[]) AS k(id)
                JOIN projects p ON p.key = split_part(k.id, ':', 1)
                JOIN environments e ON e.project_id = p.id AND e.key = split_part(k.id, '/', 2)
                JOIN segments s ON s.environment_id = e.id AND s.key = split_part(split_part(k.id, ':', 2), '/', 1)
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
