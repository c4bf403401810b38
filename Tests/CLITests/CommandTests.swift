import FlagModel
import Foundation
import Testing

private let manifest = """
    version: 1
    organization: acme
    projects: { shop: {} }
    environments:
      production: { branch: main, production: true }
      staging: { branch: staging }
    """

@Suite("The flagstaff command line (SPEC §8)", .serialized)
struct CommandTests {
    @Test func validateAcceptsTheDemoAndTheExamples() throws {
        for root in ["flags", "examples/minimal", "examples/typed-context", "examples/schedules"] {
            let out = try CLI.run(["validate", "--repo", root])
            #expect(out.status == 0, "\(root): \(out.stderr)")
            #expect(out.stderr.contains("ok:"), "\(root): \(out.stderr)")
        }
    }

    @Test func validateReportsPositionCodeSourceLineAndHint() throws {
        let dir = try CLI.temporaryDirectory()
        try CLI.write(
            [
                "flagstaff.yaml": manifest,
                "shop/segments/beta-testers.yaml": "include: [u1]\n",
                "shop/flags/checkout.yaml": "rules:\n  - when: [ { segment: beta-tester } ]\n    serve: on\n",
            ], under: dir)
        let out = try CLI.run(["validate", "--repo", dir.path])
        #expect(out.status == 1)
        #expect(out.stderr.contains("shop/flags/checkout.yaml:2:24: error[E201]: unknown segment 'beta-tester'"), "\(out.stderr)")
        #expect(out.stderr.contains("2 |   - when: [ { segment: beta-tester } ]"))
        #expect(out.stderr.contains("|                        ^"))
        #expect(out.stderr.contains("hint: did you mean 'beta-testers'?"))
    }

    @Test(arguments: ["json", "github", "sarif"])
    func validateFormats(format: String) throws {
        let dir = try CLI.temporaryDirectory()
        try CLI.write(
            ["flagstaff.yaml": manifest, "shop/flags/f.yaml": "default: onn\n"], under: dir)
        let out = try CLI.run(["validate", "--repo", dir.path, "--format", format])
        #expect(out.status == 1)
        switch format {
        case "json":
            let value = try JSONParser.parse(out.stdout)
            let first = try #require(value.arrayValue?.first)
            #expect(first["code"] == "E200")
            #expect(first["line"] == 1)
            #expect(first["column"] == 10)
            #expect(first["hint"] == "did you mean 'on'?")
        case "github":
            #expect(out.stderr.contains("::error file=\(dir.path)/shop/flags/f.yaml,line=1,col=10,title=E200::"), "\(out.stderr)")
        default:
            let value = try JSONParser.parse(out.stdout)
            #expect(value["version"] == "2.1.0")
            let result = try #require(value["runs"]?.arrayValue?.first?["results"]?.arrayValue?.first)
            #expect(result["ruleId"] == "E200")
        }
    }

    @Test func usageErrorsExitWithTwo() throws {
        #expect(try CLI.run(["eval", "--repo", "flags"]).status == 2)
        #expect(try CLI.run(["validate", "--format", "xml"]).status == 2)
        #expect(try CLI.run(["no-such-command"]).status == 2)
    }

    @Test func versionPrintsTheReleaseAndExitsZero() throws {
        let out = try CLI.run(["--version"])
        #expect(out.status == 0)
        // scripts/package-deb.sh takes the package version from this line: a Debian version.
        let version = out.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(version.wholeMatch(of: /[0-9][0-9A-Za-z.+~-]*/) != nil, "\(out.stdout)")
    }

    @Test func evalPrintsTheOFREPObject() throws {
        let out = try CLI.run([
            "eval", "--repo", "flags", "--project", "storefront", "--flag", "new-checkout",
            "--context", #"{"targetingKey":"user-1","email":"kim@ACME.com"}"#,
        ])
        #expect(out.status == 0, "\(out.stderr)")
        let value = try JSONParser.parse(out.stdout)
        #expect(value["key"] == "new-checkout")
        #expect(value["value"] == .bool(true))
        #expect(value["variant"] == "on")
        #expect(value["reason"] == "TARGETING_MATCH")
        #expect(value["metadata"]?["version"]?.stringValue?.hasPrefix("sha256:") == true)
    }

