import FlagModel

/// The names of the attributes an evaluator reads, as bytes back to back, so that a context's
/// JSON keys can be matched against them without making a string per key.
struct AttributeNameTable: Sendable {
    /// Name `i` is `bytes[starts[i]..<starts[i + 1]]`.
    let bytes: [UInt8]
    let starts: [Int]

    init(_ attributes: [AttributeNeeds]) {
        var bytes: [UInt8] = []
        var starts: [Int] = []
        for needs in attributes {
            starts.append(bytes.count)
            bytes += needs.name.utf8
        }
        starts.append(bytes.count)
        self.bytes = bytes
        self.starts = starts
    }
}

extension Evaluator {
    /// Prepares the context written as the JSON object `json`, without building a dictionary
    /// of it first, when it is a plain one: at most `PlainContextScanner.maxMembers` members,
    /// no key twice, every value a string of printable ASCII without escapes, a number, a
    /// boolean or null. Returns nil for anything else, valid or not (nested objects, arrays,
    /// escapes, other text, duplicate keys, invalid JSON, not an object): parse that in full
    /// and `prepare(_:now:)` it, which gives the errors their words. For a plain context the
    /// result is exactly what parsing and `prepare(_:now:)` give.
    public func prepare(json: UnsafeBufferPointer<UInt8>, now: Instant) -> PreparedContext? {
        var rng = SystemRandomNumberGenerator()
        return prepare(json: json, now: now, random: &rng)
    }

    public func prepare(
        json: UnsafeBufferPointer<UInt8>, now: Instant, random: inout some RandomNumberGenerator
    ) -> PreparedContext? {
        var slots = PreparedContext.emptySlots(attributes.count)
        var targetingKey: Value?
        var currentTime: Value?
        let plain = attributes.withUnsafeBufferPointer { needs in
            slots.withUnsafeMutableBufferPointer { out in
                attributeNames.bytes.withUnsafeBufferPointer { names in
                    attributeNames.starts.withUnsafeBufferPointer { starts in
                        withUnsafeTemporaryAllocation(of: Bool.self, capacity: needs.count) { found in
                            found.initialize(repeating: false)
                            var scanner = PlainContextScanner(bytes: json)
                            let plain = scanner.scan { key, value in
                                if Self.equal(key, "targetingKey") {
                                    targetingKey = value()
                                } else if usesTime, Self.equal(key, "currentTime") {
                                    currentTime = value()
                                }
                                for i in 0..<needs.count where !found[i] {
                                    let name = UnsafeBufferPointer(rebasing: names[starts[i]..<starts[i + 1]])
                                    guard name.count == key.count, memoryEqual(name, key) else { continue }
                                    found[i] = true
                                    PreparedContext.fill(&out[i], needs[i], value(), now: now)
                                    break
                                }
                            }
                            guard plain else { return false }
                            // Absent names: a dotted one finds nothing either, as a plain context has no
                            // nested objects; `currentTime` defaults to the clock.
                            for i in 0..<needs.count where !found[i] && needs[i].isCurrentTime {
                                PreparedContext.fill(&out[i], needs[i], nil, now: now)
                            }
                            return true
                        }
                    }
                }
            }
        }
        guard plain else { return nil }
        return PreparedContext.finish(
            slots: slots, targetingKey: targetingKey, currentTime: currentTime, now: now, drawsRandom: usesRandom,
            random: &random)
    }

    @inline(__always)
    private static func equal(_ key: UnsafeBufferPointer<UInt8>, _ name: StaticString) -> Bool {
        key.count == name.utf8CodeUnitCount
            && memoryEqual(key, UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
    }
}

/// Whether two buffers of the same length hold the same bytes.
@inline(__always)
private func memoryEqual(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
    for i in 0..<a.count where a[i] != b[i] { return false }
    return true
}

/// Reads a plain context object (see `Evaluator.prepare(json:now:)`), checking every byte as
/// `JSONParser` would and giving up at the first thing it does not handle.
struct PlainContextScanner {
    /// Larger contexts go to the full parser: checking keys for duplicates here is quadratic.
    static let maxMembers = 32

    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// Hands `member` each key and a function making its value (called only for the
    /// members the evaluator reads); false when the context is not plain.
    mutating func scan(
        _ member: (_ key: UnsafeBufferPointer<UInt8>, _ value: () -> Value) -> Void
    ) -> Bool {
        skipWhitespace()
        guard byte == UInt8(ascii: "{") else { return false }
        index += 1
        skipWhitespace()
        if byte == UInt8(ascii: "}") {
            index += 1
            return atEnd()
        }
        return withUnsafeTemporaryAllocation(of: Range<Int>.self, capacity: Self.maxMembers) { keys in
            var count = 0
            while true {
                skipWhitespace()
                guard count < Self.maxMembers, let key = string() else { return false }
                let keyBytes = UnsafeBufferPointer(rebasing: bytes[key])
                for k in 0..<count where keys[k].count == key.count {
                    if memoryEqual(UnsafeBufferPointer(rebasing: bytes[keys[k]]), keyBytes) { return false }
                }
                keys.initializeElement(at: count, to: key)
                count += 1
                skipWhitespace()
                guard byte == UInt8(ascii: ":") else { return false }
                index += 1
                skipWhitespace()
                guard let value = scalar() else { return false }
                member(keyBytes) { value.make(bytes) }
                skipWhitespace()
                if byte == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                guard byte == UInt8(ascii: "}") else { return false }
                index += 1
                return atEnd()
            }
        }
    }

