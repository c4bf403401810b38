import FlagStore
import Foundation
import Testing

/// A database of its own on the PostgreSQL that scripts/test.sh starts.
enum TestDatabase {
    static var adminURL: String? { ProcessInfo.processInfo.environment["FLAGSTAFF_TEST_POSTGRES_URL"] }

    static let migrations: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("schemas/postgres").path

    /// Creates an empty database and returns its URL.
    static func create() throws -> String {
        guard let adminURL else {
            Issue.record("FLAGSTAFF_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh")
            throw StoreError("test setup", message: "no PostgreSQL")
        }
        let name = "test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try PostgresConnection(url: adminURL).query("CREATE DATABASE \(name)")
        let base = adminURL[..<adminURL.lastIndex(of: "/")!]
        return base + "/" + name
    }
}

@Suite("PostgreSQL migrations")
struct MigratorTests {
    @Test func appliesEveryMigrationOnceAndCreatesTheStateTables() throws {
        let url = try TestDatabase.create()
        let connection = try PostgresConnection(url: url)
        let migrator = try Migrator(directory: TestDatabase.migrations)
        #expect(!migrator.migrations.isEmpty)
        let applied = try migrator.migrate(connection)
        #expect(applied == migrator.migrations.map(\.version))
        #expect(try migrator.migrate(connection).isEmpty, "a second run applies nothing")
        let tables = Set(
            try connection.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
                .compactMap { $0[0] })
        for table in [
            "organizations", "projects", "environments", "feature_flags", "flag_configurations", "segments",
            "api_keys", "evaluation_events", "audit_logs", "snapshots", "outbox", "sync_status", "schema_migrations",
        ] {
            #expect(tables.contains(table), "missing table \(table)")
        }
    }

    @Test func concurrentMigratorsApplyEachVersionOnce() async throws {
        let url = try TestDatabase.create()
        let migrator = try Migrator(directory: TestDatabase.migrations)
        async let a = Task.detached { try migrator.migrate(try PostgresConnection(url: url)) }.value
        async let b = Task.detached { try migrator.migrate(try PostgresConnection(url: url)) }.value
        let (first, second) = try await (a, b)
        #expect((first + second).sorted() == migrator.migrations.map(\.version).sorted())
        let rows = try PostgresConnection(url: url).query("SELECT count(*) FROM schema_migrations")
        #expect(rows.first?.first == String(migrator.migrations.count))
    }

    @Test func aFailingMigrationLeavesNothingBehindAndSaysWhich() throws {
        let url = try TestDatabase.create()
        let connection = try PostgresConnection(url: url)
        let migrator = Migrator(migrations: [
            .init(version: "001_good", sql: "CREATE TABLE good (id INT);"),
            .init(version: "002_bad", sql: "CREATE TABLE half (id INT); SELECT no_such_function();"),
        ])
        do {
            try migrator.migrate(connection)
            Issue.record("a broken migration was applied")
        } catch {
            #expect("\(error)".contains("apply migration 002_bad"), "\(error)")
        }
        let tables = try connection.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
            .compactMap { $0[0] }
        #expect(tables.contains("good"))
        #expect(!tables.contains("half"), "the failed migration's statements were rolled back")
        #expect(try connection.query("SELECT version FROM schema_migrations").map { $0[0] } == ["001_good"])
    }

    @Test func theBinarysCopyOfTheMigrationsEqualsTheFiles() throws {
        let files = try Migrator(directory: TestDatabase.migrations).migrations
        let embedded = Migrator.builtIn.migrations
        #expect(embedded.map(\.version) == files.map(\.version), "run python3 scripts/embed-migrations.py")
        for (built, file) in zip(embedded, files) {
            #expect(Array(built.sql.utf8) == Array(file.sql.utf8), "\(file.version) differs: run scripts/embed-migrations.py")
        }
    }

