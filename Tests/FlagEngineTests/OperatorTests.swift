import FlagEngine
import FlagModel
import Testing

/// Whether a single condition holds for a context, through the engine alone.
private func holds(
    _ op: Operator, _ values: [String], attribute: String = "a", _ context: [String: Value],
    caseInsensitive: Bool = false, negate: Bool = false
) -> Bool {
    let flag = Flag(
        key: "f",
        rules: [
            Rule(
                when: [
                    .attribute(
                        AttributeCondition(
                            attribute: attribute, op: op, values: values, caseInsensitive: caseInsensitive,
                            negate: negate))
                ], serve: .variant("on"))
        ])
    let evaluator = Evaluator(
        snapshot: Snapshot(organization: "o", project: "p", environment: "e", flags: [flag], segments: []))
    return evaluator.eval("f", context).variant == "on"
}

@Suite("Operators, with Unleash's semantics")
struct OperatorTests {
    @Test func missingAttributeFailsEveryOperatorButNotIn() {
        for op in Operator.allCases where op != .notIn {
            let values: [String] =
                switch op.family {
                case .number: ["1"]
                case .date: ["2024-01-01T00:00:00Z"]
                case .semver: ["1.0.0"]
                case .cidr: ["10.0.0.0/8"]
                case .regex: ["x"]
                case .existence: []
                default: ["x"]
                }
            #expect(!holds(op, values, [:]), "\(op) on a missing attribute")
            #expect(!holds(op, values, ["a": .null]), "\(op) on a null attribute")
            #expect(holds(op, values, [:], negate: true), "negated \(op) on a missing attribute")
        }
        #expect(holds(.notIn, ["x"], [:]))
        #expect(!holds(.notIn, ["x"], [:], negate: true))
    }

    @Test func membership() {
        #expect(holds(.in, ["a", "b"], ["a": "b"]))
        #expect(!holds(.in, ["a", "b"], ["a": "B"]))
        #expect(holds(.in, ["a", "b"], ["a": "B"], caseInsensitive: true))
        #expect(holds(.notIn, ["a"], ["a": "b"]))
        #expect(!holds(.notIn, ["a"], ["a": "a"]))
        #expect(holds(.in, ["42"], ["a": 42]), "numbers compare as JSON writes them")
        #expect(holds(.in, ["true"], ["a": true]))
        #expect(!holds(.in, [" a"], ["a": "a"]), "no trimming")
    }

    @Test func stringOperators() {
        #expect(holds(.contains, ["ell"], ["a": "hello"]))
        #expect(!holds(.contains, ["ELL"], ["a": "hello"]))
        #expect(holds(.contains, ["ELL"], ["a": "hello"], caseInsensitive: true))
        #expect(holds(.startsWith, ["he", "x"], ["a": "hello"]))
        #expect(!holds(.startsWith, ["lo"], ["a": "hello"]))
        #expect(holds(.endsWith, ["@acme.com"], ["a": "Bob@ACME.com"], caseInsensitive: true))
        #expect(!holds(.endsWith, ["@acme.com"], ["a": "Bob@ACME.com"]))
        #expect(holds(.endsWith, ["ø"], ["a": "Hellø"]), "UTF-8 suffixes")
        #expect(!holds(.contains, ["x"], ["a": ["x"]]), "arrays are not strings")
    }

    @Test func regex() {
        #expect(holds(.matches, ["^\\d+$"], ["a": "123"]))
        #expect(!holds(.matches, ["^\\d+$"], ["a": "12a"]))
        #expect(holds(.matches, ["abc"], ["a": "xxABCxx"], caseInsensitive: true))
        #expect(holds(.matches, ["b"], ["a": "abc"]), "unanchored search")
        let hostile = String(repeating: "a", count: 50_000) + "!"
        #expect(!holds(.matches, ["(a+)+$"], ["a": .string(hostile)]), "no catastrophic backtracking")
    }

    @Test func numbersCompareAsNumbers() {
        #expect(holds(.numEq, ["12"], ["a": "12.0"]))
        #expect(holds(.numEq, ["12"], ["a": 12]))
        #expect(holds(.numGt, ["9"], ["a": "10"]), "10 > 9 numerically, though not as text")
        #expect(!holds(.numGt, ["10"], ["a": 10]))
        #expect(holds(.numGte, ["10"], ["a": 10]))
        #expect(holds(.numLt, ["1e3"], ["a": 999.5]))
        #expect(holds(.numLte, ["-1"], ["a": "-1"]))
        #expect(!holds(.numEq, ["1"], ["a": "one"]), "unparsable is false")
        #expect(!holds(.numEq, ["1"], ["a": " 1"]), "no whitespace")
        #expect(holds(.numEq, ["1"], ["a": "one"], negate: true))
    }

