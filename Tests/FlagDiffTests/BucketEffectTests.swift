import FlagDiff
import FlagEngine
import FlagModel
import Testing

/// The variant a split serves for one hash, written out independently of the library (SPEC §5).
private func served(_ weights: [(String, Int)], hash: UInt32) -> String {
    let total = weights.reduce(0) { $0 + $1.1 }
    let n = Int(UInt64(hash) % UInt64(total)) + 1
    var running = 0
    for (variant, weight) in weights {
        running += weight
        if running >= n { return variant }
    }
    return weights.last!.0
}

/// The share of `count` real bucketing hashes (`exp:user-i`, the split seed) whose variant differs.
private func bruteForceShare(_ a: [(String, Int)], _ b: [(String, Int)], count: Int = 1_000_000) -> Double {
    var moved = 0
    for i in 0..<count {
        let h = Murmur3.hashBucket(group: "exp", value: "user-\(i)", seed: Murmur3.variantSeed)
        if served(a, hash: h) != served(b, hash: h) { moved += 1 }
    }
    return Double(moved) / Double(count)
}

private func splitFlag(_ weights: [(String, Int)], variants: [String]? = nil, extra: String = "") -> String {
    let names = variants ?? weights.map(\.0)
    let split = weights.map { "\($0.0): \($0.1)" }.joined(separator: ", ")
    let variants = names.map { "\($0): \($0)" }.joined(separator: ", ")
    return """
        type: string
        variants: { \(variants) }
        off_variant: \(names[0])
        default: { split: { \(split) }\(extra) }
        """
}

@Suite("Exact effect of rollout and split changes")
struct BucketEffectTests {
    @Test func rolloutQuarterToHalfMovesAQuarterOfMatchingUsers() throws {
        let rule = { (p: Int) in
            """
            rules:
              - name: quarter of pro users
                when: [ { attribute: plan, op: in, values: [pro] } ]
                rollout: \(p)
                serve: on
            default: off
            """
        }
        let d = try diff(base: ["checkout": rule(25)], head: ["checkout": rule(50)], environment: "staging")
        let effect = try #require(try onlyFlag(d).effect)
        // 2^32 = 100 · 42949672 + 96: residues 25..<50 each hold 42949673 hash values.
        #expect(effect.transitions.map(\.count) == [25 * 42_949_673])
        #expect(abs(effect.share - 0.25) < 1e-6)
        #expect(effect.transitions.map(\.from) == ["off"] && effect.transitions.map(\.to) == ["on"])
        #expect(effect.population == #"users matching rule 1 "quarter of pro users""#)
        #expect(effect.description == #"25.0% of users matching rule 1 "quarter of pro users" change from off to on"#)

        // The engine agrees: replay pro users through both snapshots.
        let contexts: [[String: Value]] = (0..<10_000).map { ["targetingKey": .string("u\($0)"), "plan": "pro"] }
        let b = try compile(flags: ["checkout": rule(25)])["staging"]
        let h = try compile(flags: ["checkout": rule(50)])["staging"]
        let replay = Replay.run(base: b, head: h, contexts: contexts, now: testNow)
        #expect(abs(Double(replay.changed) / 10_000 - 0.25) < 0.02)
        #expect(replay.transitions["checkout"]?.map(\.from) == ["off"])
    }

    @Test func rolloutDownMovesBack() throws {
        let flag = { (p: Int) in "rules: [ { rollout: \(p), serve: on } ]\ndefault: off" }
        let d = try diff(base: ["f": flag(60)], head: ["f": flag(20)], environment: "staging")
        let effect = try #require(try onlyFlag(d).effect)
        #expect(abs(effect.share - 0.4) < 1e-6)
        #expect(effect.transitions.first?.from == "on" && effect.transitions.first?.to == "off")
    }

    @Test func rolloutWhoseFallThroughServesTheSameMovesNobody() throws {
        let flag = { (p: Int) in "rules: [ { rollout: \(p), serve: on } ]\ndefault: on" }
        let d = try diff(base: ["f": flag(10)], head: ["f": flag(90)], environment: "staging")
        let effect = try #require(try onlyFlag(d).effect)
        #expect(effect.share == 0 && effect.transitions.isEmpty)
    }

    @Test func rolloutFallingThroughToConditionalRulesHasNoExactEffect() throws {
        let flag = { (p: Int) in
            """
            rules:
              - { rollout: \(p), serve: on }
              - { when: [ { attribute: plan, op: in, values: [pro] } ], serve: off }
            default: on
            """
        }
        let d = try diff(base: ["f": flag(10)], head: ["f": flag(20)], environment: "staging")
        #expect(try onlyFlag(d).effect == nil, "those who fall through get off or on depending on the plan")
    }

