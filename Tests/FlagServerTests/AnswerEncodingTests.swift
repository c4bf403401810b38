import FlagEngine
import FlagModel
@testable import FlagServer
import Foundation
import Hummingbird
import Testing

/// Flags that reach every reason, named and unnamed rules, every kind of value, and text
/// that JSON must escape.
func answerSnapshot() throws -> Snapshot {
    let files: [String: String] = [
        "flagstaff.yaml": demoManifest,
        "shop/flags/gate.yaml": """
        rules:
          - name: "staff \\"quoted\\" ünïcode"
            when: [ { attribute: email, op: ends_with, values: ["@acme.com"] } ]
            serve: on
          - when: [ { attribute: plan, op: in, values: [pro] } ]
            rollout: 50
            serve: on
          - name: split by country
            when: [ { attribute: country, op: in, values: [NL, BE] } ]
            serve: { split: { on: 50, off: 50 } }
        default: off
        """,
        "shop/flags/needs-gate.yaml": """
        type: string
        variants: { plain: "a\\tb", fancy: "line\\nbreak \\u00e9 \\\\ \\"" }
        off_variant: plain
        requires: [ { flag: gate, variants: [on] } ]
        default: fancy
        """,
        "shop/flags/disabled.yaml": """
        enabled: false
        default: on
        """,
        "shop/flags/static-number.yaml": """
        type: number
        variants: { small: 3, big: 1.5e300, neg: -0.25 }
        off_variant: small
        default: neg
        """,
        "shop/flags/json-split.yaml": """
        type: json
        variants: { a: { list: [1, 2.0, null, true], "k\\"ey": { deep: "x" } }, b: [], c: null }
        off_variant: a
        default: { split: { a: 40, b: 30, c: 30 } }
        """,
    ]
    // The production snapshot (the manifest's first environment).
    return try #require(try compileSnapshots(files).first)
}

func contexts() -> [[String: Value]] {
    var out: [[String: Value]] = [[:]]
    for i in 0..<60 {
        var context: [String: Value] = ["targetingKey": .string("user-\(i)")]
        if i % 3 == 0 { context["email"] = .string("p\(i)@acme.com") }
        if i % 2 == 0 { context["plan"] = .string("pro") }
        if i % 5 < 2 { context["country"] = .string(i % 5 == 0 ? "NL" : "BE") }
        out.append(context)
    }
    return out
}

@Suite("Pre-encoded OFREP answers")
struct AnswerEncodingTests {
    @Test func reasonOrdinalsArePositionsInAllCases() {
        for (position, reason) in Reason.allCases.enumerated() { #expect(reason.ordinal == position, "\(reason)") }
    }

    @Test func everyAnswerIsByteForByteTheCanonicalJSONOfTheResult() throws {
        let active = ActiveSnapshot(snapshot: try answerSnapshot(), revision: 7)
        let evaluator = active.evaluator
        var reasons = Set<Reason>()
        var rules = Set<Int>()
        for context in contexts() {
            let prepared = evaluator.prepare(context, now: Instant(seconds: 1_767_225_600))
            for index in 0..<evaluator.flagCount {
                let decision = evaluator.decide(at: index, context: prepared)
                let expected = evaluator.evaluate(evaluator.flagKey(at: index), context: prepared)
                #expect(evaluator.result(of: decision, at: index) == expected)
                try #require(OFREPAnswers.isEncodable(decision))
                var buffer = ByteBuffer()
                active.answers.withWriter { $0.write(flag: index, decision, to: &buffer) }
                let written = String(buffer: buffer)
                #expect(written == CanonicalJSON.encode(expected.ofrepJSON))
                reasons.insert(decision.reason)
                rules.insert(decision.rule)
            }
        }
        // The contexts reach every reason a compiled flag can give and every rule.
        #expect(reasons == [.static, .default, .targetingMatch, .split, .disabled, .prerequisiteFailed])
        #expect(rules == [-1, 0, 1, 2])
    }

    @Test func theBulkBodyIsTheCanonicalJSONOfTheBulkAnswer() throws {
        let active = ActiveSnapshot(snapshot: try answerSnapshot(), revision: 12)
        for context in contexts().prefix(10) {
            let body = String(buffer: FlagServer.bulkBody(active, context: context))
            let prepared = active.evaluator.prepare(context, now: Instant(seconds: 1_767_225_600))
            let expected: Value = .object([
                "flags": .array(active.evaluator.evaluateAll(context: prepared).map(\.ofrepJSON)),
                "eventStreams": .array([
                    .object([
                        "type": .string("sse"),
                        "endpoint": .object(["requestUri": .string("/api/v1/stream?events=ofrep")]),
                        "inactivityDelaySec": .int(120),
                    ])
                ]),
                "metadata": .object([
                    "project": .string("shop"), "environment": .string("production"),
                    "version": .string(active.version), "revision": .int(12),
                ]),
            ])
            #expect(body == CanonicalJSON.encode(expected))
        }
    }

    @Test func anEmptySnapshotAnswersAnEmptyList() throws {
        var snapshot = try answerSnapshot()
        snapshot.flags = []
        snapshot.segments = []
        let active = ActiveSnapshot(snapshot: snapshot, revision: 1)
        let body = try JSONParser.parse(String(buffer: FlagServer.bulkBody(active, context: [:])))
        #expect(object(body)["flags"] == .array([]))
    }

    @Test func countsSurviveASwapAndRetiredCountersAreLetGo() throws {
        let registry = SnapshotRegistry()
        let first = ActiveSnapshot(snapshot: try answerSnapshot(), revision: 1)
        registry.swap(first)
        _ = FlagServer.bulkBody(first, context: [:])
        first.counters.recordNotFound()
        // A request still holds the first snapshot when the second is swapped in, and counts on it after.
        let second = ActiveSnapshot(snapshot: try answerSnapshot(), revision: 2)
        registry.swap(second)
        _ = FlagServer.bulkBody(first, context: [:])
        _ = FlagServer.bulkBody(second, context: [:])
        let (counts, notFound) = registry.evaluationCounts()
        let disabled = EvaluationKey(
            project: "shop", environment: "production", flag: "disabled", variant: "off", reason: "DISABLED")
        #expect(counts[disabled] == 3)
        #expect(notFound[EnvironmentKey(project: "shop", environment: "production")] == 1)
        #expect(counts.values.reduce(0, +) == 15, "5 flags, 3 bulk evaluations")
        // Reading twice does not count twice.
        #expect(registry.evaluationCounts().counts[disabled] == 3)
        #expect(registry.retiredCount == 1, "a request still holds the first snapshot")
        _ = consume first
        _ = registry.evaluationCounts()
        #expect(registry.retiredCount == 0)
    }
}
