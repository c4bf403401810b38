import FlagDiff
import FlagModel
import Testing

@Suite("Field changes read as a reviewer expects")
struct FieldChangeTests {
    @Test func identicalSnapshotsAreEmpty() throws {
        let flags = [
            "checkout": """
            rules:
              - name: staff
                when: [ { attribute: email, op: ends_with, values: ["@acme.com"] } ]
                serve: on
            default: off
            """
        ]
        let d = try diff(base: flags, head: flags)
        #expect(d.isEmpty)
        #expect(d.flags.isEmpty && d.segments.isEmpty && d.warnings.isEmpty)
        #expect(d.baseVersion == d.headVersion && d.baseVersion != nil)
        #expect(DiffReport(title: "main..main", diffs: [d]).render(.text) == "No changes.\n")
        #expect(DiffReport(title: "main..main", diffs: [d]).render(.markdown) == "No flag changes.\n")
    }

    @Test func reformattedYAMLIsNoChange() throws {
        let d = try diff(
            base: [
                "checkout":
                    "default: on\nrules: [ { when: [ { attribute: plan, op: in, values: [pro] } ], serve: off } ]"
            ],
            head: [
                "checkout":
                    "# a comment\nrules:\n  - serve: 'off'\n    when:\n      - { values: [pro], op: in, attribute: plan }\ndefault: 'on'\n"
            ])
        #expect(d.isEmpty)
    }

