import FlagModel
import Foundation

/// One hourly count bucket: what was served for one flag, by variant, reason and snapshot
/// version, in the hour starting at `hour` (Unix seconds, a multiple of 3,600).
public struct CountKey: Sendable, Hashable {
    public var project: String
    public var environment: String
    public var flag: String
    /// "" when the decision served no variant.
    public var variant: String
    public var reason: String
    public var version: String
    public var hour: Int64

    public init(
        project: String, environment: String, flag: String, variant: String, reason: String, version: String,
        hour: Int64
    ) {
        self.project = project
        self.environment = environment
        self.flag = flag
        self.variant = variant
        self.reason = reason
        self.version = version
        self.hour = hour
    }

    /// The start of the hour holding `seconds` (Unix time).
    public static func hour(of seconds: Int64) -> Int64 { seconds - ((seconds % 3600) + 3600) % 3600 }
}

/// Counts flushed together, under an id that makes a second delivery of the same batch a
/// no-op: a replica's batch may reach the leader twice (written, then the leader died
/// before acknowledging it).
public struct CountBatch: Sendable, Hashable {
    public var id: String
    public var counts: [CountKey: UInt64]

    public init(id: String = UUID().uuidString.lowercased(), counts: [CountKey: UInt64]) {
        self.id = id
        self.counts = counts
    }

    public var total: UInt64 { counts.values.reduce(0, &+) }

    /// `{"id": …, "counts": [[project, environment, flag, variant, reason, version, hour, count], …]}`,
    /// how a replica hands a batch to the leader through Redis.
    public var json: [UInt8] {
        let rows = counts.sorted { $0.key.hour < $1.key.hour }.map { key, count in
            Value.array([
                .string(key.project), .string(key.environment), .string(key.flag), .string(key.variant),
                .string(key.reason), .string(key.version), .int(key.hour),
                .int(Int64(clamping: count)),
            ])
        }
        return CanonicalJSON.encodeBytes(.object(["id": .string(id), "counts": .array(rows)]))
    }

    /// Reads `json` back; nil for anything else (a foreign or damaged stream entry).
    public init?(json bytes: [UInt8]) {
        guard let value = try? JSONParser.parse(bytes: bytes, limits: StoredJSON.limits),
            case .object(let members) = value, case .string(let id)? = members["id"],
            case .array(let rows)? = members["counts"]
        else { return nil }
        var counts: [CountKey: UInt64] = [:]
        for row in rows {
            guard case .array(let fields) = row, fields.count == 8,
                case .string(let project) = fields[0], case .string(let environment) = fields[1],
                case .string(let flag) = fields[2], case .string(let variant) = fields[3],
                case .string(let reason) = fields[4], case .string(let version) = fields[5],
                case .int(let hour) = fields[6], case .int(let count) = fields[7],
                count >= 0
            else { return nil }
            let key = CountKey(
                project: project, environment: environment, flag: flag, variant: variant, reason: reason,
                version: version, hour: hour)
            counts[key, default: 0] += UInt64(count)
        }
        self.init(id: id, counts: counts)
    }
}

/// One sampled evaluation, as `evaluation_events` stores it.
public struct EvaluationEventRow: Sendable, Hashable {
    /// Unix seconds with fraction.
    public var time: Double
    public var project: String
    public var environment: String
    public var flag: String
    public var variant: String
    public var reason: String
    public var version: String
    /// Already hashed unless the manifest keeps it plain.
    public var targetingKey: String?
    /// Canonical JSON of the kept attributes; nil when none are kept.
    public var context: String?

    public init(
        time: Double, project: String, environment: String, flag: String, variant: String, reason: String,
        version: String, targetingKey: String?, context: String?
    ) {
        self.time = time
        self.project = project
        self.environment = environment
        self.flag = flag
        self.variant = variant
        self.reason = reason
        self.version = version
        self.targetingKey = targetingKey
        self.context = context
    }
}

