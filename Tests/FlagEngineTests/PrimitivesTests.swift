import Testing

@testable import FlagEngine

#if canImport(Glibc)
import Glibc
#endif

/// CPU time of the calling thread: what a match costs, whatever else the machine (or the
/// tests running beside it) is doing. Wall-clock bounds failed under load.
func threadCPUTime() -> Duration {
    var spec = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
    return .seconds(spec.tv_sec) + .nanoseconds(spec.tv_nsec)
}

// MARK: - Murmur3

@Suite struct Murmur3Tests {
    /// (input, seed, unsigned hash) from SEMANTICS.md §8, computed with Python's mmh3.
    static let vectors: [(String, UInt32, UInt32)] = [
        ("Feature.flexibleRollout.10:174", 0, 3_067_997_709),
        ("AB12A:122", 0, 1_062_108_722),
        ("AB12A:155", 0, 3_268_232_399),
        ("Feature.flexibleRollout.userId.55:25", 0, 1_087_573_954),
        ("Feature.flexible.rollout.custom.stickiness_50:402", 0, 3_304_166_854),
        ("Feature.UTF-8.Hellø_Wørld:42", 0, 3_071_121_107),
        ("Feature.Variants.C:607", 86_028_157, 231_404_835),
        ("Feature.Variants.D:712", 86_028_157, 2_697_703_800),
        ("Feature.flexible.rollout.custom.stickiness_100:44", 86_028_157, 887_567_197),
        ("a:1", 86_028_157, 3_637_892_266),
    ]

    @Test(arguments: vectors)
    func hashesKnownVectorsOfWholeStrings(input: String, seed: UInt32, expected: UInt32) {
        #expect(Murmur3.hash32(input, seed: seed) == expected)
        #expect(Murmur3.hash32(Array(input.utf8), seed: seed) == expected)
        // A non-contiguous sequence takes the byte-by-byte path.
        #expect(Murmur3.hash32(input.utf8.lazy.map { $0 }, seed: seed) == expected)
    }

    @Test(arguments: vectors)
    func streamsGroupAndValueWithoutConcatenating(input: String, seed: UInt32, expected: UInt32) {
        let colon = input.lastIndex(of: ":")!
        let group = String(input[..<colon])
        let value = String(input[input.index(after: colon)...])
        #expect(Murmur3.hashBucket(group: group, value: value, seed: seed) == expected)
    }

    @Test func streamingMatchesOneShotForEverySplitPoint() {
        let text = "Feature.UTF-8.Hellø_Wørld:42 and some more bytes"
        let bytes = Array(text.utf8)
        let expected = Murmur3.hash32(bytes, seed: 7)
        for cut in 0...bytes.count {
            var hasher = Murmur3.Hasher(seed: 7)
            bytes[..<cut].withUnsafeBufferPointer { hasher.combine($0) }
            bytes[cut...].withUnsafeBufferPointer { hasher.combine($0) }
            #expect(hasher.finalize() == expected, "cut at \(cut)")
        }
    }

    @Test func hashesTheEmptyInput() {
        #expect(Murmur3.hash32([UInt8](), seed: 0) == 0)
        #expect(Murmur3.hash32([UInt8](), seed: 1) == 0x514E_28B7)
        #expect(Murmur3.hashBucket(group: "", value: "", seed: 0) == Murmur3.hash32(":", seed: 0))
    }

    @Test func rolloutBucketIsHashModHundredPlusOne() {
        #expect(Murmur3.rolloutBucket(group: "AB12A", value: "122") == 23)
        #expect(Murmur3.rolloutBucket(group: "AB12A", value: "155") == 100)
        #expect(Murmur3.rolloutBucket(group: "Feature.flexibleRollout.10", value: "174") == 10)
        #expect(Murmur3.rolloutBucket(group: "Feature.flexibleRollout.userId.55", value: "25") == 55)
        #expect(Murmur3.rolloutBucket(group: "Feature.flexible.rollout.custom.stickiness_50", value: "402") == 55)
        #expect(Murmur3.rolloutBucket(group: "Feature.UTF-8.Hellø_Wørld", value: "42") == 8)
    }

    @Test func splitTargetIsHashModTotalPlusOne() {
        #expect(Murmur3.splitTarget(group: "Feature.Variants.C", value: "607", total: 99) == 58)
        #expect(Murmur3.splitTarget(group: "Feature.Variants.D", value: "712", total: 100) == 1)
        let group = "Feature.flexible.rollout.custom.stickiness_100"
        #expect(Murmur3.splitTarget(group: group, value: "44", total: 100) == 98)
        #expect(Murmur3.splitTarget(group: "a", value: "1", total: 2) == 1)
    }
}

