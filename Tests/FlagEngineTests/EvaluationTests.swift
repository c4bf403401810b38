import FlagCompiler
import FlagEngine
import FlagModel
import Testing

@Suite("Evaluation order and reasons (SPEC §6)")
struct EvaluationTests {
    static let checkout = """
        rules:
          - name: staff
            when:
              - { attribute: email, op: ends_with, values: ["@acme.com"], case_insensitive: true }
            serve: on
          - name: beta
            when: [ { segment: beta-testers } ]
            serve: on
          - name: everyone else in the experiment
            when: [ { attribute: plan, op: in, values: [pro] } ]
            serve:
              split: { off: 50, on: 50 }
              by: [userId]
        default: off
        environments:
          staging: { default: on }
        """
    static let beta = """
        include: [user-17]
        exclude: [user-99]
        when: [ { attribute: country, op: in, values: [NZ] } ]
        """

    @Test func rulesMatchInOrderWithIndexAndName() throws {
        let e = try evaluator(flags: ["checkout": Self.checkout], segments: ["beta-testers": Self.beta])
        let staff = e.eval("checkout", ["targetingKey": "user-99", "email": "Kim@ACME.com", "country": "NZ"])
        #expect(staff.variant == "on")
        #expect(staff.value == .bool(true))
        #expect(staff.reason == .targetingMatch)
        #expect(staff.ruleIndex == 0)
        #expect(staff.ruleName == "staff")
        #expect(staff.version == e.version)
        let beta = e.eval("checkout", ["targetingKey": "user-17"])
        #expect(beta.reason == .targetingMatch)
        #expect(beta.ruleIndex == 1)
        let nobody = e.eval("checkout", ["targetingKey": "user-5"])
        #expect(nobody.variant == "off")
        #expect(nobody.reason == .default)
        #expect(nobody.ruleIndex == nil)
        let split = e.eval("checkout", ["targetingKey": "user-5", "plan": "pro", "userId": "u1"])
        #expect(split.reason == .split)
        #expect(split.ruleIndex == 2)
    }

    @Test func segmentsIncludeExcludeAndConditions() throws {
        let e = try evaluator(flags: ["checkout": Self.checkout], segments: ["beta-testers": Self.beta])
        #expect(e.eval("checkout", ["targetingKey": "user-17", "country": "FR"]).ruleIndex == 1, "include")
        #expect(e.eval("checkout", ["targetingKey": "user-99", "country": "NZ"]).ruleIndex == nil, "exclude wins")
        #expect(e.eval("checkout", ["targetingKey": "user-3", "country": "NZ"]).ruleIndex == 1, "conditions")
        #expect(e.eval("checkout", ["country": "NZ"]).ruleIndex == 1, "no targeting key: conditions still apply")
    }

    @Test func segmentsNestAndAnEmptyWhenMeansOnlyIncluded() throws {
        let e = try evaluator(
            flags: ["f": "rules: [ { when: [ { segment: outer } ], serve: on } ]"],
            segments: [
                "outer": "when: [ { any: [ { segment: inner }, { attribute: vip, op: in, values: [\"yes\"] } ] } ]",
                "inner": "include: [alice]",
            ])
        #expect(e.eval("f", ["targetingKey": "alice"]).variant == "on")
        #expect(e.eval("f", ["targetingKey": "bob", "vip": "yes"]).variant == "on")
        #expect(e.eval("f", ["targetingKey": "bob"]).variant == "off")
    }

    @Test func overlaysApplyPerEnvironment() throws {
        let staging = try evaluator(
            flags: ["checkout": Self.checkout], segments: ["beta-testers": Self.beta], environment: "staging")
        #expect(staging.eval("checkout", ["targetingKey": "x"]).variant == "on")
        #expect(staging.eval("checkout", ["targetingKey": "x"]).reason == .default)
    }

    @Test func disabledServesTheOffVariant() throws {
        let e = try evaluator(flags: [
            "f": """
            type: string
            variants: { a: "A", b: "B" }
            enabled: false
            off_variant: b
            default: a
            """
        ])
        let r = e.eval("f")
        #expect(r.variant == "b")
        #expect(r.value == "B")
        #expect(r.reason == .disabled)
    }

    @Test func staticFlags() throws {
        let e = try evaluator(flags: ["f": "default: on"])
        #expect(e.eval("f").reason == .static)
        #expect(e.eval("f").value == .bool(true))
    }

