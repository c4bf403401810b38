// RFC 3339 instants without Foundation (SEMANTICS.md "DATE_AFTER / DATE_BEFORE").
//
// Civil dates convert to days since 1970-01-01 with Howard Hinnant's days-from-civil algorithm, which is exact for
// the proleptic Gregorian calendar. Parsing works on UTF-8 bytes in place and allocates nothing.

/// A point in time: seconds since 1970-01-01T00:00:00Z plus nanoseconds.
///
/// `nanos` is normally in `0..<1_000_000_000`; a leap second (`:60`) is kept, as Rust's chrono keeps it, as the
/// preceding second with `nanos >= 1_000_000_000`, so it orders after `:59.999…` and before the next minute.
public struct Instant: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Whole seconds since the Unix epoch (negative before 1970).
    public var seconds: Int64
    /// Nanoseconds past `seconds`.
    public var nanos: Int32

    /// An instant `seconds` and `nanos` after the Unix epoch.
    public init(seconds: Int64, nanos: Int32 = 0) {
        self.seconds = seconds
        self.nanos = nanos
    }

    public static func < (lhs: Instant, rhs: Instant) -> Bool {
        lhs.seconds != rhs.seconds ? lhs.seconds < rhs.seconds : lhs.nanos < rhs.nanos
    }

    public var description: String { Timestamp.format(self) }
}

/// Parsing and formatting of RFC 3339 timestamps and plain dates.
public enum Timestamp {
    /// Parses a context value leniently, as Unleash does for `currentTime` and date attributes.
    ///
    /// Accepts `YYYY-MM-DD(T|t| )HH:MM:SS[.fraction](Z|z|±HH:MM|±HHMM|UTC)` with a fraction of any length
    /// (digits past nanoseconds are ignored). A missing offset or a bare date gives `nil`, as does any invalid
    /// field (month 13, February 30, hour 24, …).
    public static func parse(_ text: String) -> Instant? {
        withBytes(text) { parseDateTime($0, strict: false) }
    }

    /// Parses a literal written in a flag file: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
    ///
    /// Only an uppercase `T` and `Z` are accepted; the fraction may have any number of digits (at least one).
    public static func parseLiteral(_ text: String) -> Instant? {
        withBytes(text) { parseDateTime($0, strict: true) }
    }

    /// Parses a plain date `YYYY-MM-DD` (e.g. a flag's `expires`) as the instant it starts, in UTC.
    public static func parseDate(_ text: String) -> Instant? {
        withBytes(text) { bytes -> Instant? in
            var cursor = Cursor(bytes: bytes)
            guard let days = cursor.date(), cursor.atEnd else { return nil }
            return Instant(seconds: days * 86_400)
        }
    }

    /// Formats `instant` in UTC as `YYYY-MM-DDTHH:MM:SSZ`, dropping fractions of a second.
    public static func format(_ instant: Instant) -> String {
        var seconds = instant.seconds
        if instant.nanos >= 1_000_000_000 { seconds += 1 }
        let days = floorDivide(seconds, 86_400)
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = civil(fromDays: days)
        // Every evaluation without a `currentTime` formats the clock: the common years are
        // written digit by digit into one buffer, without intermediate strings.
        if (0...9999).contains(year) {
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { out in
                func put(_ value: Int64, _ width: Int, at start: Int) {
                    var v = value
                    for i in stride(from: start + width - 1, through: start, by: -1) {
                        out[i] = UInt8(ascii: "0") + UInt8(v % 10)
                        v /= 10
                    }
                }
                put(year, 4, at: 0)
                out[4] = UInt8(ascii: "-")
                put(month, 2, at: 5)
                out[7] = UInt8(ascii: "-")
                put(day, 2, at: 8)
                out[10] = UInt8(ascii: "T")
                put(secondOfDay / 3600, 2, at: 11)
                out[13] = UInt8(ascii: ":")
                put(secondOfDay / 60 % 60, 2, at: 14)
                out[16] = UInt8(ascii: ":")
                put(secondOfDay % 60, 2, at: 17)
                out[19] = UInt8(ascii: "Z")
                return String(decoding: UnsafeBufferPointer(out), as: UTF8.self)
            }
        }
        func pad(_ value: Int64, _ width: Int) -> String {
            let digits = String(value < 0 ? -value : value)
            let padded = String(repeating: "0", count: max(0, width - digits.count)) + digits
            return value < 0 ? "-" + padded : padded
        }
        return pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + "T"
            + pad(secondOfDay / 3600, 2) + ":" + pad(secondOfDay / 60 % 60, 2) + ":" + pad(secondOfDay % 60, 2) + "Z"
    }