// MARK: - SemVer

@Suite struct SemVerTests {
    @Test func parsesParts() throws {
        let v = try #require(SemVer("1.2.3-alpha.1+build.007"))
        #expect(v.major == 1 && v.minor == 2 && v.patch == 3)
        #expect(v.prerelease == ["alpha", "1"])
        #expect(v.build == ["build", "007"])
        #expect(v.isPrerelease)
        #expect(SemVer("18446744073709551615.0.0")?.major == UInt64.max)
    }

    @Test func ordersByPrecedence() throws {
        let chain = [
            "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
            "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0-alpha", "2.0.0-alpha.1", "2.0.0-beta", "2.0.0-rc",
            "2.0.0", "10.0.0",
        ].map { SemVer($0)! }
        for i in chain.indices {
            for j in chain.indices {
                #expect((chain[i] < chain[j]) == (i < j), "\(chain[i]) < \(chain[j])")
                #expect((chain[i] == chain[j]) == (i == j), "\(chain[i]) == \(chain[j])")
            }
        }
    }

    @Test func comparesNumericIdentifiersAsNumbersAndBelowAlphanumeric() {
        #expect(SemVer("1.0.0-2")! < SemVer("1.0.0-10")!)
        #expect(SemVer("1.0.0-99999999999999999999")! < SemVer("1.0.0-100000000000000000000")!)
        #expect(SemVer("1.0.0-999")! < SemVer("1.0.0-a")!)
        #expect(SemVer("1.0.0-A")! < SemVer("1.0.0-a")!)  // ASCII order
        #expect(SemVer("1.0.0-a-b")! > SemVer("1.0.0-a")!)
    }

    @Test func ignoresBuildMetadata() {
        #expect(SemVer("1.0.0+a")! == SemVer("1.0.0+b")!)
        #expect(SemVer("1.0.0-rc.1+x")! == SemVer("1.0.0-rc.1")!)
        #expect(!(SemVer("1.0.0+a")! < SemVer("1.0.0+b")!))
        #expect(Set([SemVer("1.0.0+a")!, SemVer("1.0.0+b")!]).count == 1)
    }

    @Test(arguments: [
        "v1.2.3", "1.2", "1", "", "01.2.3", "1.02.3", "1.2.03", "1.2.3-01", "1.2.3-alpha.01", " 1.2.3", "1.2.3 ",
        "1.2.3-", "1.2.3+", "1.2.3-a..b", "1.2.3+a..b", "1.2.3-a_b", "1.2.3-ä", "1.2.3.4", "1..2.3", "a.b.c",
        "18446744073709551616.0.0", "1.2.3+b+c", "-1.2.3", "+1.2.3", "=1.2.3",
    ])
    func rejectsInvalidVersions(text: String) {
        #expect(SemVer(text) == nil, "\(text) should be rejected")
    }

    @Test(arguments: ["0.0.0", "1.2.3-0", "1.2.3-0a", "1.2.3-a-", "1.2.3--", "1.2.3+001", "1.2.3-rc.1+build.1.2"])
    func acceptsValidVersions(text: String) {
        #expect(SemVer(text) != nil, "\(text) should be accepted")
    }
}

// MARK: - Timestamps

@Suite struct TimestampTests {
    @Test func comparesOffsetsAsInstants() throws {
        let a = try #require(Timestamp.parse("2024-01-01T10:00:00+02:00"))
        let b = try #require(Timestamp.parse("2024-01-01T08:00:00Z"))
        #expect(a == b)
        #expect(Timestamp.parse("2024-01-01T08:00:00-00:30")! > b)
        #expect(Timestamp.parse("2024-01-01T08:00:00.000000001Z")! > b)
        #expect(Timestamp.parse("2024-01-01T07:59:59.999Z")! < b)
    }

    @Test func knowsTheEpoch() {
        #expect(Timestamp.parse("1970-01-01T00:00:00Z") == Instant(seconds: 0))
        #expect(Timestamp.parse("2000-03-01T00:00:00Z") == Instant(seconds: 951_868_800))
        #expect(Timestamp.parse("1969-12-31T23:59:59Z") == Instant(seconds: -1))
        #expect(Timestamp.parse("2038-01-19T03:14:08Z") == Instant(seconds: 2_147_483_648))
    }

