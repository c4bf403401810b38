import Crypto
import FlagStore
import Foundation
import Testing

@Suite("flagstaff migrate and keys on a new database")
struct MigrateCommandTests {
    /// A new empty database on the test PostgreSQL, or nil (with an issue) without one.
    func newDatabase() throws -> String? {
        guard let admin = ProcessInfo.processInfo.environment["FLAGSTAFF_TEST_POSTGRES_URL"] else {
            Issue.record("FLAGSTAFF_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh")
            return nil
        }
        let name = "cli_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try PostgresConnection(url: admin).query("CREATE DATABASE \(name)")
        return admin[..<admin.lastIndex(of: "/")!] + "/" + name
    }

    @Test func appliesTheMigrationsOnceThroughTheCommandLine() throws {
        guard let url = try newDatabase() else { return }
        let first = try CLI.run(["migrate", "--postgres", url])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("applied 001_state"), "\(first.stdout)")
        let second = try CLI.run(["migrate", "--postgres", url])
        #expect(second.stdout.contains("up to date"))
        let unreachable = try CLI.run(["migrate", "--postgres", "postgresql://x@127.0.0.1:1/none?connect_timeout=2"])
        #expect(unreachable.status == 1)
        #expect(unreachable.stderr.contains("connect to PostgreSQL"))
    }

    @Test func theBinaryCarriesExactlyTheMigrationFiles() throws {
        let folder = CLI.packageRoot.appendingPathComponent("schemas/postgres")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }.sorted()
        let expected = try files.map { name in
            let data = try Data(contentsOf: folder.appendingPathComponent(name))
            return "\(name.dropLast(4)) " + SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        }
        let listed = try CLI.run(["migrate", "--list"])
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(
            listed.stdout.split(separator: "\n").map(String.init) == expected,
            "the binary's migrations differ from schemas/postgres: run python3 scripts/embed-migrations.py")
    }

    @Test func aCopyOfTheBinaryAloneMigratesAndMakesKeysBeforeAnySync() throws {
        guard let url = try newDatabase() else { return }
        // Nothing beside it: no schemas/, no source tree.
        let alone = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: alone) }
        let copy = alone.appendingPathComponent("flagstaff").path
        // Copied by `cp`, not in this process: a file this process held open for writing is
        // inherited by every child the parallel tests start meanwhile, and running it then
        // fails with "Text file busy" (ETXTBSY) until they exit.
        let cp = Process()
        cp.executableURL = URL(fileURLWithPath: "/bin/cp")
        cp.arguments = [CLI.binary, copy]
        try cp.run()
        cp.waitUntilExit()
        #expect(cp.terminationStatus == 0)
        let migrate = try CLI.run(["migrate", "--postgres", url], in: alone, binary: copy)
        #expect(migrate.status == 0, "\(migrate.stderr)")
        #expect(migrate.stdout.contains("applied 001_state"), "\(migrate.stdout)")

        // A new deployment makes its keys first, before the daemon has ever synced.
        let created = try CLI.run(
            ["keys", "create", "--postgres", url, "--project", "shop", "--environment", "production", "--type", "server",
             "--name", "web"], in: alone, binary: copy)
        #expect(created.status == 0, "\(created.stderr)")
        let key = try #require(created.stdout.split(separator: "\n").last.map(String.init))
        #expect(key.count > 20, "the secret alone on the last line: \(created.stdout)")
        #expect(created.stderr.contains("has not served shop/production yet"), "\(created.stderr)")
        let list = try CLI.run(["keys", "list", "--postgres", url], in: alone, binary: copy)
        #expect(list.stdout.contains("shop") && list.stdout.contains("production") && list.stdout.contains("active"))
        #expect(!list.stdout.contains(key), "the secret is never listed")

        let badName = try CLI.run(
            ["keys", "create", "--postgres", url, "--project", "Shop!", "--environment", "production", "--type",
             "server", "--name", "web"], in: alone, binary: copy)
        #expect(badName.status == 2)
        #expect(badName.stderr.contains("--project 'Shop!' is not a key"), "\(badName.stderr)")
    }
}
