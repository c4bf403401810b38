import Foundation

/// Applies the SQL files of `schemas/postgres/` in name order, each once, each in its own
/// transaction, recording what it applied in `schema_migrations`. Concurrent migrators
/// (two daemons starting together) take turns on an advisory lock.
///
/// The binary carries its own copy (`Migrator.embedded`, generated from the files by
/// `scripts/embed-migrations.py`); a folder given with `--migrations` overrides it.
public struct Migrator: Sendable {
    public struct Migration: Sendable, Hashable {
        public var version: String
        public var sql: String

        public init(version: String, sql: String) {
            self.version = version
            self.sql = sql
        }
    }

    public let migrations: [Migration]

    public init(migrations: [Migration]) {
        self.migrations = migrations.sorted { $0.version < $1.version }
    }

    /// The `.sql` files of a folder; the version is the file name without `.sql`.
    public init(directory: String) throws(StoreError) {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".sql") }
        } catch {
            throw StoreError("read migrations", message: "cannot list '\(directory)': \(error.localizedDescription)")
        }
        var migrations: [Migration] = []
        for name in names {
            guard let data = FileManager.default.contents(atPath: directory + "/" + name) else {
                throw StoreError("read migrations", message: "cannot read '\(name)'")
            }
            migrations.append(Migration(version: String(name.dropLast(4)), sql: String(decoding: data, as: UTF8.self)))
        }
        self.init(migrations: migrations)
    }

    /// An arbitrary constant: the advisory lock migrators share.
    static let lockKey = 7_013_001

    /// The migrations this binary was built with.
    public static var builtIn: Migrator { Migrator(migrations: embedded) }

    /// Versions of `migrations` that the database has not recorded yet. Reads only, so a role
    /// that may not create tables (the daemon's `flagstaff_writer`) can ask.
    public func pending(_ connection: PostgresConnection) throws(StoreError) -> [String] {
        let table = try connection.rows("SELECT to_regclass('schema_migrations') IS NOT NULL")
        guard try table.first?.string(0) == "t" else { return migrations.map(\.version) }
        let done = Set(try connection.rows("SELECT version FROM schema_migrations").map { row throws(StoreError) in
            try row.string(0)
        })
        return migrations.map(\.version).filter { !done.contains($0) }
    }

    /// Applies what is missing; returns the versions applied now. A database that lacks
    /// nothing is only read, so the daemon may run with a role that cannot migrate.
    @discardableResult
    public func migrate(_ connection: PostgresConnection) throws -> [String] {
        let pending = try pending(connection)
        if pending.isEmpty { return [] }
        // Under the lock too: two `CREATE TABLE IF NOT EXISTS` at once can both try to create.
        // Only when missing: even `IF NOT EXISTS` needs the right to create tables.
        if pending.count == migrations.count {
            try connection.transaction { () throws(StoreError) in
                try connection.query("SELECT pg_advisory_xact_lock($1)", [String(Self.lockKey)])
                try connection.query(
                    """
                    CREATE TABLE IF NOT EXISTS schema_migrations (
                        version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
                    """)
            }
        }
        var applied: [String] = []
        for migration in migrations {
            let done = try connection.transaction { () throws(StoreError) -> Bool in
                try connection.query("SELECT pg_advisory_xact_lock($1)", [String(Self.lockKey)])
                let present = try connection.query(
                    "SELECT 1 FROM schema_migrations WHERE version = $1", [migration.version])
                if !present.isEmpty { return false }
                do throws(StoreError) {
                    try connection.execute(script: migration.sql)
                } catch {
                    throw StoreError("apply migration \(migration.version)", message: error.message, sqlState: error.sqlState)
                }
                try connection.query("INSERT INTO schema_migrations (version) VALUES ($1)", [migration.version])
                return true
            }
            if done { applied.append(migration.version) }
        }
        return applied
    }
}
