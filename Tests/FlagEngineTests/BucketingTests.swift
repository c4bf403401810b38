import FlagEngine
import FlagModel
import Testing

private func rolloutFlag(_ key: String, percentage: Int, by: [String] = ["userId"], group: String? = nil) -> Flag {
    Flag(
        key: key,
        rules: [
            Rule(
                rollout: Rollout(percentage: percentage, bucketing: Bucketing(by: by, group: group ?? key)),
                serve: .variant("on"))
        ])
}

private func splitFlag(_ key: String, _ weights: [(String, Int)], by: [String] = ["userId"]) -> Flag {
    var variants: [String: Value] = [:]
    for (name, _) in weights { variants[name] = .string(name) }
    return Flag(
        key: key, type: .string, variants: variants, offVariant: weights[0].0,
        defaultServe: .split(
            Split(
                weights: weights.map { Split.Weight(variant: $0.0, weight: $0.1) },
                bucketing: Bucketing(by: by, group: key))))
}

private func evaluator(_ flags: [Flag]) -> Evaluator {
    Evaluator(snapshot: Snapshot(organization: "o", project: "p", environment: "e", flags: flags, segments: []))
}

@Suite("Bucketing as SPEC §5, against Unleash's vectors")
struct BucketingTests {
    @Test func rolloutGateMatchesUnleashVectors() {
        // client-specification 03: groupId AB12A at 50%: userId 122 → bucket 23 (on), 155 → bucket 100 (off).
        let e = evaluator([rolloutFlag("f", percentage: 50, group: "AB12A")])
        #expect(e.eval("f", ["userId": "122"]).variant == "on")
        #expect(e.eval("f", ["userId": "155"]).variant == "off")
        // client-specification 10: the boundary is inclusive (bucket 10 at 10%).
        let boundary = evaluator([rolloutFlag("Feature.flexibleRollout.10", percentage: 10)])
        #expect(boundary.eval("Feature.flexibleRollout.10", ["userId": "174"]).variant == "on")
        let below = evaluator([rolloutFlag("Feature.flexibleRollout.10", percentage: 9)])
        #expect(below.eval("Feature.flexibleRollout.10", ["userId": "174"]).variant == "off")
    }

    @Test func splitMatchesUnleashVectors() {
        // client-specification 08: Feature.Variants.C, 33/33/33, userId 607 → target 58 → variant2.
        let c = evaluator([splitFlag("Feature.Variants.C", [("variant1", 33), ("variant2", 33), ("variant3", 33)])])
        #expect(c.eval("Feature.Variants.C", ["userId": "607"]).variant == "variant2")
        #expect(c.eval("Feature.Variants.C", ["userId": "607"]).reason == .split)
        // Feature.Variants.D, 1/49/50, userId 712 → target 1 → variant1.
        let d = evaluator([splitFlag("Feature.Variants.D", [("variant1", 1), ("variant2", 49), ("variant3", 50)])])
        #expect(d.eval("Feature.Variants.D", ["userId": "712"]).variant == "variant1")
    }

    @Test func zeroPercentIsNeverOnAndHundredAlways() {
        let e = evaluator([rolloutFlag("zero", percentage: 0), rolloutFlag("all", percentage: 100)])
        for i in 0..<1000 {
            #expect(e.eval("zero", ["userId": .string("u\(i)")]).variant == "off")
            #expect(e.eval("all", ["userId": .string("u\(i)")]).variant == "on")
        }
    }

    @Test func noBucketingValueFailsTheGateAndServesTheFirstSplitVariant() {
        let e = evaluator([rolloutFlag("r", percentage: 100), splitFlag("s", [("a", 0), ("b", 100)])])
        #expect(e.eval("r", [:]).variant == "off")
        #expect(e.eval("s", [:]).variant == "a")
        #expect(e.eval("s", ["userId": "x"]).variant == "b")
    }