    /// Formats `instant` in UTC as `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, keeping a fraction of a
    /// second (without trailing zeros) when there is one.
    public static func formatPrecise(_ instant: Instant) -> String {
        let whole = format(Instant(seconds: instant.seconds))
        guard instant.nanos > 0, instant.nanos < 1_000_000_000 else { return format(instant) }
        var digits = String(instant.nanos)
        digits = String(repeating: "0", count: 9 - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return whole.dropLast() + "." + digits + "Z"
    }

    // MARK: Calendar arithmetic

    /// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's `days_from_civil`).
    public static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDivide(y, 400)
        let yearOfEra = y - era * 400
        let monthIndex = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * monthIndex + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The proleptic Gregorian date `days` after 1970-01-01 (Hinnant's `civil_from_days`).
    public static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = floorDivide(z, 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Whether `year` is a Gregorian leap year.
    public static func isLeapYear(_ year: Int64) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    /// The number of days in `month` (1–12) of `year`.
    public static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    static func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    // MARK: Parsing

    static func withBytes<R>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let result = text.utf8.withContiguousStorageIfAvailable(body) { return result }
        return Array(text.utf8).withUnsafeBufferPointer(body)
    }

    struct Cursor {
        let bytes: UnsafeBufferPointer<UInt8>
        var i = 0

        var atEnd: Bool { i == bytes.count }

        func peek() -> UInt8? { i < bytes.count ? bytes[i] : nil }

        mutating func take(_ byte: UInt8) -> Bool {
            guard peek() == byte else { return false }
            i += 1
            return true
        }

        /// Exactly `count` ASCII digits as a number.
        mutating func digits(_ count: Int) -> Int64? {
            guard bytes.count - i >= count else { return nil }
            var value: Int64 = 0
            for _ in 0..<count {
                let byte = bytes[i]
                guard byte >= 0x30 && byte <= 0x39 else { return nil }
                value = value * 10 + Int64(byte - 0x30)
                i += 1
            }
            return value
        }

        /// `YYYY-MM-DD` as days since the epoch, with month and day ranges checked.
        mutating func date() -> Int64? {
            guard let year = digits(4), take(UInt8(ascii: "-")),
                  let month = digits(2), take(UInt8(ascii: "-")),
                  let day = digits(2),
                  (1...12).contains(month), day >= 1, day <= Timestamp.daysInMonth(year: year, month: month)
            else { return nil }
            return Timestamp.days(year: year, month: month, day: day)
        }
    }

    static func parseDateTime(_ bytes: UnsafeBufferPointer<UInt8>, strict: Bool) -> Instant? {
        var c = Cursor(bytes: bytes)
        guard let days = c.date() else { return nil }
        guard let separator = c.peek() else { return nil }
        switch separator {
        case UInt8(ascii: "T"): break
        case UInt8(ascii: "t"), UInt8(ascii: " "): if strict { return nil }
        default: return nil
        }
        c.i += 1
        guard let hour = c.digits(2), c.take(UInt8(ascii: ":")),
              let minute = c.digits(2), c.take(UInt8(ascii: ":")),
              let second = c.digits(2),
              hour <= 23, minute <= 59, second <= 60
        else { return nil }
        var nanos: Int64 = 0
        if c.take(UInt8(ascii: ".")) {
            var count = 0
            while let byte = c.peek(), byte >= 0x30 && byte <= 0x39 {
                if count < 9 { nanos = nanos * 10 + Int64(byte - 0x30) }
                count += 1
                c.i += 1
            }
            guard count > 0 else { return nil }
            for _ in count..<max(count, 9) { nanos *= 10 }
        }
        guard let offset = parseOffset(&c, strict: strict), c.atEnd else { return nil }
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + min(second, 59) - offset
        if second == 60 {
            nanos += 1_000_000_000
        }
        return Instant(seconds: seconds, nanos: Int32(nanos))
    }

    /// The offset east of UTC in seconds, or `nil` when it is missing or malformed.
    static func parseOffset(_ c: inout Cursor, strict: Bool) -> Int64? {
        guard let sign = c.peek() else { return nil }
        switch sign {
        case UInt8(ascii: "Z"):
            c.i += 1
            return 0
        case UInt8(ascii: "z"):
            if strict { return nil }
            c.i += 1
            return 0
        case UInt8(ascii: "U"):
            if strict { return nil }
            guard c.take(UInt8(ascii: "U")), c.take(UInt8(ascii: "T")), c.take(UInt8(ascii: "C")) else { return nil }
            return 0
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            c.i += 1
            guard let hours = c.digits(2), hours <= 23 else { return nil }
            let colon = c.take(UInt8(ascii: ":"))
            if strict && !colon { return nil }
            guard let minutes = c.digits(2), minutes <= 59 else { return nil }
            let offset = hours * 3600 + minutes * 60
            return sign == UInt8(ascii: "-") ? -offset : offset
        default:
            return nil
        }
    }
}
