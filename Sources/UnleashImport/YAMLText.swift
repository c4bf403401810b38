import FlagCompiler
import FlagModel

/// The import's own YAML: comments, conditions, operand lists. Scalars and flow values are
/// written by FlagCompiler's `YAMLRendering`, which reads back exactly as meant.
enum YAMLText {
    /// `text` as `#` comment lines of at most `width` characters, broken at spaces.
    static func commentLines(_ text: String, prefix: String = "# ", width: Int = 100) -> [String] {
        let safe = commentSafe(text)
        let indent = String(safe.prefix(while: { $0 == " " }))
        var lines: [String] = []
        var line = indent
        var lineHasWord = false
        for word in safe.dropFirst(indent.count).split(separator: " ") {
            if lineHasWord, line.count + 1 + word.count > width {
                lines.append(prefix + line)
                line = indent + "  "
                lineHasWord = false
            }
            line += (lineHasWord ? " " : "") + word
            lineHasWord = true
        }
        if lineHasWord { lines.append(prefix + line) }
        return lines
    }

    /// Text for a `#` comment: one line, whatever `text` holds.
    static func commentSafe(_ text: String) -> String {
        var out = ""
        for s in text.unicodeScalars {
            if YAMLRendering.needsEscape(s) {
                out += "\\u" + YAMLRendering.hex4(s.value)
            } else {
                out.unicodeScalars.append(s)
            }
        }
        return out
    }

    /// A name in a comment, in double quotes with JSON escapes.
    static func commentQuoted(_ text: String) -> String { YAMLRendering.quoted(text) }

    // MARK: Values

    /// An object in block style under `indent`, with `keyOrder` first (in that order) and any
    /// other keys after them, sorted. Nested collections are written in flow style.
    static func block(_ object: [String: Value], indent: String, keyOrder: [String] = []) -> [String] {
        var keys = keyOrder.filter { object[$0] != nil }
        keys += object.keys.filter { !keyOrder.contains($0) }.sorted(by: UTF8Order.precedes)
        return keys.map { indent + YAMLRendering.string($0) + ": " + YAMLRendering.flow(object[$0]!) }
    }

    // MARK: Conditions

    /// A condition as a one-line flow mapping.
    static func condition(_ condition: Condition) -> String {
        switch condition {
        case .segment(let key):
            return "{ segment: \(YAMLRendering.string(key)) }"
        case .all(let items):
            return items.isEmpty ? "{ all: [] }" : "{ all: [" + items.map(self.condition).joined(separator: ", ") + "] }"
        case .any(let items):
            return items.isEmpty ? "{ any: [] }" : "{ any: [" + items.map(self.condition).joined(separator: ", ") + "] }"
        case .not(let inner):
            return "{ not: " + self.condition(inner) + " }"
        case .attribute(let c):
            var parts = ["attribute: " + YAMLRendering.string(c.attribute), "op: " + c.op.rawValue]
            let rendered = c.values.map { operand($0, op: c.op) }
            if c.op.takesSingleValue, rendered.count == 1 {
                parts.append("value: " + rendered[0])
            } else if c.op != .exists {
                parts.append("values: [" + rendered.joined(separator: ", ") + "]")
            }
            if c.caseInsensitive { parts.append("case_insensitive: true") }
            if c.negate { parts.append("negate: true") }
            return "{ " + parts.joined(separator: ", ") + " }"
        }
    }

    /// A condition operand. Number operators get a plain YAML number when the text is one
    /// (the compiler compares the same double either way); everything else is a string.
    static func operand(_ text: String, op: Operator) -> String {
        if op.family == .number {
            switch YAMLScalar.resolve(plain: text) {
            case .int, .double: return text
            default: break
            }
        }
        return YAMLRendering.string(text)
    }

    /// A list of names in flow style: `[a, b]`.
    static func list(_ items: [String]) -> String {
        "[" + items.map(YAMLRendering.string).joined(separator: ", ") + "]"
    }
}
