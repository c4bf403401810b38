import FlagCompiler
import FlagEngine
import FlagModel
import Testing

private let baseManifest = """
    version: 1
    organization: acme
    projects: { shop: {} }
    environments:
      production: { branch: main, production: true }
      staging: { branch: staging }
    """

private let typedManifest = baseManifest + """

    context:
      plan: { type: string, enum: [free, pro] }
      country: string
      device.os: string
    """

private func compile(_ files: [String: String], manifest: String = baseManifest) -> Compilation {
    var all = files
    all["flagstaff.yaml"] = manifest
    return Compiler().compile(MemoryTree(all), options: CompileOptions(now: Instant(seconds: 1_767_225_600)))
}

/// `CODE file:line:column` of each diagnostic.
private func positions(_ c: Compilation) -> [String] {
    c.diagnostics.map { "\($0.code.rawValue) \($0.location.file):\($0.location.line):\($0.location.column)" }
}

@Suite("Evaluation events on flags")
struct EventsCompileTests {
    @Test(arguments: [
        ("events: true", 1.0 as Double?), ("events: false", nil), ("events: 0.25", 0.25), ("events: 1", 1.0),
        ("events: 1.0", 1.0), ("events: 0.001", 0.001), ("name: x", nil),
    ])
    func validFormsCompileToTheirRate(yaml: String, rate: Double?) throws {
        let c = compile(["shop/flags/f.yaml": yaml + "\n"])
        #expect(c.errors.isEmpty, "\(c.errors)")
        #expect(c.snapshots.count == 2)
        for s in c.snapshots { #expect(try #require(s.flag("f")).events == rate, "\(s.environment)") }
    }

    @Test(arguments: [
        ("events: 0", "E312", 9, "write `events: false` to record no evaluation"),
        ("events: 1.5", "E312", 9, "a sample rate is a fraction, at most 1 (every evaluation): 1.5 % is 0.015"),
        ("events: 25", "E312", 9, "a sample rate is a fraction, at most 1 (every evaluation): 25 % is 0.25"),
        ("events: 150", "E312", 9, "a sample rate is more than 0 and at most 1, which records every evaluation"),
        ("events: -0.5", "E312", 9, "a sample rate is more than 0 and at most 1, which records every evaluation"),
        ("events: \"25%\"", "E101", 9, "a sample rate is a fraction of 1: write 0.25 for 25%"),
        ("events: yes", "E101", 9, "YAML 1.2 reads 'yes' as a string; write true or false"),
        ("events: \"0.5\"", "E101", 9, "remove the quotes"),
        ("events: sometimes", "E101", 9, nil),
        ("events: [0.5]", "E101", 9, nil),
        ("events:", "E101", 8, nil),
    ] as [(String, String, Int, String?)])
    func invalidFormsAreDiagnosedAtTheValue(yaml: String, code: String, column: Int, hint: String?) throws {
        let c = compile(["shop/flags/f.yaml": "default: off\n" + yaml + "\n"])
        #expect(positions(c) == ["\(code) shop/flags/f.yaml:2:\(column)"], "\(c.diagnostics)")
        let d = try #require(c.diagnostics.first)
        #expect(d.message.contains("events"))
        if let hint { #expect(d.hint == hint) } else { #expect(d.hint?.contains("events: true") == true) }
        #expect(c.snapshots.isEmpty)
    }

    @Test func anOverlaySetsEventsPerEnvironment() throws {
        let c = compile([
            "shop/flags/f.yaml": """
            events: 0.01
            environments:
              staging: { events: true }
            """,
            "shop/flags/g.yaml": """
            events: true
            environments:
              staging: { events: false }
            """,
        ])
        #expect(c.errors.isEmpty, "\(c.errors)")
        let production = try #require(c.snapshot(project: "shop", environment: "production"))
        let staging = try #require(c.snapshot(project: "shop", environment: "staging"))
        #expect(production.flag("f")?.events == 0.01)
        #expect(staging.flag("f")?.events == 1)
        #expect(production.flag("g")?.events == 1)
        #expect(staging.flag("g")?.events == nil)
    }

    @Test func aBadRateInAnOverlayIsDiagnosedThere() {
        let c = compile(["shop/flags/f.yaml": "environments:\n  staging: { events: 2 }\n"])
        #expect(positions(c) == ["E312 shop/flags/f.yaml:2:22"], "\(c.diagnostics)")
    }

    @Test func eventsNeverChangeWhatIsServed() throws {
        let flag = """
            rules:
              - { when: [ { attribute: plan, op: in, values: [pro] } ], rollout: 50, serve: on }
            default: off
            """
        let plain = compile(["shop/flags/f.yaml": flag])
        let sampled = compile(["shop/flags/f.yaml": flag + "\nevents: 0.5\n"])
        let a = Evaluator(snapshot: try #require(plain.snapshots.first))
        let b = Evaluator(snapshot: try #require(sampled.snapshots.first))
        for i in 0..<200 {
            let context: [String: Value] = ["targetingKey": .string("u-\(i)"), "plan": i % 2 == 0 ? "pro" : "free"]
            let now = Instant(seconds: 1_767_225_600)
            var x = a.evaluate("f", context: a.prepare(context, now: now))
            let y = b.evaluate("f", context: b.prepare(context, now: now))
            x.version = y.version
            #expect(x == y)
        }
    }
}

@Suite("The manifest's analytics policy")
struct AnalyticsPolicyCompileTests {
    @Test func everySnapshotCarriesThePolicy() throws {
        let c = compile(
            ["shop/flags/f.yaml": "{}"],
            manifest: typedManifest + "\nanalytics:\n  keep: [plan, device.os, country]\n  targeting_key: plain\n")
        #expect(c.errors.isEmpty, "\(c.errors)")
        #expect(c.manifest?.analytics == AnalyticsPolicy(keep: ["country", "device.os", "plan"], targetingKey: .plain))
        #expect(c.snapshots.count == 2)
        for s in c.snapshots {
            #expect(s.analytics.keep == ["country", "device.os", "plan"])
            #expect(s.analytics.targetingKey == .plain)
        }
    }

    @Test(arguments: ["", "\nanalytics: {}\n", "\nanalytics:\n  keep: []\n  targeting_key: hashed\n"])
    func withoutAPolicyOrWithTheDefaultOneSnapshotsHaveTheDefault(section: String) throws {
        let c = compile(["shop/flags/f.yaml": "{}"], manifest: baseManifest + section)
        #expect(c.errors.isEmpty, "\(c.errors)")
        for s in c.snapshots { #expect(s.analytics == .default) }
    }

    @Test func withoutAContextSchemaAnyAttributeMayBeKept() {
        let c = compile(["shop/flags/f.yaml": "{}"], manifest: baseManifest + "\nanalytics: { keep: [anything] }\n")
        #expect(c.errors.isEmpty, "\(c.errors)")
        #expect(c.snapshots.first?.analytics.keep == ["anything"])
    }

    // Lines of the manifest: 7 is `analytics:` when the manifest has no context schema.
    @Test(arguments: [
        ("analytics:\n  keep: [plan]\n  retain: 30\n", ["E100 flagstaff.yaml:9:3"], "expected one of 'keep', 'targeting_key'"),
        ("analytics:\n  keep: plan\n", ["E101 flagstaff.yaml:8:9"], nil),
        ("analytics:\n  keep: [plan, 3]\n", ["E101 flagstaff.yaml:8:16"], nil),
        ("analytics:\n  keep: [plan, { a: b }]\n", ["E101 flagstaff.yaml:8:16"], nil),
        (
            "analytics:\n  keep: [targetingKey]\n", ["E109 flagstaff.yaml:8:10"],
            "the targeting key is governed by `targeting_key` (hashed or plain); remove it here"
        ),
        ("analytics:\n  keep: [plan, country, plan]\n", ["E109 flagstaff.yaml:8:25"], "remove the second one"),
        ("analytics:\n  targeting_key: hash\n", ["E109 flagstaff.yaml:8:18"], "did you mean 'hashed'?"),
        ("analytics:\n  targeting_key: sha256\n", ["E109 flagstaff.yaml:8:18"], "expected one of 'hashed', 'plain'"),
        ("analytics:\n  targeting_key: true\n", ["E101 flagstaff.yaml:8:18"], nil),
        ("analytics: [plan]\n", ["E101 flagstaff.yaml:7:12"], nil),
    ] as [(String, [String], String?)])
    func invalidPoliciesAreDiagnosedWhereWritten(section: String, expected: [String], hint: String?) throws {
        let c = compile(["shop/flags/f.yaml": "{}"], manifest: baseManifest + "\n" + section)
        #expect(positions(c) == expected, "\(c.diagnostics)")
        if let hint { #expect(c.diagnostics.first?.hint == hint) }
        #expect(c.snapshots.isEmpty)
    }

    @Test func keptAttributesMustBeDeclaredWhenThereIsASchema() throws {
        let c = compile(
            ["shop/flags/f.yaml": "{}"],
            manifest: typedManifest + "\nanalytics:\n  keep: [plna, email, currentTime, device.os]\n")
        // Line 12 is `  keep: [...]`: the typed manifest has 10 lines, then `analytics:`.
        #expect(positions(c) == ["E400 flagstaff.yaml:12:10", "E400 flagstaff.yaml:12:16"], "\(c.diagnostics)")
        #expect(c.diagnostics.map(\.hint) == [
            "did you mean 'plan'? Or declare it under `context:` in flagstaff.yaml",
            "declare it under `context:` in flagstaff.yaml, or fix the spelling",
        ])
        #expect(c.diagnostics.allSatisfy { $0.message.contains("not declared in the manifest's context schema") })
    }

    @Test func anAttributeWhoseDeclarationIsWrongIsNotAlsoUndeclared() {
        let c = compile(
            ["shop/flags/f.yaml": "{}"],
            manifest: baseManifest + "\ncontext:\n  plan: integer\nanalytics:\n  keep: [plan]\n")
        #expect(positions(c) == ["E403 flagstaff.yaml:8:9"], "\(c.diagnostics)")
    }
}
