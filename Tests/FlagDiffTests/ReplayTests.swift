import FlagDiff
import FlagEngine
import FlagModel
import Testing

@Suite("Replaying contexts through both sides")
struct ReplayTests {
    @Test func countsWhoChangesFromWhatToWhat() throws {
        let base = try compile(flags: [
            "checkout": "rules: [ { when: [ { attribute: plan, op: in, values: [pro] } ], serve: on } ]",
            "legacy": "default: on",
            "stable": "default: on",
        ])
        let head = try compile(flags: [
            "checkout": "rules: [ { when: [ { attribute: plan, op: in, values: [pro, enterprise] } ], serve: on } ]",
            "fresh": "default: on",
            "stable": "default: on",
        ])
        let contexts: [[String: Value]] = [
            ["targetingKey": "u1", "plan": "pro"],
            ["targetingKey": "u2", "plan": "enterprise"],
            ["targetingKey": "u3", "plan": "free"],
            ["targetingKey": "u4", "plan": "enterprise"],
            ["targetingKey": "u5"],
        ]
        let replay = Replay.run(base: base["production"], head: head["production"], contexts: contexts, now: testNow)
        #expect(replay.contexts == 5)
        #expect(replay.changed == 5, "every context loses legacy and gains fresh")
        #expect(replay.flagKeys == ["checkout", "fresh", "legacy"], "stable never changes")
        #expect(
            replay.transitions["checkout"]
                == [Transition(flag: "checkout", from: "off", to: "on", count: 2, share: 0.4)])
        #expect(replay.transitions["fresh"] == [Transition(flag: "fresh", from: nil, to: "on", count: 5, share: 1)])
        #expect(replay.transitions["legacy"] == [Transition(flag: "legacy", from: "on", to: nil, count: 5, share: 1)])
    }

    @Test func onlyRealChangesAreCounted() throws {
        let flags = [
            "checkout": "rules: [ { when: [ { attribute: plan, op: in, values: [pro] } ], serve: on } ]",
            "lottery": "default: { split: { off: 50, on: 50 }, by: [random] }",
        ]
        let s = try compile(flags: flags)
        let contexts: [[String: Value]] = (0..<50).map { ["targetingKey": .string("u\($0)"), "plan": "pro"] }
        let replay = Replay.run(base: s["production"], head: s["production"], contexts: contexts, now: testNow)
        #expect(replay.changed == 0, "random buckets are drawn alike on both sides")
        #expect(replay.transitions.isEmpty)
    }

    @Test func missingSideCountsAsNoVariant() throws {
        let s = try compile(flags: ["a": "default: on"])
        let replay = Replay.run(base: nil, head: s["production"], contexts: [["targetingKey": "u1"]], now: testNow)
        #expect(replay.transitions["a"]?.first?.from == nil)
        #expect(replay.transitions["a"]?.first?.to == "on")
        #expect(replay.changed == 1)
    }

    @Test func transitionsAreOrderedLargestFirst() throws {
        let base = try compile(flags: ["t": "type: string\nvariants: { a: a, b: b, c: c }\noff_variant: a\ndefault: a"])
        let head = try compile(flags: [
            "t": """
            type: string
            variants: { a: a, b: b, c: c }
            off_variant: a
            rules:
              - { when: [ { attribute: plan, op: in, values: [pro] } ], serve: b }
              - { when: [ { attribute: plan, op: in, values: [free] } ], serve: c }
            default: a
            """
        ])
        let contexts: [[String: Value]] = [["plan": "free"], ["plan": "pro"], ["plan": "free"], ["plan": "x"]]
        let replay = Replay.run(base: base["staging"], head: head["staging"], contexts: contexts, now: testNow)
        #expect(replay.transitions["t"]?.map(\.to) == ["c", "b"])
        #expect(replay.transitions["t"]?.map(\.count) == [2, 1])
        #expect(replay.changed == 3)
    }

    @Test func sampleFilesAreJSONLines() throws {
        let contexts = try Replay.contexts(
            jsonLines: """
                {"targetingKey": "u1", "plan": "pro"}

                # a comment
                {"targetingKey": "u2", "age": 42}
                """)
        #expect(contexts.count == 2)
        #expect(contexts[1]["age"] == .int(42))
        #expect(throws: Replay.SampleError.self) { try Replay.contexts(jsonLines: "{\"a\": 1}\n[1, 2]\n") }
        do {
            _ = try Replay.contexts(jsonLines: "{\"a\": 1}\n{oops}\n")
            Issue.record("expected a sample error")
        } catch {
            #expect(error.line == 2)
        }
    }
}
