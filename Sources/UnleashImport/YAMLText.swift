import FlagCompiler
import FlagModel

/// Writing YAML that a person reads and that the compiler reads back exactly as meant.
///
/// Strings are written plain only when that is unambiguous in every context the importer
/// writes them in (block and flow collections alike) and YAML 1.2's core schema reads them
/// back as the same string; everything else is double-quoted with JSON-style escapes.
enum YAMLText {
    /// `text` as a YAML scalar that reads back as the string `text`.
    static func string(_ text: String) -> String {
        isSafePlain(text) ? text : quoted(text)
    }

    /// `text` as the value of a block mapping (`name:`, `description:`): plain when it reads
    /// back unchanged, which allows spaces and some punctuation there, else double-quoted.
    static func blockString(_ text: String) -> String {
        isSafeBlockPlain(text) ? text : quoted(text)
    }

    /// Letters and digits of any script, spaces inside, and `_ . - / , ( ) ' ? & + = % @ ! ;`
    /// after the first character, which is a letter or a digit; no `:` or `#`, which could
    /// start a mapping or a comment; typed as a string by the core schema.
    static func isSafeBlockPlain(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, let last = text.unicodeScalars.last,
            isLetterOrDigit(first), last != " "
        else { return false }
        let punctuation: Set<Unicode.Scalar> = [" ", "_", ".", "-", "/", ",", "(", ")", "'", "?", "&", "+", "=", "%", "@", "!", ";"]
        for s in text.unicodeScalars where !(isLetterOrDigit(s) || punctuation.contains(s)) {
            return false
        }
        return YAMLScalar.resolve(plain: text) == .string(text)
    }

    static func isLetterOrDigit(_ s: Unicode.Scalar) -> Bool {
        if s.isASCII {
            return (s >= "a" && s <= "z") || (s >= "A" && s <= "Z") || (s >= "0" && s <= "9")
        }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .decimalNumber:
            return true
        default:
            return false
        }
    }

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

    /// A plain scalar is safe when it is made of letters, digits and `_ . - /`, starts with
    /// a letter, a digit or `_`, and the core schema does not type it (`true`, `null`, `12`,
    /// `1.5e3`, `0x1f` are not strings).
    static func isSafePlain(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first else { return false }
        func isWordScalar(_ s: Unicode.Scalar) -> Bool {
            (s >= "a" && s <= "z") || (s >= "A" && s <= "Z") || (s >= "0" && s <= "9") || s == "_"
        }
        guard isWordScalar(first) else { return false }
        for s in text.unicodeScalars where !(isWordScalar(s) || s == "." || s == "-" || s == "/") {
            return false
        }
        return YAMLScalar.resolve(plain: text) == .string(text)
    }

    /// A double-quoted scalar. Control characters and the characters YAML treats as line
    /// breaks or as a byte-order mark (NEL, LS, PS, U+FEFF) are escaped, so a quoted string
    /// never spans lines.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for s in text.unicodeScalars {
            switch s {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                let v = s.value
                if v < 0x20 || v == 0x7F || (v >= 0x80 && v <= 0x9F) || v == 0x2028 || v == 0x2029 || v == 0xFEFF {
                    out += "\\u" + hex4(v)
                } else {
                    out.unicodeScalars.append(s)
                }
            }
        }
        return out + "\""
    }

    static func hex4(_ v: UInt32) -> String {
        let digits = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// Text for a `#` comment: one line, whatever `text` holds.
    static func commentSafe(_ text: String) -> String {
        var out = ""
        for s in text.unicodeScalars {
            let v = s.value
            if v < 0x20 || v == 0x7F || (v >= 0x80 && v <= 0x9F) || v == 0x2028 || v == 0x2029 || v == 0xFEFF {
                out += "\\u" + hex4(v)
            } else {
                out.unicodeScalars.append(s)
            }
        }
        return out
    }

    /// A name in a comment, in double quotes with JSON escapes.
    static func commentQuoted(_ text: String) -> String { quoted(text) }

    // MARK: Values

    /// A scalar value (string, number, boolean, null) as YAML.
    static func scalar(_ value: Value) -> String {
        switch value {
        case .null: "null"
        case .bool(let b): b ? "true" : "false"
        case .int(let i): String(i)
        case .double(let d): CanonicalJSON.format(d)
        case .string(let s): string(s)
        case .array, .object: flow(value)
        }
    }

    /// Any value in flow style, on one line: `{ a: 1, b: [x, y] }`. Keys in sorted order.
    static func flow(_ value: Value) -> String {
        switch value {
        case .array(let items):
            return items.isEmpty ? "[]" : "[" + items.map(flow).joined(separator: ", ") + "]"
        case .object(let object):
            if object.isEmpty { return "{}" }
            let keys = object.keys.sorted(by: UTF8Order.precedes)
            return "{ " + keys.map { string($0) + ": " + flow(object[$0]!) }.joined(separator: ", ") + " }"
        default:
            return scalar(value)
        }
    }

    /// An object in block style under `indent`, with `keyOrder` first (in that order) and any
    /// other keys after them, sorted. Nested collections are written in flow style.
    static func block(_ object: [String: Value], indent: String, keyOrder: [String] = []) -> [String] {
        var keys = keyOrder.filter { object[$0] != nil }
        keys += object.keys.filter { !keyOrder.contains($0) }.sorted(by: UTF8Order.precedes)
        return keys.map { indent + string($0) + ": " + flow(object[$0]!) }
    }

    // MARK: Conditions

    /// A condition as a one-line flow mapping.
    static func condition(_ condition: Condition) -> String {
        switch condition {
        case .segment(let key):
            return "{ segment: \(string(key)) }"
        case .all(let items):
            return items.isEmpty ? "{ all: [] }" : "{ all: [" + items.map(self.condition).joined(separator: ", ") + "] }"
        case .any(let items):
            return items.isEmpty ? "{ any: [] }" : "{ any: [" + items.map(self.condition).joined(separator: ", ") + "] }"
        case .not(let inner):
            return "{ not: " + self.condition(inner) + " }"
        case .attribute(let c):
            var parts = ["attribute: " + string(c.attribute), "op: " + c.op.rawValue]
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
        return string(text)
    }

    /// A list of names in flow style: `[a, b]`.
    static func list(_ items: [String]) -> String {
        "[" + items.map(string).joined(separator: ", ") + "]"
    }
}
