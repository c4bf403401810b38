// Sets of Unicode scalar values for the regular-expression engine, and the Unicode tables behind `\d`, `\w`,
// `\p{…}` and case-insensitive matching.
//
// Classes are materialised as sorted range lists when a pattern is compiled, so matching a scalar is a bitmap test
// (ASCII) or a binary search, never a property lookup or a string. The tables come from one sweep over every scalar
// using the standard library's Unicode properties, done once per process on first use.

/// A set of Unicode scalar values as sorted, disjoint, non-adjacent closed ranges.
struct ScalarSet: Sendable, Hashable {
    /// `[lo0, hi0, lo1, hi1, …]`, sorted and merged.
    private(set) var bounds: [UInt32]

    static let maxScalar: UInt32 = 0x10FFFF

    /// The empty set.
    init() { bounds = [] }

    /// The set of the given ranges, in any order, overlapping or not.
    init(_ ranges: [ClosedRange<UInt32>]) {
        let sorted = ranges.sorted { $0.lowerBound < $1.lowerBound }
        var bounds: [UInt32] = []
        bounds.reserveCapacity(sorted.count * 2)
        for range in sorted {
            if let last = bounds.last, range.lowerBound <= last &+ 1 {
                bounds[bounds.count - 1] = max(last, range.upperBound)
            } else {
                bounds.append(range.lowerBound)
                bounds.append(range.upperBound)
            }
        }
        self.bounds = bounds
    }

    /// The set of one scalar.
    init(scalar: UInt32) { bounds = [scalar, scalar] }

    /// The set of explicit scalars.
    init(scalars: [UInt32]) { self.init(scalars.map { $0...$0 }) }

    /// Builds from bounds that are already sorted and merged.
    private init(sortedBounds: [UInt32]) { bounds = sortedBounds }

    /// Every scalar value (surrogate code points included, which never occur in text).
    static let all = ScalarSet([0...maxScalar])

    var ranges: [ClosedRange<UInt32>] {
        stride(from: 0, to: bounds.count, by: 2).map { bounds[$0]...bounds[$0 + 1] }
    }

    var isEmpty: Bool { bounds.isEmpty }

    /// The single scalar in the set, if it has exactly one.
    var singleScalar: UInt32? { bounds.count == 2 && bounds[0] == bounds[1] ? bounds[0] : nil }

    func contains(_ value: UInt32) -> Bool {
        var lo = 0
        var hi = bounds.count / 2
        while lo < hi {
            let mid = (lo + hi) / 2
            if value < bounds[2 * mid] {
                hi = mid
            } else if value > bounds[2 * mid + 1] {
                lo = mid + 1
            } else {
                return true
            }
        }
        return false
    }

    func union(_ other: ScalarSet) -> ScalarSet {
        if isEmpty { return other }
        if other.isEmpty { return self }
        return ScalarSet(ranges + other.ranges)
    }

    func inverted() -> ScalarSet {
        var result: [UInt32] = []
        var next: UInt32 = 0
        var k = 0
        while k < bounds.count {
            if bounds[k] > next {
                result.append(next)
                result.append(bounds[k] - 1)
            }
            next = bounds[k + 1] &+ 1
            k += 2
        }
        if next <= ScalarSet.maxScalar {
            result.append(next)
            result.append(ScalarSet.maxScalar)
        }
        return ScalarSet(sortedBounds: result)
    }

    func intersection(_ other: ScalarSet) -> ScalarSet {
        var result: [UInt32] = []
        var a = 0
        var b = 0
        while a < bounds.count && b < other.bounds.count {
            let lo = max(bounds[a], other.bounds[b])
            let hi = min(bounds[a + 1], other.bounds[b + 1])
            if lo <= hi {
                result.append(lo)
                result.append(hi)
            }
            if bounds[a + 1] < other.bounds[b + 1] { a += 2 } else { b += 2 }
        }
        return ScalarSet(sortedBounds: result)
    }

    func subtracting(_ other: ScalarSet) -> ScalarSet { intersection(other.inverted()) }

    func symmetricDifference(_ other: ScalarSet) -> ScalarSet {
        union(other).subtracting(intersection(other))
    }