/// One OpenFeature tracking event (a conversion), as `tracking_events` stores it.
public struct TrackingEventRow: Sendable, Hashable {
    public var time: Double
    public var project: String
    public var environment: String
    public var name: String
    public var targetingKey: String?
    public var value: Double?
    /// Canonical JSON.
    public var details: String?
    public var context: String?

    public init(
        time: Double, project: String, environment: String, name: String, targetingKey: String?, value: Double?,
        details: String?, context: String?
    ) {
        self.time = time
        self.project = project
        self.environment = environment
        self.name = name
        self.targetingKey = targetingKey
        self.value = value
        self.details = details
        self.context = context
    }
}

/// The hourly or daily usage of one flag: one row per bucket, variant and reason.
public struct UsageBucket: Sendable, Hashable {
    public var start: Date
    public var variant: String
    public var reason: String
    public var count: Int64

    public init(start: Date, variant: String, reason: String, count: Int64) {
        self.start = start
        self.variant = variant
        self.reason = reason
        self.count = count
    }
}

/// When one flag served one variant first and last (hours), and how often in all.
public struct FlagActivity: Sendable, Hashable {
    public var flag: String
    public var variant: String
    public var firstSeen: Date
    public var lastSeen: Date
    public var count: Int64

    public init(flag: String, variant: String, firstSeen: Date, lastSeen: Date, count: Int64) {
        self.flag = flag
        self.variant = variant
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.count = count
    }
}

/// Per variant of an experiment: distinct users exposed, their exposures counted once per
/// user and day, and how many of them converted (a tracking event at or after their first
/// exposure).
public struct ExposureCounts: Sendable, Hashable {
    public var variant: String
    public var users: Int64
    public var exposures: Int64
    public var converted: Int64

    public init(variant: String, users: Int64, exposures: Int64, converted: Int64) {
        self.variant = variant
        self.users = users
        self.exposures = exposures
        self.converted = converted
    }
}

public enum UsageGranularity: String, Sendable, CaseIterable {
    case hour, day
}

/// Evaluation counts, events and the reports read from them.
///
/// Wraps one connection; like it, one caller at a time, and every call blocks.
public struct AnalyticsStore: Sendable {
    let connection: PostgresConnection

    public init(connection: PostgresConnection) {
        self.connection = connection
    }

    // MARK: Counts

    /// Adds `batch` to the hourly counts and to `flag_activity` in one statement, unless a
    /// batch with its id was added before. Returns whether it was added now. Counts of an
    /// environment this database does not know are left out (a replica serving a project the
    /// leader has never synced).
    @discardableResult
    public func add(_ batch: CountBatch) throws(StoreError) -> Bool {
        if batch.counts.isEmpty { return false }
        let rows = Value.array(
            batch.counts.map { key, count in
                Value.object([
                    "p": .string(key.project), "e": .string(key.environment), "f": .string(key.flag),
                    "v": .string(key.variant), "r": .string(key.reason), "s": .string(key.version),
                    "h": .int(key.hour), "n": .int(Int64(clamping: count)),
                ])
            })
        return try StoreError.during("add evaluation counts") { () throws(StoreError) -> Bool in
            let row = try connection.row(
                """
                WITH batch AS (
                    INSERT INTO analytics_batches (id) VALUES ($1) ON CONFLICT (id) DO NOTHING RETURNING id
                ), counted AS (
                    SELECT e.id AS environment_id, u.f, u.v, u.r, u.s, to_timestamp(u.h) AS hour, u.n
                    FROM batch, jsonb_to_recordset($2::jsonb) AS u(p text, e text, f text, v text, r text, s text,
                        h bigint, n bigint)
                    JOIN projects p ON p.key = u.p
                    JOIN environments e ON e.project_id = p.id AND e.key = u.e
                ), added AS (
                    INSERT INTO evaluation_counts (environment_id, flag_key, variant, reason, version, window_start, count)
                    SELECT environment_id, f, v, r, s, hour, n FROM counted
                    ON CONFLICT (environment_id, flag_key, window_start, variant, reason, version)
                    DO UPDATE SET count = evaluation_counts.count + EXCLUDED.count
                    RETURNING 1
                ), active AS (
                    INSERT INTO flag_activity (environment_id, flag_key, variant, first_seen, last_seen, count)
                    SELECT environment_id, f, v, min(hour), max(hour), sum(n) FROM counted GROUP BY environment_id, f, v
                    ON CONFLICT (environment_id, flag_key, variant) DO UPDATE SET
                        first_seen = least(flag_activity.first_seen, EXCLUDED.first_seen),
                        last_seen = greatest(flag_activity.last_seen, EXCLUDED.last_seen),
                        count = flag_activity.count + EXCLUDED.count
                    RETURNING 1
                )
                SELECT (SELECT count(*) FROM batch), (SELECT count(*) FROM added), (SELECT count(*) FROM active)
                """,
                [batch.id, SQLParameter.json(rows)])
            return try row.int64(0) == 1
        }
    }

