import FlagDiff
import FlagEngine
import FlagModel
import Testing

/// A change across two environments: production raises a rollout, adds a flag and turns
/// one on for everyone, and changes a segment; staging only gets the new flag.
private func sampleReport() throws -> DiffReport {
    let rule = { (p: Int) in
        """
        rules:
          - name: beta
            when: [ { segment: beta-testers } ]
            serve: on
          - name: quarter of pro users
            when: [ { attribute: plan, op: in, values: [pro] } ]
            rollout: \(p)
            serve: on
        default: off
        """
    }
    let base = try compile(
        flags: ["checkout": rule(25), "banner": "default: off"],
        segments: ["beta-testers": "include: [user-1, user-99]"])
    let head = try compile(
        flags: [
            "checkout": rule(50), "banner": "default: on",
            "dark-mode": "default: on\nenvironments: { staging: { default: off } }",
        ],
        segments: ["beta-testers": "include: [user-1, user-17, user-42]"])
    let production = SnapshotDiff(base: base["production"], head: head["production"])
    let unchanged = SnapshotDiff(base: head["staging"], head: head["staging"])
    let contexts: [[String: Value]] = [
        ["targetingKey": "user-17"], ["targetingKey": "user-2"], ["targetingKey": "user-3", "plan": "free"],
    ]
    let replay = Replay.run(base: base["production"], head: head["production"], contexts: contexts, now: testNow)
    return DiffReport(title: "main..feature-x", diffs: [production, unchanged], replays: ["shop/production": replay])
}

@Suite("Rendering: text, markdown, JSON")
struct RenderTests {
    @Test func summaryCountsFlagsSegmentsAndWarnings() throws {
        let report = try sampleReport()
        #expect(report.summary == "2 flags changed, 1 added · 1 segment changed · 1 warning")
        #expect(!report.isEmpty)
    }

    @Test func text() throws {
        let text = try sampleReport().render(.text)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.first == "main..feature-x: 2 flags changed, 1 added · 1 segment changed · 1 warning")
        let expected = [
            "  ⚠ switched for everyone  banner: everyone switches from off to on at once, with no rollout in between",
            "  ~ flag banner",
            "      default: off → on",
            "  ~ flag checkout",
            #"      rule 2 "quarter of pro users": rollout 25% → 50%"#,
            #"      effect: 25.0% of users matching rule 2 "quarter of pro users" change from off to on"#,
            "  + flag dark-mode (added)",
            "      default: on",
            "  ~ segment beta-testers — used by checkout",
            "      include +2 −1 (+user-17, +user-42, −user-99)",
            "  replay: 3 contexts, 3 changed (100.0%)",
            "      banner: off → on 3 (100.0%)",
            "      checkout: off → on 1 (33.3%)",
            "      dark-mode: (absent) → on 3 (100.0%)",
            "No changes in shop / staging.",
        ]
        for line in expected { #expect(lines.contains(line), "missing \(line)\n\(text)") }
        #expect(lines.contains { $0.hasPrefix("shop / production [production]  sha256:") && $0.contains(" → sha256:") })
        // Lines in order: the warning before the flags, flags before segments, the replay last.
        let positions = expected.compactMap { lines.firstIndex(of: $0) }
        #expect(positions == positions.sorted())
    }

    @Test func markdown() throws {
        let markdown = try sampleReport().render(.markdown)
        let lines = markdown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.first == "**2 flags changed, 1 added · 1 segment changed · 1 warning** · `main..feature-x`")
        let expected = [
            "### shop / production",
            "> ⚠️ **Switched for everyone** · `banner`: everyone switches from off to on at once, with no rollout in between",
            "- ✏️ **`checkout`** changed",
            #"  - rule 2 "quarter of pro users": rollout 25% → 50%"#,
            #"  - **Effect:** 25.0% of users matching rule 2 "quarter of pro users" change from off to on"#,
            "- ➕ **`dark-mode`** added",
            "- ✏️ segment **`beta-testers`** changed · used by `checkout`",
            "  - include +2 −1 (+user-17, +user-42, −user-99)",
            "**Replayed 3 contexts:** 3 changed variant (100.0%)",
            "| Flag | From | To | Contexts | Share |",
            "| `checkout` | `off` | `on` | 1 | 33.3% |",
            "| `dark-mode` | _absent_ | `on` | 3 | 100.0% |",
            "No flag changes in shop / staging.",
        ]
        for line in expected { #expect(lines.contains(line), "missing \(line)\n\(markdown)") }
        let heading = try #require(lines.firstIndex(of: "### shop / production"))
        let warning = try #require(lines.firstIndex { $0.hasPrefix("> ⚠️") })
        let firstFlag = try #require(lines.firstIndex { $0.hasPrefix("- ") })
        #expect(heading < warning && warning < firstFlag, "warnings open the section")
        #expect(!lines.contains("### shop / staging"))
    }