    @Test func firstPresentAttributeWinsAndEmptyStringCounts() {
        let e = evaluator([rolloutFlag("AB12A", percentage: 50, by: ["userId", "sessionId"])])
        #expect(e.eval("AB12A", ["sessionId": "122"]).variant == "on")
        #expect(e.eval("AB12A", ["sessionId": "155"]).variant == "off")
        #expect(e.eval("AB12A", ["userId": "155", "sessionId": "122"]).variant == "off")
        #expect(e.eval("AB12A", ["userId": .null, "sessionId": "122"]).variant == "on", "null is absent")
        // An empty string is present: it is hashed, not skipped.
        let hashedEmpty = Murmur3.rolloutBucket(group: "AB12A", value: "") <= 50
        #expect((e.eval("AB12A", ["userId": "", "sessionId": "155"]).variant == "on") == hashedEmpty)
    }

    @Test func numbersAreHashedAsJSONWritesThem() {
        let e = evaluator([rolloutFlag("f", percentage: 50, group: "AB12A")])
        #expect(e.eval("f", ["userId": 122]).variant == "on")
        #expect(e.eval("f", ["userId": 155]).variant == "off")
    }

    /// 1,000 keys are expected per bucket; 10% is about 3.2 standard deviations of the
    /// binomial spread, so a sound hash keeps all 100 buckets inside it for most key sets.
    @Test func everyPercentBucketIsWithinTenPercentOfItsShare() {
        var counts = [Int](repeating: 0, count: 101)
        for i in 0..<100_000 {
            counts[Murmur3.rolloutBucket(group: "new-checkout", value: "user-\(i)")] += 1
        }
        #expect(counts[0] == 0)
        for bucket in 1...100 {
            #expect((900...1100).contains(counts[bucket]), "bucket \(bucket) holds \(counts[bucket]) of 100000")
        }
    }

    @Test func twoFlagsBucketIndependently() {
        let e = evaluator([rolloutFlag("first", percentage: 50), rolloutFlag("second", percentage: 50)])
        var both = 0
        var firstOnly = 0
        let n = 20_000
        for i in 0..<n {
            let context = e.prepare(["userId": .string("user-\(i)")], now: Instant(seconds: 0))
            let a = e.evaluate("first", context: context).variant == "on"
            let b = e.evaluate("second", context: context).variant == "on"
            if a && b { both += 1 }
            if a && !b { firstOnly += 1 }
        }
        // Independent 50% gates: a quarter of users in both, a quarter in the first alone.
        #expect(abs(Double(both) / Double(n) - 0.25) < 0.02, "\(both) of \(n) in both")
        #expect(abs(Double(firstOnly) / Double(n) - 0.25) < 0.02, "\(firstOnly) of \(n) in the first only")
    }

    @Test func randomDrawsAFreshNumberPerContext() {
        let e = evaluator([rolloutFlag("r", percentage: 50, by: ["random"])])
        var rng = SeededGenerator(state: 7)
        var on = 0
        for _ in 0..<2000 {
            let context = e.prepare([:], now: Instant(seconds: 0), random: &rng)
            if e.evaluate("r", context: context).variant == "on" { on += 1 }
        }
        #expect((850...1150).contains(on), "\(on) of 2000 on at 50% random")
    }

    @Test func splitSharesFollowTheWeights() {
        let e = evaluator([splitFlag("s", [("a", 10), ("b", 30), ("c", 60)])])
        var counts: [String: Int] = [:]
        for i in 0..<30_000 { counts[e.eval("s", ["userId": .string("u\(i)")]).variant!, default: 0] += 1 }
        #expect(abs(Double(counts["a"] ?? 0) / 30_000 - 0.1) < 0.01)
        #expect(abs(Double(counts["b"] ?? 0) / 30_000 - 0.3) < 0.015)
        #expect(abs(Double(counts["c"] ?? 0) / 30_000 - 0.6) < 0.015)
    }
}
