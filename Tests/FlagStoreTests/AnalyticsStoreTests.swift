import FlagModel
import FlagStore
import Foundation
import Testing

@Suite("Analytics tables")
struct AnalyticsStoreTests {
    /// A migrated database with one environment, shop/production.
    static func database() throws -> (url: String, connection: PostgresConnection) {
        let url = try TestDatabase.create()
        let connection = try PostgresConnection(url: url)
        _ = try Migrator(directory: TestDatabase.migrations).migrate(connection)
        try connection.execute(
            script: """
                INSERT INTO organizations (key, name) VALUES ('acme', 'acme');
                INSERT INTO projects (organization_id, key, name) VALUES (1, 'shop', 'shop');
                INSERT INTO environments (project_id, key, name, branch, production) VALUES (1, 'production', 'production', 'main', true);
                """)
        return (url, connection)
    }

    static func key(_ flag: String, _ variant: String, hour: Int64) -> CountKey {
        CountKey(
            project: "shop", environment: "production", flag: flag, variant: variant, reason: "SPLIT",
            version: "sha256:v1", hour: hour)
    }

    @Test func theMigrationRenamesTheSeedsCountsTableAndKeepsItsRows() throws {
        let url = try TestDatabase.create()
        let connection = try PostgresConnection(url: url)
        let all = try Migrator(directory: TestDatabase.migrations).migrations
        let before = all.filter { $0.version < "006" }
        #expect(before.count == 5)
        _ = try Migrator(migrations: before).migrate(connection)
        try connection.execute(
            script: """
                INSERT INTO organizations (key, name) VALUES ('acme', 'acme');
                INSERT INTO projects (organization_id, key, name) VALUES (1, 'shop', 'shop');
                INSERT INTO environments (project_id, key, name, branch) VALUES (1, 'production', 'production', 'main');
                INSERT INTO evaluation_events (environment_id, flag_key, variant, reason, count, window_start) VALUES
                    (1, 'checkout', 'on', 'SPLIT', 5, '2026-11-01 10:00+00'),
                    (1, 'checkout', NULL, 'ERROR', 2, '2026-11-01 10:00+00'),
                    (1, 'checkout', NULL, 'ERROR', 3, '2026-11-01 10:00+00');
                """)
        _ = try Migrator(migrations: all).migrate(connection)
        let rows = try connection.query(
            "SELECT flag_key, variant, reason, count, version FROM evaluation_counts ORDER BY variant")
        #expect(rows == [["checkout", "", "ERROR", "5", ""], ["checkout", "on", "SPLIT", "5", ""]])
        #expect(
            try connection.query("SELECT relkind FROM pg_class WHERE relname = 'evaluation_events'") == [["p"]],
            "evaluation_events is now the partitioned table of single evaluations")
    }

    @Test func aBatchIsCountedOnceAndAddsToWhatIsThere() throws {
        let (_, connection) = try Self.database()
        let store = AnalyticsStore(connection: connection)
        let hour = CountKey.hour(of: 1_796_000_000)
        let batch = CountBatch(counts: [Self.key("checkout", "on", hour: hour): 7, Self.key("checkout", "off", hour: hour): 3])
        #expect(try store.add(batch))
        #expect(try !store.add(batch), "the same batch id a second time adds nothing")
        #expect(try store.add(CountBatch(counts: [Self.key("checkout", "on", hour: hour): 5])))
        #expect(try store.totalCount(project: "shop", environment: "production", flag: "checkout") == 15)
        let activity = try store.activity(project: "shop", environment: "production")
        #expect(activity.map(\.variant) == ["off", "on"])
        #expect(activity.map(\.count) == [3, 12])
        // A batch that went through JSON (the stream) is the same batch.
        #expect(CountBatch(json: batch.json) == batch)
        #expect(CountBatch(json: Array("not json".utf8)) == nil)
    }

    @Test func eventsAreCopiedIntoDailyPartitionsAndOldPartitionsAreDropped() throws {
        let (_, connection) = try Self.database()
        let store = AnalyticsStore(connection: connection)
        let now = Date()
        let today = Int64(now.timeIntervalSince1970)
        let old = today - 40 * 86_400
        for day in [old, today] {
            try store.ensurePartition("evaluation_events", day: day)
            try store.ensurePartition("tracking_events", day: day)
        }
        let ids = try store.environmentIDs()
        let awkward = "tab\there, newline\nthere, backslash \\ and quote \""
        let skipped = try store.copy(
            [
                EvaluationEventRow(
                    time: Double(today) + 0.25, project: "shop", environment: "production", flag: "checkout",
                    variant: "on", reason: "SPLIT", version: "sha256:v1", targetingKey: "abc",
                    context: #"{"plan":"pro"}"#),
                EvaluationEventRow(
                    time: Double(old), project: "shop", environment: "production", flag: "checkout", variant: "",
                    reason: "ERROR", version: "sha256:v1", targetingKey: nil, context: nil),
                EvaluationEventRow(
                    time: Double(today), project: "elsewhere", environment: "production", flag: "checkout",
                    variant: "on", reason: "SPLIT", version: "sha256:v1", targetingKey: nil, context: nil),
            ], ids: ids)
        #expect(skipped == 1, "an environment the database does not know is skipped")
        _ = try store.copy(
            [
                TrackingEventRow(
                    time: Double(today), project: "shop", environment: "production", name: awkward, targetingKey: "abc",
                    value: 42.5, details: #"{"currency":"EUR"}"#, context: nil)
            ], ids: ids)
        #expect(try connection.query("SELECT count(*) FROM evaluation_events") == [["2"]])
        #expect(try connection.query("SELECT name, value FROM tracking_events") == [[awkward, "42.5"]])
        #expect(
            try connection.query("SELECT context->>'plan', targeting_key FROM evaluation_events WHERE variant = 'on'")
                == [["pro", "abc"]])

        let dropped = try store.dropPartitions(before: now.addingTimeInterval(-30 * 86_400))
        #expect(dropped.count == 2)
        #expect(dropped.allSatisfy { $0.hasSuffix(Self.dayName(old)) })
        #expect(try store.partitions().allSatisfy { $0.hasSuffix(Self.dayName(today)) })
        #expect(try connection.query("SELECT count(*) FROM evaluation_events") == [["1"]])
    }

    @Test func anEventBatchSurvivesJSONAndIsWrittenOnce() throws {
        let (_, connection) = try Self.database()
        let store = AnalyticsStore(connection: connection)
        let now = Date().timeIntervalSince1970
        try store.ensurePartition("evaluation_events", day: Int64(now))
        try store.ensurePartition("tracking_events", day: Int64(now))
        let batch = EventBatch(
            evaluations: [
                EvaluationEventRow(
                    time: now, project: "shop", environment: "production", flag: "checkout", variant: "on",
                    reason: "SPLIT", version: "sha256:v1", targetingKey: "k", context: nil)
            ],
            tracking: [
                TrackingEventRow(
                    time: now, project: "shop", environment: "production", name: "bought", targetingKey: "k",
                    value: nil, details: nil, context: #"{"plan":"pro"}"#)
            ])
        let decoded = try #require(EventBatch(json: batch.json))
        #expect(decoded == batch)
        let ids = try store.environmentIDs()
        #expect(try store.add(decoded, ids: ids))
        #expect(try !store.add(decoded, ids: ids))
        #expect(try connection.query("SELECT (SELECT count(*) FROM evaluation_events), (SELECT count(*) FROM tracking_events)") == [["1", "1"]])
    }

    static func dayName(_ seconds: Int64) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd"
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: Double(seconds)))
    }
}