    @Test func markdownFoldsLongLists() throws {
        let many = (1...30).map { "user-\($0)" }.joined(separator: ", ")
        let d = try diff(
            base: [:], head: [:], baseSegments: ["s": "include: []"], headSegments: ["s": "include: [\(many)]"])
        let markdown = DiffReport(title: "a..b", diffs: [d]).render(.markdown)
        #expect(markdown.contains("  - include +30"))
        #expect(markdown.contains("<details><summary>30 keys</summary>"))
        #expect(markdown.contains("`user-17`"))
    }

    @Test func markdownKeepsConditionTextLiteral() throws {
        let d = try diff(
            base: [
                "f": "rules: [ { when: [ { attribute: email, op: ends_with, values: [\"@acme.com\"] } ], serve: on } ]"
            ],
            head: [
                "f": "rules: [ { when: [ { attribute: email, op: ends_with, values: [\"@acme.org\"] } ], serve: on } ]"
            ])
        let markdown = DiffReport(diffs: [d]).render(.markdown)
        // Brackets would start a link, and `@acme` would mention an organization.
        #expect(markdown.contains("  - rule 1: when email ends_with `[@acme.com]` → email ends_with `[@acme.org]`"))
        let plain = try diff(
            base: ["f": "rules: [ { when: [ { attribute: plan, op: in, values: [pro] } ], serve: on } ]"],
            head: ["f": "rules: [ { when: [ { attribute: plan, op: in, values: [free] } ], serve: on } ]"])
        #expect(
            DiffReport(diffs: [plain]).render(.markdown).contains(
                #"  - rule 1: when plan in \[pro\] → plan in \[free\]"#))
    }

    @Test func json() throws {
        let report = try sampleReport()
        let text = report.render(.json)
        let value = try JSONParser.parse(text)
        #expect(value["title"] == "main..feature-x")
        #expect(value["summary"] == .string(report.summary))
        #expect(value["empty"] == false)
        let diffs = try #require(value["diffs"]?.arrayValue)
        #expect(diffs.count == 2)
        let production = diffs[0]
        #expect(production["environment"] == "production")
        #expect(production["production"] == true)
        let flags = try #require(production["flags"]?.arrayValue)
        #expect(flags.map { $0["key"] } == ["banner", "checkout", "dark-mode"])
        #expect(flags.map { $0["kind"] } == ["changed", "changed", "added"])
        let checkout = flags[1]
        let field = try #require(checkout["fields"]?.arrayValue?.first)
        #expect(field["summary"] == #"rule 2 "quarter of pro users": rollout 25% → 50%"#)
        #expect(field["before"] == "25%" && field["after"] == "50%")
        #expect(checkout["effect"]?["transitions"]?.arrayValue?.first?["from"] == "off")
        let share = try #require(checkout["effect"]?["share"])
        if case .double(let d) = share { #expect(abs(d - 0.25) < 1e-6) } else { Issue.record("share \(share)") }
        #expect(flags[2]["effect"] == .null)
        #expect(production["warnings"]?.arrayValue?.first?["kind"] == "switchedForEveryone")
        #expect(
            production["segments"]?.arrayValue?.first?["fields"]?.arrayValue?.first?["added"] == ["user-17", "user-42"])
        #expect(diffs[1]["empty"] == true)
        #expect(value["replays"]?["shop/production"]?["contexts"] == 3)
        #expect(value["replays"]?["shop/production"]?["flags"]?["checkout"]?.arrayValue?.first?["count"] == 1)
        // Canonical: rendering twice gives the same bytes.
        #expect(text == report.render(.json))
    }

    @Test func failuresComeFirst() throws {
        let failure = "shop/flags/a.yaml:1:1: error[E001]: broken\n  | x\n  | ^\n"
        let report = DiffReport(title: "main..x", diffs: [], failures: [failure])
        #expect(!report.isEmpty)
        #expect(report.summary == "does not compile")
        let text = report.render(.text)
        #expect(text.hasPrefix("main..x: does not compile\n\nshop/flags/a.yaml:1:1: error[E001]: broken"))
        let markdown = report.render(.markdown)
        #expect(markdown.contains("> ❌ **Does not compile**"))
        #expect(markdown.contains("```text\nshop/flags/a.yaml:1:1: error[E001]: broken"))
    }

    @Test func emptyReports() throws {
        let s = try compile(flags: ["a": "default: on"])
        let report = DiffReport(
            title: "main..main",
            diffs: [
                SnapshotDiff(base: s["production"], head: s["production"]),
                SnapshotDiff(base: s["staging"], head: s["staging"]),
            ])
        #expect(report.isEmpty)
        #expect(report.render(.text) == "No changes.\n")
        #expect(report.render(.markdown) == "No flag changes.\n")
        #expect(try JSONParser.parse(report.render(.json))["empty"] == true)
    }
}