    @Test(arguments: [
        "2024-01-01T08:00:00Z", "2024-01-01t08:00:00Z", "2024-01-01 08:00:00Z", "2024-01-01T08:00:00z",
        "2024-01-01T08:00:00UTC", "2024-01-01T10:00:00+02:00", "2024-01-01T10:00:00+0200",
        "2024-01-01T06:00:00-0200", "2024-01-01T08:00:00.0Z", "2024-01-01T08:00:00.000000000000Z",
    ])
    func acceptsRelaxedContextForms(text: String) {
        #expect(Timestamp.parse(text) == Instant(seconds: 1_704_096_000), "\(text)")
    }

    @Test func keepsFractionsToTheNanosecond() {
        #expect(Timestamp.parse("2024-01-01T08:00:00.5Z")?.nanos == 500_000_000)
        #expect(Timestamp.parse("2024-01-01T08:00:00.123456789999Z")?.nanos == 123_456_789)
        #expect(Timestamp.parse("2024-01-01T08:00:00.000001Z")?.nanos == 1000)
    }

    @Test(arguments: [
        "2024-02-30T00:00:00Z", "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2024-04-31T00:00:00Z",
        "2024-13-01T00:00:00Z", "2024-00-01T00:00:00Z", "2024-01-00T00:00:00Z", "2024-01-32T00:00:00Z",
        "2024-01-01T24:00:00Z", "2024-01-01T23:60:00Z", "2024-01-01T23:59:61Z",
        "2024-01-01T08:00:00", "2024-01-01", "2024-01-01T08:00Z", "2024-01-01T08:00:00.Z", "24-01-01T08:00:00Z",
        "2024-1-01T08:00:00Z", "2024-01-01T08:00:00+2:00", "2024-01-01T08:00:00+24:00", "2024-01-01T08:00:00+02:60",
        "2024-01-01T08:00:00+02", "2024-01-01T08:00:00 Z", " 2024-01-01T08:00:00Z", "2024-01-01T08:00:00Zjunk",
        "2024-01-01X08:00:00Z", "2024-01-01T08:00:00utc", "",
    ])
    func rejectsInvalidTimestamps(text: String) {
        #expect(Timestamp.parse(text) == nil, "\(text) should be rejected")
    }

    @Test func acceptsLeapDaysAndLeapSeconds() throws {
        #expect(Timestamp.parse("2024-02-29T00:00:00Z") != nil)
        #expect(Timestamp.parse("2000-02-29T00:00:00Z") != nil)
        let leap = try #require(Timestamp.parse("2016-12-31T23:59:60Z"))
        #expect(leap > Timestamp.parse("2016-12-31T23:59:59.999999999Z")!)
        #expect(leap < Timestamp.parse("2017-01-01T00:00:00Z")!)
    }

    @Test func literalsAreStrict() {
        #expect(Timestamp.parseLiteral("2024-01-01T10:00:00+02:00") == Timestamp.parse("2024-01-01T08:00:00Z"))
        #expect(Timestamp.parseLiteral("2024-01-01T08:00:00.123Z")?.nanos == 123_000_000)
        #expect(Timestamp.parseLiteral("2024-01-01T08:00:00.123456Z")?.nanos == 123_456_000)
        for text in [
            "2024-01-01t08:00:00Z", "2024-01-01 08:00:00Z", "2024-01-01T08:00:00z", "2024-01-01T08:00:00UTC",
            "2024-01-01T08:00:00+0200", "2024-01-01T08:00:00", "2024-01-01", "2024-02-30T08:00:00Z",
        ] {
            #expect(Timestamp.parseLiteral(text) == nil, "\(text) should be rejected as a literal")
        }
    }

    @Test func parsesPlainDates() {
        #expect(Timestamp.parseDate("2027-03-31") == Timestamp.parse("2027-03-31T00:00:00Z"))
        #expect(Timestamp.parseDate("2024-02-29") != nil)
        for text in ["2023-02-29", "2027-3-31", "2027-03-31T00:00:00Z", "2027-03-32", " 2027-03-31", ""] {
            #expect(Timestamp.parseDate(text) == nil, "\(text) should be rejected")
        }
    }

    @Test func formatsWholeSecondsInUTC() {
        #expect(Timestamp.format(Instant(seconds: 0)) == "1970-01-01T00:00:00Z")
        #expect(Timestamp.format(Timestamp.parse("2024-02-29T10:30:15.75+02:00")!) == "2024-02-29T08:30:15Z")
        #expect(Timestamp.format(Instant(seconds: -1)) == "1969-12-31T23:59:59Z")
        #expect(Timestamp.format(Instant(seconds: 253_402_300_799)) == "9999-12-31T23:59:59Z")
    }

