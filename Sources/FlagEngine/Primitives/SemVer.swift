// Strict SemVer 2.0.0, as Rust's `semver` crate parses it (SEMANTICS.md "SEMVER_*").
//
// A parsed version keeps its source text and the byte range of its pre-release, so parsing a context value and
// comparing two versions allocate nothing; identifiers are walked in place when precedence needs them.

/// A strict Semantic Versioning 2.0.0 version: `MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`.
///
/// Parsing rejects a leading `v`, whitespace, missing parts (`1.2`), leading zeros in numeric parts and numeric
/// pre-release identifiers, empty identifiers, characters outside `[0-9A-Za-z-]`, and numbers above `UInt64.max`.
///
/// Equality and ordering follow SemVer precedence: build metadata is ignored, so `1.0.0+a == 1.0.0+b`.
public struct SemVer: Sendable, Comparable, Hashable, CustomStringConvertible {
    /// The major version.
    public let major: UInt64
    /// The minor version.
    public let minor: UInt64
    /// The patch version.
    public let patch: UInt64
    /// The text the version was parsed from.
    public let text: String
    // UTF-8 offsets into `text`: the pre-release runs from `preStart` to `preEnd` (empty when there is none).
    @usableFromInline let preStart: Int
    @usableFromInline let preEnd: Int

    /// Parses `text` strictly; `nil` when it is not a valid SemVer 2.0.0 version.
    public init?(_ text: String) {
        let parsed: Parsed?? = text.utf8.withContiguousStorageIfAvailable { SemVer.parse($0) }
        let result: Parsed?
        if let parsed {
            result = parsed
        } else {
            result = Array(text.utf8).withUnsafeBufferPointer { SemVer.parse($0) }
        }
        guard let result else { return nil }
        major = result.major
        minor = result.minor
        patch = result.patch
        preStart = result.preStart
        preEnd = result.preEnd
        self.text = text
    }

    /// Whether the version has a pre-release part (and so orders below its release).
    public var isPrerelease: Bool { preEnd > preStart }

    /// The dot-separated pre-release identifiers, e.g. `["alpha", "1"]` for `1.0.0-alpha.1+b7`. Allocates.
    public var prerelease: [String] {
        guard isPrerelease else { return [] }
        let utf8 = Array(text.utf8)[preStart..<preEnd]
        return utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
            .map { String(decoding: $0, as: UTF8.self) }
    }

    /// The dot-separated build metadata identifiers, e.g. `["b7"]` for `1.0.0-alpha.1+b7`. Allocates.
    public var build: [String] {
        guard let plus = text.utf8.firstIndex(of: UInt8(ascii: "+")) else { return [] }
        let rest = text.utf8[text.utf8.index(after: plus)...]
        return rest.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
            .map { String(decoding: $0, as: UTF8.self) }
    }

    public var description: String { text }

    // MARK: Precedence

    public static func == (lhs: SemVer, rhs: SemVer) -> Bool { compare(lhs, rhs) == 0 }

    public static func < (lhs: SemVer, rhs: SemVer) -> Bool { compare(lhs, rhs) < 0 }

