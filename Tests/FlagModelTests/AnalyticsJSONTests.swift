import FlagModel
import Testing

private func snapshot(flags: [Flag], analytics: AnalyticsPolicy = .default) -> Snapshot {
    Snapshot(
        organization: "acme", project: "shop", environment: "production", production: true, flags: flags,
        segments: [], analytics: analytics, version: "sha256:x", commit: "abc", branch: "main",
        compiledAt: "2026-01-01T00:00:00Z")
}

private func roundTrip(_ s: Snapshot) throws -> Snapshot {
    try Snapshot(json: try JSONParser.parse(CanonicalJSON.encode(s.json)))
}

@Suite("Evaluation events and the analytics policy in snapshot JSON")
struct AnalyticsJSONTests {
    @Test func aFlagWithoutEventsWritesNoEventsKey() {
        let json = Flag(key: "f").json
        #expect(json["events"] == nil)
    }

    @Test(arguments: [1.0, 0.25, 0.001])
    func eventsAreWrittenAsAFloatAndReadBack(rate: Double) throws {
        let flag = Flag(key: "f", events: rate)
        #expect(flag.json["events"] == .double(rate))
        let back = try roundTrip(snapshot(flags: [flag]))
        #expect(back.flag("f")?.events == rate)
        #expect(back == snapshot(flags: [flag]))
    }

    @Test func everyEvaluationIsWrittenOneNotTrue() {
        #expect(CanonicalJSON.encode(Flag(key: "f", events: 1).json).contains(#""events":1.0,"#))
    }

    @Test func anIntegerRateIsReadAsTheSameRate() throws {
        var json = snapshot(flags: [Flag(key: "f")]).json
        guard case .object(var top) = json, case .object(var flags) = top["flags"],
            case .object(var f) = flags["f"]
        else { Issue.record("not an object"); return }
        f["events"] = .int(1)
        flags["f"] = .object(f)
        top["flags"] = .object(flags)
        json = .object(top)
        #expect(try Snapshot(json: json).flag("f")?.events == 1.0)
    }

    @Test(arguments: [Value.double(0), .double(1.5), .int(-1), .string("0.5"), .bool(true)])
    func aRateOutsideZeroToOneOrNotANumberIsRefused(bad: Value) throws {
        guard case .object(var top) = snapshot(flags: [Flag(key: "f")]).json, case .object(var flags) = top["flags"],
            case .object(var f) = flags["f"]
        else { Issue.record("not an object"); return }
        f["events"] = bad
        flags["f"] = .object(f)
        top["flags"] = .object(flags)
        let error = #expect(throws: SnapshotDecodingError.self) { try Snapshot(json: .object(top)) }
        #expect(error?.path == "flags.f.events")
    }

    @Test func theDefaultPolicyIsNotWritten() {
        let s = snapshot(flags: [])
        #expect(s.analytics.isDefault)
        #expect(s.json["analytics"] == nil)
        #expect(s.contentJSON["analytics"] == nil)
        #expect(AnalyticsPolicy(keep: [], targetingKey: .hashed).isDefault)
        #expect(!AnalyticsPolicy(keep: ["plan"]).isDefault)
        #expect(!AnalyticsPolicy(targetingKey: .plain).isDefault)
    }

    @Test func keepIsSortedByUTF8BytesAndEachNameOnce() {
        let policy = AnalyticsPolicy(keep: ["plan", "country", "Zone", "plan", "é"])
        #expect(policy.keep == ["Zone", "country", "plan", "é"])
    }

    @Test func aPolicyIsWrittenAtTheTopAndReadBack() throws {
        let policy = AnalyticsPolicy(keep: ["plan", "country"], targetingKey: .plain)
        let s = snapshot(flags: [Flag(key: "f", events: 0.5)], analytics: policy)
        let text = CanonicalJSON.encode(s.json)
        #expect(text.hasPrefix(#"{"analytics":{"keep":["country","plan"],"targetingKey":"plain"},"branch":"main","#))
        let back = try roundTrip(s)
        #expect(back.analytics == policy)
        #expect(back == s)
        let hashed = snapshot(flags: [], analytics: AnalyticsPolicy(keep: ["plan"]))
        #expect(CanonicalJSON.encode(hashed.contentJSON).contains(#""analytics":{"keep":["plan"],"targetingKey":"hashed"}"#))
        #expect(try roundTrip(hashed).analytics == hashed.analytics)
    }

    @Test func aSnapshotWithoutAPolicyReadsAsTheDefault() throws {
        #expect(try roundTrip(snapshot(flags: [])).analytics == .default)
    }

    @Test func anUnknownTargetingKeyPolicyIsRefused() throws {
        guard case .object(var top) = snapshot(flags: []).json else { return }
        top["analytics"] = ["keep": [], "targetingKey": "dropped"]
        let error = #expect(throws: SnapshotDecodingError.self) { try Snapshot(json: .object(top)) }
        #expect(error?.path == "analytics.targetingKey")
    }

    /// The compiler writes snapshots from per-flag pieces; with a policy and events the bytes
    /// must still be exactly the canonical encoding of the whole, and of the content.
    @Test(arguments: [AnalyticsPolicy.default, AnalyticsPolicy(keep: ["plan"], targetingKey: .plain)])
    func piecesPutTogetherAreTheCanonicalJSON(policy: AnalyticsPolicy) {
        let flags = [Flag(key: "a", events: 0.1), Flag(key: "b")]
        let s = snapshot(flags: flags, analytics: policy)
        let pieces = SnapshotPieces(flagJSON: s.flags.map { CanonicalJSON.encodeBytes($0.json) }, segmentJSON: [])
        #expect(s.canonicalJSON(pieces: pieces) == CanonicalJSON.encodeBytes(s.json))
        var content: [UInt8] = []
        s.writeCanonicalContent(flagJSON: pieces.flagJSON, segmentJSON: []) { content.append(contentsOf: $0) }
        #expect(content == CanonicalJSON.encodeBytes(s.contentJSON))
    }
}