    @Test func theDaemonRoleAppendsAuditRowsButCannotChangeThemWhateverItSets() throws {
        let owner = try TestDatabase.migrated()
        let role = "daemon_" + UUID().uuidString.prefix(8).lowercased()
        try owner.query("CREATE ROLE \(role) LOGIN IN ROLE flagstaff_writer")
        let daemon = try PostgresConnection(url: TestDatabase.url(try TestDatabase.url(of: owner), user: role))
        #expect(try daemon.scalar("SELECT current_user") == role)

        // Nothing to migrate: the daemon's start only reads, which its role may.
        #expect(try Migrator.builtIn.migrate(daemon).isEmpty)
        // A sync writes state, snapshots, outbox and audit rows.
        let store = SyncStore(connection: daemon)
        try store.apply(Fixtures.first, commit: "c1")
        #expect(try daemon.count("audit_logs") > 0)
        #expect(try daemon.count("snapshots") == 1)

        for sql in ["UPDATE audit_logs SET actor = 'Mallory'", "DELETE FROM audit_logs", "TRUNCATE audit_logs"] {
            do {
                try daemon.transaction { () throws(StoreError) in
                    try daemon.query("SET LOCAL flagstaff.allow_audit_tamper = on")
                    try daemon.query(sql)
                }
                Issue.record("the daemon's role could run: \(sql)")
            } catch {
                #expect(error.sqlState == "42501", "\(sql): \(error)")
                #expect(error.message.contains("permission denied"), "\(error)")
            }
        }
        // Nor can it change the schema or what the migrator recorded.
        for sql in [
            "DROP TRIGGER audit_logs_no_update_delete ON audit_logs", "DELETE FROM schema_migrations",
            "CREATE TABLE sneaky (id int)",
        ] {
            #expect(throws: StoreError.self, "\(sql)") { try daemon.query(sql) }
        }
        #expect(try AuditLog.verify(on: daemon).isValid)

        // Analytics: it adds counts, makes and drops event partitions (through the owner's
        // functions) and copies events, without being able to create tables itself.
        let analytics = AnalyticsStore(connection: daemon)
        let hour = CountKey.hour(of: Int64(Date().timeIntervalSince1970))
        #expect(try analytics.add(CountBatch(counts: [
            CountKey(project: "shop", environment: "production", flag: "checkout", variant: "on", reason: "SPLIT",
                     version: "v", hour: hour): 2,
        ])))
        try analytics.ensurePartition("evaluation_events", day: hour)
        try analytics.ensurePartition("evaluation_events", day: hour - 60 * 86_400)
        _ = try analytics.copy(
            [EvaluationEventRow(time: Double(hour), project: "shop", environment: "production", flag: "checkout",
                                variant: "on", reason: "SPLIT", version: "v", targetingKey: nil, context: nil)],
            ids: try analytics.environmentIDs())
        #expect(try daemon.count("evaluation_events") == 1)
        #expect(try analytics.dropPartitions(before: Date().addingTimeInterval(-30 * 86_400)).count == 1)
        #expect(throws: StoreError.self) { try daemon.query("SELECT flagstaff_event_partition('audit_logs', current_date)") }
    }

    @Test func aRoleThatCannotMigrateSaysSoWhenMigrationsArePending() throws {
        let url = try TestDatabase.create()
        let owner = try PostgresConnection(url: url)
        try Migrator.builtIn.migrate(owner)
        let role = "daemon_" + UUID().uuidString.prefix(8).lowercased()
        try owner.query("CREATE ROLE \(role) LOGIN IN ROLE flagstaff_writer")
        let daemon = try PostgresConnection(url: TestDatabase.url(url, user: role))
        let newer = Migrator(migrations: Migrator.embedded + [.init(version: "999_next", sql: "CREATE TABLE next (id int);")])
        #expect(try newer.pending(daemon) == ["999_next"])
        do {
            try newer.migrate(daemon)
            Issue.record("the daemon's role changed the schema")
        } catch let error as StoreError {
            #expect(error.sqlState == "42501", "\(error)")
            #expect(error.operation.contains("999_next"))
        }
    }

    @Test func anUnreachableDatabaseIsAClearError() {
        do {
            _ = try PostgresConnection(url: "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
            Issue.record("connected to a closed port")
        } catch {
            #expect(error.description.contains("connect to PostgreSQL"), "\(error)")
        }
    }
}