    /// A scalar value's kind and where its text is.
    enum Scalar {
        case null, `true`, `false`
        case string(Range<Int>)
        case number(Range<Int>, isFloat: Bool)

        func make(_ bytes: UnsafeBufferPointer<UInt8>) -> Value {
            switch self {
            case .null: return .null
            case .true: return .bool(true)
            case .false: return .bool(false)
            case .string(let range):
                return .string(String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self))
            case .number(let range, let isFloat):
                return Self.number(UnsafeBufferPointer(rebasing: bytes[range]), isFloat: isFloat) ?? .null
            }
        }

        /// As `JSONParser` reads a number: an integer when it fits in 64 bits, else a float;
        /// nil when out of range (an error there).
        static func number(_ text: UnsafeBufferPointer<UInt8>, isFloat: Bool) -> Value? {
            let string = String(decoding: text, as: UTF8.self)
            if !isFloat, let i = Int64(string) { return .int(i) }
            guard let d = Double(string), d.isFinite else { return nil }
            return .double(d)
        }
    }

    private var byte: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func atEnd() -> Bool {
        skipWhitespace()
        return index == bytes.count
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    /// A string of printable ASCII without escapes: the range of its text.
    private mutating func string() -> Range<Int>? {
        guard byte == UInt8(ascii: "\"") else { return nil }
        index += 1
        let start = index
        while index < bytes.count {
            let c = bytes[index]
            if c == UInt8(ascii: "\"") {
                index += 1
                return start..<index - 1
            }
            guard c >= 0x20, c < 0x80, c != UInt8(ascii: "\\") else { return nil }
            index += 1
        }
        return nil
    }

    private mutating func scalar() -> Scalar? {
        guard let c = byte else { return nil }
        switch c {
        case UInt8(ascii: "\""):
            return string().map { .string($0) }
        case UInt8(ascii: "t"):
            return word("true") ? .true : nil
        case UInt8(ascii: "f"):
            return word("false") ? .false : nil
        case UInt8(ascii: "n"):
            return word("null") ? .null : nil
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return number()
        default:
            return nil
        }
    }

    private mutating func word(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        for i in 0..<count where bytes[index + i] != word.utf8Start[i] { return false }
        index += count
        return true
    }

    /// The grammar of a JSON number, and its range checked as `JSONParser` checks it.
    private mutating func number() -> Scalar? {
        let start = index
        var isFloat = false
        if byte == UInt8(ascii: "-") { index += 1 }
        guard let first = byte, isDigit(first) else { return nil }
        index += 1
        if first != UInt8(ascii: "0") { skipDigits() }
        if byte == UInt8(ascii: ".") {
            isFloat = true
            index += 1
            guard let c = byte, isDigit(c) else { return nil }
            skipDigits()
        }
        if byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
            isFloat = true
            index += 1
            if byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") { index += 1 }
            guard let c = byte, isDigit(c) else { return nil }
            skipDigits()
        }
        // Short integers always fit; anything else is converted now, to refuse what the
        // parser refuses (a float out of range).
        if isFloat || index - start > 18 {
            guard Scalar.number(UnsafeBufferPointer(rebasing: bytes[start..<index]), isFloat: isFloat) != nil
            else { return nil }
        }
        return .number(start..<index, isFloat: isFloat)
    }

    private mutating func skipDigits() {
        while let c = byte, isDigit(c) { index += 1 }
    }

    @inline(__always)
    private func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
}