    @Test func prerequisites() throws {
        let e = try evaluator(flags: [
            "payments-v2": "rules: [ { when: [ { attribute: region, op: in, values: [eu] } ], serve: on } ]",
            "checkout": """
            requires: [ { flag: payments-v2, variants: [on] } ]
            default: on
            """,
            "disabled-parent": "enabled: false\ndefault: on",
            "child-of-disabled": "requires: [ { flag: disabled-parent, variants: [off] } ]\ndefault: on",
        ])
        #expect(e.eval("checkout", ["region": "eu"]).variant == "on")
        #expect(e.eval("checkout", ["region": "eu"]).reason == .default)
        let failed = e.eval("checkout", ["region": "us"])
        #expect(failed.variant == "off")
        #expect(failed.reason == .prerequisiteFailed)
        #expect(e.eval("child-of-disabled").variant == "on", "a disabled parent serves its off variant")
    }

    @Test func unknownFlagAndTypeMismatch() throws {
        let e = try evaluator(flags: ["f": "default: on"])
        let missing = e.eval("nope")
        #expect(missing.errorCode == .flagNotFound)
        #expect(missing.reason == .error)
        let context = e.prepare([:], now: Instant(seconds: 0))
        #expect(e.evaluateBoolean("f", context: context).errorCode == nil)
        #expect(e.evaluateString("f", context: context).errorCode == .typeMismatch)
        #expect(e.evaluateNumber("f", context: context).errorCode == .typeMismatch)
        #expect(e.evaluateJSON("f", context: context).errorCode == .typeMismatch)
    }

    @Test func numbersKeepTheirKind() throws {
        let e = try evaluator(flags: [
            "n": "type: number\nvariants: { whole: 3, fraction: 3.0 }\noff_variant: whole\ndefault: fraction"
        ])
        #expect(e.eval("n").value == .double(3.0))
        #expect(e.eval("n").ofrepJSON["value"].map { "\($0)" } == "3.0")
    }

    @Test func evaluateAllReturnsEveryFlagInKeyOrder() throws {
        let e = try evaluator(flags: ["b": "default: on", "a": "default: off", "c": "enabled: false"])
        let all = e.evaluateAll(context: e.prepare([:], now: Instant(seconds: 0)))
        #expect(all.map(\.key) == ["a", "b", "c"])
        #expect(all.map(\.variant) == ["off", "on", "off"])
        #expect(all.map(\.reason) == [.static, .static, .disabled])
    }

    @Test func ofrepObjectMapsReasonsProvidersDoNotKnow() throws {
        let e = try evaluator(flags: [
            "p": "default: on", "c": "requires: [ { flag: p, variants: [off] } ]\ndefault: on",
        ])
        let json = e.eval("c").ofrepJSON
        #expect(json["reason"] == "DISABLED")
        #expect(json["metadata"]?["reason"] == "PREREQUISITE_FAILED")
        #expect(json["variant"] == "off")
        #expect(json["value"] == .bool(false))
    }
}

@Suite("Snapshots from elsewhere")
struct ForeignSnapshotTests {
    /// The compiler rejects cycles and unknown names, but a snapshot read from Redis or
    /// PostgreSQL did not pass through it here: evaluation must still end.
    @Test func cyclesAndDanglingNamesCannotHangOrCrash() {
        let snapshot = Snapshot(
            organization: "o", project: "p", environment: "e",
            flags: [
                Flag(key: "a", defaultServe: .variant("on"), requires: [Prerequisite(flag: "b", variants: ["on"])]),
                Flag(key: "b", defaultServe: .variant("on"), requires: [Prerequisite(flag: "a", variants: ["on"])]),
                Flag(key: "s", rules: [Rule(when: [.segment("x")], serve: .variant("on"))]),
                Flag(key: "ghost", defaultServe: .variant("nope")),
                Flag(key: "missing", rules: [Rule(when: [.segment("nowhere")], serve: .variant("on"))]),
            ],
            segments: [Segment(key: "x", when: [.segment("y")]), Segment(key: "y", when: [.segment("x")])])
        let e = Evaluator(snapshot: snapshot)
        #expect(e.eval("a").reason == .prerequisiteFailed)
        #expect(e.eval("s").variant == "off")
        #expect(e.eval("ghost").variant == nil)
        #expect(e.eval("ghost").value == nil)
        #expect(e.eval("missing").variant == "off")
    }
}
