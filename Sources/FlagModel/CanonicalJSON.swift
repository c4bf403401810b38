/// Canonical JSON: object keys sorted by their UTF-8 bytes, no insignificant whitespace,
/// integers without a fraction, floats always with one (`3.0`), strings escaped minimally.
/// Equal values always encode to equal bytes, which is what snapshot versions hash.
public enum CanonicalJSON {
    public static func encode(_ value: Value) -> String {
        var out = ""
        out.reserveCapacity(256)
        write(value, to: &out)
        return out
    }

    /// Writes `value` with indentation, keys sorted, for people to read.
    public static func encodePretty(_ value: Value) -> String {
        var out = ""
        writePretty(value, indent: 0, to: &out)
        return out
    }

    /// Floats keep a fraction or an exponent so that they read back as floats.
    public static func format(_ d: Double) -> String {
        if d.isNaN || d.isInfinite { return "null" }
        var s = d.description
        if !s.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) { s += ".0" }
        return s
    }

    public static func sortedKeys(_ object: [String: Value]) -> [String] {
        object.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    public static func write(_ value: Value, to out: inout String) {
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d): out += format(d)
        case .string(let s): writeString(s, to: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                write(item, to: &out)
            }
            out += "]"
        case .object(let object):
            out += "{"
            for (i, key) in sortedKeys(object).enumerated() {
                if i > 0 { out += "," }
                writeString(key, to: &out)
                out += ":"
                write(object[key]!, to: &out)
            }
            out += "}"
        }
    }

    private static func writePretty(_ value: Value, indent: Int, to out: inout String) {
        let pad = String(repeating: "  ", count: indent + 1)
        let closePad = String(repeating: "  ", count: indent)
        switch value {
        case .array(let items) where !items.isEmpty:
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += pad
                writePretty(item, indent: indent + 1, to: &out)
                out += i + 1 < items.count ? ",\n" : "\n"
            }
            out += closePad + "]"
        case .object(let object) where !object.isEmpty:
            out += "{\n"
            let keys = sortedKeys(object)
            for (i, key) in keys.enumerated() {
                out += pad
                writeString(key, to: &out)
                out += ": "
                writePretty(object[key]!, indent: indent + 1, to: &out)
                out += i + 1 < keys.count ? ",\n" : "\n"
            }
            out += closePad + "}"
        default:
            write(value, to: &out)
        }
    }

    public static func writeString(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}
