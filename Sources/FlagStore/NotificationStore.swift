import FlagModel
import Foundation

/// A notification to put in the outbox: what happened, where, and its details. The outbox
/// stores events, not bodies: each receiver's body (JSON or Slack) is made at delivery.
public struct NotificationDraft: Sendable, Hashable {
    /// `flags.changed`, `flag.killed`, `sync.rejected`, `schedule.step`… (docs/notifications.md).
    public var event: String
    public var project: String
    public var environment: String
    public var revision: Int64?
    public var version: String?
    public var commit: String?
    public var author: String?
    public var occurredAt: Date
    public var details: Value
    /// Unique among all notifications: a second insert with the same key adds nothing, so
    /// two daemons, or one that restarts, never announce the same thing twice.
    public var dedupeKey: String

    public init(
        event: String, project: String, environment: String, revision: Int64? = nil, version: String? = nil,
        commit: String? = nil, author: String? = nil, occurredAt: Date = Date(), details: Value = .object([:]),
        dedupeKey: String
    ) {
        self.event = event
        self.project = project
        self.environment = environment
        self.revision = revision
        self.version = version
        self.commit = commit
        self.author = author
        self.occurredAt = occurredAt
        self.details = details
        self.dedupeKey = dedupeKey
    }
}

/// A notification as the outbox holds it.
public struct StoredNotification: Sendable, Hashable {
    /// Orders notifications: within one environment, the order they happened in.
    public var id: Int64
    /// Unique across databases, so delivery ids made from it never repeat.
    public var uid: String
    public var draft: NotificationDraft

    public init(id: Int64, uid: String, draft: NotificationDraft) {
        self.id = id
        self.uid = uid
        self.draft = draft
    }
}

/// Which notifications a receiver wants; nil lists take everything.
public struct NotificationFilter: Sendable, Hashable {
    public var events: [String]?
    public var projects: [String]?
    public var environments: [String]?

    public init(events: [String]? = nil, projects: [String]? = nil, environments: [String]? = nil) {
        self.events = events
        self.projects = projects
        self.environments = environments
    }

    public func admits(_ draft: NotificationDraft) -> Bool {
        (events?.contains(draft.event) ?? true) && (projects?.contains(draft.project) ?? true)
            && (environments?.contains(draft.environment) ?? true)
    }
}

/// How one receiver is done with one notification.
public enum DeliveryState: String, Sendable, Hashable {
    /// The receiver answered 2xx.
    case delivered
    /// The receiver refused it (4xx other than 429): not retried.
    case failed
    /// Still not delivered when it grew older than the maximum age.
    case givenUp = "given_up"
}

/// A receiver's finished deliveries, for `/api/v1/status`.
public struct DeliveryCounts: Sendable, Hashable {
    public var pending = 0
    public var delivered = 0
    public var failed = 0
    public var givenUp = 0

    public init(pending: Int = 0, delivered: Int = 0, failed: Int = 0, givenUp: Int = 0) {
        self.pending = pending
        self.delivered = delivered
        self.failed = failed
        self.givenUp = givenUp
    }
}

/// The notification outbox in PostgreSQL (schema part 5). Wraps one connection: one caller
/// at a time, and every call blocks.
public struct NotificationStore: Sendable {
    let connection: PostgresConnection

    public init(connection: PostgresConnection) {
        self.connection = connection
    }

    /// Inserts the drafts whose dedupe key is new; returns how many were.
    @discardableResult
    public func insert(_ drafts: [NotificationDraft]) throws(StoreError) -> Int {
        try StoreError.during("record notifications") { () throws(StoreError) -> Int in
            try Self.insert(drafts, on: connection)
        }
    }

    /// The insert itself, for callers already in a transaction (the sync's).
    @discardableResult
    static func insert(_ drafts: [NotificationDraft], on connection: PostgresConnection) throws(StoreError) -> Int {
        var inserted = 0
        for draft in drafts {
            let rows = try connection.query(
                """
                INSERT INTO notifications (dedupe_key, event, project, environment, revision, version, commit_sha,
                    author, occurred_at, details)
                VALUES ($1, $2, $3, $4, $5::bigint, $6, $7, $8, to_timestamp($9::double precision), $10::jsonb)
                ON CONFLICT (dedupe_key) DO NOTHING RETURNING id
                """,
                [
                    draft.dedupeKey, draft.event, draft.project, draft.environment, draft.revision.map { String($0) },
                    draft.version, draft.commit, draft.author, SQLParameter.epoch(draft.occurredAt),
                    SQLParameter.json(draft.details),
                ])
            inserted += rows.count
        }
        return inserted
    }

    /// The receiver's row, made the first time it is seen: from then on, not before, the
    /// notifications are for it. Returns its id.
    public func register(fingerprint: String, name: String) throws(StoreError) -> Int64 {
        try StoreError.during("register notification receiver \(name)") { () throws(StoreError) -> Int64 in
            try connection.row(
                """
                INSERT INTO notification_receivers (fingerprint, name, since_id)
                VALUES ($1, $2, COALESCE((SELECT max(id) FROM notifications), 0))
                ON CONFLICT (fingerprint) DO UPDATE SET name = EXCLUDED.name RETURNING id
                """, [fingerprint, name]
            ).int64(0)
        }
    }