    @Test func civilArithmeticRoundTripsEveryDayFor800Years() {
        var days = Timestamp.days(year: 1600, month: 1, day: 1)
        for year in Int64(1600)..<2400 {
            for month in Int64(1)...12 {
                for day in Int64(1)...Timestamp.daysInMonth(year: year, month: month) {
                    let civil = Timestamp.civil(fromDays: days)
                    if Timestamp.days(year: year, month: month, day: day) != days || civil != (year, month, day) {
                        Issue.record("\(year)-\(month)-\(day) vs day \(days), civil \(civil)")
                    }
                    days += 1
                }
            }
        }
    }
}

// MARK: - IP addresses and CIDR

@Suite struct IPAddressTests {
    @Test(arguments: [
        ("0.0.0.0", "0.0.0.0"), ("255.255.255.255", "255.255.255.255"), ("10.1.2.3", "10.1.2.3"),
        ("::", "::"), ("::1", "::1"), ("1::", "1::"), ("2001:db8::8a2e:370:7334", "2001:db8::8a2e:370:7334"),
        ("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"), ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
        ("::ffff:1.2.3.4", "::ffff:102:304"), ("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"),
        ("1::2:3", "1::2:3"), ("fe80::1", "fe80::1"), ("1:0:0:2::3", "1:0:0:2::3"),
        ("::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"),
    ])
    func parsesAddresses(text: String, canonical: String) throws {
        let address = try #require(IPAddress(text), "\(text)")
        #expect(address.description == canonical)
        #expect(address.family == (text.contains(":") ? .v6 : .v4))
    }

    @Test(arguments: [
        "01.2.3.4", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.04", "1.2.3.-1", "1.2.3.4 ", " 1.2.3.4", "1.2.3.4:80",
        "[::1]", "fe80::1%eth0", "1:2:3:4:5:6:7:8:9", "1::2::3", ":::", "1:2:3:4:5:6:7::8", "12345::", "::g",
        "1.2.3.4::", "::1.2.3", "::1.2.3.4.5", "1:2:3:4:5:6:7:1.2.3.4", ":1::", "1:", "", "localhost", "0x7f.0.0.1",
    ])
    func rejectsInvalidAddresses(text: String) {
        #expect(IPAddress(text) == nil, "\(text) should be rejected")
    }

    @Test func matchesIPv4Ranges() throws {
        let range = try #require(CIDR("10.0.0.0/8"))
        #expect(range.contains(IPAddress("10.255.1.2")!))
        #expect(!range.contains(IPAddress("11.0.0.1")!))
        #expect(CIDR("192.168.1.0/24")!.contains(IPAddress("192.168.1.255")!))
        #expect(!CIDR("192.168.1.0/24")!.contains(IPAddress("192.168.2.0")!))
        #expect(CIDR("0.0.0.0/0")!.contains(IPAddress("203.0.113.9")!))
        #expect(CIDR("1.2.3.4")!.contains(IPAddress("1.2.3.4")!))
        #expect(!CIDR("1.2.3.4")!.contains(IPAddress("1.2.3.5")!))
        #expect(CIDR("1.2.3.4")!.prefixLength == 32)
    }

    @Test func ignoresHostBits() {
        #expect(CIDR("10.1.2.3/8")!.contains(IPAddress("10.200.0.1")!))
        #expect(CIDR("2001:db8::1/32")!.contains(IPAddress("2001:db8:ffff::")!))
    }

    @Test func acceptsContiguousNetmasks() {
        #expect(CIDR("192.168.0.0/255.255.0.0")?.prefixLength == 16)
        #expect(CIDR("192.168.0.0/255.255.0.0")!.contains(IPAddress("192.168.44.1")!))
        #expect(!CIDR("192.168.0.0/255.255.0.0")!.contains(IPAddress("192.169.0.1")!))
        #expect(CIDR("0.0.0.0/0.0.0.0")?.prefixLength == 0)
        #expect(CIDR("1.2.3.4/255.255.255.255")?.prefixLength == 32)
        #expect(CIDR("10.0.0.0/255.0.255.0") == nil)
        #expect(CIDR("10.0.0.0/0.255.255.255") == nil)
    }

