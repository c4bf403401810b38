import ArgumentParser
import Crypto
import FlagStore
import Foundation

struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply the PostgreSQL migrations that the database lacks.",
        discussion: """
            The migrations of schemas/postgres/ are built into the binary; --migrations DIR applies \
            the .sql files of a folder instead. Run it with the URL of the tables' owner: the daemon \
            may then use a role that can append audit rows but not change them (docs/service.md). \
            --list prints each built-in migration's version and the SHA-256 of its SQL, and needs no \
            database.
            """)

    @Option(help: "The PostgreSQL URL (also FLAGSTAFF_POSTGRES).")
    var postgres: String?

    @Option(help: "A folder of .sql migrations to apply instead of those built in (also FLAGSTAFF_MIGRATIONS).")
    var migrations: String?

    @Flag(help: "Print the built-in migrations (version and SHA-256 of the SQL) and exit.")
    var list = false

    func run() throws {
        let settings = try Settings(configFile: nil)
        if list {
            for migration in Migrator.embedded {
                let digest = SHA256.hash(data: Data(migration.sql.utf8)).map { String(format: "%02x", $0) }.joined()
                print("\(migration.version) \(digest)")
            }
            return
        }
        guard let url = settings.value("postgres", postgres) else {
            throw ValidationError("give --postgres URL or set FLAGSTAFF_POSTGRES")
        }
        do {
            let migrator = try settings.value("migrations", migrations).map { try Migrator(directory: $0) }
                ?? Migrator.builtIn
            let applied = try migrator.migrate(try PostgresConnection(url: url))
            print(applied.isEmpty ? "up to date" : "applied \(applied.joined(separator: ", "))")
        } catch {
            printError("error: \(error)")
            throw ExitStatus.failed
        }
    }
}