    @Test func metadataFields() throws {
        let d = try diff(
            base: [
                "checkout": """
                name: Old checkout
                owner: team-a
                tags: [a, b]
                expires: 2027-01-01
                """
            ],
            head: [
                "checkout": """
                name: New checkout
                description: Rebuilt
                owner: team-b
                tags: [a, c]
                expires: 2027-06-30
                """
            ])
        let change = try onlyFlag(d)
        #expect(change.kind == .changed)
        try #require(
            change.fields.map(\.summary) == [
                #"name: "Old checkout" → "New checkout""#,
                #"description: none → "Rebuilt""#,
                "owner: team-a → team-b",
                "tags: [a, b] → [a, c]",
                "expires: 2027-01-01 → 2027-06-30",
            ])
        #expect(change.fields[1].before == nil)
        #expect(change.fields[1].after == #""Rebuilt""#)
        #expect(
            change.fields[2].path == "owner" && change.fields[2].before == "team-a"
                && change.fields[2].after == "team-b")
        #expect(change.effect == nil, "nothing that serves changed")
        #expect(d.warnings.isEmpty)
    }

    @Test func typeAndVariants() throws {
        let d = try diff(
            base: [
                "theme": """
                type: string
                variants: { a: "x", b: "y" }
                off_variant: a
                default: a
                """
            ],
            head: [
                "theme": """
                type: number
                variants: { a: 1, c: 2.5 }
                off_variant: c
                default: c
                """
            ])
        #expect(
            try summaries(d) == [
                "type: string → number",
                #"variant a: "x" → 1"#,
                #"variant b: removed (was "y")"#,
                "variant c: added = 2.5",
                "off_variant: a → c",
                "default: a → c",
            ])
    }

    @Test func booleanVariantValue() throws {
        let d = try diff(
            base: ["inverted": "variants: { on: true, off: false }\ndefault: on"],
            head: ["inverted": "variants: { on: false, off: false }\ndefault: on"])
        #expect(try summaries(d) == ["variant on: true → false"])
    }

    @Test func enabledAndDefault() throws {
        let d = try diff(
            base: ["checkout": "default: off"], head: ["checkout": "enabled: false\ndefault: on"],
            environment: "staging")
        #expect(try summaries(d) == ["enabled: true → false", "default: off → on"])
    }

    @Test func defaultSplitWeights() throws {
        let d = try diff(
            base: [
                "exp": """
                type: string
                variants: { control: a, treatment: b }
                off_variant: control
                default: { split: { control: 50, treatment: 50 } }
                """
            ],
            head: [
                "exp": """
                type: string
                variants: { control: a, treatment: b }
                off_variant: control
                default: { split: { control: 40, treatment: 60 } }
                """
            ])
        #expect(try summaries(d) == ["default: split control 50 / treatment 50 → control 40 / treatment 60"])
    }

    @Test func defaultVariantToSplitAndBucketing() throws {
        let d = try diff(
            base: ["exp": "default: off"],
            head: ["exp": "default: { split: { off: 50, on: 50 }, by: [userId], group: exp-2026 }"])
        #expect(try summaries(d) == ["default: off → split off 50 / on 50 (by [userId], group exp-2026)"])
    }

    @Test func prerequisites() throws {
        let shared = [
            "payments": "default: on",
            "theme": "type: string\nvariants: { modern: m, classic: c }\noff_variant: classic\ndefault: modern",
            "legacy": "default: on",
        ]
        var base = shared
        base["checkout"] = """
            requires:
              - { flag: theme, variants: [modern] }
              - { flag: legacy, variants: [on] }
            """
        var head = shared
        head["checkout"] = """
            requires:
              - { flag: payments, variants: [on] }
              - { flag: theme, variants: [modern, classic] }
            """
        let d = try diff(base: base, head: head)
        #expect(
            try summaries(d) == [
                "requires payments: added (variants [on])",
                "requires theme: [modern] → [modern, classic]",
                "requires legacy: removed",
            ])
    }

    @Test func ruleRolloutWhenServeAndName() throws {
        let base = """
            rules:
              - name: staff
                when: [ { attribute: email, op: ends_with, values: ["@acme.com"], case_insensitive: true } ]
                serve: on
              - name: quarter of pro users
                when: [ { attribute: plan, op: in, values: [pro] } ]
                rollout: 25
                serve: on
              - name: beta
                when: [ { segment: beta-testers } ]
                serve: on
            """
        let head = """
            rules:
              - name: staff
                when: [ { attribute: email, op: ends_with, values: ["@acme.com"], case_insensitive: true } ]
                serve: off
              - name: quarter of pro users
                when: [ { attribute: plan, op: in, values: [pro, enterprise] } ]
                rollout: { percentage: 50, group: checkout-2026 }
                serve: on
              - name: beta testers
                when: [ { segment: beta-testers }, { attribute: age, op: num_gte, value: 18, negate: true } ]
                serve: on
            """
        let segments = ["beta-testers": "include: [user-1]"]
        let d = try diff(
            base: ["checkout": base], head: ["checkout": head], baseSegments: segments, headSegments: segments)
        try #require(
            try summaries(d) == [
                #"rule 1 "staff": serve on → off"#,
                #"rule 2 "quarter of pro users": when plan in [pro] → plan in [pro, enterprise]"#,
                #"rule 2 "quarter of pro users": rollout 25% → 50%"#,
                #"rule 2 "quarter of pro users": rollout group checkout → checkout-2026"#,
                #"rule 3 "beta testers": name "beta" → "beta testers""#,
                #"rule 3 "beta testers": when segment beta-testers → segment beta-testers and not (age num_gte 18)"#,
            ])
        let rollout = try onlyFlag(d).fields[2]
        #expect(rollout.path == #"rule 2 "quarter of pro users""#)
        #expect(rollout.before == "25%" && rollout.after == "50%")
    }

    @Test func rulesAddedAtTheTopAndRemoved() throws {
        let d = try diff(
            base: [
                "checkout": """
                rules:
                  - name: staff
                    when: [ { attribute: email, op: ends_with, values: ["@acme.com"], case_insensitive: true } ]
                    serve: on
                  - name: old
                    when: [ { attribute: plan, op: in, values: [free] } ]
                    serve: on
                """
            ],
            head: [
                "checkout": """
                rules:
                  - name: everyone
                    serve: on
                  - name: staff
                    when: [ { attribute: email, op: ends_with, values: ["@acme.com"], case_insensitive: true } ]
                    serve: on
                """
            ], environment: "staging")
        #expect(
            try summaries(d) == [
                #"rule 1 "everyone": added — when everyone, serve on"#,
                #"rule 2 "old": removed — when plan in [free], serve on"#,
            ], "the unchanged staff rule is matched, not reported as changed")
    }

    @Test func splitServeInRule() throws {
        let d = try diff(
            base: ["exp": "rules: [ { name: experiment, serve: { split: { off: 50, on: 50 }, by: [userId] } } ]"],
            head: ["exp": "rules: [ { name: experiment, serve: { split: { off: 50, on: 50 }, by: [accountId] } } ]"])
        #expect(try summaries(d) == [#"rule 1 "experiment": serve split by [userId] → [accountId]"#])
    }

    @Test func addedAndRemovedFlags() throws {
        let d = try diff(
            base: ["old": "default: on"],
            head: [
                "new": """
                rules: [ { name: pro, when: [ { attribute: plan, op: in, values: [pro] } ], rollout: 10, serve: on } ]
                """
            ])
        #expect(d.flags.map(\.key) == ["new", "old"])
        #expect(d.flags.map(\.kind) == [.added, .removed])
        #expect(
            d.flags[0].fields.map(\.summary) == [
                "default: off", #"rule 1 "pro": when plan in [pro], rollout 10%, serve on"#,
            ])
        #expect(d.flags[1].fields.isEmpty)
    }

    @Test func missingSides() throws {
        let s = try compile(flags: ["a": "default: on", "b": "default: off"], segments: ["s": "include: [u1]"])
        let added = SnapshotDiff(base: nil, head: s["production"])
        #expect(added.flags.map(\.kind) == [.added, .added])
        #expect(added.segments.map(\.kind) == [.added])
        #expect(added.baseVersion == nil && added.headVersion != nil)
        #expect(added.project == "shop" && added.environment == "production" && added.production)
        let removed = SnapshotDiff(base: s["production"], head: nil)
        #expect(removed.flags.map(\.kind) == [.removed, .removed])
        #expect(removed.segments.map(\.kind) == [.removed])
        #expect(removed.headVersion == nil)
    }

    @Test func overlaysAreDiffedPerEnvironment() throws {
        let base = ["checkout": "default: off\nenvironments: { staging: { default: off } }"]
        let head = ["checkout": "default: off\nenvironments: { staging: { default: on } }"]
        #expect(try diff(base: base, head: head, environment: "production").isEmpty)
        #expect(try summaries(try diff(base: base, head: head, environment: "staging")) == ["default: off → on"])
    }

    @Test func segmentIncludeExcludeAndWhen() throws {
        let flags = ["checkout": "rules: [ { when: [ { segment: beta-testers } ], serve: on } ]"]
        let d = try diff(
            base: flags, head: flags,
            baseSegments: [
                "beta-testers": "include: [user-1, user-99]\nwhen: [ { attribute: plan, op: in, values: [pro] } ]"
            ],
            headSegments: [
                "beta-testers": """
                include: [user-1, user-17, user-42]
                exclude: [user-5]
                when: [ { attribute: plan, op: in, values: [pro, enterprise] } ]
                """
            ])
        #expect(d.flags.isEmpty)
        let segment = try #require(d.segments.first)
        #expect(segment.key == "beta-testers" && segment.kind == .changed)
        #expect(segment.usedBy == ["checkout"])
        try #require(
            segment.fields.map(\.summary) == [
                "include +2 −1 (+user-17, +user-42, −user-99)",
                "exclude +1 (+user-5)",
                "when plan in [pro] → plan in [pro, enterprise]",
            ])
        #expect(segment.fields[0].added == ["user-17", "user-42"] && segment.fields[0].removed == ["user-99"])
    }

    @Test func longKeyListsAreCountedNotListed() throws {
        let many = (1...20).map { "user-\($0)" }.joined(separator: ", ")
        let d = try diff(
            base: [:], head: [:], baseSegments: ["s": "include: [user-0]"], headSegments: ["s": "include: [\(many)]"])
        let field = try #require(d.segments.first?.fields.first)
        #expect(field.summary == "include +20 −1")
        #expect(field.added.count == 20 && field.removed == ["user-0"])
    }
}