    /// Adds every scalar that is equal to a member under simple case folding.
    func caseFolded() -> ScalarSet {
        let orbits = UnicodeTables.shared.caseOrbits
        var extra: [ClosedRange<UInt32>] = []
        func addOrbit(_ orbit: [UInt32]) {
            for member in orbit where !contains(member) { extra.append(member...member) }
        }
        if count <= 256 {
            for range in ranges {
                for scalar in range {
                    if let orbit = orbits[scalar] { addOrbit(orbit) }
                }
            }
        } else {
            for (scalar, orbit) in orbits where contains(scalar) { addOrbit(orbit) }
        }
        return extra.isEmpty ? self : ScalarSet(ranges + extra)
    }

    /// The number of scalars in the set.
    var count: Int {
        stride(from: 0, to: bounds.count, by: 2).reduce(0) { $0 + Int(bounds[$1 + 1] - bounds[$1]) + 1 }
    }

    /// Adds the other case of every ASCII letter in the set (case folding with Unicode mode off).
    func asciiCaseFolded() -> ScalarSet {
        var extra: [ClosedRange<UInt32>] = []
        for v in UInt32(0x41)...0x5A where contains(v) { extra.append((v + 0x20)...(v + 0x20)) }
        for v in UInt32(0x61)...0x7A where contains(v) { extra.append((v - 0x20)...(v - 0x20)) }
        return extra.isEmpty ? self : ScalarSet(ranges + extra)
    }

    /// A 128-bit membership bitmap of the ASCII part, as (scalars 0–63, scalars 64–127).
    var asciiBitmap: (UInt64, UInt64) {
        var low: UInt64 = 0
        var high: UInt64 = 0
        for range in ranges where range.lowerBound < 128 {
            for v in range.lowerBound...min(range.upperBound, 127) {
                if v < 64 { low |= 1 << UInt64(v) } else { high |= 1 << UInt64(v - 64) }
            }
        }
        return (low, high)
    }
}

// MARK: - Unicode tables

/// Range tables derived once from the standard library's Unicode data.
struct UnicodeTables: Sendable {
    /// Ranges of each general category, indexed by `UnicodeTables.index(of:)`.
    let generalCategories: [ScalarSet]
    /// The `Alphabetic` property.
    let alphabetic: ScalarSet
    /// The `Lowercase` property.
    let lowercase: ScalarSet
    /// The `Uppercase` property.
    let uppercase: ScalarSet
    /// `\w` in Unicode mode: Alphabetic, marks, decimal numbers, connector punctuation and Join_Control.
    let word: ScalarSet
    /// For every scalar with case variants, all scalars equal to it under simple case folding (itself included).
    let caseOrbits: [UInt32: [UInt32]]

    static let shared = UnicodeTables()

    /// `White_Space` (a small, stable list).
    static let whiteSpace = ScalarSet([
        0x09...0x0D, 0x20...0x20, 0x85...0x85, 0xA0...0xA0, 0x1680...0x1680, 0x2000...0x200A,
        0x2028...0x2029, 0x202F...0x202F, 0x205F...0x205F, 0x3000...0x3000,
    ])

    static let allCategories: [Unicode.GeneralCategory] = [
        .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
        .nonspacingMark, .spacingMark, .enclosingMark,
        .decimalNumber, .letterNumber, .otherNumber,
        .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
        .initialPunctuation, .finalPunctuation, .otherPunctuation,
        .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol,
        .spaceSeparator, .lineSeparator, .paragraphSeparator,
        .control, .format, .surrogate, .privateUse, .unassigned,
    ]

    static func index(of category: Unicode.GeneralCategory) -> Int {
        switch category {
        case .uppercaseLetter: 0
        case .lowercaseLetter: 1
        case .titlecaseLetter: 2
        case .modifierLetter: 3
        case .otherLetter: 4
        case .nonspacingMark: 5
        case .spacingMark: 6
        case .enclosingMark: 7
        case .decimalNumber: 8
        case .letterNumber: 9
        case .otherNumber: 10
        case .connectorPunctuation: 11
        case .dashPunctuation: 12
        case .openPunctuation: 13
        case .closePunctuation: 14
        case .initialPunctuation: 15
        case .finalPunctuation: 16
        case .otherPunctuation: 17
        case .mathSymbol: 18
        case .currencySymbol: 19
        case .modifierSymbol: 20
        case .otherSymbol: 21
        case .spaceSeparator: 22
        case .lineSeparator: 23
        case .paragraphSeparator: 24
        case .control: 25
        case .format: 26
        case .surrogate: 27
        case .privateUse: 28
        case .unassigned: 29
        @unknown default: 29
        }
    }

