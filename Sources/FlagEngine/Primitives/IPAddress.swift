// IPv4 / IPv6 addresses and CIDR ranges for `in_cidr` (SEMANTICS.md "CIDR parsing").
//
// The grammar follows Rust's `std::net` parsers and the `ipnetwork` crate, which Unleash's engine uses: strict
// dotted-decimal IPv4 (no leading zeros), RFC 4291 IPv6 text (one `::`, an IPv4 tail) with no zone, brackets or
// port. Parsing works on UTF-8 bytes in place; nothing here allocates except `description`.

/// An IPv4 or IPv6 address as a 128-bit value and its family.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// The address family.
    public enum Family: Sendable, Hashable {
        case v4, v6
    }

    /// Whether this is an IPv4 or an IPv6 address. An IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) is `.v6`.
    public let family: Family
    /// The upper 64 bits (always 0 for IPv4).
    public let high: UInt64
    /// The lower 64 bits; an IPv4 address occupies the lowest 32.
    public let low: UInt64

    /// An IPv4 address from its 32-bit value (`0x7f000001` is `127.0.0.1`).
    public init(ipv4 value: UInt32) {
        family = .v4
        high = 0
        low = UInt64(value)
    }

    /// An IPv6 address from its upper and lower 64 bits.
    public init(ipv6High high: UInt64, low: UInt64) {
        family = .v6
        self.high = high
        self.low = low
    }

    /// Parses an IPv4 or IPv6 address strictly; `nil` for anything else (ports, brackets, zones, whitespace,
    /// IPv4 octets with leading zeros).
    public init?(_ text: String) {
        guard let address = IPAddress.withBytes(text, { IPAddress.parse($0) }) else { return nil }
        self = address
    }

    /// The IPv4 value, when this is an IPv4 address.
    public var ipv4Value: UInt32? { family == .v4 ? UInt32(truncatingIfNeeded: low) : nil }

    /// Number of bits in this family's addresses: 32 or 128.
    public var bitWidth: Int { family == .v4 ? 32 : 128 }

    /// Dotted decimal for IPv4; RFC 5952 canonical text for IPv6.
    public var description: String {
        if family == .v4 {
            let v = UInt32(truncatingIfNeeded: low)
            return "\(v >> 24).\(v >> 16 & 0xff).\(v >> 8 & 0xff).\(v & 0xff)"
        }
        var groups = [UInt16](repeating: 0, count: 8)
        for k in 0..<4 {
            groups[k] = UInt16(truncatingIfNeeded: high >> UInt64(48 - 16 * k))
            groups[k + 4] = UInt16(truncatingIfNeeded: low >> UInt64(48 - 16 * k))
        }
        // The longest run of two or more zero groups (the first one on a tie) becomes `::`.
        var bestStart = -1
        var bestLength = 1
        var k = 0
        while k < 8 {
            if groups[k] == 0 {
                var end = k
                while end < 8 && groups[end] == 0 { end += 1 }
                if end - k > bestLength {
                    bestStart = k
                    bestLength = end - k
                }
                k = end
            } else {
                k += 1
            }
        }
        func hex(_ range: Range<Int>) -> String {
            groups[range].map { String($0, radix: 16) }.joined(separator: ":")
        }
        if bestStart < 0 { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }

    // MARK: Parsing

    static func withBytes<R>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let result = text.utf8.withContiguousStorageIfAvailable(body) { return result }
        return Array(text.utf8).withUnsafeBufferPointer(body)
    }

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> IPAddress? {
        var parser = Parser(bytes: bytes)
        if let v4 = parser.ipv4(), parser.atEnd { return IPAddress(ipv4: v4) }
        parser.i = 0
        if let (high, low) = parser.ipv6(), parser.atEnd { return IPAddress(ipv6High: high, low: low) }
        return nil
    }

    /// A byte cursor mirroring Rust's `std::net` parser: every `read` either succeeds or leaves the cursor alone.
    struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        var i = 0

        var atEnd: Bool { i == bytes.count }

        func peek() -> UInt8? { i < bytes.count ? bytes[i] : nil }

        mutating func take(_ byte: UInt8) -> Bool {
            guard peek() == byte else { return false }
            i += 1
            return true
        }

        /// Up to `maxDigits` digits in `radix`; a leading zero followed by more digits only if allowed.
        mutating func number(radix: UInt32, maxDigits: Int, allowZeroPrefix: Bool, limit: UInt32) -> UInt32? {
            let start = i
            var value: UInt32 = 0
            var count = 0
            while count < maxDigits, let byte = peek(), let digit = Parser.digit(byte, radix: radix) {
                value = value * radix + digit
                count += 1
                i += 1
            }
            if count == 0 || value > limit || (!allowZeroPrefix && count > 1 && bytes[start] == UInt8(ascii: "0")) {
                i = start
                return nil
            }
            return value
        }

        static func digit(_ byte: UInt8, radix: UInt32) -> UInt32? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f") where radix == 16: return UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F") where radix == 16: return UInt32(byte - UInt8(ascii: "A") + 10)
            default: return nil
            }
        }

        mutating func ipv4() -> UInt32? {
            let start = i
            var value: UInt32 = 0
            for k in 0..<4 {
                if k > 0 && !take(UInt8(ascii: ".")) {
                    i = start
                    return nil
                }
                guard let octet = number(radix: 10, maxDigits: 3, allowZeroPrefix: false, limit: 255) else {
                    i = start
                    return nil
                }
                value = value << 8 | octet
            }
            return value
        }

        /// Reads up to `limit` colon-separated groups into `groups[offset...]`, an IPv4 tail counting as two.
        /// Returns how many groups were read and whether the last two came from an IPv4 tail.
        mutating func groups(
            into groups: inout (UInt64, UInt64), at offset: Int, limit: Int
        ) -> (count: Int, ipv4: Bool) {
            var k = 0
            while k < limit {
                let start = i
                if k < limit - 1 {
                    if k == 0 || take(UInt8(ascii: ":")) {
                        if let v4 = ipv4() {
                            Parser.set(&groups, offset + k, UInt16(v4 >> 16))
                            Parser.set(&groups, offset + k + 1, UInt16(v4 & 0xffff))
                            return (k + 2, true)
                        }
                    }
                    i = start
                }
                guard k == 0 || take(UInt8(ascii: ":")),
                      let group = number(radix: 16, maxDigits: 4, allowZeroPrefix: true, limit: 0xffff)
                else {
                    i = start
                    return (k, false)
                }
                Parser.set(&groups, offset + k, UInt16(group))
                k += 1
            }
            return (limit, false)
        }

        static func set(_ groups: inout (UInt64, UInt64), _ index: Int, _ value: UInt16) {
            let shift = UInt64(48 - 16 * (index % 4))
            if index < 4 {
                groups.0 |= UInt64(value) << shift
            } else {
                groups.1 |= UInt64(value) << shift
            }
        }

        mutating func ipv6() -> (UInt64, UInt64)? {
            let start = i
            var head: (UInt64, UInt64) = (0, 0)
            let (headCount, headIPv4) = groups(into: &head, at: 0, limit: 8)
            if headCount == 8 { return head }
            // `::` stands for at least one zero group, so at most 7 groups remain on either side combined.
            guard !headIPv4, take(UInt8(ascii: ":")), take(UInt8(ascii: ":")) else {
                i = start
                return nil
            }
            let limit = 8 - (headCount + 1)
            // Read the tail into a scratch value first: its position depends on how many groups it has.
            var tail: (UInt64, UInt64) = (0, 0)
            let (tailCount, _) = groups(into: &tail, at: 0, limit: limit)
            // Shift the tail's groups (stored from group 0) to end at group 7.
            var result = head
            for k in 0..<tailCount {
                let source = k
                let shift = UInt64(48 - 16 * (source % 4))
                let value = UInt16(truncatingIfNeeded: (source < 4 ? tail.0 : tail.1) >> shift)
                Parser.set(&result, 8 - tailCount + k, value)
            }
            return result
        }
    }
}

