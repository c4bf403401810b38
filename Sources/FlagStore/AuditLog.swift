import Crypto
import FlagModel

/// The append-only, hash-chained audit trail in `audit_logs`.
///
/// Each row's `hash` is the lower-case hex SHA-256 of the canonical JSON of its content
/// (`ChainedAuditRow.hashedContent`), which includes `prev_hash`, the hash of the row before
/// it in id order (`genesisHash` for the first row). Changing, deleting or reordering rows
/// therefore breaks the chain where it happened, which `verify` reports.
public enum AuditLog {
    /// The `prev_hash` of the first row.
    public static let genesisHash = String(repeating: "0", count: 64)

    /// Serialises appends across connections and processes, so that ids, times and links
    /// follow one order. An arbitrary constant (the migrator uses 7_013_001).
    static let lockKey: Int64 = 7_013_002

    /// Appends `records` in order inside the caller's open transaction and returns how many
    /// were written. The chain lock is held until that transaction ends, so keep it short.
    @discardableResult
    public static func append(_ records: [AuditRecord], on connection: PostgresConnection) throws(StoreError) -> Int {
        guard !records.isEmpty else { return 0 }
        return try StoreError.during("append audit rows") { () throws(StoreError) -> Int in
            guard connection.isInTransaction else {
                throw StoreError(
                    "append audit rows", message: "called outside a transaction: the chain lock would not hold")
            }
            try connection.query("SELECT pg_advisory_xact_lock($1::bigint)", [String(lockKey)])
            var previous = try connection.rows("SELECT hash FROM audit_logs ORDER BY id DESC LIMIT 1")
                .first?.string(0) ?? genesisHash
            // Taken under the lock, so ids and times grow along the chain.
            let stamps = try connection.rows(
                """
                WITH t AS (SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at)
                SELECT nextval(pg_get_serial_sequence('audit_logs', 'id')) AS id, t.at
                FROM t, generate_series(1, $1::int)
                """, [String(records.count)])
            var ids = try stamps.map { row throws(StoreError) in try row.int64(0) }
            ids.sort()
            let occurredAt = try stamps[0].string(1)

            let normalised = try normaliseJSON(records, on: connection)
            var rows: [Value] = []
            for (index, record) in normalised.enumerated() {
                let row = ChainedAuditRow(id: ids[index], occurredAt: occurredAt, record: record, prevHash: previous)
                let hash = Self.hash(row)
                rows.append(insertionJSON(row, hash: hash))
                previous = hash
            }
            try connection.query(
                """
                INSERT INTO audit_logs (id, occurred_at, actor, action, project, environment, resource_type,
                    resource_key, commit_sha, branch, message, before, after, prev_hash, hash)
                SELECT id, occurred_at::timestamptz, actor, action, project, environment, resource_type,
                    resource_key, commit_sha, branch, message, before::jsonb, after::jsonb, prev_hash, hash
                FROM jsonb_to_recordset($1::jsonb) AS x(id bigint, occurred_at text, actor text, action text,
                    project text, environment text, resource_type text, resource_key text, commit_sha text,
                    branch text, message text, before text, after text, prev_hash text, hash text)
                """, [SQLParameter.json(.array(rows))])
            return records.count
        }
    }

    static func hash(_ row: ChainedAuditRow) -> String {
        Hex.encode(SHA256.hash(data: CanonicalJSON.encodeBytes(row.hashedContent)))
    }

    /// `before` and `after` as `jsonb` will give them back: storing normalises numbers (an
    /// integral 1e16 float reads back as an integer), so the hash is computed over the value
    /// after that round trip, the same one `verify` recomputes from the stored row.
    private static func normaliseJSON(
        _ records: [AuditRecord], on connection: PostgresConnection
    ) throws(StoreError) -> [AuditRecord] {
        let documents = records.flatMap { [$0.before, $0.after] }.compactMap { $0 }
        guard !documents.isEmpty else { return records }
        let texts = try connection.rows(
            "SELECT value::text FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(value, n) ORDER BY n",
            [SQLParameter.json(.array(documents))])
        var values = try texts.map { row throws(StoreError) in try StoredJSON.parse(row.string(0)) }.makeIterator()
        return records.map { record in
            var record = record
            if record.before != nil { record.before = values.next() }
            if record.after != nil { record.after = values.next() }
            return record
        }
    }

    private static func insertionJSON(_ row: ChainedAuditRow, hash: String) -> Value {
        func text(_ s: String?) -> Value { s.map(Value.string) ?? .null }
        func json(_ v: Value?) -> Value { v.map { .string(CanonicalJSON.encode($0)) } ?? .null }
        let r = row.record
        return .object([
            "id": .int(row.id), "occurred_at": .string(row.occurredAt), "actor": .string(r.actor),
            "action": .string(r.action), "project": text(r.project), "environment": text(r.environment),
            "resource_type": .string(r.resourceType), "resource_key": .string(r.resourceKey),
            "commit_sha": text(r.commit), "branch": text(r.branch), "message": text(r.message),
            "before": json(r.before), "after": json(r.after), "prev_hash": .string(row.prevHash),
            "hash": .string(hash),
        ])
    }
}
