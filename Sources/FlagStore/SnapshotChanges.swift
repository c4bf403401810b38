import FlagModel

/// One flag or segment that differs between two snapshots of an environment.
struct ResourceChange: Sendable, Hashable {
    enum Kind: String, Sendable {
        case flag, segment

        /// The member of the snapshot JSON that holds this kind, by key.
        var snapshotField: String { rawValue + "s" }
    }

    var kind: Kind
    var key: String
    /// nil when added.
    var before: Value?
    /// nil when removed.
    var after: Value?

    /// `flag.created`, `segment.deleted`, ….
    var action: String {
        let verb = before == nil ? "created" : after == nil ? "deleted" : "updated"
        return "\(kind.rawValue).\(verb)"
    }
}

/// Which flags and segments may differ between the stored snapshot of version `basedOn` and
/// the one being applied, found by the caller comparing each one's canonical JSON in memory.
/// A superset is fine (the stored JSON decides); missing a change is not, so the caller lists
/// every key whose canonical JSON is not byte-for-byte the same, and every removed key.
public struct ChangeCandidates: Sendable {
    public var basedOn: String
    public var flags: [String]
    public var segments: [String]

    public init(basedOn: String, flags: [String], segments: [String]) {
        self.basedOn = basedOn
        self.flags = flags
        self.segments = segments
    }

    func keys(_ kind: ResourceChange.Kind) -> [String] { kind == .flag ? flags : segments }
}

/// The flag-by-flag, segment-by-segment difference between two stored snapshots.
enum SnapshotChanges {
    /// Compares the snapshots' flags and segments by canonical JSON. Both sides are read back
    /// from `jsonb`, so both went through the same normalisation and compare like for like.
    /// `previous` nil: everything in `current` is new. Flags first, then segments, each in
    /// key order (UTF-8 bytes).
    ///
    /// With `candidates`, only those keys are read back (two lookups each in the stored
    /// documents) instead of walking every member of both: the same result for a fraction
    /// of the work when few things changed.
    static func between(
        previous: Int64?, current: Int64, candidates: ChangeCandidates? = nil, on connection: PostgresConnection
    ) throws(StoreError) -> [ResourceChange] {
        var changes: [ResourceChange] = []
        for kind in [ResourceChange.Kind.flag, .segment] {
            let rows: [SQLRow]
            if let candidates {
                let keys = candidates.keys(kind)
                if keys.isEmpty { continue }
                rows = try connection.rows(
                    """
                    WITH o AS MATERIALIZED (SELECT content -> $3 AS m FROM snapshots WHERE id = $1::bigint),
                        n AS MATERIALIZED (SELECT content -> $3 AS m FROM snapshots WHERE id = $2::bigint)
                    SELECT k, (SELECT m -> k FROM o)::text, (SELECT m -> k FROM n)::text
                    FROM jsonb_array_elements_text($4::jsonb) AS k
                    """,
                    [
                        previous.map { String($0) }, String(current), kind.snapshotField,
                        SQLParameter.jsonStrings(keys),
                    ])
            } else {
                // The text comparison only narrows the rows sent back; canonical JSON decides.
                rows = try connection.rows(
                    """
                    SELECT coalesce(o.key, n.key), o.value::text, n.value::text
                    FROM jsonb_each((SELECT content -> $3 FROM snapshots WHERE id = $1::bigint)) AS o
                    FULL JOIN jsonb_each((SELECT content -> $3 FROM snapshots WHERE id = $2::bigint)) AS n
                        ON o.key = n.key
                    WHERE o.value::text IS DISTINCT FROM n.value::text
                    """, [previous.map { String($0) }, String(current), kind.snapshotField])
            }
            var ofKind: [ResourceChange] = []
            for row in rows {
                let before = try row.optionalString(1).map { text throws(StoreError) in try StoredJSON.parse(text) }
                let after = try row.optionalString(2).map { text throws(StoreError) in try StoredJSON.parse(text) }
                if before == nil, after == nil { continue }
                if let before, let after, CanonicalJSON.encode(before) == CanonicalJSON.encode(after) { continue }
                ofKind.append(ResourceChange(kind: kind, key: try row.string(0), before: before, after: after))
            }
            changes += ofKind.sorted { UTF8Order.precedes($0.key, $1.key) }
        }
        return changes
    }
}
