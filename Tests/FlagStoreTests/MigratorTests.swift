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

    @Test func anUnreachableDatabaseIsAClearError() {
        do {
            _ = try PostgresConnection(url: "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
            Issue.record("connected to a closed port")
        } catch {
            #expect(error.description.contains("connect to PostgreSQL"), "\(error)")
        }
    }
}
