import FlagDiff
import FlagModel
import Testing

@Suite("Evaluation events and the analytics policy read as a reviewer expects")
struct AnalyticsDiffTests {
    @Test func turningEventsOnIsOneLine() throws {
        let d = try diff(base: ["checkout": "default: on\n"], head: ["checkout": "default: on\nevents: 0.1\n"])
        #expect(try summaries(d) == ["events: off → 10% of evaluations"])
        let field = try onlyFlag(d).fields[0]
        #expect(field.path == "events")
        #expect(field.before == "off" && field.after == "10% of evaluations")
        #expect(try onlyFlag(d).effect == nil, "events change no bucket")
        #expect(d.warnings.isEmpty, "events change what is recorded, not what is served")
    }

    @Test(arguments: [
        ("events: 0.1", "events: true", "events: 10% of evaluations → every evaluation"),
        ("events: true", "events: false", "events: every evaluation → off"),
        ("events: 0.125", "events: 0.005", "events: 12.5% of evaluations → 0.5% of evaluations"),
        ("events: 0.07", "events: 0.0001", "events: 7% of evaluations → 0.01% of evaluations"),
    ])
    func rateChangesReadAsPercentages(from: String, to: String, summary: String) throws {
        let d = try diff(base: ["f": from + "\n"], head: ["f": to + "\n"])
        #expect(try summaries(d) == [summary])
    }

    @Test func writingTheSameRateAnotherWayIsNoChange() throws {
        #expect(try diff(base: ["f": "events: true\n"], head: ["f": "events: 1\n"]).isEmpty)
        #expect(try diff(base: ["f": "{}\n"], head: ["f": "events: false\n"]).isEmpty)
    }

    @Test func anOverlayChangeShowsInItsEnvironmentOnly() throws {
        let base = ["f": "events: 0.01\n"]
        let head = ["f": "events: 0.01\nenvironments:\n  staging: { events: true }\n"]
        #expect(try diff(base: base, head: head).isEmpty)
        #expect(
            try summaries(diff(base: base, head: head, environment: "staging")) == [
                "events: 1% of evaluations → every evaluation"
            ])
    }

    @Test func anAddedFlagSaysItRecordsEvents() throws {
        let d = try diff(base: [:], head: ["f": "events: 0.5\n"])
        #expect(try summaries(d) == ["default: off", "events: 50% of evaluations"])
    }

    @Test func aPolicyChangeIsListedForTheSnapshotNotForAFlag() throws {
        let flags = ["f": "default: on\n"]
        let d = try diff(
            base: flags, head: flags, headManifestTail: "\nanalytics: { keep: [plan, country], targeting_key: plain }\n")
        #expect(!d.isEmpty)
        #expect(d.flags.isEmpty && d.segments.isEmpty)
        #expect(
            d.analytics.map(\.summary) == [
                "analytics keep +2 (+country, +plan)", "analytics targeting_key: hashed → plain",
            ])
        #expect(d.analytics[0].added == ["country", "plan"])
        #expect(d.baseVersion != d.headVersion)

        let report = DiffReport(title: "main..privacy", diffs: [d])
        #expect(report.summary == "analytics policy changed")
        let text = report.render(.text)
        #expect(text.contains("  ~ analytics policy\n      analytics keep +2 (+country, +plan)\n"), "\(text)")
        #expect(text.contains("      analytics targeting_key: hashed → plain\n"), "\(text)")
        let markdown = report.render(.markdown)
        #expect(markdown.contains("- ✏️ **analytics policy** changed\n  - analytics keep +2 (+country, +plan)\n"), "\(markdown)")
        guard case .array(let diffs)? = report.json["diffs"], case .array(let fields)? = diffs.first?["analytics"] else {
            Issue.record("no analytics in \(report.json)")
            return
        }
        #expect(fields.count == 2)
        #expect(fields[1]["before"] == "hashed" && fields[1]["after"] == "plain")
    }

    @Test func keepingFewerAttributesListsWhatGoes() throws {
        let flags = ["f": "{}\n"]
        let d = try diff(
            base: flags, head: flags, baseManifestTail: "\nanalytics: { keep: [plan, country] }\n",
            headManifestTail: "\nanalytics: { keep: [plan, region] }\n")
        #expect(d.analytics.map(\.summary) == ["analytics keep +1 −1 (+region, −country)"])
    }

    @Test func theSamePolicyWrittenAnotherWayIsNoChange() throws {
        let flags = ["f": "{}\n"]
        let d = try diff(
            base: flags, head: flags, baseManifestTail: "\nanalytics: { keep: [b, a] }\n",
            headManifestTail: "\nanalytics:\n  keep: [a, b]\n  targeting_key: hashed\n")
        #expect(d.isEmpty)
        #expect(try diff(base: flags, head: flags, headManifestTail: "\nanalytics: {}\n").isEmpty)
    }

    @Test func aNewEnvironmentListsAPolicyOtherThanTheDefault() throws {
        let head = try compile(flags: ["f": "{}\n"], manifestTail: "\nanalytics: { targeting_key: plain }\n")
        let added = SnapshotDiff(base: nil, head: head["production"])
        #expect(added.analytics.map(\.summary) == ["analytics targeting_key: hashed → plain"])
        let plain = try compile(flags: ["f": "{}\n"])
        #expect(SnapshotDiff(base: nil, head: plain["production"]).analytics.isEmpty)
        #expect(SnapshotDiff(base: head["production"], head: nil).analytics.isEmpty)
    }
}
