import FlagDiff
import FlagModel
import Testing

@Suite("Schedules in a reviewer's words (SPEC §17)")
struct ScheduleDiffTests {
    static let stepped = """
        rules:
          - name: staged
            rollout:
              percentage: 1
              steps:
                - { at: 2026-12-03T09:00:00Z, percentage: 10 }
                - { at: 2026-12-07T09:00:00+01:00, percentage: 25 }
            serve: on
        """

    @Test func aChangedStepIsWrittenInWordsWithTheExactEffectOfEveryStep() throws {
        let d = try diff(
            base: ["search": Self.stepped], head: ["search": Self.stepped.replacing("percentage: 25", with: "percentage: 50")])
        let flag = try onlyFlag(d)
        #expect(
            flag.fields.map(\.summary) == [
                #"rule 1 "staged": rollout 1%, 10% from 2026-12-03 09:00 UTC, 25% from 2026-12-07 08:00 UTC → "#
                    + "1%, 10% from 2026-12-03 09:00 UTC, 50% from 2026-12-07 08:00 UTC"
            ])
        // A schedule change is not one rollout change: no single bucket effect, a step list instead.
        #expect(flag.effect == nil)
        #expect(
            flag.schedule.map(\.summary) == [
                #"2026-12-03 09:00 UTC rule 1 "staged": rollout 1% → 10%: 9.0% of users matching rule 1 "staged" change from off to on"#,
                #"2026-12-07 08:00 UTC rule 1 "staged": rollout 10% → 50%: 40.0% of users matching rule 1 "staged" change from off to on"#,
            ])
        let text = DiffReport(title: "a..b", diffs: [d]).render(.text)
        #expect(text.contains(#"      at 2026-12-07 08:00 UTC rule 1 "staged": rollout 10% → 50%"#), "\(text)")
        let markdown = DiffReport(title: "a..b", diffs: [d]).render(.markdown)
        #expect(markdown.contains("**At** 2026-12-07 08:00 UTC"), "\(markdown)")
    }

    @Test func aRampIsOneLineWithItsPaceAndTheShareAtEachPoint() throws {
        let ramp = """
            rules:
              - rollout: { ramp: { from: 0, to: 100, start: 2026-12-01T00:00:00Z, end: 2026-12-11T00:00:00Z } }
                serve: on
            """
        let d = try diff(base: [:], head: ["launch": ramp])
        let flag = try onlyFlag(d)
        #expect(flag.kind == .added)
        #expect(flag.fields.contains { $0.summary.contains("rollout 0% ramping to 100% from 2026-12-01 00:00 UTC to 2026-12-11 00:00 UTC") })
        let step = try #require(flag.schedule.first)
        #expect(flag.schedule.count == 1)
        #expect(step.at == "2026-12-01T00:00:00Z")
        // Ten days over a hundred points: one every 2 h 24 min, each 1 % of the users.
        #expect(step.description.contains("one point every 2 h 24 min"), "\(step.description)")
        #expect(step.description.contains("100.0% of users matching rule 1 change from off to on"), "\(step.description)")
        #expect(step.description.contains("(1.0% at each point)"), "\(step.description)")
    }

    @Test func windowsAreDescribedOnTheFlagAndOnRules() throws {
        let d = try diff(
            base: ["banner": "default: on"],
            head: ["banner": "window: { start: 2026-12-20T00:00:00-05:00, end: 2027-01-03T00:00:00-05:00 }\ndefault: on"])
        let flag = try onlyFlag(d)
        #expect(flag.fields.map(\.summary) == ["window: none → from 2026-12-20 05:00 UTC until 2027-01-03 05:00 UTC"])
        #expect(flag.schedule.map(\.path) == ["flag", "flag"])
        #expect(flag.schedule.last?.description == "stops: everyone gets off")
    }

    @Test func anUnchangedScheduleListsNoSteps() throws {
        let d = try diff(
            base: ["search": Self.stepped], head: ["search": Self.stepped.replacing("name: staged", with: "name: staged rollout")])
        #expect(try onlyFlag(d).schedule.isEmpty)
    }
}
