import FlagCompiler
import FlagModel

// Writing drafts as files a person reads: block style for the structure, one-line flow
// mappings for conditions, comments where the import made a choice.

extension Importer {
    var origin: String { "# Imported from Unleash (\(YAMLText.commentSafe(options.source)))" }

    func manifest() -> String {
        var lines = [origin]
        lines.append("version: 1")
        lines.append("organization: \(options.organization)")
        lines.append("projects:")
        lines.append("  \(options.project): {}")
        lines.append("environments:")
        lines.append("  \(options.environment): { branch: main, production: true }")
        return lines.joined(separator: "\n") + "\n"
    }

    func render(_ s: SegmentDraft) -> String {
        var lines = [origin + ": segment \(s.id)" + (s.name.map { " " + YAMLText.commentQuoted($0) } ?? "")]
        if let name = s.name { lines.append("name: " + YAMLRendering.blockString(name)) }
        lines.append("when:")
        if s.when.isEmpty {
            lines.append("  - { all: [] }   # no constraints: everyone")
        } else {
            for c in s.when { lines += Self.conditionLines(c, indent: "  ") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func render(_ d: FlagDraft) -> String {
        let f = d.feature
        var lines = [origin + ": feature " + YAMLText.commentQuoted(f.name)]
        if d.key != f.name {
            lines += YAMLText.commentLines(
                "The name is not a valid flag key, so the key is '\(d.key)'. Rollouts and splits keep the Unleash "
                    + "name as their group: every user keeps their bucket.")
        }
        var about: [String] = []
        if let project = f.project { about.append("project \(YAMLText.commentQuoted(project))") }
        if let type = f.type { about.append("type \(YAMLText.commentQuoted(type))") }
        if !about.isEmpty { lines.append("# Unleash " + about.joined(separator: ", ") + ".") }
        if d.isJSON {
            lines.append("# The value is what Unleash's getVariant returns; its feature_enabled, what isEnabled returns.")
        }
        for note in d.notes + d.requireNotes { lines += YAMLText.commentLines(note) }

        lines.append("name: " + YAMLRendering.blockString(f.name))
        if let description = f.description, !description.isEmpty {
            lines.append("description: " + YAMLRendering.blockString(description))
        }
        if d.isJSON { lines.append("type: json") }
        if !d.enabled { lines.append("enabled: false") }
        if d.isJSON {
            lines.append("variants:")
            for v in d.variants {
                guard case .object(let object) = v.value else { continue }
                switch v.origin {
                case .off:
                    lines.append("  \(v.key): \(Self.variantFlow(object))   # the flag is off")
                case .onWithoutVariant:
                    lines.append("  \(v.key): \(Self.variantFlow(object))   # on, with no variant to give")
                case .unleash:
                    lines.append("  \(YAMLRendering.string(v.key)):")
                    lines += YAMLText.block(
                        object, indent: "    ", keyOrder: ["name", "enabled", "feature_enabled", "payload"])
                }
            }
            lines.append("off_variant: \(Self.off)")
        }
        if !d.requires.isEmpty {
            lines.append("requires:")
            for r in d.requires {
                lines.append("  - { flag: \(YAMLRendering.string(r.flag)), variants: \(YAMLText.list(r.variants)) }")
            }
        }
        if !d.rules.isEmpty {
            lines.append("rules:")
            for item in d.items {
                switch item {
                case .comment(let text): lines += YAMLText.commentLines(text, prefix: "  # ")
                case .rule(let rule): lines += Self.ruleLines(rule)
                }
            }
        } else {
            for case .comment(let text) in d.items { lines += YAMLText.commentLines(text) }
        }
        if let serve = d.defaultServe {
            lines += Self.serveLines(serve, key: "default", indent: "")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func variantFlow(_ object: [String: Value]) -> String {
        let order = ["name", "enabled", "feature_enabled"]
        return "{ " + order.compactMap { k in object[k].map { "\(k): \(YAMLRendering.flow($0))" } }.joined(separator: ", ")
            + " }"
    }

    /// A condition as a list item: one flow mapping on one line, or, for an attribute
    /// condition too long for that, a block mapping with one value per line.
    static func conditionLines(_ c: NoteCondition, indent: String) -> [String] {
        let comment = c.comment.map { "   # " + YAMLText.commentSafe($0) } ?? ""
        let flow = YAMLText.condition(c.condition)
        guard indent.count + 2 + flow.count > 110, case .attribute(let a) = c.condition else {
            return [indent + "- " + flow + comment]
        }
        var lines = [indent + "- attribute: " + YAMLRendering.string(a.attribute) + comment]
        let inner = indent + "  "
        lines.append(inner + "op: " + a.op.rawValue)
        let values = a.values.map { YAMLText.operand($0, op: a.op) }
        if a.op.takesSingleValue, values.count == 1 {
            lines.append(inner + "value: " + values[0])
        } else if a.op != .exists {
            lines.append(inner + "values:")
            for v in values { lines.append(inner + "  - " + v) }
        }
        if a.caseInsensitive { lines.append(inner + "case_insensitive: true") }
        if a.negate { lines.append(inner + "negate: true") }
        return lines
    }

    static func ruleLines(_ rule: DraftRule) -> [String] {
        var lines = ["  - name: " + YAMLRendering.blockString(rule.name)]
        if !rule.when.isEmpty {
            lines.append("    when:")
            for c in rule.when { lines += conditionLines(c, indent: "      ") }
        }
        if let r = rule.rollout {
            var parts = ["percentage: \(r.percentage)", "by: " + YAMLText.list(r.by)]
            if let group = r.group { parts.append("group: " + YAMLRendering.string(group)) }
            lines.append(
                "    rollout: { " + parts.joined(separator: ", ") + " }"
                    + (r.comment.map { "   # " + YAMLText.commentSafe($0) } ?? ""))
        }
        lines += serveLines(rule.serve, key: "serve", indent: "    ")
        return lines
    }

    static func serveLines(_ serve: DraftServe, key: String, indent: String) -> [String] {
        switch serve {
        case .variant(let v):
            return ["\(indent)\(key): \(YAMLRendering.string(v))"]
        case .split(let weights, let by, let group):
            let split = weights.map { "\(YAMLRendering.string($0.variant)): \($0.weight)" }.joined(separator: ", ")
            return [
                "\(indent)\(key):",
                "\(indent)  split: { \(split) }",
                "\(indent)  by: \(YAMLText.list(by))",
                "\(indent)  group: \(YAMLRendering.string(group))",
            ]
        }
    }
}
