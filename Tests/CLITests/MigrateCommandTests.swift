import FlagStore
import Foundation
import Testing

@Suite("flagstaff migrate")
struct MigrateCommandTests {
    @Test func appliesTheMigrationsOnceThroughTheCommandLine() throws {
        guard let admin = ProcessInfo.processInfo.environment["FLAGSTAFF_TEST_POSTGRES_URL"] else {
            Issue.record("FLAGSTAFF_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh")
            return
        }
        let name = "cli_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try PostgresConnection(url: admin).query("CREATE DATABASE \(name)")
        let url = admin[..<admin.lastIndex(of: "/")!] + "/" + name
        let first = try CLI.run(["migrate", "--postgres", url])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("applied 001_state"), "\(first.stdout)")
        let second = try CLI.run(["migrate", "--postgres", url])
        #expect(second.stdout.contains("up to date"))
        let unreachable = try CLI.run(["migrate", "--postgres", "postgresql://x@127.0.0.1:1/none?connect_timeout=2"])
        #expect(unreachable.status == 1)
        #expect(unreachable.stderr.contains("connect to PostgreSQL"))
    }
}