    @Test func matchesIPv6Ranges() {
        #expect(CIDR("2001:db8::/32")!.contains(IPAddress("2001:db8:1::5")!))
        #expect(!CIDR("2001:db8::/32")!.contains(IPAddress("2001:db9::")!))
        #expect(CIDR("::/0")!.contains(IPAddress("ffff::1")!))
        #expect(CIDR("::1")!.contains(IPAddress("::1")!))
        #expect(CIDR("::1")!.prefixLength == 128)
        #expect(CIDR("fe80::/10")!.contains(IPAddress("febf::1")!))
        #expect(!CIDR("fe80::/10")!.contains(IPAddress("fec0::1")!))
        #expect(CIDR("2001:db8::/96")!.contains(IPAddress("2001:db8::ffff:ffff")!))
        #expect(!CIDR("2001:db8::/127")!.contains(IPAddress("2001:db8::2")!))
        #expect(CIDR("2001:db8::/127")!.contains(IPAddress("2001:db8::1")!))
    }

    @Test func neverMatchesAcrossFamilies() {
        #expect(!CIDR("1.2.3.0/24")!.contains(IPAddress("::ffff:1.2.3.4")!))
        #expect(!CIDR("0.0.0.0/0")!.contains(IPAddress("::")!))
        #expect(!CIDR("::/0")!.contains(IPAddress("1.2.3.4")!))
        #expect(CIDR("::ffff:0:0/96")!.contains(IPAddress("::ffff:1.2.3.4")!))
    }

    @Test(arguments: [
        "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8/8", "10.0.0.0/ 8", "10.0.0.0/8 ",
        "01.0.0.0/8", "::/ffff::", "10.0.0.0/1.2", "[::]/0", "fe80::%eth0/64", "/8", "",
    ])
    func rejectsInvalidRanges(text: String) {
        #expect(CIDR(text) == nil, "\(text) should be rejected")
    }

    @Test func acceptsRustStylePrefixNumbers() {
        #expect(CIDR("10.0.0.0/08")?.prefixLength == 8)
        #expect(CIDR("10.0.0.0/+8")?.prefixLength == 8)
        #expect(CIDR("10.0.0.0/0")?.prefixLength == 0)
    }
}

// MARK: - Regular expressions

@Suite struct RegexMatcherTests {
    func matches(_ pattern: String, _ text: String, caseInsensitive: Bool = false) -> Bool {
        do {
            return try RegexMatcher(pattern: pattern, caseInsensitive: caseInsensitive).matches(text)
        } catch {
            Issue.record("\(pattern) failed to compile: \(error)")
            return false
        }
    }

    func compileError(_ pattern: String) -> RegexMatcher.CompileError? {
        do {
            _ = try RegexMatcher(pattern: pattern)
            return nil
        } catch {
            return error
        }
    }

    @Test func agreesWithRustOnTheUnleashExamples() {
        #expect(matches(#"^\d+$"#, "123"))
        #expect(!matches(#"^\d+$"#, "12a"))
        #expect(matches("(?i)^abc", "ABCdef"))
        #expect(matches("[[:alpha:]]+", "abc"))
        #expect(!matches("[[:alpha:]]+", "123"))
        #expect(matches(#"\bfoo\b"#, "a foo b"))
        #expect(!matches(#"\bfoo\b"#, "afoob"))
        #expect(matches("^.{3}$", "日本語"))
        #expect(!matches("(a+)+$", String(repeating: "a", count: 46) + "!"))
    }

    @Test func searchesUnanchoredUnlessAnchored() {
        #expect(matches("b", "abc"))
        #expect(matches("", ""))
        #expect(matches("", "abc"))
        #expect(!matches("^b", "abc"))
        #expect(!matches("b$", "abc"))
        #expect(matches("c$", "abc"))
        #expect(matches(#"\Aab"#, "abc"))
        #expect(matches(#"bc\z"#, "abc"))
        #expect(!matches("^$", "a"))
        #expect(matches("^$", ""))
        #expect(!matches("c$", "abc\n"))  // `$` is the end of the text, not before a final newline
    }

    @Test func matchesLiteralsClassesAndDot() {
        #expect(matches("a.c", "abc"))
        #expect(!matches("a.c", "a\nc"))
        #expect(matches("(?s)a.c", "a\nc"))
        #expect(matches("a.c", "a\rc"))
        #expect(!matches("(?R)a.c", "a\rc"))
        #expect(matches("[a-c]x", "bx"))
        #expect(!matches("[^a-c]x", "bx"))
        #expect(matches("[^a-c]x", "dx"))
        #expect(matches("[]a]", "]"))
        #expect(matches("[^]a]", "b"))
        #expect(matches("[a-]", "-"))
        #expect(matches("[-a]", "-"))
        #expect(matches(#"[\d.]+"#, "3.14"))
        #expect(matches(#"[a-z&&[^aeiou]]"#, "b"))
        #expect(!matches(#"^[a-z&&[^aeiou]]$"#, "a"))
        #expect(matches(#"^[a-z--[b-y]]+$"#, "az"))
        #expect(!matches(#"^[a-z--[b-y]]+$"#, "abz"))
        #expect(matches(#"^[a-c~~b-d]+$"#, "ad"))
        #expect(!matches(#"^[a-c~~b-d]+$"#, "b"))
        #expect(matches(#"^[\w&&\d]+$"#, "123"))
        #expect(matches("[[:digit:][:upper:]]", "Q"))
        #expect(matches("^[[:^alpha:]]+$", "123"))
        #expect(!matches("^[[:^alpha:]]+$", "1a"))
        #expect(matches("^[:alpha:]+$", "aaa:"))  // not POSIX outside brackets: a set of `:alph`
    }

