import FlagModel
import Foundation
import Testing

@Suite("flagstaff diff and drift", .serialized)
struct DiffTests {
    static let manifest = CLI.twoEnvironmentManifest


    func commit(_ files: [String: String], _ message: String, in dir: URL) throws {
        try CLI.write(files, under: dir)
        try CLI.git(["add", "-A"], in: dir)
        try CLI.git(["commit", "-q", "-m", message], in: dir)
    }

    /// main: a 25% rollout; feature: 50%, a new flag, a removed one; broken: a bad segment name.
    func repository() throws -> URL {
        let dir = try CLI.temporaryDirectory()
        try CLI.git(["init", "-q", "-b", "main"], in: dir)
        try commit(
            [
                "flagstaff.yaml": Self.manifest,
                "shop/flags/checkout.yaml": "rules:\n  - name: quarter\n    rollout: 25\n    serve: on\n",
                "shop/flags/old.yaml": "default: on\n",
            ], "base", in: dir)
        try CLI.git(["checkout", "-q", "-b", "feature"], in: dir)
        try FileManager.default.removeItem(at: dir.appendingPathComponent("shop/flags/old.yaml"))
        try commit(
            [
                "shop/flags/checkout.yaml": "rules:\n  - name: quarter\n    rollout: 50\n    serve: on\n",
                "shop/flags/new.yaml": "default: off\n",
            ], "feature", in: dir)
        try CLI.git(["checkout", "-q", "-b", "broken"], in: dir)
        try commit(["shop/flags/new.yaml": "rules: [ { when: [ { segment: nope } ], serve: on } ]\n"], "broken", in: dir)
        try CLI.git(["checkout", "-q", "main"], in: dir)
        try CLI.git(["branch", "staging", "feature"], in: dir)
        return dir
    }

    @Test func textDiffNamesFieldsAndTheExactEffect() throws {
        let dir = try repository()
        let out = try CLI.run(["diff", "main", "feature", "--repo", dir.path])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout.contains("rule 1 \"quarter\": rollout 25% → 50%"), "\(out.stdout)")
        #expect(out.stdout.contains("+ flag new"), "\(out.stdout)")
        #expect(out.stdout.contains("- flag old"), "\(out.stdout)")
        #expect(
            out.stdout.contains("effect: 25.0% of users matching rule 1 \"quarter\" change from off to on"),
            "the exact bucket effect is stated: \(out.stdout)")
    }

    @Test func markdownIsAPullRequestComment() throws {
        let dir = try repository()
        let out = try CLI.run(["diff", "main", "feature", "--repo", dir.path, "--format", "markdown"])
        #expect(out.status == 0)
        #expect(out.stdout.hasPrefix("**"), "a summary line first: \(out.stdout.prefix(80))")
        #expect(out.stdout.contains("### shop / production"))
        #expect(out.stdout.contains("`checkout`"))
    }

    @Test func jsonIsForTools() throws {
        let dir = try repository()
        let out = try CLI.run(["diff", "main", "feature", "--repo", dir.path, "--format", "json"])
        let value = try JSONParser.parse(out.stdout)
        #expect(value["diffs"]?.arrayValue?.isEmpty == false, "\(out.stdout.prefix(300))")
    }

    @Test func aHeadThatDoesNotCompileSaysSoAndFails() throws {
        let dir = try repository()
        let out = try CLI.run(["diff", "feature", "broken", "--repo", dir.path])
        #expect(out.status == 1)
        #expect(out.stdout.contains("does not compile"))
        #expect(out.stdout.contains("shop/flags/new.yaml:1:31: error[E201]: unknown segment 'nope'"), "\(out.stdout)")
        #expect(try CLI.run(["diff", "main", "no-such-ref", "--repo", dir.path]).status == 1)
    }

    @Test func environmentNamesCompareBranchTipsAsTheBaseSeesThem() throws {
        let dir = try repository()
        let out = try CLI.run(["diff", "production", "staging", "--repo", dir.path])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout.contains("staging (staging) → production (main)"), "\(out.stdout)")
        #expect(out.stdout.contains("shop / production"))
        #expect(!out.stdout.contains("shop / staging"), "only the base environment is shown")
    }

    @Test func sampleContextsAreReplayed() throws {
        let dir = try repository()
        var lines: [String] = []
        for i in 0..<400 { lines.append(#"{"targetingKey":"user-\#(i)"}"#) }
        let sample = dir.appendingPathComponent("contexts.jsonl")
        try Data(lines.joined(separator: "\n").utf8).write(to: sample)
        let out = try CLI.run(["diff", "main", "feature", "--repo", dir.path, "--sample", sample.path, "--format", "json"])
        let replay = try #require(try JSONParser.parse(out.stdout)["replays"]?["shop/production"])
        #expect(replay["contexts"] == 400)
        let changed = try #require(replay["changed"]?.intValue)
        // 25% → 50% moves about a quarter of users; "new" and "old" change for everyone
        // (a removed flag serves nothing), so every context changes somewhere.
        #expect(changed == 400, "\(replay)")
    }

    @Test func driftComparesEveryEnvironmentWithProduction() throws {
        let dir = try repository()
        let out = try CLI.run(["drift", "--repo", dir.path])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout.contains("staging vs production"), "\(out.stdout)")
        #expect(out.stdout.contains("rollout 25% → 50%"))
    }
}