    public func hash(into hasher: inout Swift.Hasher) {
        hasher.combine(major)
        hasher.combine(minor)
        hasher.combine(patch)
        SemVer.withBytes(text) { bytes in
            hasher.combine(bytes: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[preStart..<preEnd])))
        }
    }

    /// `-1`, `0` or `1` as `lhs` has lower, equal or higher precedence than `rhs`.
    public static func compare(_ lhs: SemVer, _ rhs: SemVer) -> Int {
        if lhs.major != rhs.major { return lhs.major < rhs.major ? -1 : 1 }
        if lhs.minor != rhs.minor { return lhs.minor < rhs.minor ? -1 : 1 }
        if lhs.patch != rhs.patch { return lhs.patch < rhs.patch ? -1 : 1 }
        switch (lhs.isPrerelease, rhs.isPrerelease) {
        case (false, false): return 0
        case (true, false): return -1
        case (false, true): return 1
        case (true, true): break
        }
        return withBytes(lhs.text) { a in
            withBytes(rhs.text) { b in
                comparePrerelease(
                    UnsafeBufferPointer(rebasing: a[lhs.preStart..<lhs.preEnd]),
                    UnsafeBufferPointer(rebasing: b[rhs.preStart..<rhs.preEnd])
                )
            }
        }
    }

    /// Compares two non-empty dot-separated pre-release strings identifier by identifier.
    static func comparePrerelease(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Int {
        let dot = UInt8(ascii: ".")
        var i = 0
        var j = 0
        while true {
            let aDone = i > a.count
            let bDone = j > b.count
            if aDone || bDone {
                // A shorter list of identifiers that is a prefix of the other has lower precedence.
                return aDone == bDone ? 0 : (aDone ? -1 : 1)
            }
            var iEnd = i
            while iEnd < a.count && a[iEnd] != dot { iEnd += 1 }
            var jEnd = j
            while jEnd < b.count && b[jEnd] != dot { jEnd += 1 }
            let order = compareIdentifier(
                UnsafeBufferPointer(rebasing: a[i..<iEnd]), UnsafeBufferPointer(rebasing: b[j..<jEnd]))
            if order != 0 { return order }
            i = iEnd + 1
            j = jEnd + 1
        }
    }

    static func compareIdentifier(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Int {
        let aNumeric = a.allSatisfy(isDigit)
        let bNumeric = b.allSatisfy(isDigit)
        switch (aNumeric, bNumeric) {
        case (true, true):
            // No leading zeros, so the longer number is the larger; equal lengths compare digit by digit.
            if a.count != b.count { return a.count < b.count ? -1 : 1 }
            return compareBytes(a, b)
        case (true, false): return -1
        case (false, true): return 1
        case (false, false): return compareBytes(a, b)
        }
    }

    static func compareBytes(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Int {
        let n = min(a.count, b.count)
        for k in 0..<n where a[k] != b[k] {
            return a[k] < b[k] ? -1 : 1
        }
        return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
    }

    // MARK: Parsing

    struct Parsed {
        var major: UInt64, minor: UInt64, patch: UInt64
        var preStart: Int, preEnd: Int
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    static func isIdentifierByte(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x2D
    }

    static func withBytes<R>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let result = text.utf8.withContiguousStorageIfAvailable(body) { return result }
        return Array(text.utf8).withUnsafeBufferPointer(body)
    }

    static func parse(_ s: UnsafeBufferPointer<UInt8>) -> Parsed? {
        var i = 0
        func number() -> UInt64? {
            let start = i
            var value: UInt64 = 0
            while i < s.count, isDigit(s[i]) {
                let (times10, o1) = value.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(UInt64(s[i] - 0x30))
                if o1 || o2 { return nil }
                value = sum
                i += 1
            }
            let length = i - start
            if length == 0 || (length > 1 && s[start] == 0x30) { return nil }
            return value
        }
        func expect(_ byte: UInt8) -> Bool {
            guard i < s.count, s[i] == byte else { return false }
            i += 1
            return true
        }
        /// Dot-separated identifiers up to the end or `stop`; numeric ones may not have leading zeros if `strict`.
        func identifiers(numericLeadingZeroAllowed: Bool, stop: UInt8?) -> Bool {
            while true {
                let start = i
                var allDigits = true
                while i < s.count, s[i] != UInt8(ascii: "."), s[i] != stop {
                    guard isIdentifierByte(s[i]) else { return false }
                    if !isDigit(s[i]) { allDigits = false }
                    i += 1
                }
                let length = i - start
                if length == 0 { return false }
                if allDigits && !numericLeadingZeroAllowed && length > 1 && s[start] == 0x30 { return false }
                if i < s.count, s[i] == UInt8(ascii: ".") {
                    i += 1
                    continue
                }
                return true
            }
        }

        guard let major = number(), expect(UInt8(ascii: ".")),
              let minor = number(), expect(UInt8(ascii: ".")),
              let patch = number()
        else { return nil }
        var preStart = i
        var preEnd = i
        if expect(UInt8(ascii: "-")) {
            preStart = i
            guard identifiers(numericLeadingZeroAllowed: false, stop: UInt8(ascii: "+")) else { return nil }
            preEnd = i
        }
        if expect(UInt8(ascii: "+")) {
            guard identifiers(numericLeadingZeroAllowed: true, stop: nil) else { return nil }
        }
        guard i == s.count else { return nil }
        return Parsed(major: major, minor: minor, patch: patch, preStart: preStart, preEnd: preEnd)
    }
}
