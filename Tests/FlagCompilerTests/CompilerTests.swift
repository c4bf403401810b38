import FlagCompiler
import FlagEngine
import FlagModel
import Testing

private typealias Location = FlagCompiler.SourceLocation

private let manifest = """
    version: 1
    organization: acme
    projects: { shop: {} }
    environments:
      production: { branch: main, production: true }
      staging: { branch: staging }
    context:
      email: string
      plan: { type: string, enum: [free, pro, enterprise] }
      age: number
      app_version: semver
    """

private func compile(_ files: [String: String], manifest m: String = manifest) -> Compilation {
    var all = files
    all["flagstaff.yaml"] = m
    return Compiler().compile(MemoryTree(all), options: CompileOptions(now: Instant(seconds: 1_767_225_600)))
}

@Suite("The compiler")
struct CompilerTests {
    @Test func reportsEveryProblemInOneRunInAStableOrder() {
        let files = [
            "shop/flags/b.yaml": "rules:\n  - when: [ { attribute: plann, op: in, values: [pro] } ]\n    serve: onn\n",
            "shop/flags/a.yaml": "defualt: on\nrules:\n  - { when: [ { segment: nope } ], serve: on, rollout: 150 }\n",
            "shop/segments/s.yaml": "when: [ { attribute: age, op: num_gt, value: old } ]\n",
        ]
        let first = compile(files)
        let again = compile(files)
        #expect(first.diagnostics == again.diagnostics)
        let summary = first.diagnostics.map { "\($0.location.file):\($0.location.line):\($0.location.column) \($0.code.rawValue)" }
        #expect(
            summary == [
                "shop/flags/a.yaml:1:1 E100",
                "shop/flags/a.yaml:3:26 E201",
                "shop/flags/a.yaml:3:56 E301",
                "shop/flags/b.yaml:2:26 E400",
                "shop/flags/b.yaml:3:12 E200",
                "shop/segments/s.yaml:1:46 E306",
            ], "\(first.diagnostics)")
        #expect(first.snapshots.isEmpty)
    }

    @Test func hintsSuggestTheLikelyFix() {
        let c = compile([
            "shop/flags/f.yaml": "rules:\n  - { when: [ { attribute: emial, op: endswith, values: [x] } ], serve: on }\nrolout: 3\n"
        ])
        let hints = Dictionary(c.diagnostics.map { ($0.code, $0.hint ?? "") }, uniquingKeysWith: { a, _ in a })
        #expect(hints[.unknownOperator] == "did you mean 'ends_with'?")
        #expect(hints[.unknownField] == "did you mean 'rollout'? It belongs in a rule")
        let attribute = compile([
            "shop/flags/f.yaml": "rules:\n  - { when: [ { attribute: emial, op: ends_with, values: [x] } ], serve: on }\n"
        ])
        #expect(attribute.diagnostics.first?.hint == "did you mean 'email'?")
    }

    @Test func yamlOneTwoTypingKeepsOnAndOffAsVariantNames() throws {
        let c = compile([
            "shop/flags/f.yaml": "variants: { on: true, off: false, yes: true }\nrules: [ { serve: yes } ]\ndefault: off\n"
        ])
        #expect(c.errors.isEmpty, "\(c.errors)")
        let flag = try #require(c.snapshots.first?.flag("f"))
        #expect(flag.variants.keys.sorted() == ["off", "on", "yes"])
        #expect(flag.rules[0].serve == .variant("yes"))
    }

    @Test func booleanFlagsGetDefaultsOthersMustSayEverything() throws {
        let c = compile(["shop/flags/f.yaml": "{}"])
        let flag = try #require(c.snapshots.first?.flag("f"))
        #expect(flag.variants == ["on": true, "off": false])
        #expect(flag.offVariant == "off")
        #expect(flag.defaultServe == .variant("off"))
        let s = compile(["shop/flags/s.yaml": "type: string\nvariants: { a: x }\n"])
        #expect(s.errors.map(\.code) == [.missingField, .missingField])
    }

    @Test func contextSchemaIsEnforced() {
        let c = compile([
            "shop/flags/f.yaml": """
            rules:
              - when: [ { attribute: plan, op: in, values: [gold] } ]
                serve: on
              - when: [ { attribute: age, op: starts_with, values: ["1"] } ]
                serve: on
              - when: [ { attribute: app_version, op: semver_gt, value: v1.2 } ]
                serve: on
            tests:
              - { context: { plan: gold, age: "x" }, expect: off }
            """
        ])
        let codes = c.diagnostics.map(\.code)
        #expect(codes.contains(.valueNotInEnum))
        #expect(codes.contains(.operatorTypeMismatch))
        #expect(codes.contains(.invalidSemver))
        #expect(codes.filter { $0 == .contextSchemaViolation }.count == 2)
        #expect(c.diagnostics.first { $0.code == .valueNotInEnum }?.hint == "allowed: free, pro, enterprise")
    }

    @Test func overlaysReplaceFieldsPerEnvironmentAndCheckEnvironmentNames() throws {
        let c = compile([
            "shop/flags/f.yaml": """
            rules: [ { when: [ { attribute: plan, op: in, values: [pro] } ], serve: on } ]
            environments:
              staging: { rules: [], default: on }
            """
        ])
        #expect(c.errors.isEmpty)
        #expect(c.snapshot(project: "shop", environment: "production")?.flag("f")?.rules.count == 1)
        #expect(c.snapshot(project: "shop", environment: "staging")?.flag("f")?.rules.isEmpty == true)
        #expect(c.snapshot(project: "shop", environment: "staging")?.flag("f")?.defaultServe == .variant("on"))
        let bad = compile(["shop/flags/f.yaml": "environments:\n  stagin: { default: on }\n  staging: { owner: x }\n"])
        #expect(bad.diagnostics.map(\.code) == [.unknownEnvironment, .notOverlayable])
        #expect(bad.diagnostics.first?.hint == "did you mean 'staging'?")
    }

    @Test func problemsOnlyAnOverlayCausesNameTheEnvironment() {
        let c = compile([
            "shop/flags/f.yaml": """
            type: string
            variants: { a: x, b: y }
            off_variant: a
            default: b
            rules: [ { serve: c } ]
            environments:
              staging: { variants: { a: x } }
            """
        ])
        let messages = c.errors.map(\.message)
        #expect(messages.contains("default names unknown variant 'b' (in environment 'staging', with its overlay)"))
        #expect(messages.contains("rule 1 names unknown variant 'c'"), "a base problem stays plain: \(messages)")
        #expect(!messages.contains("rule 1 names unknown variant 'c' (in environment 'staging', with its overlay)"))
    }

    @Test func cyclesAreFound() {
        let c = compile([
            "shop/flags/a.yaml": "requires: [ { flag: b, variants: [on] } ]",
            "shop/flags/b.yaml": "requires: [ { flag: a, variants: [on] } ]",
            "shop/segments/x.yaml": "when: [ { segment: y } ]",
            "shop/segments/y.yaml": "when: [ { not: { segment: x } } ]",
        ])
        let cycle = c.diagnostics.filter { $0.code == .prerequisiteCycle }
        #expect(cycle.count == 1)
        #expect(cycle.first?.message.contains("a → b → a") == true)
        let segmentCycle = c.diagnostics.filter { $0.code == .segmentCycle }
        #expect(segmentCycle.count == 1)
        #expect(segmentCycle.first?.message.contains("x → y → x") == true)
    }

    @Test func regexOutsideTheRE2SubsetIsRejected() {
        for pattern in ["(?=a)b", "(a)\\1", "(?<!x)y", "(?>a)"] {
            let c = compile([
                "shop/flags/f.yaml": "rules:\n  - { when: [ { attribute: email, op: matches, value: '\(pattern)' } ], serve: on }\n"
            ])
            #expect(c.diagnostics.map(\.code) == [.invalidRegex], "\(pattern): \(c.diagnostics)")
        }
    }

    @Test func expiredFlagsWarnWithoutFailing() {
        let c = compile(["shop/flags/f.yaml": "expires: 2025-12-31\n"])
        #expect(c.diagnostics.map(\.code) == [.expired])
        #expect(!c.hasErrors)
        #expect(c.snapshots.count == 2)
        #expect(compile(["shop/flags/f.yaml": "expires: 2026-01-01\n"]).diagnostics.isEmpty, "not past on its own day")
    }

    @Test func goldenTestsRunInEveryEnvironmentTheyName() {
        let c = compile([
            "shop/flags/f.yaml": """
            environments: { staging: { default: on } }
            tests:
              - { context: {}, expect: off }
              - { environment: staging, context: {}, expect: on, reason: STATIC }
            """
        ])
        #expect(c.tests.count == 3)
        let failures = c.tests.filter { !$0.passed }
        #expect(failures.map(\.environment) == ["staging"])
        #expect(c.diagnostics.map(\.code) == [.goldenTestFailed])
        #expect(c.diagnostics.first?.message.contains("expected variant 'off', got variant 'on' (STATIC)") == true)
    }
}