    @Test func matchesEscapes() {
        #expect(matches(#"a\.b"#, "a.b"))
        #expect(!matches(#"a\.b"#, "axb"))
        #expect(matches(#"\t\n\r"#, "\t\n\r"))
        #expect(matches(#"\x41\x{42}\u0043\U00000044\x{1F600}"#, "ABCD😀"))
        #expect(matches(##"\/\-\#\&\~\ \"\:\_\@"##, "/-#&~ \":_@"))
        #expect(matches(#"\(\)\[\]\{\}\*\+\?\|\^\$\\"#, "()[]{}*+?|^$\\"))
    }

    @Test func usesUnicodeAwarePerlClasses() {
        #expect(matches(#"^\d+$"#, "١٢٣"))  // Arabic-Indic digits are Nd
        #expect(!matches(#"^\d$"#, "½"))
        #expect(matches(#"^\w+$"#, "héllo_wörld"))
        #expect(matches(#"^\w+$"#, "日本語"))
        #expect(!matches(#"\w"#, "-!"))
        #expect(matches(#"^\s+$"#, "\u{3000}\u{A0}\t"))
        #expect(matches(#"^\S+$"#, "abc"))
        #expect(matches(#"^\D\W$"#, "a!"))
        #expect(matches(#"(?-u)^\w+$"#, "abc"))
        #expect(!matches(#"(?-u)^\w+$"#, "é"))
        #expect(matches(#"\bwörld\b"#, "hello wörld"))
        #expect(!matches(#"\bwör\b"#, "wörld"))
        #expect(matches(#"\Bb\B"#, "abc"))
        #expect(matches(#"\<foo\>"#, "a foo"))
        #expect(!matches(#"\<oo"#, "foo"))
        #expect(matches(#"\b{start}f"#, " f"))
        #expect(matches(#"o\b{end}"#, "foo "))
        #expect(matches(#"x\b{end-half}"#, "x"))
        #expect(matches(#"\b{start-half}x"#, "x"))
        #expect(matches(#"^a\b{2}b$"#, "ab") == false)  // `\b{2}` repeats `\b`
    }

    @Test func matchesUnicodeCategories() {
        #expect(matches(#"^\pL+$"#, "Ωmega"))
        #expect(matches(#"^\p{Lu}\p{Ll}+$"#, "Ωmega"))
        #expect(!matches(#"^\p{Lu}+$"#, "Ωm"))
        #expect(matches(#"^\p{N}+$"#, "1½Ⅷ"))
        #expect(matches(#"^\p{Nd}+$"#, "42"))
        #expect(matches(#"^\p{P}+$"#, "!?«»"))
        #expect(matches(#"^\p{S}+$"#, "+€©"))
        #expect(matches(#"^\p{Z}$"#, " "))
        #expect(matches(#"^\PL+$"#, "123"))
        #expect(matches(#"^\P{Lu}+$"#, "abc"))
        #expect(matches(#"^\p{Letter}+$"#, "abc"))
        #expect(matches(#"^\p{Uppercase_Letter}$"#, "A"))
        #expect(matches(#"^\p{gc=Ll}$"#, "a"))
        #expect(matches(#"^\p{Alphabetic}+$"#, "abcΩ"))
        #expect(matches(#"^[\p{Lu}\d]+$"#, "A1B2"))
        #expect(matches(#"^\p{Any}$"#, "😀"))
    }