    @Test func evalAtAsksWhatSchedulesWillServeThen() throws {
        func served(at time: String?) throws -> Value {
            let out = try CLI.run(
                ["eval", "--repo", "examples/schedules", "--flag", "holiday-banner", "--context", #"{"targetingKey":"u"}"#]
                    + (time.map { ["--at", $0] } ?? []))
            #expect(out.status == 0, "\(out.stderr)")
            return try JSONParser.parse(out.stdout)
        }
        #expect(try served(at: "2027-12-19T23:00:00-05:00")["reason"] == "DISABLED")
        #expect(try served(at: "2027-12-20T00:00:00-05:00")["variant"] == "on")
        #expect(try served(at: "2028-01-03T05:00:00Z")["variant"] == "off")
        let bad = try CLI.run(["eval", "--repo", "examples/schedules", "--flag", "holiday-banner", "--at", "2027-12-20"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("not a time with a zone"), "\(bad.stderr)")
    }

    @Test func diffListsEveryScheduleStepWithItsEffect() throws {
        let dir = try CLI.temporaryDirectory()
        try CLI.write(
            [
                "flagstaff.yaml": manifest,
                "shop/flags/search.yaml": "rules:\n  - { rollout: 5, serve: on }\n",
            ], under: dir)
        try CLI.git(["init", "-q", "-b", "main"], in: dir)
        try CLI.git(["add", "-A"], in: dir)
        try CLI.git(["commit", "-qm", "base"], in: dir)
        try CLI.write(
            [
                "shop/flags/search.yaml": """
                rules:
                  - rollout:
                      percentage: 5
                      steps: [{ at: 2027-02-01T09:00:00Z, percentage: 25 }, { at: 2027-02-08T09:00:00Z, percentage: 100 }]
                    serve: on
                """
            ], under: dir)
        let out = try CLI.run(["diff", "--repo", dir.path, "HEAD", ".", "--environment", "production"])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout.contains("rule 1: rollout 5% → 5%, 25% from 2027-02-01 09:00 UTC, 100% from 2027-02-08 09:00 UTC"), "\(out.stdout)")
        #expect(out.stdout.contains("at 2027-02-01 09:00 UTC rule 1: rollout 5% → 25%: 20.0% of users matching rule 1 change from off to on"), "\(out.stdout)")
        #expect(out.stdout.contains("at 2027-02-08 09:00 UTC rule 1: rollout 25% → 100%: 75.0% of users"), "\(out.stdout)")
    }

    @Test func evalUnknownFlagAndTypeMismatchFail() throws {
        let missing = try CLI.run(["eval", "--repo", "flags", "--project", "storefront", "--flag", "nope"])
        #expect(missing.status == 1)
        #expect(try JSONParser.parse(missing.stdout)["errorCode"] == "FLAG_NOT_FOUND")
        let mismatch = try CLI.run([
            "eval", "--repo", "flags", "--project", "storefront", "--flag", "new-checkout", "--type", "string",
        ])
        #expect(mismatch.status == 1)
        #expect(try JSONParser.parse(mismatch.stdout)["errorCode"] == "TYPE_MISMATCH")
        let badContext = try CLI.run([
            "eval", "--repo", "flags", "--project", "storefront", "--flag", "new-checkout", "--context", "[1]",
        ])
        #expect(badContext.status == 2)
    }

    @Test func evalAllListsEveryFlag() throws {
        let out = try CLI.run(["eval", "--repo", "flags", "--project", "storefront", "--all", "--environment", "staging"])
        #expect(out.status == 0, "\(out.stderr)")
        let flags = try #require(try JSONParser.parse(out.stdout)["flags"]?.arrayValue)
        #expect(flags.count >= 5)
        #expect(flags.allSatisfy { $0["variant"]?.stringValue != nil })
    }

    @Test func testCommandRunsGoldenTestsAndFailsOnAMismatch() throws {
        let ok = try CLI.run(["test", "--repo", "flags"])
        #expect(ok.status == 0, "\(ok.stdout)\(ok.stderr)")
        #expect(ok.stdout.contains(" passed, 0 failed"))
        let dir = try CLI.temporaryDirectory()
        try CLI.write(
            [
                "flagstaff.yaml": manifest,
                "shop/flags/f.yaml": "default: off\ntests:\n  - { name: wrong, context: {}, expect: on }\n",
            ], under: dir)
        let failing = try CLI.run(["test", "--repo", dir.path])
        #expect(failing.status == 1)
        #expect(
            failing.stdout.contains(
                "shop/flags/f.yaml:3:5: FAIL shop/f [production] wrong: expected variant 'on', got variant 'off'"),
            "\(failing.stdout)")
        let verbose = try CLI.run(["test", "--repo", "flags", "--verbose"])
        #expect(verbose.stdout.split(separator: "\n").dropLast().allSatisfy { $0.contains(".yaml:") && $0.contains(": ok ") })
        #expect(failing.stdout.contains("0 passed, 2 failed"))
    }

    @Test func compileWritesOneSnapshotPerProjectAndEnvironment() throws {
        let dir = try CLI.temporaryDirectory()
        let out = try CLI.run(["compile", "--repo", "flags", "--out", dir.path])
        #expect(out.status == 0, "\(out.stderr)")
        let snapshot = try JSONParser.parse(
            String(contentsOf: dir.appendingPathComponent("storefront/production.json"), encoding: .utf8))
        #expect(snapshot["project"] == "storefront")
        #expect(snapshot["environment"] == "production")
        #expect(snapshot["format"] == 1)
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("mobile/staging.json").path))
        let single = try CLI.run(["compile", "--repo", "flags", "--project", "mobile", "--environment", "staging"])
        #expect(try JSONParser.parse(single.stdout)["environment"] == "staging")
    }

    @Test func initScaffoldsARepositoryThatValidates() throws {
        let dir = try CLI.temporaryDirectory().appendingPathComponent("new")
        let made = try CLI.run(["init", dir.path, "--organization", "example", "--project", "web"])
        #expect(made.status == 0, "\(made.stderr)")
        let check = try CLI.run(["validate", "--repo", dir.path])
        #expect(check.status == 0, "\(check.stderr)")
        let tests = try CLI.run(["test", "--repo", dir.path])
        #expect(tests.status == 0, "\(tests.stdout)")
        #expect(try CLI.run(["init", dir.path]).status == 1, "refuses to overwrite")
    }
}