/// A CIDR range such as `10.0.0.0/8`, `2001:db8::/32` or `192.168.0.0/255.255.0.0`.
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
    /// The address as written; host bits are kept here but ignored by `contains`.
    public let address: IPAddress
    /// The number of leading bits that must match: 0–32 for IPv4, 0–128 for IPv6.
    public let prefixLength: Int
    @usableFromInline let maskHigh: UInt64
    @usableFromInline let maskLow: UInt64

    /// A range of `prefixLength` bits around `address`; `nil` if the length exceeds the family's width.
    public init?(address: IPAddress, prefixLength: Int) {
        guard prefixLength >= 0, prefixLength <= address.bitWidth else { return nil }
        self.address = address
        self.prefixLength = prefixLength
        if address.family == .v4 {
            maskHigh = 0
            maskLow = prefixLength == 0 ? 0 : (UInt64(UInt32.max) << UInt64(32 - prefixLength)) & 0xffff_ffff
        } else {
            maskHigh = prefixLength >= 64 ? .max : (prefixLength == 0 ? 0 : .max << UInt64(64 - prefixLength))
            maskLow = prefixLength <= 64 ? 0 : (prefixLength == 128 ? .max : .max << UInt64(128 - prefixLength))
        }
    }

    /// Parses `address[/prefix]`. IPv4 also takes a contiguous dotted netmask (`/255.255.0.0`). Without a prefix
    /// the range is the single address (/32 or /128). `nil` for anything invalid.
    public init?(_ text: String) {
        guard let cidr = IPAddress.withBytes(text, { CIDR.parse($0) }) else { return nil }
        self = cidr
    }

    /// Whether `ip` lies in this range. Only addresses of the same family can match.
    @inlinable
    public func contains(_ ip: IPAddress) -> Bool {
        ip.family == address.family
            && (ip.high & maskHigh) == (address.high & maskHigh)
            && (ip.low & maskLow) == (address.low & maskLow)
    }

    public var description: String { "\(address)/\(prefixLength)" }

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> CIDR? {
        let slash = bytes.firstIndex(of: UInt8(ascii: "/"))
        let addressBytes = UnsafeBufferPointer(rebasing: bytes[0..<(slash ?? bytes.count)])
        guard let address = IPAddress.parse(addressBytes) else { return nil }
        guard let slash else { return CIDR(address: address, prefixLength: address.bitWidth) }
        let prefixBytes = UnsafeBufferPointer(rebasing: bytes[(slash + 1)...])
        if address.family == .v4, let mask = IPAddress.parse(prefixBytes), let maskValue = mask.ipv4Value {
            // A netmask must be ones followed by zeros.
            let length = (~maskValue).leadingZeroBitCount
            guard length == 32 || maskValue << UInt32(length) == 0 else { return nil }
            return CIDR(address: address, prefixLength: length)
        }
        // Rust's `u8` parser: an optional `+`, then at least one digit; leading zeros are fine.
        var k = 0
        if k < prefixBytes.count && prefixBytes[k] == UInt8(ascii: "+") { k += 1 }
        guard k < prefixBytes.count else { return nil }
        var value = 0
        while k < prefixBytes.count {
            let byte = prefixBytes[k]
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            value = value * 10 + Int(byte - 0x30)
            if value > 255 { return nil }
            k += 1
        }
        return CIDR(address: address, prefixLength: value)
    }
}