    /// Forgets batch ids older than `date`: a batch is redelivered within seconds, not days.
    public func forgetBatches(before date: Date) throws(StoreError) {
        try StoreError.during("forget old analytics batches") { () throws(StoreError) in
            try connection.query(
                "DELETE FROM analytics_batches WHERE applied_at < to_timestamp($1::double precision)",
                [SQLParameter.epoch(date)])
        }
    }

    /// The total of every count of `flag` in (project, environment), for checks and tests.
    public func totalCount(project: String, environment: String, flag: String) throws(StoreError) -> Int64 {
        try StoreError.during("read a flag's total count") { () throws(StoreError) -> Int64 in
            try connection.row(
                """
                SELECT coalesce(sum(c.count), 0)::bigint FROM evaluation_counts c
                JOIN environments e ON e.id = c.environment_id JOIN projects p ON p.id = e.project_id
                WHERE p.key = $1 AND e.key = $2 AND c.flag_key = $3
                """, [project, environment, flag]
            ).int64(0)
        }
    }

    // MARK: Events

    /// Makes sure `table` (`evaluation_events` or `tracking_events`) has the partition of the
    /// UTC day holding `seconds`.
    public func ensurePartition(_ table: String, day seconds: Int64) throws(StoreError) {
        try StoreError.during("create an event partition") { () throws(StoreError) in
            try connection.query(
                "SELECT flagstaff_event_partition($1, (to_timestamp($2::bigint) AT TIME ZONE 'UTC')::date)",
                [table, String(seconds)])
        }
    }

    /// Drops the partitions of both event tables for days before the UTC day holding
    /// `date`; returns the names of those dropped.
    @discardableResult
    public func dropPartitions(before date: Date) throws(StoreError) -> [String] {
        try StoreError.during("drop old event partitions") { () throws(StoreError) -> [String] in
            try connection.rows(
                """
                SELECT flagstaff_drop_event_partitions((to_timestamp($1::double precision) AT TIME ZONE 'UTC')::date)
                """, [SQLParameter.epoch(date)]
            ).map { row throws(StoreError) in try row.string(0) }
        }
    }

    /// The partitions that exist, both tables, sorted.
    public func partitions() throws(StoreError) -> [String] {
        try StoreError.during("list event partitions") { () throws(StoreError) -> [String] in
            try connection.rows(
                """
                SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                JOIN pg_class p ON p.oid = i.inhparent
                WHERE p.relname IN ('evaluation_events', 'tracking_events') ORDER BY c.relname
                """
            ).map { row throws(StoreError) in try row.string(0) }
        }
    }

