import FlagModel

/// Writing YAML that a person reads and that `YAMLReader` reads back exactly as meant.
///
/// Strings are written plain only when that is unambiguous in every context they may land in
/// (block and flow collections alike) and YAML 1.2's core schema reads them back as the same
/// string; everything else is double-quoted with JSON-style escapes. `blockString` is the
/// one exception: a value of a block mapping may be plain with spaces and more punctuation.
///
/// Numbers keep whether they are integers or floats (`1` and `1.0`). Objects are unordered,
/// so their keys are written in sorted order.
public enum YAMLRendering {
    // MARK: Documents

    /// A whole document in block style, as `flagstaff init` writes files: one `key: value`
    /// line per pair, in the order given, with scalars as `blockString` writes strings and
    /// collections in flow style on the same line. Ends with a line feed.
    public static func document(_ pairs: [(String, Value)]) -> String {
        if pairs.isEmpty { return "{}\n" }
        return pairs.map { string($0.0) + ": " + blockValue($0.1) + "\n" }.joined()
    }

    /// A value of a block mapping entry, on the key's line: strings as `blockString` writes
    /// them, anything else as `flow` does.
    public static func blockValue(_ value: Value) -> String {
        if case .string(let s) = value { return blockString(s) }
        return flow(value)
    }

    // MARK: Values

    /// A scalar value (string, number, boolean, null) as YAML that is safe in any context;
    /// arrays and objects in flow style.
    public static func scalar(_ value: Value) -> String {
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
    public static func flow(_ value: Value) -> String {
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

    // MARK: Strings

    /// `text` as a YAML scalar that reads back as the string `text`, in block or flow context.
    public static func string(_ text: String) -> String {
        isSafePlain(text) ? text : quoted(text)
    }

    /// `text` as the value of a block mapping (`name:`, `description:`): plain when it reads
    /// back unchanged, which allows spaces and some punctuation there, else double-quoted.
    public static func blockString(_ text: String) -> String {
        isSafeBlockPlain(text) ? text : quoted(text)
    }

    /// Letters and digits of any script, spaces inside, and `_ . - / , ( ) ' ? & + = % @ ! ;`
    /// after the first character, which is a letter or a digit; no `:` or `#`, which could
    /// start a mapping or a comment; typed as a string by the core schema.
    public static func isSafeBlockPlain(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, let last = text.unicodeScalars.last,
            isLetterOrDigit(first), last != " "
        else { return false }
        let punctuation: Set<Unicode.Scalar> = [
            " ", "_", ".", "-", "/", ",", "(", ")", "'", "?", "&", "+", "=", "%", "@", "!", ";",
        ]
        for s in text.unicodeScalars where !(isLetterOrDigit(s) || punctuation.contains(s)) {
            return false
        }
        return YAMLScalar.resolve(plain: text) == .string(text)
    }

    /// A plain scalar is safe when it is made of letters, digits and `_ . - /`, starts with
    /// a letter, a digit or `_`, and the core schema does not type it (`true`, `null`, `12`,
    /// `1.5e3`, `0x1f` are not strings).
    public static func isSafePlain(_ text: String) -> Bool {
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
    public static func quoted(_ text: String) -> String {
        var out = "\""
        for s in text.unicodeScalars {
            switch s {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if needsEscape(s) {
                    out += "\\u" + hex4(s.value)
                } else {
                    out.unicodeScalars.append(s)
                }
            }
        }
        return out + "\""
    }

    /// Control characters, and the characters YAML reads as line breaks or a byte-order mark:
    /// what must never be written as itself on a line of YAML.
    public static func needsEscape(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        return v < 0x20 || v == 0x7F || (v >= 0x80 && v <= 0x9F) || v == 0x2028 || v == 0x2029 || v == 0xFEFF
    }

    /// Four upper-case hexadecimal digits, as `\u` escapes want them.
    public static func hex4(_ v: UInt32) -> String {
        let digits = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    private static func isLetterOrDigit(_ s: Unicode.Scalar) -> Bool {
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
}
