import FlagModel
import Foundation

/// Reading the audit trail a page at a time, newest first, with the filters a person uses
/// when looking into what happened (the management API's `GET /api/v1/audit-logs`).
public struct AuditQuery: Sendable {
    public var resourceType: String?
    public var resourceKey: String?
    public var actor: String?
    public var action: String?
    public var project: String?
    public var environment: String?
    public var since: Date?
    public var until: Date?
    /// Rows with an id below this one (the previous page's last id).
    public var before: Int64?
    public var limit: Int = 100

    public init() {}

    /// One audit row as the API shows it.
    public struct Row: Sendable, Hashable {
        public var id: Int64
        public var json: Value
    }

    public func run(on connection: PostgresConnection) throws(StoreError) -> [Row] {
        try StoreError.during("read the audit trail") { () throws(StoreError) -> [Row] in
            try connection.rows(
                """
                SELECT id, json_build_object('id', id,
                    'occurredAt', to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                    'actor', actor, 'action', action, 'project', project, 'environment', environment,
                    'resourceType', resource_type, 'resourceKey', resource_key, 'commit', commit_sha,
                    'branch', branch, 'message', message, 'before', before, 'after', after, 'hash', hash)::text
                FROM audit_logs
                WHERE ($1::text IS NULL OR resource_type = $1)
                  AND ($2::text IS NULL OR resource_key = $2)
                  AND ($3::text IS NULL OR actor = $3 OR actor LIKE $3 || ' <%' OR actor LIKE $3 || ' (%')
                  AND ($4::text IS NULL OR action = $4)
                  AND ($5::text IS NULL OR project = $5)
                  AND ($6::text IS NULL OR environment = $6)
                  AND ($7::double precision IS NULL OR occurred_at >= to_timestamp($7::double precision))
                  AND ($8::double precision IS NULL OR occurred_at < to_timestamp($8::double precision))
                  AND ($9::bigint IS NULL OR id < $9::bigint)
                ORDER BY id DESC
                LIMIT $10::int
                """,
                [
                    resourceType, resourceKey, actor, action, project, environment,
                    since.map(SQLParameter.epoch), until.map(SQLParameter.epoch), before.map { String($0) },
                    String(limit),
                ]
            ).map { row throws(StoreError) in
                let text = try row.string(1)
                let json = (try? JSONParser.parse(text)) ?? .null
                return Row(id: try row.int64(0), json: json)
            }
        }
    }
}