    @Test func splitFiftyFiftyToFortySixtyMovesATenth() throws {
        let a = [("control", 50), ("treatment", 50)]
        let b = [("control", 40), ("treatment", 60)]
        let d = try diff(base: ["exp": splitFlag(a)], head: ["exp": splitFlag(b)], environment: "staging")
        let effect = try #require(try onlyFlag(d).effect)
        try #require(effect.transitions.count == 1)
        #expect(effect.transitions[0].from == "control" && effect.transitions[0].to == "treatment")
        #expect(effect.transitions[0].count == 10 * 42_949_673)
        #expect(abs(effect.share - 0.1) < 1e-6)
        #expect(effect.description == "10.0% of users served the default split change from control to treatment")
        #expect(abs(bruteForceShare(a, b) - effect.share) <= 0.002)
        #expect(d.warnings.isEmpty, "same total, same order: no reshuffle")
    }

    @Test func splitTotalChangedIsCountedExactlyOverTheCommonPeriod() throws {
        // Totals 2 and 3: over h mod 6, residues 2 and 4 go a → b and 3 goes b → a; 2^32 = 6q + 4.
        let a = [("a", 1), ("b", 1)]
        let b = [("a", 1), ("b", 2)]
        let d = try diff(base: ["exp": splitFlag(a)], head: ["exp": splitFlag(b)], environment: "staging")
        let effect = try #require(try onlyFlag(d).effect)
        let q = 715_827_882
        #expect(effect.transitions.map(\.count) == [2 * q + 1, q + 1])
        #expect(effect.transitions.map(\.from) == ["a", "b"])
        #expect(effect.share == 0.5)
        #expect(abs(bruteForceShare(a, b) - effect.share) <= 0.002)
        let warning = try #require(d.warnings.first)
        #expect(warning.kind == .reshuffle && warning.key == "exp")
        #expect(
            warning.message
                == "default: split total 2 → 3: users are bucketed afresh; 50.0% of users served the default split change variant"
        )
    }

    @Test func unevenTotalsAgreeWithBruteForce() throws {
        let a = [("a", 0), ("b", 30), ("c", 70)]
        let b = [("a", 40), ("b", 70)]  // c dropped, total 100 → 110
        let all = ["a", "b", "c"]
        let d = try diff(
            base: ["exp": splitFlag(a, variants: all)], head: ["exp": splitFlag(b, variants: all)],
            environment: "staging")
        let effect = try #require(try onlyFlag(d).effect)
        let brute = bruteForceShare(a, b)
        #expect(abs(brute - effect.share) <= 0.002, "exact \(effect.share), sampled \(brute)")
        #expect(effect.transitions.reduce(0) { $0 + $1.count } == Int((effect.share * 4_294_967_296).rounded()))
        #expect(d.warnings.map(\.kind) == [.reshuffle])
    }

    @Test func totalsWithTooLongAPeriodGetNoEffectButAWarning() throws {
        let a = [("a", 1), ("b", 99)]
        let b = [("a", 1), ("b", 999_982)]  // totals 100 and 999983 (a prime): period ≈ 10^8
        let d = try diff(base: ["exp": splitFlag(a)], head: ["exp": splitFlag(b)], environment: "staging")
        #expect(try onlyFlag(d).effect == nil)
        let warning = try #require(d.warnings.first)
        #expect(warning.kind == .reshuffle)
        #expect(warning.message.contains("total 100 → 999983"))
        #expect(warning.message.contains("too long to count exactly"))
    }

    @Test func engineAgreesWithTheSplitEffect() throws {
        let a = [("control", 50), ("treatment", 50)]
        let b = [("control", 40), ("treatment", 60)]
        let base = try compile(flags: ["exp": splitFlag(a)])["staging"]
        let head = try compile(flags: ["exp": splitFlag(b)])["staging"]
        let effect = try #require(SnapshotDiff(base: base, head: head).flags.first?.effect)
        let contexts: [[String: Value]] = (0..<20_000).map { ["targetingKey": .string("user-\($0)")] }
        let replay = Replay.run(base: base, head: head, contexts: contexts, now: testNow)
        #expect(abs(Double(replay.changed) / 20_000 - effect.share) < 0.015)
        #expect(replay.transitions["exp"]?.count == 1)
    }

    @Test func twoBucketedChangesHaveNoSingleEffect() throws {
        let flag = { (p: Int, w: Int) in
            "rules: [ { rollout: \(p), serve: { split: { off: \(w), on: \(100 - w) } } } ]\ndefault: off"
        }
        let d = try diff(base: ["f": flag(10, 50)], head: ["f": flag(20, 40)], environment: "staging")
        #expect(try onlyFlag(d).effect == nil)
    }

    @Test func otherChangesHaveNoBucketEffect() throws {
        let d = try diff(
            base: ["f": "rules: [ { when: [ { attribute: plan, op: in, values: [pro] } ], rollout: 10, serve: on } ]"],
            head: ["f": "rules: [ { when: [ { attribute: plan, op: in, values: [free] } ], rollout: 20, serve: on } ]"],
            environment: "staging")
        #expect(try onlyFlag(d).effect == nil, "the conditions changed too: replay contexts instead")
    }
}
