import FlagModel

extension SyncStore {
    /// The latest snapshot of every environment, ordered by project and environment: what
    /// the daemon serves at start, before it reads Git.
    public func latestSnapshots() throws(StoreError) -> [StoredSnapshot] {
        try StoreError.during("read the latest snapshots") { () throws(StoreError) -> [StoredSnapshot] in
            try connection.rows(
                """
                SELECT * FROM (
                    SELECT DISTINCT ON (s.environment_id) o.key, p.key AS project, e.key AS environment, s.revision,
                        s.version, s.commit_sha, s.branch, s.content::text
                    FROM snapshots s
                    JOIN environments e ON e.id = s.environment_id
                    JOIN projects p ON p.id = e.project_id
                    JOIN organizations o ON o.id = p.organization_id
                    ORDER BY s.environment_id, s.revision DESC
                ) latest ORDER BY project, environment
                """
            ).map { row throws(StoreError) in
                StoredSnapshot(
                    organization: try row.string(0), project: try row.string(1), environment: try row.string(2),
                    revision: try row.int64(3), version: try row.string(4), commit: try row.string(5),
                    branch: try row.string(6), content: try StoredJSON.canonical(row.string(7)))
            }
        }
    }

    /// The latest revision of every environment, ordered by project and environment,
    /// without the snapshots.
    public func latestRevisions() throws(StoreError) -> [EnvironmentRevision] {
        try StoreError.during("read the latest revisions") { () throws(StoreError) -> [EnvironmentRevision] in
            try connection.rows(
                """
                SELECT * FROM (
                    SELECT DISTINCT ON (s.environment_id) p.key AS project, e.key AS environment, s.revision,
                        s.version, s.commit_sha
                    FROM snapshots s
                    JOIN environments e ON e.id = s.environment_id
                    JOIN projects p ON p.id = e.project_id
                    ORDER BY s.environment_id, s.revision DESC
                ) latest ORDER BY project, environment
                """
            ).map { row throws(StoreError) in
                EnvironmentRevision(
                    project: try row.string(0), environment: try row.string(1), revision: try row.int64(2),
                    version: try row.string(3), commit: try row.string(4))
            }
        }
    }

    /// The canonical JSON of one stored snapshot, or nil when there is no such revision.
    public func snapshotContent(project: String, environment: String, revision: Int64) throws(StoreError) -> String? {
        let operation = "read revision \(revision) of \(project)/\(environment)"
        return try StoreError.during(operation) { () throws(StoreError) -> String? in
            try connection.rows(
                """
                SELECT s.content::text FROM snapshots s
                JOIN environments e ON e.id = s.environment_id
                JOIN projects p ON p.id = e.project_id
                WHERE p.key = $1 AND e.key = $2 AND s.revision = $3::bigint
                """, [project, environment, String(revision)]
            ).first.map { row throws(StoreError) in try StoredJSON.canonical(row.string(0)) }
        }
    }

    /// Up to `limit` outbox messages not yet published, oldest first, with the snapshot each
    /// announces. Publishing is at least once: a crash between publishing and
    /// `markPublished` publishes the message again, which subscribers see as the same revision.
    /// `includeContent: false` leaves `snapshotContent` empty, for a caller that has the
    /// snapshot at hand (the daemon that just applied it) and would rather not read megabytes.
    public func pendingOutbox(limit: Int, includeContent: Bool = true) throws(StoreError) -> [OutboxMessage] {
        try StoreError.during("read the outbox") { () throws(StoreError) -> [OutboxMessage] in
            try connection.rows(
                """
                SELECT x.id, x.channel, x.payload::text, p.key, e.key, s.revision,
                    CASE WHEN $2::boolean THEN s.content::text END
                FROM outbox x
                JOIN snapshots s ON s.id = x.snapshot_id
                JOIN environments e ON e.id = s.environment_id
                JOIN projects p ON p.id = e.project_id
                WHERE x.published_at IS NULL
                ORDER BY x.id LIMIT $1::int
                """, [String(limit), includeContent ? "true" : "false"]
            ).map { row throws(StoreError) in
                OutboxMessage(
                    id: try row.int64(0), channel: try row.string(1), payload: try StoredJSON.canonical(row.string(2)),
                    project: try row.string(3), environment: try row.string(4), revision: try row.int64(5),
                    snapshotContent: includeContent ? try StoredJSON.canonical(row.string(6)) : "")
            }
        }
    }

    /// How many outbox messages wait for Redis (`flagstaff_outbox_pending`).
    public func pendingOutboxCount() throws(StoreError) -> Int64 {
        try StoreError.during("count the outbox") { () throws(StoreError) -> Int64 in
            try connection.row("SELECT count(*) FROM outbox WHERE published_at IS NULL").int64(0)
        }
    }

    /// Marks an outbox message published; marking it again changes nothing.
    public func markPublished(_ id: Int64) throws(StoreError) {
        try StoreError.during("mark outbox message \(id) published") { () throws(StoreError) in
            try connection.query(
                "UPDATE outbox SET published_at = now() WHERE id = $1::bigint AND published_at IS NULL", [String(id)])
        }
    }

    /// Every known environment with what sync last did there, ordered by project and
    /// environment; environments never synced have nil commit and revision.
    public func status() throws(StoreError) -> [EnvironmentStatus] {
        try StoreError.during("read the sync status") { () throws(StoreError) -> [EnvironmentStatus] in
            try connection.rows(
                """
                SELECT p.key, e.key, e.branch, e.production, st.commit_sha, st.revision,
                    extract(epoch FROM st.synced_at), st.last_error, extract(epoch FROM st.last_error_at)
                FROM environments e
                JOIN projects p ON p.id = e.project_id
                LEFT JOIN sync_status st ON st.environment_id = e.id
                ORDER BY p.key, e.key
                """
            ).map { row throws(StoreError) in
                EnvironmentStatus(
                    project: try row.string(0), environment: try row.string(1), branch: try row.string(2),
                    production: try row.bool(3), commit: row.optionalString(4), revision: try row.optionalInt64(5),
                    syncedAt: try row.optionalDate(6), lastError: row.optionalString(7),
                    lastErrorAt: try row.optionalDate(8))
            }
        }
    }
}