    /// The ids of every (project, environment) this database knows.
    public func environmentIDs() throws(StoreError) -> [EnvironmentName: Int64] {
        try StoreError.during("read environment ids") { () throws(StoreError) -> [EnvironmentName: Int64] in
            var ids: [EnvironmentName: Int64] = [:]
            for row in try connection.rows(
                "SELECT p.key, e.key, e.id FROM environments e JOIN projects p ON p.id = e.project_id")
            {
                ids[EnvironmentName(project: try row.string(0), environment: try row.string(1))] = try row.int64(2)
            }
            return ids
        }
    }

    /// Writes evaluation events with one COPY. Rows must fall in days whose partitions exist
    /// and name environments in `ids`; others are skipped (and counted in the result).
    public func copy(_ events: [EvaluationEventRow], ids: [EnvironmentName: Int64]) throws(StoreError) -> Int {
        var data: [UInt8] = []
        data.reserveCapacity(events.count * 160)
        var skipped = 0
        for event in events {
            guard let id = ids[EnvironmentName(project: event.project, environment: event.environment)] else {
                skipped += 1
                continue
            }
            CopyText.timestamp(event.time, into: &data)
            CopyText.field(String(id), into: &data)
            CopyText.field(event.flag, into: &data)
            CopyText.field(event.variant, into: &data)
            CopyText.field(event.reason, into: &data)
            CopyText.field(event.version, into: &data)
            CopyText.field(event.targetingKey, into: &data)
            CopyText.field(event.context, into: &data, last: true)
        }
        if data.isEmpty { return skipped }
        try StoreError.during("write evaluation events") { () throws(StoreError) in
            try connection.copyIn(
                """
                COPY evaluation_events (occurred_at, environment_id, flag_key, variant, reason, version, targeting_key,
                    context) FROM STDIN
                """, data: data)
        }
        return skipped
    }

    /// Writes tracking events with one COPY; as `copy(_:ids:)` for evaluation events.
    public func copy(_ events: [TrackingEventRow], ids: [EnvironmentName: Int64]) throws(StoreError) -> Int {
        var data: [UInt8] = []
        var skipped = 0
        for event in events {
            guard let id = ids[EnvironmentName(project: event.project, environment: event.environment)] else {
                skipped += 1
                continue
            }
            CopyText.timestamp(event.time, into: &data)
            CopyText.field(String(id), into: &data)
            CopyText.field(event.name, into: &data)
            CopyText.field(event.targetingKey, into: &data)
            CopyText.field(event.value.map { String($0) }, into: &data)
            CopyText.field(event.details, into: &data)
            CopyText.field(event.context, into: &data, last: true)
        }
        if data.isEmpty { return skipped }
        try StoreError.during("write tracking events") { () throws(StoreError) in
            try connection.copyIn(
                "COPY tracking_events (occurred_at, environment_id, name, targeting_key, value, details, context) FROM STDIN",
                data: data)
        }
        return skipped
    }

    // MARK: Reports

    /// The counts of `flag` from `from` (inclusive) to `to` (exclusive), summed per hour or
    /// day (UTC), variant and reason, in time order.
    public func usage(
        project: String, environment: String, flag: String, from: Date, to: Date, granularity: UsageGranularity
    ) throws(StoreError) -> [UsageBucket] {
        try StoreError.during("read a flag's usage") { () throws(StoreError) -> [UsageBucket] in
            try connection.rows(
                """
                SELECT extract(epoch FROM date_trunc($4, c.window_start AT TIME ZONE 'UTC'))::bigint AS bucket,
                    c.variant, c.reason, sum(c.count)::bigint
                FROM evaluation_counts c
                JOIN environments e ON e.id = c.environment_id JOIN projects p ON p.id = e.project_id
                WHERE p.key = $1 AND e.key = $2 AND c.flag_key = $3
                    AND c.window_start >= to_timestamp($5::double precision)
                    AND c.window_start < to_timestamp($6::double precision)
                GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
                """,
                [project, environment, flag, granularity.rawValue, SQLParameter.epoch(from), SQLParameter.epoch(to)]
            ).map { row throws(StoreError) in
                UsageBucket(
                    start: Date(timeIntervalSince1970: Double(try row.int64(0))), variant: try row.string(1),
                    reason: try row.string(2), count: try row.int64(3))
            }
        }
    }

