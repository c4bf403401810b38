import FlagModel

/// What `AuditLog.verify` found.
public struct AuditVerification: Sendable, Hashable {
    /// Rows found good: all of them when the chain holds, else those before the broken one.
    public var rowsChecked: Int
    /// The first row, in id order, where the chain does not hold.
    public var firstBroken: BrokenAuditRow?
    public var isValid: Bool { firstBroken == nil }
    /// The anchored head the log was checked against, when one was given and reached.
    public var anchor: AuditHead?

    public init(rowsChecked: Int, firstBroken: BrokenAuditRow?, anchor: AuditHead? = nil) {
        self.rowsChecked = rowsChecked
        self.firstBroken = firstBroken
        self.anchor = anchor
    }
}

/// The row where the chain breaks, named so that someone can find it.
public struct BrokenAuditRow: Sendable, Hashable, CustomStringConvertible {
    public var id: Int64
    public var action: String
    /// `flag new-checkout in shop/production`, `commit 1a2b3c… in shop/staging`.
    public var resource: String
    public var problem: String

    public init(id: Int64, action: String, resource: String, problem: String) {
        self.id = id
        self.action = action
        self.resource = resource
        self.problem = problem
    }

    public var description: String { "audit row \(id) (\(action), \(resource)): \(problem)" }
}

extension AuditLog {
    /// Rows per round trip while walking the table.
    static let verifyPageSize = 1000

    /// Walks `audit_logs` in id order in one consistent read, recomputing each row's hash and
    /// checking that its `prev_hash` is the hash of the row before it. Stops at the first
    /// broken row. Deleting the newest rows leaves a shorter chain that still holds; an
    /// `anchor` (the head as it was recorded outside PostgreSQL, from `source`) catches that:
    /// the row it names must be there with the same hash.
    public static func verify(
        on connection: PostgresConnection, anchor: AuditHead? = nil, source: String = "the anchored head"
    ) throws(StoreError) -> AuditVerification {
        try StoreError.during("verify the audit chain") { () throws(StoreError) -> AuditVerification in
            try connection.transaction { () throws(StoreError) -> AuditVerification in
                try connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                var checked = 0
                var previous: (id: Int64, hash: String)?
                var anchorSeen = false
                while true {
                    let page = try connection.rows(
                        """
                        SELECT id, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), actor,
                            action, project, environment, resource_type, resource_key, commit_sha, branch, message,
                            before::text, after::text, prev_hash, hash
                        FROM audit_logs WHERE id > $1::bigint ORDER BY id LIMIT $2::int
                        """, [String(previous?.id ?? Int64.min), String(verifyPageSize)])
                    for row in page {
                        let id = try row.int64(0)
                        let stored = try row.string(14)
                        if previous == nil, let anchor, let log = anchor.log, log != stored {
                            return AuditVerification(
                                rowsChecked: 0,
                                firstBroken: BrokenAuditRow(
                                    id: id, action: try row.string(3), resource: "the first row",
                                    problem: "\(source) belongs to another audit log (its first row's hash is "
                                        + "\(log.prefix(12))…): the log was replaced from its start, or this is another "
                                        + "database; after a deliberate restore the daemon anchors the new log on its "
                                        + "next pass"))
                        }
                        if let problem = try check(row, id: id, storedHash: stored, previous: previous) {
                            return AuditVerification(rowsChecked: checked, firstBroken: problem)
                        }
                        if let anchor, anchor.id == id, anchor.hash != stored {
                            return AuditVerification(
                                rowsChecked: checked,
                                firstBroken: BrokenAuditRow(
                                    id: id, action: try row.string(3), resource: "\(try row.string(6)) \(try row.string(7))",
                                    problem: "its hash is not the one \(source) records (\(anchor.hash.prefix(12))…): "
                                        + "the log was rewritten from here or before, hashes recomputed"))
                        }
                        if anchor?.id == id { anchorSeen = true }
                        checked += 1
                        previous = (id, stored)
                    }
                    if page.count < verifyPageSize { break }
                }
                guard let anchor else { return AuditVerification(rowsChecked: checked, firstBroken: nil) }
                if anchorSeen { return AuditVerification(rowsChecked: checked, firstBroken: nil, anchor: anchor) }
                let newest = previous?.id
                if let newest, newest > anchor.id {
                    return AuditVerification(
                        rowsChecked: checked,
                        firstBroken: BrokenAuditRow(
                            id: anchor.id, action: "missing", resource: "the anchored row",
                            problem: "\(source) names \(anchor), which is not in the log although later rows "
                                + "are: rows were deleted and the chain rebuilt after them"))
                }
                let from = newest.map { "row \($0)" } ?? "an empty log"
                return AuditVerification(
                    rowsChecked: checked,
                    firstBroken: BrokenAuditRow(
                        id: anchor.id, action: "missing", resource: "rows after \(newest.map(String.init) ?? "none")",
                        problem: "rows were deleted from the end of the log: \(source) names \(anchor), "
                            + "but the log ends at \(from)"))
            }
        }
    }

    private static func check(
        _ row: SQLRow, id: Int64, storedHash: String, previous: (id: Int64, hash: String)?
    ) throws(StoreError) -> BrokenAuditRow? {
        let action = try row.string(3)
        var resource = "\(try row.string(6)) \(try row.string(7))"
        if let project = row.optionalString(4) {
            resource += " in \(project)" + (row.optionalString(5).map { "/\($0)" } ?? "")
        }
        func broken(_ problem: String) -> BrokenAuditRow {
            BrokenAuditRow(id: id, action: action, resource: resource, problem: problem)
        }
        let before: Value?
        let after: Value?
        do {
            before = try row.optionalString(11).map { text throws(StoreError) in try StoredJSON.parse(text) }
            after = try row.optionalString(12).map { text throws(StoreError) in try StoredJSON.parse(text) }
        } catch {
            return broken("its before/after is not readable JSON (\(error.message))")
        }
        let prevHash = try row.string(13)
        let record = AuditRecord(
            actor: try row.string(2), action: action, project: row.optionalString(4),
            environment: row.optionalString(5), resourceType: try row.string(6), resourceKey: try row.string(7),
            commit: row.optionalString(8), branch: row.optionalString(9), message: row.optionalString(10),
            before: before, after: after)
        let computed = hash(ChainedAuditRow(id: id, occurredAt: try row.string(1), record: record, prevHash: prevHash))
        if computed != storedHash {
            return broken("its content does not match its hash: the row was changed after it was written")
        }
        guard let previous else {
            return prevHash == genesisHash
                ? nil : broken("it is the first row but does not start the chain: rows before it were deleted")
        }
        guard prevHash != previous.hash else { return nil }
        if id > previous.id + 1 {
            return broken(
                "its prev_hash does not match row \(previous.id), the row before it: rows between \(previous.id) "
                    + "and \(id) were deleted")
        }
        return broken(
            "its prev_hash does not match row \(previous.id), the row before it: rows were deleted, inserted or "
                + "reordered")
    }
}