    @Test func matchesGroupsAlternationAndRepetition() {
        #expect(matches("^(ab|cd)+$", "abcdab"))
        #expect(!matches("^(ab|cd)+$", "abc"))
        #expect(matches("^(?:a|b|c)$", "c"))
        #expect(matches("^(?P<year>\\d{4})-(?<month>\\d{2})$", "2024-01"))
        #expect(matches("^a{3}$", "aaa"))
        #expect(!matches("^a{3}$", "aa"))
        #expect(!matches("^a{3}$", "aaaa"))
        #expect(matches("^a{2,}$", "aaaaa"))
        #expect(!matches("^a{2,}$", "a"))
        #expect(matches("^a{2,4}$", "aaaa"))
        #expect(!matches("^a{2,4}$", "aaaaa"))
        #expect(matches("^a{0}$", ""))
        #expect(matches("^a{ 2 , 3 }$", "aa"))
        #expect(matches("^a*?b+?c??$", "aabbb"))
        #expect(matches("^a{2,3}?$", "aaa"))
        #expect(matches("^(a|)+$", "aaa"))
        #expect(matches("^(a*)*$", "aaaa"))
        #expect(matches("^(a*)+b$", "aaab"))
        #expect(matches("a**", "b"))  // nested repetition, as in Rust
        #expect(matches("^()$", ""))
        #expect(matches("^a|b$", "ax"))
        #expect(matches("x|", "abc"))
        #expect(matches("(?U)^a+$", "aaa"))
    }

    @Test func honoursFlags() {
        #expect(matches("abc", "ABC", caseInsensitive: true))
        #expect(!matches("abc", "ABC"))
        #expect(matches("(?i)straße", "STRAẞE"))
        #expect(matches("(?i)k", "\u{212A}"))  // Kelvin sign folds to k
        #expect(matches("(?i)σ", "ς"))
        #expect(matches("(?i)ſ", "S"))
        #expect(!matches("(?i)i", "ı"))  // no simple folding for dotless i
        #expect(matches("(?i)[a-c]+", "AbC"))
        #expect(!matches("(?i)^[^a]$", "A"))
        #expect(matches("(?i)\\p{Lu}", "a"))
        #expect(matches("a(?i)b", "aB"))
        #expect(!matches("a(?i)b", "AB"))
        #expect(matches("a(?i:b)c", "aBc"))
        #expect(!matches("a(?i:b)c", "aBC"))
        #expect(matches("(?i)a(?-i)b", "Ab"))
        #expect(!matches("(?i)a(?-i)b", "AB"))
        #expect(matches("(a(?i)b)c", "aBc"))
        #expect(!matches("(a(?i)b)c", "aBC"))  // flags end with their group
        #expect(matches("x(?i)y|z", "Z"))  // flags reach later branches of the same group
        #expect(matches("(?m)^b$", "a\nb\nc"))
        #expect(!matches("^b$", "a\nb\nc"))
        #expect(matches("(?m)a$", "a\r\n") == false)
        #expect(matches("(?mR)a$", "a\r\n"))
        #expect(matches("(?mR)^b", "a\rb"))
        #expect(matches("(?x) a b c # comment\n d", "abcd"))
        #expect(matches("(?x) [ a b ]+ $", "ab"))
        #expect(matches("(?x)a\\ b", "a b"))
        #expect(matches("(?x: a b )c", "abc"))
        #expect(matches("(?is)A.B", "a\nb"))
    }

    /// Cases where Rust's regex crate (checked against regex 1.7.1) folds case before negating a class.
    @Test func foldsClassesBeforeNegatingThemLikeRust() {
        #expect(!matches("(?i)[^ſ]", "s"))
        #expect(!matches("(?i)[^ſ]", "S"))
        #expect(matches("(?i)[^ſ]", "k"))
        #expect(!matches("(?i)[[:^lower:]]", "a"))
        #expect(!matches("(?i)[[:^lower:]]", "A"))
        #expect(!matches("(?i)[^[:punct:][:^lower:]ſ]", "µ"))
        #expect(matches("(?i)[^[:punct:][:^lower:]ſ]", "K"))
        #expect(matches("(?i)[^[:punct:][:^lower:]ſ]", "\u{212A}"))
        #expect(!matches("(?i)\\P{Lu}", "a"))
        #expect(matches("(?i)\\W", "!"))
    }

    @Test func rejectsWhatRustRejectsWithUnicodeModeOff() {
        for pattern in ["(?-u).", "(?-u)\\W", "(?-u)\\D", "(?-u)\\S", "(?-u)[^a]", "(?-u)\\pL", "(?-u)[é]"] {
            let error = compileError(pattern)
            #expect(error?.message.contains("(?-u)") == true, "\(pattern): \(error?.message ?? "no error")")
        }
        #expect(matches("(?-u)\\w+", "abc"))
        #expect(matches("(?-u)[a-z]", "q"))
        #expect(matches("(?i-u)k", "K"))
        #expect(!matches("(?i-u)k", "\u{212A}"))  // ASCII-only folding
        #expect(matches("(?-u)é", "é"))
    }

