import FlagAnalytics
import FlagModel
import FlagStore
import Foundation
import Testing

@Suite("Stale and experiment reports, without a database")
struct ReportTests {
    static let now = Date("2026-11-30T12:00:00Z")

    func daysAgo(_ days: Double) -> Date { Self.now.addingTimeInterval(-days * 86_400) }

    func row(_ flag: String, _ variant: String, first: Double, last: Double) -> FlagActivity {
        FlagActivity(flag: flag, variant: variant, firstSeen: daysAgo(first), lastSeen: daysAgo(last), count: 10)
    }

    @Test func classifiesEveryFlagOfTheSnapshot() throws {
        let flags = [
            Flag(key: "fresh"), Flag(key: "constant"), Flag(key: "young"), Flag(key: "quiet"), Flag(key: "unused"),
            Flag(key: "switched"), Flag(key: "old-and-expired", expires: "2026-11-29"),
            Flag(key: "expires-today", expires: "2026-11-30"), Flag(key: "errors-only"), Flag(key: "edge"),
        ]
        let activity = [
            row("fresh", "on", first: 60, last: 0.1), row("fresh", "off", first: 60, last: 0.1),
            row("constant", "on", first: 40, last: 0.1),
            row("young", "on", first: 5, last: 0.1),
            row("quiet", "on", first: 90, last: 45), row("quiet", "off", first: 90, last: 31),
            // Served off until 35 days ago, on since: one variant over the last 30 days.
            row("switched", "off", first: 60, last: 35), row("switched", "on", first: 35, last: 0.1),
            row("old-and-expired", "on", first: 90, last: 50),
            row("expires-today", "on", first: 90, last: 1), row("expires-today", "off", first: 90, last: 1),
            // Only evaluations that served no variant: evaluated, but nothing to keep.
            row("errors-only", "", first: 60, last: 0.1),
            // Exactly at the cutoff counts as recent, and so as counted for the whole period.
            row("edge", "off", first: 30, last: 30), row("edge", "on", first: 30, last: 1),
            row("deleted-long-ago", "on", first: 90, last: 0.1),
        ]
        let report = StaleReport(snapshot: snapshot(flags), activity: activity.shuffled(), now: Self.now, days: 30)
        let findings = Dictionary(uniqueKeysWithValues: report.flags.map { ($0.flag, $0.findings) })
        #expect(report.flags.map(\.flag) == flags.map(\.key).sorted(), "every flag of the snapshot, by key, nothing else")
        #expect(findings["fresh"] == [])
        #expect(findings["constant"] == [.readyToRemove(variant: "on")])
        #expect(findings["young"] == [], "counted for 5 days only: one variant, but not for 30 days")
        #expect(findings["quiet"] == [.notEvaluated(lastSeen: daysAgo(31))])
        #expect(findings["unused"] == [.neverEvaluated])
        #expect(findings["switched"] == [.readyToRemove(variant: "on")])
        #expect(findings["old-and-expired"] == [.notEvaluated(lastSeen: daysAgo(50)), .expired(on: "2026-11-29")])
        #expect(findings["expires-today"] == [], "expires is the last day; stale from the day after")
        #expect(findings["errors-only"] == [])
        #expect(findings["edge"] == [], "two variants served at or after the cutoff")
        #expect(report.readyToRemove.map(\.flag) == ["constant", "switched"])
        #expect(report.stale.count == 5)

        #expect(report.text.contains("10 flags checked, 5 with findings"), "\(report.text)")
        #expect(report.text.contains("ready to remove: served only 'on' for 30 days"))
        #expect(report.markdown.contains("| constant | ready to remove"))
        let json = CanonicalJSON.encode(report.json)
        #expect(json.contains(#""readyToRemove":[{"flag":"constant","variant":"on"},{"flag":"switched","variant":"on"}]"#))
    }

    @Test func tenThousandFlagsAreClassifiedInLinearTime() {
        let flags = (0..<10_000).map { Flag(key: String(format: "flag-%05d", $0)) }
        var activity: [FlagActivity] = []
        for i in 0..<10_000 {
            let key = String(format: "flag-%05d", i)
            activity.append(row(key, "on", first: 40, last: Double(i % 60)))
            if i % 3 == 0 { activity.append(row(key, "off", first: 40, last: 0.5)) }
        }
        let snap = snapshot(flags)
        let start = ContinuousClock.now
        let report = StaleReport(snapshot: snap, activity: activity, now: Self.now, days: 30)
        let elapsed = ContinuousClock.now - start
        #expect(report.flags.count == 10_000)
        #expect(elapsed < .milliseconds(500), "\(elapsed)")
    }

    @Test func anExperimentNeedsASplitAndListsItsVariantsAsWritten() throws {
        #expect(throws: ReportError.self) {
            try ExperimentReport(
                project: "shop", environment: "production", flag: Flag(key: "plain"), event: "buy", from: Self.now,
                to: Self.now, exposures: [])
        }
        do {
            _ = try ExperimentReport(
                project: "shop", environment: "production", flag: Flag(key: "plain"), event: "buy", from: Self.now,
                to: Self.now, exposures: [])
        } catch {
            #expect(error.description.contains("flag 'plain' serves no split"))
        }

        // The first rule with a split, when the default serves a plain variant.
        var flag = Flag(key: "checkout", variants: ["on": true, "off": false])
        flag.rules = [
            Rule(name: "staff", serve: .variant("on")),
            Rule(
                name: "experiment",
                serve: .split(
                    Split(
                        weights: [.init(variant: "off", weight: 50), .init(variant: "on", weight: 50)],
                        bucketing: Bucketing(group: "checkout")))),
        ]
        let report = try ExperimentReport(
            project: "shop", environment: "production", flag: flag, event: "buy", from: daysAgo(14), to: Self.now,
            exposures: [ExposureCounts(variant: "on", users: 100, exposures: 120, converted: 12)])
        #expect(report.splitSource == "rule 2 (experiment)")
        #expect(report.arms.map(\.variant) == ["off", "on"], "the split's order, not the rows'")
        #expect(report.arms[0].users == 0 && report.arms[0].rate == nil)
        #expect(report.arms[1].lift?.estimate == nil, "no lift over a baseline without conversions")
        #expect(report.ratioCheck?.isMismatch == true)
        #expect(report.text.contains("WARNING: Sample ratio mismatch"), "\(report.text)")
        #expect(report.markdown.contains("> [!WARNING]"))
    }

    @Test func variantsWithoutWeightAreShownButNotCheckedForRatio() throws {
        let flag = splitFlag("exp", [("a", 50), ("b", 50), ("c", 0)])
        let report = try ExperimentReport(
            project: "shop", environment: "production", flag: flag, event: "buy", from: daysAgo(14), to: Self.now,
            exposures: [
                ExposureCounts(variant: "a", users: 1000, exposures: 1000, converted: 100),
                ExposureCounts(variant: "b", users: 1010, exposures: 1010, converted: 120),
                ExposureCounts(variant: "off", users: 7, exposures: 7, converted: 0),
            ])
        #expect(report.arms.map(\.variant) == ["a", "b", "c"])
        #expect(report.ratioCheck?.variants == ["a", "b"])
        #expect(report.warning == nil)
        #expect(report.outside.map(\.variant) == ["off"])
        #expect(report.text.contains("Also exposed outside the split (not compared): off 7 users"))
    }
}