    /// Every flag and variant ever counted in (project, environment).
    public func activity(project: String, environment: String) throws(StoreError) -> [FlagActivity] {
        try StoreError.during("read flag activity") { () throws(StoreError) -> [FlagActivity] in
            try connection.rows(
                """
                SELECT a.flag_key, a.variant, extract(epoch FROM a.first_seen)::bigint,
                    extract(epoch FROM a.last_seen)::bigint, a.count
                FROM flag_activity a
                JOIN environments e ON e.id = a.environment_id JOIN projects p ON p.id = e.project_id
                WHERE p.key = $1 AND e.key = $2 ORDER BY a.flag_key, a.variant
                """, [project, environment]
            ).map { row throws(StoreError) in
                FlagActivity(
                    flag: try row.string(0), variant: try row.string(1),
                    firstSeen: Date(timeIntervalSince1970: Double(try row.int64(2))),
                    lastSeen: Date(timeIntervalSince1970: Double(try row.int64(3))), count: try row.int64(4))
            }
        }
    }

    /// Per variant of `flag`, from its evaluation events between `from` and `to`: users
    /// exposed (by targeting key), exposures (user-days) and users with a tracking event
    /// named `event` at or after their first exposure and before `to`. Events without a
    /// targeting key cannot be attributed and are left out.
    public func exposures(
        project: String, environment: String, flag: String, event: String, from: Date, to: Date
    ) throws(StoreError) -> [ExposureCounts] {
        try StoreError.during("read experiment exposures") { () throws(StoreError) -> [ExposureCounts] in
            try connection.rows(
                """
                WITH env AS (
                    SELECT e.id FROM environments e JOIN projects p ON p.id = e.project_id
                    WHERE p.key = $1 AND e.key = $2
                ), exposed AS (
                    SELECT x.variant, x.targeting_key, min(x.occurred_at) AS first_seen,
                        count(DISTINCT (x.occurred_at AT TIME ZONE 'UTC')::date) AS days
                    FROM evaluation_events x, env
                    WHERE x.environment_id = env.id AND x.flag_key = $3 AND x.targeting_key IS NOT NULL
                        AND x.variant <> ''
                        AND x.occurred_at >= to_timestamp($5::double precision)
                        AND x.occurred_at < to_timestamp($6::double precision)
                    GROUP BY x.variant, x.targeting_key
                ), conversions AS (
                    -- Per user, the last conversion in the period: they converted after their first
                    -- exposure to a variant if it is at or after that exposure.
                    SELECT t.targeting_key, max(t.occurred_at) AS last_at
                    FROM tracking_events t, env
                    WHERE t.environment_id = env.id AND t.name = $4 AND t.targeting_key IS NOT NULL
                        AND t.occurred_at >= to_timestamp($5::double precision)
                        AND t.occurred_at < to_timestamp($6::double precision)
                    GROUP BY t.targeting_key
                ), marked AS (
                    -- Exposures and conversions side by side, matched by a window over the user
                    -- rather than a join: a join's plan depends on statistics that a fresh partition
                    -- lacks, and a nested loop there took a minute for 40,000 users.
                    SELECT variant, days, first_seen, max(last_at) OVER (PARTITION BY targeting_key) AS converted_at
                    FROM (
                        SELECT variant, targeting_key, first_seen, days, NULL::timestamptz AS last_at FROM exposed
                        UNION ALL
                        SELECT NULL, targeting_key, NULL, 0, last_at FROM conversions
                    ) AS both_kinds
                )
                SELECT variant, count(*), sum(days)::bigint, count(*) FILTER (WHERE converted_at >= first_seen)
                FROM marked WHERE variant IS NOT NULL
                GROUP BY variant ORDER BY variant
                """,
                [project, environment, flag, event, SQLParameter.epoch(from), SQLParameter.epoch(to)]
            ).map { row throws(StoreError) in
                ExposureCounts(
                    variant: try row.string(0), users: try row.int64(1), exposures: try row.int64(2),
                    converted: try row.int64(3))
            }
        }
    }
}

