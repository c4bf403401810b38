import FlagDiff
import FlagEngine
import FlagModel
import Testing

@Suite("Warnings a reviewer must see")
struct WarningTests {
    // MARK: Reshuffles

    @Test func splitReorderedReshufflesEveryone() throws {
        let flag = { (split: String) in
            """
            type: string
            variants: { control: a, treatment: b }
            off_variant: control
            rules: [ { name: experiment, serve: { split: { \(split) } } } ]
            default: control
            """
        }
        let d = try diff(
            base: ["exp": flag("control: 50, treatment: 50")], head: ["exp": flag("treatment: 50, control: 50")],
            environment: "staging")
        try #require(d.warnings.map(\.kind) == [.reshuffle])
        #expect(
            d.warnings[0].message
                == #"rule 1 "experiment": split reordered (control, treatment → treatment, control): users are bucketed afresh; 100.0% of users served its split change variant"#
        )
        #expect(try onlyFlag(d).effect?.share == 1, "every bucket changes side")
    }

    @Test func splitGroupChangedReshuffles() throws {
        let flag = { (group: String) in "default: { split: { off: 50, on: 50 }, group: \(group) }" }
        let d = try diff(base: ["exp": flag("exp-2025")], head: ["exp": flag("exp-2026")], environment: "staging")
        try #require(d.warnings.map(\.kind) == [.reshuffle])
        #expect(d.warnings[0].message == "default: split group exp-2025 → exp-2026: users are bucketed afresh")
        #expect(try onlyFlag(d).effect == nil, "a new group is a new hash: nothing to count exactly")
    }

    @Test func rolloutGroupOrByChangedReshuffles() throws {
        let flag = { (bucketing: String) in
            "rules: [ { name: pro, when: [ { attribute: plan, op: in, values: [pro] } ], rollout: { percentage: 25\(bucketing) }, serve: on } ]"
        }
        let group = try diff(base: ["f": flag("")], head: ["f": flag(", group: checkout")], environment: "staging")
        try #require(group.warnings.map(\.kind) == [.reshuffle])
        #expect(
            group.warnings[0].message.hasPrefix(#"rule 1 "pro": rollout group f → checkout: users are bucketed afresh"#)
        )
        let by = try diff(base: ["f": flag("")], head: ["f": flag(", by: [userId]")], environment: "staging")
        try #require(by.warnings.map(\.kind) == [.reshuffle])
        #expect(by.warnings[0].message.contains("rollout by [targetingKey] → [userId]"))
    }

    @Test func weightsMovedWithinTheSameTotalAreNoReshuffle() throws {
        let d = try diff(
            base: ["exp": "default: { split: { off: 70, on: 30 } }"],
            head: ["exp": "default: { split: { off: 60, on: 40 } }"], environment: "staging")
        #expect(d.warnings.isEmpty)
    }

    @Test func renamedFlagWarnsThatBucketsOfTheNewKeyDiffer() throws {
        let body = "rules: [ { when: [ { attribute: plan, op: in, values: [pro] } ], rollout: 25, serve: on } ]"
        let d = try diff(base: ["checkout": body], head: ["checkout-v2": body], environment: "staging")
        #expect(d.flags.map(\.kind) == [.removed, .added])
        let warning = try #require(d.warnings.first)
        #expect(warning.kind == .reshuffle && warning.key == "checkout-v2")
        #expect(warning.message.hasPrefix("looks like checkout renamed to checkout-v2"))
        #expect(warning.message.contains("buckets of the new key differ"))
        #expect(warning.message.contains("set `group: checkout`"))
    }

    @Test func renameThatKeepsTheGroupKeepsBuckets() throws {
        let d = try diff(
            base: ["checkout": "rules: [ { rollout: 25, serve: on } ]"],
            head: ["checkout-v2": "rules: [ { rollout: { percentage: 25, group: checkout }, serve: on } ]"],
            environment: "staging")
        let warning = try #require(d.warnings.first)
        #expect(warning.message.contains("keep their buckets"))
        #expect(!warning.message.contains("bucketed afresh"))
    }

    @Test func newBucketedFlagNextToARemovedOneIsMentioned() throws {
        let d = try diff(
            base: ["checkout": "rules: [ { rollout: 25, serve: on } ]"],
            head: ["checkout-v2": "rules: [ { rollout: 30, serve: on } ]"], environment: "staging")
        let warning = try #require(d.warnings.first)
        #expect(warning.kind == .reshuffle && warning.key == "checkout-v2")
        #expect(warning.message.hasPrefix("buckets of the new key differ: if checkout-v2 replaces checkout"))
    }

    // MARK: Prerequisites

    @Test func removedWhileRequired() throws {
        let base = try compile(flags: [
            "payments": "default: on",
            "checkout": "requires: [ { flag: payments, variants: [on] } ]\ndefault: on",
        ])
        let head = try compile(flags: ["checkout": "default: on"])
        let d = SnapshotDiff(base: base["staging"], head: head["staging"])
        let warning = try #require(d.warnings.first { $0.kind == .removedWhileRequired })
        #expect(warning.key == "payments")
        #expect(
            warning.message
                == "removed, but checkout required it before this change; check that dropping the prerequisite is meant"
        )

        // Another environment's snapshot may still require it: compare across environments.
        var stale = try #require(base["staging"])
        stale.flags.removeAll { $0.key == "payments" }
        let across = SnapshotDiff(base: base["staging"], head: stale)
        let still = try #require(across.warnings.first)
        #expect(still.kind == .removedWhileRequired)
        #expect(still.message.hasPrefix("removed, but checkout still requires it"))
    }

    @Test func removingAnUnrequiredFlagDoesNotWarn() throws {
        let d = try diff(base: ["a": "default: on", "b": "default: on"], head: ["a": "default: on"])
        #expect(d.warnings.isEmpty)
    }

    // MARK: Everyone at once

    @Test func switchedForEveryoneInProductionOnly() throws {
        let base = ["checkout": "default: off"]
        let head = ["checkout": "default: on"]
        let production = try diff(base: base, head: head, environment: "production")
        #expect(production.production)
        try #require(production.warnings.map(\.kind) == [.switchedForEveryone])
        #expect(
            production.warnings[0].message == "everyone switches from off to on at once, with no rollout in between")
        let staging = try diff(base: base, head: head, environment: "staging")
        #expect(!staging.production)
        #expect(staging.warnings.isEmpty)
    }

    @Test func enabledFlipIsSwitchedForEveryone() throws {
        let d = try diff(
            base: ["checkout": "rules: [ { when: [ { attribute: plan, op: in, values: [pro] } ], serve: on } ]"],
            head: [
                "checkout":
                    "enabled: false\nrules: [ { when: [ { attribute: plan, op: in, values: [pro] } ], serve: on } ]"
            ])
        try #require(d.warnings.map(\.kind) == [.switchedForEveryone])
        #expect(d.warnings[0].message.hasPrefix("enabled true → false turns the flag off for everyone at once"))
    }

    @Test func unconditionalRuleAddedAtTheTopIsSwitchedForEveryone() throws {
        let staff = "{ name: staff, when: [ { attribute: email, op: ends_with, values: [\"@acme.com\"] } ], serve: on }"
        let d = try diff(
            base: ["checkout": "rules: [ \(staff) ]"],
            head: ["checkout": "rules: [ { name: everyone, serve: on }, \(staff) ]"])
        try #require(d.warnings.map(\.kind) == [.switchedForEveryone])
    }

    @Test func rolloutFromNothingToEverythingIsSwitchedForEveryone() throws {
        let flag = { (p: Int) in
            "rules: [ { name: pro, when: [ { attribute: plan, op: in, values: [pro] } ], rollout: \(p), serve: on } ]"
        }
        let d = try diff(base: ["checkout": flag(0)], head: ["checkout": flag(100)])
        try #require(d.warnings.map(\.kind) == [.switchedForEveryone])
        #expect(d.warnings[0].message.contains("rollout 0% → 100% switches everyone matching plan in [pro] to on"))
        let gradual = try diff(base: ["checkout": flag(0)], head: ["checkout": flag(10)])
        #expect(gradual.warnings.isEmpty)
    }

    @Test func targetedReleaseIsNotSwitchedForEveryone() throws {
        let d = try diff(
            base: ["checkout": "default: off"],
            head: ["checkout": "rules: [ { when: [ { segment: beta } ], serve: on } ]\ndefault: off"],
            baseSegments: ["beta": "include: [u1]"], headSegments: ["beta": "include: [u1]"])
        #expect(d.warnings.isEmpty)
    }

    // MARK: Expiry

    @Test func expiredFlagStillInUse() throws {
        let june = Instant(seconds: 1_780_272_000)  // 2026-06-01
        let flag = { (default_: String) in "expires: 2026-03-31\ndefault: \(default_)\ndescription: x" }
        let d = try diff(base: ["old": "default: on"], head: ["old": flag("on")], environment: "staging", now: june)
        try #require(d.warnings.map(\.kind) == [.expiredInUse])
        #expect(d.warnings[0].key == "old")
        #expect(d.warnings[0].message.hasPrefix("expired on 2026-03-31 and still serves on to everyone"))

        let staticOff = try diff(
            base: ["old": "default: on"], head: ["old": flag("off")], environment: "staging", now: june)
        #expect(staticOff.warnings.isEmpty, "a flag that serves off to everyone is only waiting to be deleted")
        let notYet = try diff(
            base: ["old": "default: on"], head: ["old": flag("on")], environment: "staging",
            now: Instant(seconds: 1_774_915_200))  // 2026-03-31 itself
        #expect(notYet.warnings.isEmpty)
        let noClock = try diff(base: ["old": "default: on"], head: ["old": flag("on")], environment: "staging")
        #expect(noClock.warnings.isEmpty)
    }
}
