/// Canonical JSON: object keys sorted by their UTF-8 bytes, no insignificant whitespace,
/// integers without a fraction, floats always with one (`3.0`), strings escaped minimally.
/// Equal values always encode to equal bytes, which is what snapshot versions hash.
public enum CanonicalJSON {
    public static func encode(_ value: Value) -> String {
        String(decoding: encodeBytes(value), as: UTF8.self)
    }

    /// The canonical UTF-8 bytes, what snapshot versions hash.
    public static func encodeBytes(_ value: Value) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(4096)
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
        object.keys.sorted(by: UTF8Order.precedes)
    }

    public static func write(_ value: Value, to out: inout String) {
        out += encode(value)
    }

    public static func write(_ value: Value, to out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i): out.append(contentsOf: String(i).utf8)
        case .double(let d): out.append(contentsOf: format(d).utf8)
        case .string(let s): writeString(s, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            var first = true
            for item in items {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                write(item, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let object):
            out.append(UInt8(ascii: "{"))
            var first = true
            for (key, member) in object.sorted(by: { UTF8Order.precedes($0.key, $1.key) }) {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                writeString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                write(member, to: &out)
            }
            out.append(UInt8(ascii: "}"))
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
        var bytes: [UInt8] = []
        writeString(s, to: &bytes)
        out += String(decoding: bytes, as: UTF8.self)
    }

    /// Escapes `"`, `\\` and control characters; everything else, non-ASCII included, is
    /// copied as UTF-8.
    public static func writeString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { bytes in
            // Runs of bytes that need no escape are copied whole.
            var start = 0
            for i in 0..<bytes.count {
                let byte = bytes[i]
                if byte >= 0x20, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\"), byte != 0x7F { continue }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<i]))
                escape(byte, to: &out)
                start = i + 1
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<bytes.count]))
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func escape(_ byte: UInt8, to out: inout [UInt8]) {
        switch byte {
        case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
        case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
        case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
        case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
        case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
        case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
        case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
        default:
            let hex = Array("0123456789abcdef".utf8)
            out.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
        }
    }
}
