/// The pull-request comment form of a report: the summary line first, compile failures,
/// then a `### project / environment` section per changed environment with its warnings
/// as `> ⚠️` quotes, a bullet per flag and segment, effects in percentages with one
/// decimal, and long lists folded into `<details>`.
struct MarkdownRenderer {
    let report: DiffReport

    /// More field lines than this fold into `<details>`.
    static let foldFields = 8
    /// More replay rows than this fold into `<details>`.
    static let foldRows = 12

    func render() -> String {
        if report.isEmpty && report.orphanReplays.isEmpty { return "No flag changes.\n" }
        var out: [String] = []
        out.append("**\(report.summary)**" + (report.title.isEmpty ? "" : " · `\(report.title)`"))
        for failure in report.failures {
            out.append("")
            out.append("> ❌ **Does not compile**")
            out.append("")
            out.append("```text")
            out.append(failure.hasSuffix("\n") ? String(failure.dropLast()) : failure)
            out.append("```")
        }
        var unchanged: [String] = []
        for diff in report.diffs {
            let heading = "\(diff.project) / \(diff.environment)"
            let replay = report.replay(for: diff)
            if diff.isEmpty && (replay?.changed ?? 0) == 0 {
                unchanged.append(heading)
                continue
            }
            out.append("")
            out.append("### \(heading)")
            out.append("")
            for (i, w) in diff.warnings.enumerated() {
                if i > 0 { out.append(">") }
                out.append("> ⚠️ **\(w.kind.title)** · `\(w.key)`: \(Self.escape(w.message))")
            }
            if !diff.warnings.isEmpty { out.append("") }
            out.append(
                "<sub>\(diff.production ? "production · " : "")"
                    + "base `\(DiffReport.shortVersion(diff.baseVersion))` → "
                    + "head `\(DiffReport.shortVersion(diff.headVersion))`</sub>")
            out.append("")
            if !diff.analytics.isEmpty {
                out.append("- \(Self.icon(.changed)) **analytics policy** changed")
                out += Self.nested(diff.analytics.map { Self.fieldLines($0) }, fold: false, label: "")
            }
            for flag in diff.flags {
                out.append("- \(Self.icon(flag.kind)) **`\(flag.key)`** \(flag.kind.rawValue)")
                var lines = flag.fields.map { Self.fieldLines($0) }
                if let effect = flag.effect { lines.append(["**Effect:** " + Self.escape(effect.description)]) }
                for step in flag.schedule { lines.append(["**At** " + Self.escape(step.summary)]) }
                out += Self.nested(
                    lines, fold: flag.fields.count > Self.foldFields, label: "\(flag.fields.count) changes")
            }
            for segment in diff.segments {
                var line = "- \(Self.icon(segment.kind)) segment **`\(segment.key)`** \(segment.kind.rawValue)"
                if !segment.usedBy.isEmpty {
                    line += " · used by " + segment.usedBy.map { "`\($0)`" }.joined(separator: ", ")
                }
                out.append(line)
                out += Self.nested(
                    segment.fields.map { Self.fieldLines($0) }, fold: segment.fields.count > Self.foldFields,
                    label: "\(segment.fields.count) changes")
            }
            if let replay { out += Self.replay(replay) }
        }
        for (key, replay) in report.orphanReplays {
            out.append("")
            out.append("### \(key.split(separator: "/", maxSplits: 1).joined(separator: " / "))")
            out += Self.replay(replay)
        }
        if !unchanged.isEmpty {
            out.append("")
            out.append("No flag changes in \(unchanged.joined(separator: ", ")).")
        }
        return out.joined(separator: "\n") + "\n"
    }

    static func icon(_ kind: FlagChange.Kind) -> String {
        switch kind {
        case .added: "➕"
        case .removed: "➖"
        case .changed: "✏️"
        }
    }

    /// A field's line, plus the keys of a long list in `<details>`.
    static func fieldLines(_ field: FieldChange) -> [String] {
        var lines = [escape(field.summary)]
        let listed = field.added.count + field.removed.count
        if listed > 6 {
            var keys: [String] = []
            if !field.added.isEmpty { keys.append("added: " + field.added.map { "`\($0)`" }.joined(separator: ", ")) }
            if !field.removed.isEmpty {
                keys.append("removed: " + field.removed.map { "`\($0)`" }.joined(separator: ", "))
            }
            lines.append("<details><summary>\(listed) keys</summary>")
            lines.append("")
            lines += keys.map { "  " + $0 + "<br>" }
            lines.append("</details>")
        }
        return lines
    }

    /// Sub-bullets under a flag or segment, folded into `<details>` when long.
    static func nested(_ items: [[String]], fold: Bool, label: String) -> [String] {
        var out: [String] = []
        if fold {
            out.append("  <details><summary>\(label)</summary>")
            out.append("")
        }
        for item in items {
            out.append("  - " + item[0])
            for extra in item.dropFirst() { out.append("    " + extra) }
        }
        if fold {
            out.append("")
            out.append("  </details>")
        }
        return out
    }

    static func replay(_ replay: ReplayEffect) -> [String] {
        var out = [""]
        let share = Describe.percent(Double(replay.changed) / Double(max(replay.contexts, 1)))
        out.append(
            "**Replayed \(Describe.plural(replay.contexts, "context")):** \(replay.changed) changed variant (\(share))")
        let rows = replay.flagKeys.flatMap { replay.transitions[$0]! }
        guard !rows.isEmpty else { return out }
        let fold = rows.count > foldRows
        out.append("")
        if fold {
            out.append("<details><summary>\(rows.count) transitions</summary>")
            out.append("")
        }
        out.append("| Flag | From | To | Contexts | Share |")
        out.append("|---|---|---|---:|---:|")
        for t in rows {
            out.append(
                "| `\(t.flag)` | \(t.from.map { "`\($0)`" } ?? "_absent_") | \(t.to.map { "`\($0)`" } ?? "_absent_") "
                    + "| \(t.count) | \(Describe.percent(t.share)) |")
        }
        if fold {
            out.append("")
            out.append("</details>")
        }
        return out
    }

    /// Keeps condition text such as `[pro]` from turning into markup, and puts words with an
    /// `@` (e-mail domains in conditions) in code spans so that they mention nobody.
    static func escape(_ s: String) -> String {
        s.split(separator: " ", omittingEmptySubsequences: false).map { word -> String in
            if word.contains("@") {
                return word.contains("`") ? "`` \(word) ``" : "`\(word)`"
            }
            var out = ""
            for c in word {
                switch c {
                case "\\", "*", "<", ">", "[", "]", "|":
                    out.append("\\")
                    out.append(c)
                default:
                    out.append(c)
                }
            }
            return out
        }.joined(separator: " ")
    }
}
