import FlagModel

/// The rows a snapshot's organization, project and environment are stored under.
struct EnvironmentIDs: Sendable, Hashable {
    var organization: Int64
    var project: Int64
    var environment: Int64
}

/// Writes the state tables (what Git says, as of the last applied commit) from a snapshot
/// and its changes. Runs inside the sync transaction.
struct StateProjection {
    let connection: PostgresConnection

    /// Creates the organization, project and environment rows if missing (names default to
    /// keys) and records the environment's branch and production flag. The environment row
    /// stays locked until the transaction ends, which serialises syncs of one environment.
    func environment(
        organization: String, project: String, environment: String, branch: String, production: Bool
    ) throws(StoreError) -> EnvironmentIDs {
        // `DO UPDATE` rather than `DO NOTHING`, so that `RETURNING` gives the existing id too.
        let organizationID = try connection.row(
            """
            INSERT INTO organizations (key, name) VALUES ($1::text, $1::text)
            ON CONFLICT (key) DO UPDATE SET key = EXCLUDED.key RETURNING id
            """, [organization]
        ).int64(0)
        let projectID = try connection.row(
            """
            INSERT INTO projects (organization_id, key, name) VALUES ($1::bigint, $2::text, $2::text)
            ON CONFLICT (organization_id, key) DO UPDATE SET key = EXCLUDED.key RETURNING id
            """, [String(organizationID), project]
        ).int64(0)
        let environmentID = try connection.row(
            """
            INSERT INTO environments (project_id, key, name, branch, production)
            VALUES ($1::bigint, $2::text, $2::text, $3, $4::boolean)
            ON CONFLICT (project_id, key) DO UPDATE SET branch = EXCLUDED.branch, production = EXCLUDED.production
            RETURNING id
            """, [String(projectID), environment, branch, SQLParameter.bool(production)]
        ).int64(0)
        // Keys made before the environment was first recorded name it by key alone.
        try connection.query(
            """
            UPDATE api_keys SET environment_id = $1::bigint
            WHERE environment_id IS NULL AND project_key = $2 AND environment_key = $3
            """, [String(environmentID), project, environment])
        return EnvironmentIDs(organization: organizationID, project: projectID, environment: environmentID)
    }

    /// Upserts the added and changed flags and segments, deletes the removed ones.
    func write(_ changes: [ResourceChange], of snapshot: Snapshot, at ids: EnvironmentIDs) throws(StoreError) {
        var flags: [Flag] = []
        var removedFlags: [String] = []
        var segments: [Segment] = []
        var removedSegments: [String] = []
        let segmentsByKey = Dictionary(snapshot.segments.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        for change in changes {
            switch (change.kind, change.after) {
            case (.flag, nil): removedFlags.append(change.key)
            case (.segment, nil): removedSegments.append(change.key)
            case (.flag, _):
                guard let flag = snapshot.flag(change.key) else { throw missing(change) }
                flags.append(flag)
            case (.segment, _):
                guard let segment = segmentsByKey[change.key] else { throw missing(change) }
                segments.append(segment)
            }
        }
        try upsert(flags, ids)
        try delete(flags: removedFlags, ids)
        try upsert(segments, environmentID: ids.environment)
        try delete(segments: removedSegments, environmentID: ids.environment)
    }

    private func missing(_ change: ResourceChange) -> StoreError {
        StoreError(
            "write state",
            message: "\(change.kind.rawValue) '\(change.key)' is in the stored snapshot JSON but not in the snapshot")
    }

    // MARK: - Flags

    private func upsert(_ flags: [Flag], _ ids: EnvironmentIDs) throws(StoreError) {
        guard !flags.isEmpty else { return }
        let input: [Value] = flags.map { flag in
            .object([
                "key": .string(flag.key), "name": .string(flag.name),
                "description": flag.description.map(Value.string) ?? .null, "type": .string(flag.type.rawValue),
                "owner": flag.owner.map(Value.string) ?? .null, "tags": .array(flag.tags.map(Value.string)),
                "expires": flag.expires.map(Value.string) ?? .null, "enabled": .bool(flag.enabled),
                "configuration": flag.json,
            ])
        }
        // One statement for all flags: project-level metadata, then this environment's
        // configuration. A flag that comes back is no longer archived.
        try connection.query(
            """
            WITH input AS (
                SELECT * FROM jsonb_to_recordset($3::jsonb) AS x(key text, name text, description text, type text,
                    owner text, tags jsonb, expires date, enabled boolean, configuration jsonb)
            ), flags AS (
                INSERT INTO feature_flags (project_id, key, name, description, type, owner, tags, expires)
                SELECT $1::bigint, key, name, description, type, owner,
                    ARRAY(SELECT jsonb_array_elements_text(tags)), expires
                FROM input
                ON CONFLICT (project_id, key) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description,
                    type = EXCLUDED.type, owner = EXCLUDED.owner, tags = EXCLUDED.tags, expires = EXCLUDED.expires,
                    archived_at = NULL, updated_at = now()
                RETURNING id, key
            )
            INSERT INTO flag_configurations (flag_id, environment_id, enabled, configuration)
            SELECT flags.id, $2::bigint, input.enabled, input.configuration FROM flags JOIN input USING (key)
            ON CONFLICT (flag_id, environment_id) DO UPDATE SET enabled = EXCLUDED.enabled,
                configuration = EXCLUDED.configuration, updated_at = now()
            """, [String(ids.project), String(ids.environment), SQLParameter.json(.array(input))])
    }

    /// Deletes this environment's configurations of `keys`; a flag no environment
    /// configures any more is archived (kept, for the audit trail and other tables).
    private func delete(flags keys: [String], _ ids: EnvironmentIDs) throws(StoreError) {
        guard !keys.isEmpty else { return }
        try connection.query(
            """
            WITH gone AS (
                DELETE FROM flag_configurations c USING feature_flags f
                WHERE c.flag_id = f.id AND f.project_id = $1::bigint AND c.environment_id = $2::bigint
                    AND f.key IN (SELECT jsonb_array_elements_text($3::jsonb))
                RETURNING c.flag_id
            )
            UPDATE feature_flags f SET archived_at = now(), updated_at = now()
            WHERE f.id IN (SELECT flag_id FROM gone)
                AND NOT EXISTS (
                    SELECT 1 FROM flag_configurations c WHERE c.flag_id = f.id AND c.environment_id <> $2::bigint)
            """, [String(ids.project), String(ids.environment), SQLParameter.jsonStrings(keys)])
    }

    // MARK: - Segments

    private func upsert(_ segments: [Segment], environmentID: Int64) throws(StoreError) {
        guard !segments.isEmpty else { return }
        let input: [Value] = segments.map {
            .object(["key": .string($0.key), "name": .string($0.name), "definition": $0.json])
        }
        try connection.query(
            """
            INSERT INTO segments (environment_id, key, name, definition)
            SELECT $1::bigint, key, name, definition
            FROM jsonb_to_recordset($2::jsonb) AS x(key text, name text, definition jsonb)
            ON CONFLICT (environment_id, key) DO UPDATE SET name = EXCLUDED.name, definition = EXCLUDED.definition,
                updated_at = now()
            """, [String(environmentID), SQLParameter.json(.array(input))])
    }

    private func delete(segments keys: [String], environmentID: Int64) throws(StoreError) {
        guard !keys.isEmpty else { return }
        try connection.query(
            """
            DELETE FROM segments
            WHERE environment_id = $1::bigint AND key IN (SELECT jsonb_array_elements_text($2::jsonb))
            """,
            [String(environmentID), SQLParameter.jsonStrings(keys)])
    }
}
