/// The terminal form of a report:
///
/// ```
/// main..feature-x: 1 flag changed · 1 warning
///
/// shop / production [production]  sha256:1a2b3c4d5e6f → sha256:9f8e7d6c5b4a
///   ⚠ switched for everyone  checkout: everyone switches from off to on at once, …
///   ~ flag checkout
///       rule 2 "quarter of pro users": rollout 25% → 50%
///       effect: 25.0% of users matching rule 2 "quarter of pro users" change from off to on
///   replay: 1000 contexts, 12 changed (1.2%)
///       checkout: off → on 12 (1.2%)
/// ```
struct TextRenderer {
    let report: DiffReport

    func render() -> String {
        if report.isEmpty && report.orphanReplays.isEmpty { return "No changes.\n" }
        var lines: [String] = []
        lines.append(report.title.isEmpty ? report.summary : "\(report.title): \(report.summary)")
        for failure in report.failures {
            lines.append("")
            lines.append(failure.hasSuffix("\n") ? String(failure.dropLast()) : failure)
        }
        var unchanged: [String] = []
        for diff in report.diffs {
            let heading = "\(diff.project) / \(diff.environment)"
            let replay = report.replay(for: diff)
            if diff.isEmpty && (replay?.changed ?? 0) == 0 {
                unchanged.append(heading)
                continue
            }
            lines.append("")
            lines.append(
                "\(heading)\(diff.production ? " [production]" : "")  "
                    + "\(DiffReport.shortVersion(diff.baseVersion)) → \(DiffReport.shortVersion(diff.headVersion))")
            for w in diff.warnings {
                lines.append("  ⚠ \(w.kind.title.lowercased())  \(w.key): \(w.message)")
            }
            if !diff.analytics.isEmpty {
                lines.append("  ~ analytics policy")
                for field in diff.analytics { lines.append("      " + field.summary) }
            }
            for flag in diff.flags {
                let kind = flag.kind == .changed ? "" : " (\(flag.kind.rawValue))"
                lines.append("  \(Self.mark(flag.kind)) flag \(flag.key)\(kind)")
                for field in flag.fields { lines.append("      " + field.summary) }
                if let effect = flag.effect { lines.append("      effect: " + effect.description) }
                for step in flag.schedule { lines.append("      at " + step.summary) }
            }
            for segment in diff.segments {
                var line = "  \(Self.mark(segment.kind)) segment \(segment.key)"
                if segment.kind != .changed { line += " (\(segment.kind.rawValue))" }
                if !segment.usedBy.isEmpty { line += " — used by \(segment.usedBy.joined(separator: ", "))" }
                lines.append(line)
                for field in segment.fields { lines.append("      " + field.summary) }
            }
            if let replay { lines += Self.replayLines(replay) }
        }
        for (key, replay) in report.orphanReplays {
            lines.append("")
            lines.append(key.split(separator: "/", maxSplits: 1).joined(separator: " / "))
            lines += Self.replayLines(replay)
        }
        if !unchanged.isEmpty {
            lines.append("")
            lines.append("No changes in \(unchanged.joined(separator: ", ")).")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func mark(_ kind: FlagChange.Kind) -> String {
        switch kind {
        case .added: "+"
        case .removed: "-"
        case .changed: "~"
        }
    }

    static func replayLines(_ replay: ReplayEffect) -> [String] {
        var lines = [
            "  replay: \(Describe.plural(replay.contexts, "context")), \(replay.changed) changed "
                + "(\(Describe.percent(Double(replay.changed) / Double(max(replay.contexts, 1)))))"
        ]
        for key in replay.flagKeys {
            let parts = replay.transitions[key]!.map {
                "\($0.from ?? "(absent)") → \($0.to ?? "(absent)") \($0.count) (\(Describe.percent($0.share)))"
            }
            lines.append("      \(key): " + parts.joined(separator: ", "))
        }
        return lines
    }
}