    /// The union of the given categories.
    func categories(_ list: [Unicode.GeneralCategory]) -> ScalarSet {
        list.reduce(ScalarSet()) { $0.union(generalCategories[UnicodeTables.index(of: $1)]) }
    }

    private init() {
        var categoryRanges = [[ClosedRange<UInt32>]](repeating: [], count: 30)
        var alphabetic: [ClosedRange<UInt32>] = []
        var lowercase: [ClosedRange<UInt32>] = []
        var uppercase: [ClosedRange<UInt32>] = []
        var cased: [UInt32] = []

        /// Extends the last range when `value` follows it, else starts a new one.
        func add(_ value: UInt32, to list: inout [ClosedRange<UInt32>]) {
            if let last = list.last, last.upperBound &+ 1 == value {
                list[list.count - 1] = last.lowerBound...value
            } else {
                list.append(value...value)
            }
        }

        categoryRanges[UnicodeTables.index(of: .surrogate)].append(0xD800...0xDFFF)
        for value in UInt32(0)...ScalarSet.maxScalar {
            guard let scalar = Unicode.Scalar(value) else { continue }
            let properties = scalar.properties
            let category = properties.generalCategory
            add(value, to: &categoryRanges[UnicodeTables.index(of: category)])
            // Unassigned and private-use scalars have no other property we need.
            if category == .unassigned || category == .privateUse { continue }
            if properties.isAlphabetic { add(value, to: &alphabetic) }
            if properties.isLowercase { add(value, to: &lowercase) }
            if properties.isUppercase { add(value, to: &uppercase) }
            if properties.changesWhenCaseMapped || properties.changesWhenCaseFolded { cased.append(value) }
        }
        generalCategories = categoryRanges.map { ScalarSet($0) }
        self.alphabetic = ScalarSet(alphabetic)
        self.lowercase = ScalarSet(lowercase)
        self.uppercase = ScalarSet(uppercase)

        let joinControl = ScalarSet([0x200C...0x200D])
        var word = self.alphabetic.union(joinControl)
        for category in [Unicode.GeneralCategory.nonspacingMark, .spacingMark, .enclosingMark,
                         .decimalNumber, .connectorPunctuation] {
            word = word.union(generalCategories[UnicodeTables.index(of: category)])
        }
        self.word = word

        var groups: [UInt32: [UInt32]] = [:]
        for value in cased {
            let key = UnicodeTables.simpleFold(value)
            groups[key, default: [key]].append(value)
        }
        var orbits: [UInt32: [UInt32]] = [:]
        for (_, members) in groups {
            let orbit = Array(Set(members)).sorted()
            guard orbit.count > 1 else { continue }
            for member in orbit { orbits[member] = orbit }
        }
        caseOrbits = orbits
    }

    /// An approximation of Unicode simple case folding from the standard library's case mappings: the single-scalar
    /// lowercase of the single-scalar uppercase. It groups scalars the way CaseFolding.txt's C and S entries do,
    /// apart from the Turkic dotted and dotless I, which simple folding leaves alone.
    static func simpleFold(_ value: UInt32) -> UInt32 {
        if value == 0x130 || value == 0x131 { return value }
        guard var scalar = Unicode.Scalar(value) else { return value }
        if let upper = single(scalar.properties.uppercaseMapping) { scalar = upper }
        if let lower = single(scalar.properties.lowercaseMapping) { scalar = lower }
        return scalar.value
    }

    private static func single(_ mapping: String) -> Unicode.Scalar? {
        var iterator = mapping.unicodeScalars.makeIterator()
        guard let first = iterator.next(), iterator.next() == nil else { return nil }
        return first
    }

    /// The other scalars that `value` matches case-insensitively, itself included; `[value]` if none.
    func caseVariants(of value: UInt32) -> [UInt32] {
        caseOrbits[value] ?? [value]
    }
}
