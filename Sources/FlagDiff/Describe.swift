import FlagEngine
import FlagModel

/// Renders model values the way a reviewer reads them: `plan in [pro]`, `segment beta-testers`,
/// `split control 50 / treatment 50`, `25%`.
enum Describe {
    static let arrow = " → "
    static let minus = "−"

    // MARK: Conditions

    static func condition(_ c: Condition) -> String {
        switch c {
        case .attribute(let a):
            var text = a.attribute + " " + a.op.rawValue
            if a.op != .exists {
                text += " " + (a.op.takesSingleValue && a.values.count == 1 ? scalar(a.values[0]) : list(a.values))
            }
            if a.caseInsensitive { text += " (case-insensitive)" }
            return a.negate ? "not (\(text))" : text
        case .segment(let key): return "segment \(key)"
        case .all(let items): return "all(" + items.map(condition).joined(separator: ", ") + ")"
        case .any(let items): return "any(" + items.map(condition).joined(separator: ", ") + ")"
        case .not(let inner): return "not (\(condition(inner)))"
        }
    }

    /// A `when:` list; `empty` is what an empty list means where it is used.
    static func conditions(_ cs: [Condition], empty: String = "everyone") -> String {
        cs.isEmpty ? empty : cs.map(condition).joined(separator: " and ")
    }

    // MARK: Serving

    static func serve(_ s: Serve, flagKey: String) -> String {
        switch s {
        case .variant(let v): return v
        case .split(let split):
            var text = "split " + weights(split)
            let b = bucketing(split.bucketing, flagKey: flagKey)
            if !b.isEmpty { text += " (\(b))" }
            return text
        }
    }

    static func weights(_ split: Split) -> String {
        split.weights.map { "\($0.variant) \($0.weight)" }.joined(separator: " / ")
    }

    /// `by [userId], group g`, leaving out what is the default (`[targetingKey]`, the flag key).
    static func bucketing(_ b: Bucketing, flagKey: String) -> String {
        var parts: [String] = []
        if b.by != ["targetingKey"] { parts.append("by " + list(b.by)) }
        if b.group != flagKey { parts.append("group " + b.group) }
        return parts.joined(separator: ", ")
    }

    static func rollout(_ r: Rollout?, flagKey: String) -> String {
        guard let r else { return "none" }
        let b = bucketing(r.bucketing, flagKey: flagKey)
        return percentages(r) + (b.isEmpty ? "" : " (\(b))")
    }

    /// `25%`, `5% ramping to 100% from … to …`, `1%, 10% from …, 25% from …`.
    static func percentages(_ r: Rollout) -> String {
        switch r.schedule {
        case nil: return "\(r.percentage)%"
        case .ramp(let ramp):
            return "\(ramp.from)% ramping to \(ramp.to)% from \(time(ramp.start)) to \(time(ramp.end))"
        case .steps(let steps):
            return (["\(r.percentage)%"] + steps.map { "\($0.percentage)% from \(time($0.at))" }).joined(separator: ", ")
        }
    }

    /// `from 2026-12-07 08:00 UTC until 2026-12-14 08:00 UTC`; `none` without a window.
    static func window(_ w: Window?) -> String {
        guard let w else { return "none" }
        var parts: [String] = []
        if let start = w.start { parts.append("from \(time(start))") }
        if let end = w.end { parts.append("until \(time(end))") }
        return parts.joined(separator: " ")
    }

    /// An RFC 3339 UTC time as people read it: `2026-12-07 08:00 UTC` (seconds when not zero).
    static func time(_ utc: String) -> String {
        guard let instant = Timestamp.parse(utc) else { return utc }
        let text = Timestamp.formatPrecise(instant)
        var day = text.prefix(10) + " " + text.dropFirst(11).prefix(5)
        let seconds = text.dropFirst(16).dropLast()
        if seconds != ":00" { day += seconds }
        return day + " UTC"
    }

    /// `off`, `every evaluation`, `10% of evaluations`: what a flag records as events.
    static func events(_ rate: Double?) -> String {
        guard let rate else { return "off" }
        if rate >= 1 { return "every evaluation" }
        return "\(samplePercent(rate)) of evaluations"
    }

    /// A sample rate as a percentage, to the digits it was written with: `10%`, `0.5%`,
    /// `12.5%` (not `12.500000000000002%`).
    static func samplePercent(_ rate: Double) -> String {
        let percent = (rate * 100 * 1_000_000).rounded() / 1_000_000
        if percent == percent.rounded(), abs(percent) < 1e15 { return "\(Int64(percent))%" }
        return "\(percent)%"
    }

    // MARK: Analytics

    static func targetingKey(_ policy: TargetingKeyPolicy) -> String {
        switch policy {
        case .hashed: "hashed"
        case .plain: "plain"
        }
    }

    static func rule(_ r: Rule, flagKey: String) -> String {
        var parts = ["when " + conditions(r.when)]
        if let rollout = r.rollout { parts.append("rollout " + Describe.rollout(rollout, flagKey: flagKey)) }
        if let window = r.window { parts.append("only " + Describe.window(window)) }
        parts.append("serve " + serve(r.serve, flagKey: flagKey))
        return parts.joined(separator: ", ")
    }

    /// `rule 2 "quarter of pro users"`, counting from 1 as people do.
    static func rulePath(_ index: Int, _ rule: Rule) -> String {
        "rule \(index + 1)" + (rule.name.map { " \"\($0)\"" } ?? "")
    }

    // MARK: Scalars

    static func list(_ items: [String]) -> String {
        "[" + items.map(scalar).joined(separator: ", ") + "]"
    }

    /// Quotes text that would read ambiguously bare.
    static func scalar(_ s: String) -> String {
        let needsQuotes = s.isEmpty || s.contains { $0 == " " || $0 == "," || $0 == "[" || $0 == "]" || $0 == "\"" }
        guard needsQuotes else { return s }
        var out = ""
        CanonicalJSON.writeString(s, to: &out)
        return out
    }

    static func quoted(_ s: String?) -> String {
        guard let s else { return "none" }
        var out = ""
        CanonicalJSON.writeString(truncated(s), to: &out)
        return out
    }

    static func value(_ v: Value) -> String { truncated(CanonicalJSON.encode(v)) }

    static func truncated(_ s: String, limit: Int = 80) -> String {
        s.count <= limit ? s : String(s.prefix(limit - 1)) + "…"
    }

    /// A share as a percentage with one decimal; tiny non-zero shares do not read as 0.
    static func percent(_ share: Double) -> String {
        if share > 0 && share < 0.0005 { return "<0.1%" }
        if share < 1 && share > 0.9995 { return ">99.9%" }
        let tenths = (share * 1000).rounded()
        let whole = Int(tenths) / 10
        let fraction = Int(tenths) % 10
        return "\(whole).\(fraction)%"
    }

    static func plural(_ n: Int, _ word: String) -> String {
        "\(n) \(word)\(n == 1 ? "" : "s")"
    }
}
