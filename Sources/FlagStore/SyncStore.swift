import FlagModel

/// What the sync daemon writes and reads back: applied snapshots with their state rows,
/// audit rows and outbox messages, rejected commits, and per-environment status.
///
/// Wraps one connection; like it, one caller at a time, and every call blocks.
public struct SyncStore: Sendable {
    let connection: PostgresConnection

    public init(connection: PostgresConnection) {
        self.connection = connection
    }

    /// Applies a compiled snapshot of one (project, environment) in one transaction: state
    /// tables, snapshot row (next revision), one audit row per added, changed or removed flag
    /// and segment, one outbox message, and the sync status. Returns nil, writing only the
    /// status (commit, time), when the environment's latest snapshot already has this
    /// version. The stored snapshot's `commit` and `branch` are the ones given here.
    ///
    /// `content`, when given, must be the canonical JSON of `snapshot` with `commit` and
    /// `branch` set as here; a caller that has it saves encoding a big snapshot twice.
    /// `candidates`, when given and based on the latest stored version, narrow the diff to
    /// the keys they name (see `ChangeCandidates`); otherwise every member is compared.
    /// `notifications`, given the new revision, says what to put in the notification outbox
    /// in the same transaction (nothing when the version is unchanged).
    public func apply(
        _ snapshot: Snapshot, commit: String, branch: String, author: String, message: String, redisPrefix: String,
        content: String? = nil, candidates: ChangeCandidates? = nil,
        notifications: (_ revision: Int64) -> [NotificationDraft] = { _ in [] }
    ) throws(StoreError) -> AppliedRevision? {
        let operation = "apply the snapshot of \(snapshot.project)/\(snapshot.environment) at \(commit)"
        return try StoreError.during(operation) { () throws(StoreError) -> AppliedRevision? in
            try connection.transaction { () throws(StoreError) -> AppliedRevision? in
                let projection = StateProjection(connection: connection)
                let ids = try projection.environment(
                    organization: snapshot.organization, project: snapshot.project,
                    environment: snapshot.environment, branch: branch, production: snapshot.production)
                let latest = try connection.rows(
                    "SELECT id, revision, version FROM snapshots WHERE environment_id = $1::bigint "
                        + "ORDER BY revision DESC LIMIT 1", [String(ids.environment)]
                ).first
                let previousID = try latest?.int64(0)
                let previousRevision = try latest?.int64(1) ?? 0
                if let latest, try latest.string(2) == snapshot.version {
                    try recordSynced(ids.environment, commit: commit, revision: previousRevision)
                    return nil
                }

                var stored = snapshot
                stored.commit = commit
                stored.branch = branch
                let revision = previousRevision + 1
                let snapshotID = try connection.row(
                    """
                    INSERT INTO snapshots (environment_id, revision, version, commit_sha, branch, content)
                    VALUES ($1::bigint, $2::bigint, $3, $4, $5, $6::jsonb) RETURNING id
                    """,
                    [
                        String(ids.environment), String(revision), snapshot.version, commit, branch,
                        content ?? SQLParameter.json(stored.json),
                    ]
                ).int64(0)

                // Candidates found against another stored version than the latest say nothing.
                let usable = try candidates.flatMap { c throws(StoreError) in try latest?.string(2) == c.basedOn ? c : nil }
                let changes = try SnapshotChanges.between(
                    previous: previousID, current: snapshotID, candidates: usable, on: connection)
                try projection.write(changes, of: snapshot, at: ids)
                let auditRows = try AuditLog.append(
                    changes.map { change in
                        AuditRecord(
                            actor: author, action: change.action, project: snapshot.project,
                            environment: snapshot.environment, resourceType: change.kind.rawValue,
                            resourceKey: change.key, commit: commit, branch: branch, message: message,
                            before: change.before, after: change.after)
                    }, on: connection)

                let changed = Self.sortedUnique(changes.filter { $0.after != nil }.map(\.key))
                let removed = Self.sortedUnique(changes.filter { $0.after == nil }.map(\.key))
                let payload: Value = .object([
                    "revision": .int(revision), "version": .string(snapshot.version), "commit": .string(commit),
                    "changed": .array(changed.map(Value.string)), "removed": .array(removed.map(Value.string)),
                ])
                let outboxID = try connection.row(
                    """
                    INSERT INTO outbox (channel, payload, snapshot_id) VALUES ($1, $2::jsonb, $3::bigint)
                    RETURNING id
                    """,
                    [
                        Self.channel(prefix: redisPrefix, project: snapshot.project, environment: snapshot.environment),
                        SQLParameter.json(payload), String(snapshotID),
                    ]
                ).int64(0)
                try NotificationStore.insert(notifications(revision), on: connection)
                try recordSynced(ids.environment, commit: commit, revision: revision)
                FaultInjection.point("apply.mid-transaction")
                return AppliedRevision(
                    revision: revision, snapshotID: snapshotID, outboxID: outboxID, changed: changed,
                    removed: removed, auditRows: auditRows)
            }
        }
    }

