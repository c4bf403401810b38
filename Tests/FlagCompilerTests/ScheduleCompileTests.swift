import FlagCompiler
import FlagEngine
import FlagModel
import Testing

private let manifest = """
    version: 1
    organization: acme
    projects: { shop: {} }
    environments:
      production: { branch: main, production: true }
      staging: { branch: staging }
    """

/// Compiled as of 2026-01-01T00:00:00Z.
private func compile(_ flags: [String: String], now: Instant = Instant(seconds: 1_767_225_600)) -> Compilation {
    var files = ["flagstaff.yaml": manifest]
    for (key, yaml) in flags { files["shop/flags/\(key).yaml"] = yaml }
    return Compiler().compile(MemoryTree(files), options: CompileOptions(now: now))
}

@Suite("Compiling schedules and windows (SPEC §17)")
struct ScheduleCompileTests {
    @Test func timesAreStoredInUTCWhateverZoneTheyWereWrittenIn() throws {
        let c = compile([
            "f": """
            window: { start: 2026-12-07T09:00:00+01:00, end: 2026-12-08T00:00:00.250-05:00 }
            rules:
              - rollout: { ramp: { from: 5, to: 50, start: 2026-12-07T09:00:00+01:00, end: 2026-12-10T00:00:00Z } }
                serve: on
            """
        ])
        #expect(c.errors.isEmpty, "\(c.errors)")
        let flag = try #require(c.snapshot(project: "shop", environment: "production")?.flags.first)
        #expect(flag.window == Window(start: "2026-12-07T08:00:00Z", end: "2026-12-08T05:00:00.25Z"))
        #expect(
            flag.rules[0].rollout?.schedule
                == .ramp(Ramp(from: 5, to: 50, start: "2026-12-07T08:00:00Z", end: "2026-12-10T00:00:00Z")))
        #expect(flag.rules[0].rollout?.percentage == 5)
    }

    @Test func theSameInstantInAnotherZoneIsTheSameSnapshotVersion() {
        let utc = compile(["f": "rules:\n  - { window: { start: 2026-12-07T08:00:00Z }, serve: on }"])
        let paris = compile(["f": "rules:\n  - { window: { start: 2026-12-07T09:00:00+01:00 }, serve: on }"])
        let later = compile(["f": "rules:\n  - { window: { start: 2026-12-07T09:00:00Z }, serve: on }"])
        #expect(utc.snapshots.map(\.version) == paris.snapshots.map(\.version))
        #expect(utc.snapshots.map(\.version) != later.snapshots.map(\.version))
    }

    @Test func flagsWithoutSchedulesKeepTheirSnapshotJSON() throws {
        // Adding the language's time fields must not move the version of any existing snapshot.
        let c = compile(["f": "rules:\n  - { rollout: 25, serve: on }"])
        let snapshot = try #require(c.snapshot(project: "shop", environment: "production"))
        let text = CanonicalJSON.encode(snapshot.json)
        #expect(!text.contains("window"))
        #expect(!text.contains("ramp"))
        #expect(!text.contains("steps"))
    }

    @Test func scheduledSnapshotsRoundTripThroughJSON() throws {
        let c = compile([
            "f": """
            window: { end: 2027-01-01T00:00:00Z }
            rules:
              - rollout:
                  percentage: 2
                  steps: [{ at: 2026-12-01T00:00:00Z, percentage: 20 }, { at: 2026-12-08T00:00:00Z, percentage: 80 }]
                  by: [userId]
                window: { start: 2026-11-01T00:00:00Z }
                serve: on
            """
        ])
        #expect(c.errors.isEmpty, "\(c.errors)")
        for snapshot in c.snapshots {
            let back = try Snapshot(json: try JSONParser.parse(CanonicalJSON.encode(snapshot.json)))
            #expect(back == snapshot)
            #expect(Compiler.version(of: back) == snapshot.version)
        }
    }

    @Test func goldenTestsRunAtTheirOwnTime() throws {
        let flag = """
            rules:
              - rollout: { steps: [{ at: 2026-12-07T09:00:00Z, percentage: 100 }] }
                serve: on
            tests:
              - { at: 2026-12-07T08:59:59Z, context: { targetingKey: u1 }, expect: off }
              - { at: 2026-12-07T09:00:00Z, context: { targetingKey: u1 }, expect: on }
            """
        let c = compile(["f": flag])
        #expect(c.diagnostics.isEmpty, "\(c.diagnostics)")
        #expect(c.tests.count == 4)
        #expect(c.tests.allSatisfy { $0.passed })
        let wrong = compile(["f": flag.replacing("expect: on", with: "expect: off")])
        let codes: [DiagnosticCode] = wrong.errors.map { $0.code }
        #expect(codes == [.goldenTestFailed, .goldenTestFailed])
    }

    @Test func aTestThatALaterStepBreaksWarnsWithTheTimeItBreaks() throws {
        let c = compile([
            "f": """
            rules:
              - rollout: { ramp: { from: 0, to: 100, start: 2026-12-01T00:00:00Z, end: 2026-12-11T00:00:00Z } }
                serve: on
            tests:
              - { environment: production, context: { targetingKey: user-3 }, expect: off }
            """
        ])
        #expect(c.errors.isEmpty)
        let warning = try #require(c.diagnostics.first { $0.code == .untimedGoldenTest })
        // The warning names the moment the ramp reaches user-3's bucket: the test fails from
        // then on, and passed a second before.
        let snapshot = try #require(c.snapshot(project: "shop", environment: "production"))
        let evaluator = Evaluator(snapshot: snapshot)
        let result = try #require(c.tests.first?.laterFailure)
        let atBreak = evaluator.evaluate("f", context: evaluator.prepare(["targetingKey": "user-3"], now: result.at))
        let justBefore = evaluator.evaluate(
            "f", context: evaluator.prepare(["targetingKey": "user-3"], now: Instant(seconds: result.at.seconds - 1)))
        #expect(atBreak.variant == "on")
        #expect(justBefore.variant == "off")
        #expect(warning.message.contains(Timestamp.format(result.at)))
    }

    @Test func aTestThatNoStepBreaksDoesNotWarn() {
        let c = compile([
            "f": """
            rules:
              - { name: staff, when: [{ attribute: email, op: ends_with, values: ["@acme.com"] }], serve: on }
              - rollout: { ramp: { from: 0, to: 100, start: 2026-12-01T00:00:00Z, end: 2026-12-11T00:00:00Z } }
                serve: on
            tests:
              - { context: { targetingKey: u1, email: a@acme.com }, expect: on }
            """
        ])
        #expect(c.diagnostics.isEmpty, "\(c.diagnostics)")
    }

    @Test func aScheduleThatEndedBeforeTheCompileTimeWarnsButCompiles() {
        let c = compile(["f": "rules:\n  - { window: { end: 2025-06-01T00:00:00Z }, serve: on }"])
        let codes: [DiagnosticCode] = c.diagnostics.map { $0.code }
        #expect(codes == [.pastSchedule])
        #expect(!c.snapshots.isEmpty)
    }

    @Test func rampAndStepsAndPercentageDoNotMix() {
        let both = compile([
            "f": """
            rules:
              - rollout:
                  ramp: { from: 0, to: 100, start: 2026-12-01T00:00:00Z, end: 2026-12-11T00:00:00Z }
                  steps: [{ at: 2026-12-01T00:00:00Z, percentage: 5 }]
                serve: on
            """
        ])
        let bothCodes: [DiagnosticCode] = both.errors.map { $0.code }
        #expect(bothCodes == [.invalidSchedule])
        let withPercentage = compile([
            "f": """
            rules:
              - rollout:
                  percentage: 10
                  ramp: { from: 0, to: 100, start: 2026-12-01T00:00:00Z, end: 2026-12-11T00:00:00Z }
                serve: on
            """
        ])
        let percentageCodes: [DiagnosticCode] = withPercentage.errors.map { $0.code }
        #expect(percentageCodes == [.invalidSchedule])
        #expect(withPercentage.errors.first?.hint?.contains("from") == true)
    }

    @Test func aRuleWithAWindowIsNotACatchAll() {
        // A rule with no conditions but a window does not make the rules after it unreachable.
        let c = compile([
            "f": """
            rules:
              - { window: { start: 2026-12-01T00:00:00Z }, serve: on }
              - { when: [{ attribute: plan, op: in, values: [pro] }], serve: on }
            """
        ])
        #expect(!c.diagnostics.contains { $0.code == .unreachableRule })
    }
}