    @Test func datesAreExclusiveAndZoneAware() {
        let cut = "2024-06-01T12:00:00Z"
        #expect(holds(.after, [cut], ["a": "2024-06-01T12:00:01Z"]))
        #expect(!holds(.after, [cut], ["a": "2024-06-01T12:00:00Z"]), "exclusive")
        #expect(!holds(.before, [cut], ["a": "2024-06-01T12:00:00Z"]), "exclusive")
        #expect(holds(.before, [cut], ["a": "2024-06-01T13:59:59+02:00"]), "11:59:59Z")
        #expect(holds(.after, [cut], ["a": "2024-06-01T14:00:01+02:00"]))
        #expect(!holds(.after, [cut], ["a": "2024-06-02"]), "a bare date has no zone")
        #expect(!holds(.after, [cut], ["a": "2024-06-02T00:00:00"]), "no offset")
        #expect(holds(.after, [cut], ["a": "2024-06-02 00:00:00.123456Z"]), "relaxed separator and fraction")
    }

    @Test func currentTimeDefaultsToTheEvaluationTime() {
        // The evaluation time used by `eval` is 2026-01-01T00:00:00Z.
        #expect(holds(.after, ["2025-12-31T23:59:59Z"], attribute: "currentTime", [:]))
        #expect(!holds(.after, ["2026-01-01T00:00:00Z"], attribute: "currentTime", [:]))
        #expect(holds(.before, ["2026-01-01T00:00:00Z"], attribute: "currentTime", ["currentTime": "2025-06-01T00:00:00Z"]))
    }

    @Test func semverPrecedence() {
        #expect(holds(.semverLt, ["1.0.0"], ["a": "1.0.0-rc.1"]), "pre-release below its release")
        #expect(holds(.semverGt, ["1.0.0-alpha"], ["a": "1.0.0-alpha.1"]))
        #expect(holds(.semverGt, ["1.0.0-beta.2"], ["a": "1.0.0-beta.11"]), "numeric identifiers as numbers")
        #expect(holds(.semverEq, ["1.2.3"], ["a": "1.2.3+build.5"]), "build metadata ignored")
        #expect(holds(.semverGte, ["1.2.3"], ["a": "1.2.3"]))
        #expect(holds(.semverLte, ["1.10.0"], ["a": "1.9.9"]))
        #expect(!holds(.semverGt, ["1.0.0"], ["a": "v2.0.0"]), "not semver: false")
        #expect(!holds(.semverGt, ["1.0.0"], ["a": "2.0"]))
    }

    @Test func cidrBothFamilies() {
        #expect(holds(.inCIDR, ["10.0.0.0/8"], ["a": "10.1.2.3"]))
        #expect(!holds(.inCIDR, ["10.0.0.0/8"], ["a": "11.1.2.3"]))
        #expect(holds(.inCIDR, ["10.1.2.3/8"], ["a": "10.200.0.1"]), "host bits ignored")
        #expect(holds(.inCIDR, ["192.168.1.1"], ["a": "192.168.1.1"]), "an address is a /32")
        #expect(holds(.inCIDR, ["2001:db8::/32"], ["a": "2001:db8:1::5"]))
        #expect(!holds(.inCIDR, ["2001:db8::/32"], ["a": "2001:db9::1"]))
        #expect(!holds(.inCIDR, ["1.2.3.0/24"], ["a": "::ffff:1.2.3.4"]), "families never mix")
        #expect(!holds(.inCIDR, ["10.0.0.0/8"], ["a": "010.1.2.3"]), "strict addresses")
        #expect(holds(.inCIDR, ["bogus", "10.0.0.0/8"], ["a": "10.0.0.1"]), "invalid entries are skipped")
    }

    @Test func exists() {
        #expect(holds(.exists, [], ["a": ""]), "an empty string is present")
        #expect(holds(.exists, [], ["a": ["x": 1]]))
        #expect(!holds(.exists, [], ["a": .null]))
    }

    @Test func nestedAttributesUseDots() {
        #expect(holds(.in, ["ios"], attribute: "device.os", ["device": ["os": "ios"]]))
        #expect(holds(.in, ["ios"], attribute: "device.os", ["device.os": "ios"]), "a literal dotted key first")
        #expect(!holds(.in, ["ios"], attribute: "device.os", ["device": "ios"]))
    }
}
