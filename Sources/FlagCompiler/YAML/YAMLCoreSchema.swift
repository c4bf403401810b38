import FlagModel

extension YAMLScalar {
    /// Types a plain scalar with the YAML 1.2 core schema, so that a file means the same in
    /// every YAML 1.2 tool and `yes`, `no`, `on`, `off`, `y`, `NO` stay strings:
    ///
    /// - null: `null`, `Null`, `NULL`, `~` and the empty scalar
    /// - bool: `true`, `True`, `TRUE`, `false`, `False`, `FALSE`
    /// - int: `[-+]?[0-9]+`, `0o[0-7]+`, `0x[0-9a-fA-F]+`
    /// - float: `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
    /// - anything else, dates such as `2027-03-31` included: a string
    ///
    /// Where JSON cannot hold what the schema says, the text stays a string, and the compiler
    /// reports it wherever a number is needed:
    /// - `.inf`, `-.Inf`, `.nan` and the like (core-schema floats) stay strings;
    /// - a float that overflows to infinity (`1e400`) stays a string;
    /// - a decimal integer beyond 64 bits becomes a float, as it would in JSON;
    /// - a hexadecimal or octal integer beyond 64 bits stays a string: such a literal is a bit
    ///   pattern, and rounding it would quietly change it.
    public static func resolve(plain text: String) -> Value {
        guard let first = text.utf8.first else { return .null }
        switch first {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."):
            return resolveNumber(text)
        case UInt8(ascii: "~"), UInt8(ascii: "n"), UInt8(ascii: "N"):
            switch text {
            case "~", "null", "Null", "NULL": return .null
            default: return .string(text)
            }
        case UInt8(ascii: "t"), UInt8(ascii: "T"):
            switch text {
            case "true", "True", "TRUE": return .bool(true)
            default: return .string(text)
            }
        case UInt8(ascii: "f"), UInt8(ascii: "F"):
            switch text {
            case "false", "False", "FALSE": return .bool(false)
            default: return .string(text)
            }
        default:
            return .string(text)
        }
    }

    private static func resolveNumber(_ text: String) -> Value {
        var copy = text
        let shape = copy.withUTF8 { numberShape(of: $0) }
        switch shape {
        case .notANumber:
            return .string(text)
        case .decimal:
            if let int = Int64(text) { return .int(int) }
            if let double = Double(text), double.isFinite { return .double(double) }
            return .string(text)
        case .octal:
            return Int64(text.dropFirst(2), radix: 8).map(Value.int) ?? .string(text)
        case .hexadecimal:
            return Int64(text.dropFirst(2), radix: 16).map(Value.int) ?? .string(text)
        case .float:
            if let double = Double(text), double.isFinite { return .double(double) }
            return .string(text)
        }
    }

    private enum NumberShape { case notANumber, decimal, octal, hexadecimal, float }

    /// Matches the core schema's number patterns by hand; a regex would cost more than the parse.
    private static func numberShape(of bytes: UnsafeBufferPointer<UInt8>) -> NumberShape {
        func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
        func isOctal(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "7") }
        func isHex(_ b: UInt8) -> Bool {
            isDigit(b) || (b | 0x20 >= UInt8(ascii: "a") && b | 0x20 <= UInt8(ascii: "f"))
        }
        let n = bytes.count
        if n > 2, bytes[0] == UInt8(ascii: "0") {
            if bytes[1] == UInt8(ascii: "o") {
                return bytes[2...].allSatisfy(isOctal) ? .octal : .notANumber
            }
            if bytes[1] == UInt8(ascii: "x") {
                return bytes[2...].allSatisfy(isHex) ? .hexadecimal : .notANumber
            }
        }
        var i = 0
        if i < n, bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") { i += 1 }
        let integerStart = i
        while i < n, isDigit(bytes[i]) { i += 1 }
        let integerDigits = i - integerStart
        if i == n { return integerDigits > 0 ? .decimal : .notANumber }
        var fractionDigits = 0
        if bytes[i] == UInt8(ascii: ".") {
            i += 1
            let fractionStart = i
            while i < n, isDigit(bytes[i]) { i += 1 }
            fractionDigits = i - fractionStart
        }
        // `.` alone, `-.`, `+` are not numbers; `1.` is.
        guard integerDigits > 0 || fractionDigits > 0 else { return .notANumber }
        if i < n, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < n, bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") { i += 1 }
            let exponentStart = i
            while i < n, isDigit(bytes[i]) { i += 1 }
            if i == exponentStart { return .notANumber }
        }
        return i == n ? .float : .notANumber
    }
}