    /// The oldest notifications still pending for a receiver, oldest first.
    public func pending(receiver: Int64, filter: NotificationFilter, limit: Int) throws(StoreError)
        -> [StoredNotification]
    {
        try StoreError.during("read pending notifications") { () throws(StoreError) -> [StoredNotification] in
            try connection.rows(
                """
                SELECT n.id, n.uid::text, n.event, n.project, n.environment, n.revision, n.version, n.commit_sha,
                    n.author, extract(epoch FROM n.occurred_at), n.details::text, n.dedupe_key
                FROM notifications n \(Self.pendingCondition)
                ORDER BY n.id LIMIT \(max(1, limit))
                """, Self.parameters(receiver, filter)
            ).map { row throws(StoreError) in
                StoredNotification(
                    id: try row.int64(0), uid: try row.string(1),
                    draft: NotificationDraft(
                        event: try row.string(2), project: try row.string(3), environment: try row.string(4),
                        revision: try row.optionalInt64(5), version: row.optionalString(6),
                        commit: row.optionalString(7), author: row.optionalString(8), occurredAt: try row.date(9),
                        details: try StoredJSON.parse(try row.string(10)), dedupeKey: try row.string(11)))
            }
        }
    }

    /// Marks a notification done for a receiver. A second mark (another daemon, briefly
    /// also leader) changes nothing.
    public func record(
        notification: Int64, receiver: Int64, state: DeliveryState, attempts: Int, statusCode: Int?, error: String?
    ) throws(StoreError) {
        try StoreError.during("record a delivery") { () throws(StoreError) in
            try connection.query(
                """
                INSERT INTO notification_deliveries (notification_id, receiver_id, state, attempts, status_code, error)
                VALUES ($1::bigint, $2::bigint, $3, $4::integer, $5::integer, $6)
                ON CONFLICT (notification_id, receiver_id) DO NOTHING
                """,
                [
                    String(notification), String(receiver), state.rawValue, String(attempts),
                    statusCode.map { String($0) }, error,
                ])
        }
    }

    /// Pending, delivered, failed and given-up counts of one receiver.
    public func counts(receiver: Int64, filter: NotificationFilter) throws(StoreError) -> DeliveryCounts {
        try StoreError.during("count deliveries") { () throws(StoreError) -> DeliveryCounts in
            var counts = DeliveryCounts()
            counts.pending = Int(
                try connection.row(
                    "SELECT count(*) FROM notifications n \(Self.pendingCondition)", Self.parameters(receiver, filter)
                ).int64(0))
            for row in try connection.rows(
                "SELECT state, count(*) FROM notification_deliveries WHERE receiver_id = $1::bigint GROUP BY state",
                [String(receiver)])
            {
                let n = Int(try row.int64(1))
                switch DeliveryState(rawValue: try row.string(0)) {
                case .delivered: counts.delivered = n
                case .failed: counts.failed = n
                case .givenUp: counts.givenUp = n
                case nil: break
                }
            }
            return counts
        }
    }

    /// Deletes notifications older than `age` seconds, with their deliveries; they were
    /// delivered or given up long ago. Returns how many went.
    @discardableResult
    public func prune(olderThan age: Double) throws(StoreError) -> Int {
        try StoreError.during("prune old notifications") { () throws(StoreError) -> Int in
            try connection.query(
                "DELETE FROM notifications WHERE occurred_at < now() - make_interval(secs => $1::double precision) "
                    + "RETURNING 1", [String(age)]
            ).count
        }
    }

    /// Rows after the receiver's first sighting, admitted by its filter, not yet done with.
    /// Parameters: $1 receiver, $2 events, $3 projects, $4 environments (text arrays or NULL).
    private static let pendingCondition = """
        WHERE n.id > (SELECT since_id FROM notification_receivers WHERE id = $1::bigint)
            AND ($2::text[] IS NULL OR n.event = ANY ($2::text[]))
            AND ($3::text[] IS NULL OR n.project = ANY ($3::text[]))
            AND ($4::text[] IS NULL OR n.environment = ANY ($4::text[]))
            AND NOT EXISTS (
                SELECT 1 FROM notification_deliveries d WHERE d.notification_id = n.id AND d.receiver_id = $1::bigint)
        """

    private static func parameters(_ receiver: Int64, _ filter: NotificationFilter) -> [String?] {
        [String(receiver), array(filter.events), array(filter.projects), array(filter.environments)]
    }

    /// A `text[]` literal; every element quoted, so keys need no care.
    private static func array(_ values: [String]?) -> String? {
        values.map { list in
            "{" + list.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\")
                .replacingOccurrences(of: "\"", with: "\\\"") + "\"" }.joined(separator: ",") + "}"
        }
    }
}