    @Test func rejectsPropertiesRustDoesNotKnow() {
        for pattern in ["\\p{Greek}", "\\p{L&}", "\\p{Cs}", "\\p{^L}", "\\p{sc=Latn}", "\\pé"] {
            #expect(compileError(pattern)?.message.contains("unsupported Unicode class") == true, "\(pattern)")
        }
    }

    @Test func answersInLinearTimeOnHostileInput() {
        let evil = try! RegexMatcher(pattern: "(a+)+$")
        let short = String(repeating: "a", count: 46) + "!"
        let start = threadCPUTime()
        #expect(!evil.matches(short))
        #expect(threadCPUTime() - start < .milliseconds(10))

        // 100,000 scalars of hostile input: each pattern backtracks exponentially in a backtracking engine.
        let long = String(repeating: "a", count: 100_000) + "!"
        for pattern in ["(a+)+$", "(a|a)+$", "(a*)*b", "^(a|aa)+$", "(.*a){20}$", #"(\w+\s?)+$"#, "(a|aa)+b"] {
            let matcher = try! RegexMatcher(pattern: pattern)
            let began = threadCPUTime()
            let matched = matcher.matches(long)
            let elapsed = threadCPUTime() - began
            #expect(!matched, "\(pattern)")
            #expect(elapsed < .seconds(1), "\(pattern) took \(elapsed)")
        }
        let matched = try! RegexMatcher(pattern: "(a+)+!$").matches(long)
        #expect(matched)
        let empty = try! RegexMatcher(pattern: "(a|a)*$").matches(long)
        #expect(empty)  // the empty match at the end counts
    }

    @Test func rejectsBacktrackingOnlyConstructs() {
        let cases: [(String, String)] = [
            ("a(?=b)", "look-ahead"), ("a(?!b)", "negative look-ahead"), ("(?<=a)b", "look-behind"),
            ("(?<!a)b", "negative look-behind"), ("(?>a+)b", "atomic group"), (#"(a)\1"#, "backreference"),
            (#"(a)\9"#, "backreference"), (#"(?<n>a)\k<n>"#, "backreference"), ("(?P<n>a)(?P=n)", "backreference"),
            ("a*+", "possessive"), ("a++", "possessive"), ("a?+", "possessive"), ("a{2}+", "possessive"),
            ("(?1)", "recursion"), ("(?R)x(?i", "unclosed group"), ("(?i-i)a", "repeated"),
        ]
        for (pattern, word) in cases {
            let error = compileError(pattern)
            #expect(error != nil, "\(pattern) should be rejected")
            #expect(error?.message.contains(word) == true, "\(pattern): \(error?.message ?? "no error")")
        }
    }

    @Test func rejectsOversizedPatterns() {
        #expect(compileError("a{1001}")?.message.contains("limit of 1000") == true)
        #expect(compileError("a{1,1001}")?.message.contains("limit of 1000") == true)
        #expect(compileError("a{1000}") == nil)
        #expect(compileError("(a{1000}){1000}")?.message.contains("too large") == true)
        let long = String(repeating: "a", count: 4097)
        #expect(compileError(long)?.message.contains("4096") == true)
        #expect(compileError(String(repeating: "a", count: 4096)) == nil)
        #expect(compileError(String(repeating: "(", count: 300) + String(repeating: ")", count: 300))?
            .message.contains("nests deeper") == true)
    }

    @Test func reportsSyntaxErrorsWithOffsets() {
        let cases: [(String, Int)] = [
            ("ab(cd", 2), ("ab)cd", 2), ("[abc", 0), ("x[a", 1), ("*a", 0), ("a|*", 2), ("a{2", 1), ("a{x}", 2),
            ("a{3,2}", 1), (#"ab\"#, 2), (#"\q"#, 0), ("(?z)", 2), ("(?)", 0), ("(?i-)", 3), ("[z-a]", 1),
            (#"\x{110000}"#, 0), (#"\xZZ"#, 2), (#"\p{Greek}"#, 0), (#"\p{Bogus}"#, 0), ("(?P<1a>x)", 4),
            ("(?P<a>x)(?P<a>y)", 12), ("é(", 2), (#"[\b]"#, 1), (#"\Z"#, 0), (#"[\d-z]"#, 1), ("(?i)*", 4),
        ]
        for (pattern, offset) in cases {
            let error = compileError(pattern)
            #expect(error?.offset == offset, "\(pattern): \(error.map(\.description) ?? "no error")")
        }
    }
}