    /// Records a commit that failed to compile or test, once per (project, environment,
    /// commit): a `sync.rejected` audit row with the diagnostics (JSON text; kept as a string
    /// if it is not JSON) and the environment's last error. Returns false, changing nothing,
    /// when that commit was already recorded. The last good snapshot stays as it is.
    /// `notifications` go into the notification outbox in the same transaction, once.
    public func recordRejection(
        organization: String, project: String, environment: String, branch: String, production: Bool,
        commit: String, author: String, message: String, diagnostics: String, summary: String,
        notifications: [NotificationDraft] = []
    ) throws(StoreError) -> Bool {
        let operation = "record the rejection of \(commit) for \(project)/\(environment)"
        return try StoreError.during(operation) { () throws(StoreError) -> Bool in
            try connection.transaction { () throws(StoreError) -> Bool in
                // Locks the environment row: two daemons recording the same commit take turns.
                let ids = try StateProjection(connection: connection).environment(
                    organization: organization, project: project, environment: environment, branch: branch,
                    production: production)
                let seen = try connection.rows(
                    """
                    SELECT 1 FROM audit_logs
                    WHERE action = 'sync.rejected' AND project = $1 AND environment = $2 AND commit_sha = $3 LIMIT 1
                    """, [project, environment, commit])
                guard seen.isEmpty else { return false }
                let details = (try? JSONParser.parse(diagnostics)) ?? .string(diagnostics)
                try AuditLog.append(
                    [
                        AuditRecord(
                            actor: author, action: "sync.rejected", project: project, environment: environment,
                            resourceType: "commit", resourceKey: commit, commit: commit, branch: branch,
                            message: message, after: details)
                    ], on: connection)
                try connection.query(
                    """
                    INSERT INTO sync_status (environment_id, last_error, last_error_at) VALUES ($1::bigint, $2, now())
                    ON CONFLICT (environment_id) DO UPDATE SET last_error = EXCLUDED.last_error,
                        last_error_at = EXCLUDED.last_error_at
                    """, [String(ids.environment), summary])
                try NotificationStore.insert(notifications, on: connection)
                return true
            }
        }
    }

    /// The Redis channel of an environment: `<prefix>:<project>:<environment>`.
    public static func channel(prefix: String, project: String, environment: String) -> String {
        "\(prefix):\(project):\(environment)"
    }

    /// A good commit: the environment is at `revision` as of `commit`, and any earlier
    /// rejection no longer describes what is served.
    private func recordSynced(_ environmentID: Int64, commit: String, revision: Int64) throws(StoreError) {
        try connection.query(
            """
            INSERT INTO sync_status (environment_id, commit_sha, revision, synced_at)
            VALUES ($1::bigint, $2, $3::bigint, now())
            ON CONFLICT (environment_id) DO UPDATE SET commit_sha = EXCLUDED.commit_sha, revision = EXCLUDED.revision,
                synced_at = EXCLUDED.synced_at, last_error = NULL, last_error_at = NULL
            """, [String(environmentID), commit, String(revision)])
    }

    private static func sortedUnique(_ keys: [String]) -> [String] {
        Array(Set(keys)).sorted(by: UTF8Order.precedes)
    }
}