/// A (project, environment) by keys, as analytics rows name it.
public struct EnvironmentName: Sendable, Hashable {
    public var project: String
    public var environment: String

    public init(project: String, environment: String) {
        self.project = project
        self.environment = environment
    }
}

/// PostgreSQL's COPY text format: tab-separated fields, `\N` for NULL, backslash escapes.
enum CopyText {
    static func field(_ value: String?, into data: inout [UInt8], last: Bool = false) {
        if let value {
            for byte in value.utf8 {
                switch byte {
                case UInt8(ascii: "\\"): data.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
                case UInt8(ascii: "\t"): data.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
                case UInt8(ascii: "\n"): data.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
                case UInt8(ascii: "\r"): data.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
                case 0: continue
                default: data.append(byte)
                }
            }
        } else {
            data.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "N")])
        }
        data.append(last ? UInt8(ascii: "\n") : UInt8(ascii: "\t"))
    }

    /// Unix seconds as `YYYY-MM-DD hh:mm:ss.ffffff+00`, which COPY reads as a timestamptz,
    /// written digit by digit (this runs once per event).
    static func timestamp(_ seconds: Double, into data: inout [UInt8]) {
        let whole = Int64(seconds.rounded(.down))
        let micros = min(999_999, Int64(((seconds - Double(whole)) * 1_000_000).rounded(.down)))
        let days = whole >= 0 ? whole / 86_400 : (whole - 86_399) / 86_400
        let secondOfDay = whole - days * 86_400
        let (year, month, day) = civil(fromDays: days)
        digits(year, 4, &data)
        data.append(UInt8(ascii: "-"))
        digits(month, 2, &data)
        data.append(UInt8(ascii: "-"))
        digits(day, 2, &data)
        data.append(UInt8(ascii: " "))
        digits(secondOfDay / 3600, 2, &data)
        data.append(UInt8(ascii: ":"))
        digits(secondOfDay / 60 % 60, 2, &data)
        data.append(UInt8(ascii: ":"))
        digits(secondOfDay % 60, 2, &data)
        data.append(UInt8(ascii: "."))
        digits(micros, 6, &data)
        data.append(contentsOf: [UInt8(ascii: "+"), UInt8(ascii: "0"), UInt8(ascii: "0"), UInt8(ascii: "\t")])
    }

    /// `value` (0 or more) in decimal, zero-padded to `width` digits.
    private static func digits(_ value: Int64, _ width: Int, _ data: inout [UInt8]) {
        var buffer: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var rest = max(0, value)
        withUnsafeMutableBytes(of: &buffer) { bytes in
            repeat {
                bytes[count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            } while rest > 0 && count < 12
            while count < width {
                bytes[count] = UInt8(ascii: "0")
                count += 1
            }
            for i in stride(from: count - 1, through: 0, by: -1) { data.append(bytes[i]) }
        }
    }

    /// Howard Hinnant's days-from-civil inverse: the proleptic Gregorian date of a day count.
    private static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }
}

/// Events handed from a replica without PostgreSQL to the leader through Redis, under an id
/// that makes a second delivery a no-op.
public struct EventBatch: Sendable, Hashable {
    public var id: String
    public var evaluations: [EvaluationEventRow]
    public var tracking: [TrackingEventRow]

    public init(
        id: String = UUID().uuidString.lowercased(), evaluations: [EvaluationEventRow], tracking: [TrackingEventRow]
    ) {
        self.id = id
        self.evaluations = evaluations
        self.tracking = tracking
    }

    public var count: Int { evaluations.count + tracking.count }

