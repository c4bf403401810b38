import FlagModel
import FlagStore
import Foundation
import Testing

@Suite("flagstaff stale, stats and experiment", .serialized)
struct StaleCommandTests {
    /// main (production) has five flags; `dependent` requires `base` to serve on.
    func repository() throws -> URL {
        let dir = try CLI.temporaryDirectory()
        try CLI.git(["init", "-q", "-b", "main"], in: dir)
        try CLI.write(
            [
                "flagstaff.yaml": CLI.twoEnvironmentManifest,
                "shop/flags/old.yaml": "default: on\n",
                "shop/flags/keep.yaml": "default: off\n",
                "shop/flags/base.yaml": "default: on\n",
                "shop/flags/dependent.yaml": "requires: [ { flag: base, variants: [on] } ]\ndefault: on\n",
                "shop/flags/never.yaml": "default: off\n",
            ], under: dir)
        try CLI.git(["add", "-A"], in: dir)
        try CLI.git(["commit", "-q", "-m", "flags"], in: dir)
        try CLI.git(["branch", "staging"], in: dir)
        return dir
    }

    /// A migrated database serving the repository's production snapshot (compiled by
    /// `flagstaff compile`, applied as the daemon applies it), with `serving` counted: per
    /// flag, the variants served and from how many days ago to now.
    func database(for dir: URL, serving: [(flag: String, variant: String, since: Int64)]) throws -> String? {
        guard let admin = ProcessInfo.processInfo.environment["FLAGSTAFF_TEST_POSTGRES_URL"] else {
            Issue.record("FLAGSTAFF_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh")
            return nil
        }
        let name = "cli_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try PostgresConnection(url: admin).query("CREATE DATABASE \(name)")
        let url = admin[..<admin.lastIndex(of: "/")!] + "/" + name
        let connection = try PostgresConnection(url: url)
        try Migrator.builtIn.migrate(connection)
        let compiled = try CLI.run(["compile", "--repo", dir.path, "--ref", "main", "--environment", "production"])
        #expect(compiled.status == 0, "\(compiled.stderr)")
        let snapshot = try Snapshot(json: JSONParser.parse(compiled.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        _ = try SyncStore(connection: connection).apply(
            snapshot, commit: try CLI.git(["rev-parse", "main"], in: dir), branch: "main", author: "T <t@t.test>",
            message: "flags", redisPrefix: "flagstaff")
        let hour = CountKey.hour(of: Int64(Date().timeIntervalSince1970))
        var counts: [CountKey: UInt64] = [:]
        for (flag, variant, since) in serving {
            for hoursAgo in [since * 24, 0] {
                counts[
                    CountKey(
                        project: "shop", environment: "production", flag: flag, variant: variant, reason: "DEFAULT",
                        version: snapshot.version, hour: hour - hoursAgo * 3600)] = 3
            }
        }
        _ = try AnalyticsStore(connection: connection).add(CountBatch(counts: counts))
        return url
    }

    @Test func writesABranchRemovingTheFlagsReadyToRemove() throws {
        let dir = try repository()
        guard
            let url = try database(
                for: dir,
                serving: [
                    ("old", "on", 40), ("keep", "on", 40), ("keep", "off", 2), ("base", "on", 40), ("base", "off", 40),
                    ("dependent", "on", 40), ("dependent", "off", 40),
                ])
        else { return }
        let mainBefore = try CLI.git(["rev-parse", "main"], in: dir)

        let report = try CLI.run(["stale", "--postgres", url, "--format", "json"])
        #expect(report.status == 0, "\(report.stderr)")
        let json = try JSONParser.parse(report.stdout)
        #expect(json["readyToRemove"] == [["flag": "old", "variant": "on"]], "\(report.stdout)")

        let out = try CLI.run(["stale", "--postgres", url, "--repo", dir.path, "--branch", "cleanup"])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout.contains("never evaluated"), "\(out.stdout)")
        #expect(out.stdout.contains("created branch cleanup at"), "\(out.stdout)")
        #expect(try CLI.git(["rev-parse", "main"], in: dir) == mainBefore, "the environment's branch is never written")
        #expect(try CLI.git(["rev-parse", "cleanup^"], in: dir) == mainBefore)
        #expect(try CLI.git(["diff", "--name-status", "main", "cleanup"], in: dir) == "D\tshop/flags/old.yaml")
        #expect(try CLI.git(["log", "-1", "--format=%B", "cleanup"], in: dir).contains("- old: always 'on'"))
        #expect(try CLI.git(["status", "--porcelain"], in: dir).isEmpty, "the work tree is untouched")
        let validate = try CLI.run(["validate", "--repo", dir.path, "--ref", "cleanup"])
        #expect(validate.status == 0, "\(validate.stdout)\(validate.stderr)")

        let again = try CLI.run(["stale", "--postgres", url, "--repo", dir.path, "--branch", "cleanup"])
        #expect(again.status == 1)
        #expect(again.stderr.contains("branch 'cleanup' already exists"), "\(again.stderr)")
    }

    @Test func refusesARemovalThatBreaksARequirement() throws {
        let dir = try repository()
        guard
            let url = try database(
                for: dir, serving: [("old", "on", 40), ("base", "on", 40), ("dependent", "on", 40), ("dependent", "off", 3)])
        else { return }
        let out = try CLI.run(["stale", "--postgres", url, "--repo", dir.path, "--branch", "cleanup"])
        #expect(out.status == 1)
        #expect(out.stderr.contains("error[E202]"), "\(out.stderr)")
        #expect(out.stderr.contains("no branch was written"), "\(out.stderr)")
        #expect(try CLI.git(["branch", "--list", "cleanup"], in: dir).isEmpty)
    }

    @Test func statsAndExperimentPrintAndFailAsDocumented() throws {
        let dir = try repository()
        guard let url = try database(for: dir, serving: [("old", "on", 3), ("keep", "off", 1)]) else { return }
        let stats = try CLI.run(["stats", "--postgres", url, "--flag", "old", "--granularity", "day", "--format", "markdown"])
        #expect(stats.status == 0, "\(stats.stderr)")
        #expect(stats.stdout.contains("| DAY (UTC) | on | TOTAL |"), "\(stats.stdout)")
        #expect(try CLI.run(["stats", "--postgres", url, "--flag", "old", "--days", "0"]).status == 2)
        #expect(try CLI.run(["stats", "--postgres", url, "--flag", "old", "--environment", "nowhere"]).status == 1)

        let experiment = try CLI.run(["experiment", "--postgres", url, "--flag", "old", "--event", "buy"])
        #expect(experiment.status == 1)
        #expect(experiment.stderr.contains("flag 'old' serves no split"), "\(experiment.stderr)")
        #expect(try CLI.run(["experiment", "--postgres", url, "--flag", "old"]).status == 2, "--event is required")
    }
}
