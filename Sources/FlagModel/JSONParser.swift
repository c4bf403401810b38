/// A strict JSON parser (RFC 8259) producing `Value`, with limits for untrusted input.
///
/// Integers that fit in 64 bits stay integers; anything with a fraction or an exponent
/// is a float. Duplicate object keys are rejected rather than silently resolved.
public struct JSONParser {
    public struct Limits: Sendable {
        public var maxDepth: Int
        public var maxMembers: Int
        public init(maxDepth: Int = 64, maxMembers: Int = 100_000) {
            self.maxDepth = maxDepth
            self.maxMembers = maxMembers
        }
    }

    public struct Error: Swift.Error, Sendable, CustomStringConvertible, Equatable {
        public enum Kind: Sendable, Equatable { case syntax, tooDeep, tooLarge }
        public var kind: Kind
        public var message: String
        /// Byte offset of the problem in the input.
        public var offset: Int
        public var description: String { "\(message) at byte \(offset)" }
    }

    public static func parse(_ text: String, limits: Limits = Limits()) throws(Error) -> Value {
        try parse(bytes: Array(text.utf8), limits: limits)
    }

    public static func parse(bytes: [UInt8], limits: Limits = Limits()) throws(Error) -> Value {
        let result: Result<Value, Error> = bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(Error) -> Value in try parse(bytes: buffer, limits: limits) }
        }
        return try result.get()
    }

    public static func parse(bytes: UnsafeBufferPointer<UInt8>, limits: Limits = Limits()) throws(Error) -> Value {
        var parser = Parser(bytes: bytes, limits: limits)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        if parser.index != bytes.count {
            throw Error(kind: .syntax, message: "unexpected data after the JSON value", offset: parser.index)
        }
        return value
    }

    private struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        let limits: Limits
        var index = 0
        var members = 0

        init(bytes: UnsafeBufferPointer<UInt8>, limits: Limits) {
            self.bytes = bytes
            self.limits = limits
        }

        func fail(_ message: String, _ kind: Error.Kind = .syntax) -> Error {
            Error(kind: kind, message: message, offset: index)
        }

        var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        mutating func countMember() throws(Error) {
            members += 1
            if members > limits.maxMembers { throw fail("more than \(limits.maxMembers) values", .tooLarge) }
        }

        mutating func parseValue(depth: Int) throws(Error) -> Value {
            try countMember()
            guard let c = current else { throw fail("unexpected end of input") }
            switch c {
            case UInt8(ascii: "{"):
                if depth >= limits.maxDepth { throw fail("nesting deeper than \(limits.maxDepth) levels", .tooDeep) }
                index += 1
                skipWhitespace()
                if current == UInt8(ascii: "}") {
                    index += 1
                    return .object([:])
                }
                // Room for a typical object from the start, instead of growing it 1, 2, 4, 8.
                var object = [String: Value](minimumCapacity: 8)
                while true {
                    skipWhitespace()
                    guard current == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                    let keyStart = index
                    let key = try parseString()
                    skipWhitespace()
                    guard current == UInt8(ascii: ":") else { throw fail("expected ':' after an object key") }
                    index += 1
                    skipWhitespace()
                    let value = try parseValue(depth: depth + 1)
                    if object.updateValue(value, forKey: key) != nil {
                        throw Error(kind: .syntax, message: "duplicate key \"\(key)\"", offset: keyStart)
                    }
                    skipWhitespace()
                    if current == UInt8(ascii: ",") {
                        index += 1
                        continue
                    }
                    if current == UInt8(ascii: "}") {
                        index += 1
                        return .object(object)
                    }
                    throw fail("expected ',' or '}' in an object")
                }
            case UInt8(ascii: "["):
                if depth >= limits.maxDepth { throw fail("nesting deeper than \(limits.maxDepth) levels", .tooDeep) }
                index += 1
                var array: [Value] = []
                skipWhitespace()
                if current == UInt8(ascii: "]") {
                    index += 1
                    return .array(array)
                }
                while true {
                    skipWhitespace()
                    array.append(try parseValue(depth: depth + 1))
                    skipWhitespace()
                    if current == UInt8(ascii: ",") {
                        index += 1
                        continue
                    }
                    if current == UInt8(ascii: "]") {
                        index += 1
                        return .array(array)
                    }
                    throw fail("expected ',' or ']' in an array")
                }
            case UInt8(ascii: "\""):
                return .string(try parseString())
            case UInt8(ascii: "t"):
                try expectWord("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try expectWord("false")
                return .bool(false)
            case UInt8(ascii: "n"):
                try expectWord("null")
                return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                return try parseNumber()
            default:
                throw fail("unexpected character '\(Unicode.Scalar(c))'")
            }
        }

        mutating func expectWord(_ word: StaticString) throws(Error) {
            let count = word.utf8CodeUnitCount
            guard index + count <= bytes.count else { throw fail("unexpected end of input") }
            let base = word.utf8Start
            for i in 0..<count where bytes[index + i] != base[i] {
                throw fail("invalid literal")
            }
            index += count
        }

        mutating func parseNumber() throws(Error) -> Value {
            let start = index
            var isFloat = false
            if current == UInt8(ascii: "-") { index += 1 }
            guard let first = current, first >= 0x30, first <= 0x39 else { throw fail("invalid number") }
            if first == 0x30 {
                index += 1
            } else {
                while let c = current, c >= 0x30, c <= 0x39 { index += 1 }
            }
            if current == UInt8(ascii: ".") {
                isFloat = true
                index += 1
                guard let c = current, c >= 0x30, c <= 0x39 else { throw fail("invalid number: digits expected after '.'") }
                while let c = current, c >= 0x30, c <= 0x39 { index += 1 }
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                isFloat = true
                index += 1
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
                guard let c = current, c >= 0x30, c <= 0x39 else { throw fail("invalid number: digits expected in exponent") }
                while let c = current, c >= 0x30, c <= 0x39 { index += 1 }
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            if !isFloat, let i = Int64(text) { return .int(i) }
            guard let d = Double(text), d.isFinite else {
                throw Error(kind: .syntax, message: "number out of range", offset: start)
            }
            return .double(d)
        }

        mutating func parseHex4() throws(Error) -> UInt32 {
            guard index + 4 <= bytes.count else { throw fail("unexpected end of input in \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[index]
                let digit: UInt32
                switch c {
                case 0x30...0x39: digit = UInt32(c - 0x30)
                case 0x41...0x46: digit = UInt32(c - 0x41 + 10)
                case 0x61...0x66: digit = UInt32(c - 0x61 + 10)
                default: throw fail("invalid \\u escape")
                }
                v = v << 4 | digit
                index += 1
            }
            return v
        }

        mutating func parseString() throws(Error) -> String {
            index += 1  // opening quote
            let start = index
            // Fast path: no escapes. ASCII needs no validation (the common case, and the
            // validating initialiser is not specialised, so costs a metadata lookup).
            var high: UInt8 = 0
            while index < bytes.count {
                let c = bytes[index]
                high |= c
                if c == UInt8(ascii: "\"") {
                    let slice = UnsafeBufferPointer(rebasing: bytes[start..<index])
                    if high < 0x80 {
                        index += 1
                        return String(decoding: slice, as: UTF8.self)
                    }
                    guard let s = String(validating: slice, as: UTF8.self) else {
                        throw Error(kind: .syntax, message: "invalid UTF-8 in a string", offset: start)
                    }
                    index += 1
                    return s
                }
                if c == UInt8(ascii: "\\") { break }
                if c < 0x20 { throw fail("control character in a string") }
                index += 1
            }
            var scalars = Array(UnsafeBufferPointer(rebasing: bytes[start..<index]))
            while true {
                guard let c = current else { throw fail("unterminated string") }
                if c == UInt8(ascii: "\"") {
                    index += 1
                    guard let s = String(validating: scalars, as: UTF8.self) else {
                        throw Error(kind: .syntax, message: "invalid UTF-8 in a string", offset: start)
                    }
                    return s
                }
                if c < 0x20 { throw fail("control character in a string") }
                if c != UInt8(ascii: "\\") {
                    scalars.append(c)
                    index += 1
                    continue
                }
                index += 1
                guard let e = current else { throw fail("unterminated escape") }
                index += 1
                switch e {
                case UInt8(ascii: "\""): scalars.append(0x22)
                case UInt8(ascii: "\\"): scalars.append(0x5C)
                case UInt8(ascii: "/"): scalars.append(0x2F)
                case UInt8(ascii: "b"): scalars.append(0x08)
                case UInt8(ascii: "f"): scalars.append(0x0C)
                case UInt8(ascii: "n"): scalars.append(0x0A)
                case UInt8(ascii: "r"): scalars.append(0x0D)
                case UInt8(ascii: "t"): scalars.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try parseHex4()
                    if (0xD800...0xDBFF).contains(code) {
                        guard index + 2 <= bytes.count, bytes[index] == UInt8(ascii: "\\"),
                            bytes[index + 1] == UInt8(ascii: "u")
                        else { throw fail("unpaired surrogate in \\u escape") }
                        index += 2
                        let low = try parseHex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw fail("invalid surrogate pair") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(code) {
                        throw fail("unpaired surrogate in \\u escape")
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw fail("invalid \\u escape") }
                    scalars.append(contentsOf: Array(String(Character(scalar)).utf8))
                default:
                    throw fail("invalid escape '\\\(Unicode.Scalar(e))'")
                }
            }
        }
    }
}