    public var json: [UInt8] {
        func text(_ value: String?) -> Value { value.map(Value.string) ?? .null }
        let evaluations = self.evaluations.map { e in
            Value.array([
                .double(e.time), .string(e.project), .string(e.environment), .string(e.flag), .string(e.variant),
                .string(e.reason), .string(e.version), text(e.targetingKey), text(e.context),
            ])
        }
        let tracking = self.tracking.map { t in
            Value.array([
                .double(t.time), .string(t.project), .string(t.environment), .string(t.name), text(t.targetingKey),
                t.value.map(Value.double) ?? .null, text(t.details), text(t.context),
            ])
        }
        return CanonicalJSON.encodeBytes(
            .object(["id": .string(id), "evaluations": .array(evaluations), "tracking": .array(tracking)]))
    }

    public init?(json bytes: [UInt8]) {
        guard let value = try? JSONParser.parse(bytes: bytes, limits: StoredJSON.limits),
            case .object(let members) = value, case .string(let id)? = members["id"],
            case .array(let evaluationRows)? = members["evaluations"], case .array(let trackingRows)? = members["tracking"]
        else { return nil }
        func number(_ value: Value) -> Double? {
            switch value {
            case .double(let d): d
            case .int(let i): Double(i)
            default: nil
            }
        }
        func text(_ value: Value) -> String?? {
            switch value {
            case .string(let s): .some(s)
            case .null: .some(nil)
            default: nil
            }
        }
        var evaluations: [EvaluationEventRow] = []
        for row in evaluationRows {
            guard case .array(let f) = row, f.count == 9, let time = number(f[0]),
                case .string(let project) = f[1], case .string(let environment) = f[2], case .string(let flag) = f[3],
                case .string(let variant) = f[4], case .string(let reason) = f[5], case .string(let version) = f[6],
                let key = text(f[7]), let context = text(f[8])
            else { return nil }
            evaluations.append(
                EvaluationEventRow(
                    time: time, project: project, environment: environment, flag: flag, variant: variant,
                    reason: reason, version: version, targetingKey: key, context: context))
        }
        var tracking: [TrackingEventRow] = []
        for row in trackingRows {
            guard case .array(let f) = row, f.count == 8, let time = number(f[0]),
                case .string(let project) = f[1], case .string(let environment) = f[2], case .string(let name) = f[3],
                let key = text(f[4]), let details = text(f[6]), let context = text(f[7])
            else { return nil }
            let value: Double? = f[5] == .null ? nil : number(f[5])
            tracking.append(
                TrackingEventRow(
                    time: time, project: project, environment: environment, name: name, targetingKey: key,
                    value: value, details: details, context: context))
        }
        self.init(id: id, evaluations: evaluations, tracking: tracking)
    }
}

extension AnalyticsStore {
    /// Writes a batch of events (both tables) in one transaction, so that a batch retried after
    /// a failure was written wholly or not at all. Returns how many named an unknown environment.
    @discardableResult
    public func write(_ batch: EventBatch, ids: [EnvironmentName: Int64]) throws(StoreError) -> Int {
        try connection.transaction { () throws(StoreError) -> Int in
            try copy(batch.evaluations, ids: ids) + copy(batch.tracking, ids: ids)
        }
    }

    /// Writes a batch of events in one transaction with its id, unless that id was written
    /// before; returns whether it was written now. Partitions for its days must exist.
    @discardableResult
    public func add(_ batch: EventBatch, ids: [EnvironmentName: Int64]) throws(StoreError) -> Bool {
        try connection.transaction { () throws(StoreError) -> Bool in
            let fresh = try connection.rows(
                "INSERT INTO analytics_batches (id) VALUES ($1) ON CONFLICT (id) DO NOTHING RETURNING id", [batch.id])
            guard !fresh.isEmpty else { return false }
            _ = try copy(batch.evaluations, ids: ids)
            _ = try copy(batch.tracking, ids: ids)
            return true
        }
    }
}
