// Parser for the `matches` operator's regular expressions: the syntax of Rust's `regex` crate (RE2-like), which
// Unleash uses. Flags are applied while parsing, so the tree it produces is already case-folded and has
// `.`, `^` and `$` resolved; the compiler in RegexProgram.swift turns it into a Pike VM program.
//
// Everything that would need backtracking (look-around, backreferences, atomic groups, possessive quantifiers) is
// rejected with an error that names the construct, as is anything else that does not parse.

/// A zero-width assertion, checked against the scalars before and after the current position.
enum RegexAssertion: UInt8, Sendable {
    case textStart, textEnd
    case lineStart, lineEnd
    case lineStartCRLF, lineEndCRLF
    case wordBoundary, notWordBoundary
    case wordStart, wordEnd, wordStartHalf, wordEndHalf
    case asciiWordBoundary, asciiNotWordBoundary
    case asciiWordStart, asciiWordEnd, asciiWordStartHalf, asciiWordEndHalf

    /// Whether this assertion consults Unicode's `\w`.
    var usesUnicodeWord: Bool {
        switch self {
        case .wordBoundary, .notWordBoundary, .wordStart, .wordEnd, .wordStartHalf, .wordEndHalf: true
        default: false
        }
    }

    var ascii: RegexAssertion {
        switch self {
        case .wordBoundary: .asciiWordBoundary
        case .notWordBoundary: .asciiNotWordBoundary
        case .wordStart: .asciiWordStart
        case .wordEnd: .asciiWordEnd
        case .wordStartHalf: .asciiWordStartHalf
        case .wordEndHalf: .asciiWordEndHalf
        default: self
        }
    }
}

/// A parsed regular expression with its flags already applied.
indirect enum RegexNode: Sendable {
    case empty
    case set(ScalarSet)
    case concat([RegexNode])
    case alternation([RegexNode])
    case repetition(RegexNode, min: Int, max: Int?)
    case assertion(RegexAssertion)

    /// Whether every match must start at the beginning of the text.
    var isAnchoredAtStart: Bool {
        switch self {
        case .assertion(.textStart): true
        case .concat(let items): items.first?.isAnchoredAtStart ?? false
        case .alternation(let branches): branches.allSatisfy(\.isAnchoredAtStart)
        case .repetition(let inner, let min, _): min > 0 && inner.isAnchoredAtStart
        default: false
        }
    }
}

struct RegexParser {
    /// Flags that can be set with `(?flags)` or `(?flags:…)`.
    struct Flags {
        var caseInsensitive = false
        var multiLine = false
        var dotMatchesNewLine = false
        var swapGreed = false
        var unicode = true
        var crlf = false
        var ignoreWhitespace = false
    }

    /// The deepest nesting of groups, classes and repetitions accepted, to bound recursion.
    static let nestLimit = 100
    /// The largest repetition count accepted in `{n,m}`.
    static let maxRepetition = 1000

    let scalars: [Unicode.Scalar]
    /// UTF-8 offset of each scalar, plus the pattern's length at the end.
    let offsets: [Int]
    var pos = 0
    var flags: Flags
    var captureNames: Set<String> = []

    typealias Failure = RegexMatcher.CompileError

    init(pattern: String, caseInsensitive: Bool) {
        scalars = Array(pattern.unicodeScalars)
        var offsets: [Int] = []
        offsets.reserveCapacity(scalars.count + 1)
        var offset = 0
        for scalar in scalars {
            offsets.append(offset)
            offset += UTF8.width(scalar)
        }
        offsets.append(offset)
        self.offsets = offsets
        flags = Flags()
        flags.caseInsensitive = caseInsensitive
    }

    /// Parses the whole pattern.
    mutating func parse() throws(Failure) -> RegexNode {
        let (node, _) = try parseAlternation(depth: 0)
        if pos < scalars.count {
            // parseAlternation stops only at the end or at a `)` it did not open.
            throw error("unopened group: `)` has no matching `(`", at: pos)
        }
        return node
    }

    // MARK: Cursor

    func error(_ message: String, at index: Int) -> Failure {
        Failure(message: message, offset: offsets[min(index, offsets.count - 1)])
    }

    var atEnd: Bool { pos >= scalars.count }

    func peek(_ ahead: Int = 0) -> Character? {
        let index = pos + ahead
        return index < scalars.count ? Character(scalars[index]) : nil
    }

    func peekScalar() -> Unicode.Scalar? { pos < scalars.count ? scalars[pos] : nil }

    /// Whether the pattern continues with `text` at the cursor.
    func lookingAt(_ text: String) -> Bool {
        var index = pos
        for scalar in text.unicodeScalars {
            guard index < scalars.count, scalars[index] == scalar else { return false }
            index += 1
        }
        return true
    }

    mutating func take(_ text: String) -> Bool {
        guard lookingAt(text) else { return false }
        pos += text.unicodeScalars.count
        return true
    }

    /// Skips whitespace and `#` comments in verbose (`x`) mode.
    mutating func skipSpace() {
        guard flags.ignoreWhitespace else { return }
        while pos < scalars.count {
            if scalars[pos].properties.isWhitespace {
                pos += 1
            } else if scalars[pos] == "#" {
                while pos < scalars.count && scalars[pos] != "\n" { pos += 1 }
            } else {
                return
            }
        }
    }

    /// The next scalar after the current one that verbose mode would not skip.
    func peekPastSpace() -> Unicode.Scalar? {
        var copy = self
        copy.pos += 1
        copy.skipSpace()
        return copy.peekScalar()
    }

    // MARK: Structure

    /// A node and the depth of nesting below it.
    typealias Parsed = (node: RegexNode, height: Int)

    mutating func parseAlternation(depth: Int) throws(Failure) -> Parsed {
        var branches: [RegexNode] = []
        var height = 0
        while true {
            let branch = try parseConcat(depth: depth)
            branches.append(branch.node)
            height = max(height, branch.height)
            if peek() == "|" {
                pos += 1
                continue
            }
            break
        }
        if branches.count == 1 { return (branches[0], height) }
        return (.alternation(branches), height + 1)
    }

    mutating func parseConcat(depth: Int) throws(Failure) -> Parsed {
        var items: [RegexNode] = []
        var height = 0
        while true {
            skipSpace()
            guard let c = peek(), c != "|", c != ")" else { break }
            let start = pos
            var atom: Parsed
            switch c {
            case "(":
                guard let group = try parseGroup(depth: depth) else { continue }  // flags only: `(?i)`
                atom = group
            case "[":
                let set = try parseBracketClass(depth: depth + 1)
                if !flags.unicode, let last = set.bounds.last, last > 0x7F {
                    throw error("character class with Unicode mode off (`(?-u)`) reaches beyond ASCII and could "
                        + "match part of a character; Rust's regex rejects it for text", at: start)
                }
                atom = (.set(set), 1)
            case "*", "+", "?", "{":
                throw error("repetition operator `\(c)` has nothing to repeat", at: pos)
            default:
                atom = (try parsePrimitive(), 0)
            }
            atom = try parseQuantifiers(atom, start: start, depth: depth)
            items.append(atom.node)
            height = max(height, atom.height)
        }
        switch items.count {
        case 0: return (.empty, 0)
        case 1: return (items[0], height)
        default: return (.concat(items), height + 1)
        }
    }

    mutating func parseQuantifiers(_ atom: Parsed, start: Int, depth: Int) throws(Failure) -> Parsed {
        var atom = atom
        while true {
            skipSpace()
            guard let c = peek() else { return atom }
            let opStart = pos
            var min = 0
            var max: Int?
            switch c {
            case "*":
                pos += 1
            case "+":
                pos += 1
                min = 1
            case "?":
                pos += 1
                max = 1
            case "{":
                (min, max) = try parseCountedRepetition()
            default:
                return atom
            }
            // A lazy marker changes which match is preferred, which does not matter for a yes/no answer.
            let lazy = take("?")
            if !lazy && peek() == "+" {
                let op = String(String.UnicodeScalarView(scalars[opStart...pos]))
                throw error(
                    "possessive quantifier `\(op)` is not supported (RE2 syntax has none); "
                        + "drop the trailing `+`, or write `(?:x\(op.dropLast()))+` to repeat a repetition",
                    at: opStart)
            }
            let height = atom.height + 1
            if depth + height > RegexParser.nestLimit {
                throw error("pattern nests deeper than \(RegexParser.nestLimit) levels", at: opStart)
            }
            atom = (.repetition(atom.node, min: min, max: max), height)
        }
    }

    /// `{n}`, `{n,}` or `{n,m}`, with the cursor on `{`.
    mutating func parseCountedRepetition() throws(Failure) -> (Int, Int?) {
        let open = pos
        pos += 1
        skipSpace()
        guard let min = try parseDecimal() else {
            throw error("counted repetition `{…}` needs a decimal number after `{`", at: pos)
        }
        var max: Int? = min
        if peek() == "," {
            pos += 1
            skipSpace()
            if peek() == "}" {
                max = nil
            } else {
                guard let upper = try parseDecimal() else {
                    throw error("counted repetition `{n,m}` needs a decimal number after `,`", at: pos)
                }
                max = upper
            }
        }
        guard peek() == "}" else {
            throw error("unclosed counted repetition: expected `}`", at: open)
        }
        pos += 1
        if let max, max < min {
            throw error("invalid counted repetition: the minimum \(min) exceeds the maximum \(max)", at: open)
        }
        return (min, max)
    }

    /// Decimal digits, allowing whitespace around them as Rust does; `nil` when there are none.
    mutating func parseDecimal() throws(Failure) -> Int? {
        while let s = peekScalar(), s.properties.isWhitespace { pos += 1 }
        let start = pos
        var value = 0
        while let s = peekScalar(), s.value >= 0x30 && s.value <= 0x39 {
            value = Swift.min(value * 10 + Int(s.value - 0x30), Int(Int32.max))
            pos += 1
        }
        if pos == start { return nil }
        if value > RegexParser.maxRepetition {
            let written = String(String.UnicodeScalarView(scalars[start..<pos]))
            throw error("repetition count \(written) exceeds the limit of \(RegexParser.maxRepetition)", at: start)
        }
        while let s = peekScalar(), s.properties.isWhitespace { pos += 1 }
        return value
    }

    /// Group openings that only a backtracking engine could honour, with the error each one gets.
    static let unsupportedGroups: [(String, String)] = [
        ("?=", "look-ahead `(?=…)` is not supported (RE2 syntax has no look-around)"),
        ("?!", "negative look-ahead `(?!…)` is not supported (RE2 syntax has no look-around)"),
        ("?<=", "look-behind `(?<=…)` is not supported (RE2 syntax has no look-around)"),
        ("?<!", "negative look-behind `(?<!…)` is not supported (RE2 syntax has no look-around)"),
        ("?>", "atomic group `(?>…)` is not supported (RE2 syntax has no atomic groups)"),
        ("?P=", "backreference `(?P=name)` is not supported (RE2 syntax has no backreferences)"),
        ("?P>", "subroutine call `(?P>name)` is not supported (RE2 syntax has no recursion)"),
        ("?&", "subroutine call `(?&name)` is not supported (RE2 syntax has no recursion)"),
        ("?#", "comment group `(?#…)` is not supported; use the `x` flag and `#` comments"),
        ("?|", "branch reset group `(?|…)` is not supported"),
        ("?'", "named group `(?'name'…)` is not supported; write `(?P<name>…)` or `(?<name>…)`"),
    ]

    /// A group, or `nil` for a flag setting such as `(?i)` that applies to the rest of the enclosing group.
    mutating func parseGroup(depth: Int) throws(Failure) -> Parsed? {
        let open = pos
        pos += 1
        skipSpace()
        for (prefix, message) in RegexParser.unsupportedGroups where lookingAt(prefix) {
            throw error(message, at: open)
        }
        if let next = peek(1), peek() == "?",
           next.isNumber || next == "+" || (next == "-" && (peek(2)?.isNumber ?? false)) {
            throw error("recursion `(?\(next)…)` is not supported (RE2 syntax has no recursion)", at: open)
        }

        let saved = flags
        if take("?P<") || take("?<") {
            try parseCaptureName()
        } else if take("?") {
            guard !atEnd else { throw error("unclosed group", at: open) }
            let isScoped = try parseFlags(open: open)
            if !isScoped { return nil }
        }
        guard depth + 1 <= RegexParser.nestLimit else {
            throw error("pattern nests deeper than \(RegexParser.nestLimit) levels", at: open)
        }
        let inner = try parseAlternation(depth: depth + 1)
        guard peek() == ")" else { throw error("unclosed group: `(` has no matching `)`", at: open) }
        pos += 1
        flags = saved
        return (inner.node, inner.height + 1)
    }

    /// A capture name after `(?P<` or `(?<`, through the closing `>`.
    mutating func parseCaptureName() throws(Failure) {
        let start = pos
        while let c = peek(), c != ">" {
            let first = pos == start
            let valid = c == "_" || c.isLetter || (!first && (c == "." || c == "[" || c == "]" || c.isNumber))
            guard valid else { throw error("invalid character `\(c)` in capture group name", at: pos) }
            pos += 1
        }
        guard peek() == ">" else { throw error("unclosed capture group name: expected `>`", at: start) }
        guard pos > start else { throw error("empty capture group name", at: start) }
        let name = String(String.UnicodeScalarView(scalars[start..<pos]))
        guard captureNames.insert(name).inserted else {
            throw error("duplicate capture group name `\(name)`", at: start)
        }
        pos += 1
    }

    /// Flags after `(?`, through `)` (returns false: they apply from here on) or `:` (returns true: a scoped group).
    mutating func parseFlags(open: Int) throws(Failure) -> Bool {
        var negate = false
        var seen: Set<Character> = []
        var sawNegation = false
        var lastWasNegation = false
        var any = false
        while true {
            guard let c = peek() else { throw error("unclosed group: flags are not followed by `)` or `:`", at: open) }
            if c == ")" || c == ":" {
                if lastWasNegation { throw error("flag negation `-` is not followed by a flag", at: pos - 1) }
                if !any && c == ")" { throw error("empty flag group `(?)`", at: open) }
                pos += 1
                return c == ":"
            }
            if c == "-" {
                if sawNegation { throw error("flag negation `-` appears twice", at: pos) }
                sawNegation = true
                negate = true
                lastWasNegation = true
                pos += 1
                continue
            }
            lastWasNegation = false
            guard seen.insert(c).inserted else { throw error("flag `\(c)` is repeated", at: pos) }
            let on = !negate
            switch c {
            case "i": flags.caseInsensitive = on
            case "m": flags.multiLine = on
            case "s": flags.dotMatchesNewLine = on
            case "U": flags.swapGreed = on
            case "u": flags.unicode = on
            case "R": flags.crlf = on
            case "x": flags.ignoreWhitespace = on
            default:
                throw error("unknown flag `\(c)`: expected one of i, m, s, U, u, R, x", at: pos)
            }
            any = true
            pos += 1
        }
    }

    // MARK: Atoms

    mutating func parsePrimitive() throws(Failure) -> RegexNode {
        let scalar = scalars[pos]
        switch scalar {
        case "\\":
            switch try parseEscape(inClass: false) {
            case .literal(let value): return literal(value)
            case .set(let set): return .set(set)
            case .assertion(let assertion): return .assertion(assertion)
            }
        case ".":
            if !flags.unicode {
                throw error("`.` with Unicode mode off (`(?-u)`) could match part of a character; Rust's regex "
                    + "rejects it for text: drop `-u` or use an ASCII class such as `[\\x00-\\x7F]`", at: pos)
            }
            pos += 1
            if flags.dotMatchesNewLine { return .set(.all) }
            return .set(ScalarSet(scalars: flags.crlf ? [0x0A, 0x0D] : [0x0A]).inverted())
        case "^":
            pos += 1
            return .assertion(flags.multiLine ? (flags.crlf ? .lineStartCRLF : .lineStart) : .textStart)
        case "$":
            pos += 1
            return .assertion(flags.multiLine ? (flags.crlf ? .lineEndCRLF : .lineEnd) : .textEnd)
        default:
            pos += 1
            return literal(scalar.value)
        }
    }

    /// A literal scalar, widened to its case variants when matching case-insensitively.
    func literal(_ value: UInt32) -> RegexNode {
        guard flags.caseInsensitive else { return .set(ScalarSet(scalar: value)) }
        return .set(fold(ScalarSet(scalar: value)))
    }

    func fold(_ set: ScalarSet) -> ScalarSet {
        guard flags.caseInsensitive else { return set }
        return flags.unicode ? set.caseFolded() : set.asciiCaseFolded()
    }

    enum Escape {
        case literal(UInt32)
        case set(ScalarSet)
        case assertion(RegexAssertion)
    }

    /// An escape sequence, with the cursor on the backslash.
    mutating func parseEscape(inClass: Bool) throws(Failure) -> Escape {
        let start = pos
        pos += 1
        guard let c = peekScalar() else { throw error("incomplete escape sequence: pattern ends with `\\`", at: start) }
        switch c {
        case "0"..."9":
            throw error("backreference `\\\(c)` is not supported (RE2 syntax has no backreferences)", at: start)
        case "k":
            throw error("backreference `\\k<name>` is not supported (RE2 syntax has no backreferences)", at: start)
        case "g":
            throw error("backreference `\\g…` is not supported (RE2 syntax has no backreferences)", at: start)
        case "x", "u", "U":
            return .literal(try parseHex(start: start))
        case "p", "P":
            return .set(try parseUnicodeClass(start: start))
        case "d", "D", "s", "S", "w", "W":
            if !flags.unicode && c.properties.isUppercase {
                throw error("`\\\(c)` with Unicode mode off (`(?-u)`) could match part of a character; Rust's "
                    + "regex rejects it for text", at: start)
            }
            pos += 1
            return .set(perlClass(c))
        default:
            break
        }
        pos += 1
        if c.isASCII && !(c.properties.isAlphabetic || ("0"..."9").contains(c)) && c != "<" && c != ">" {
            return .literal(c.value)  // escaped punctuation, e.g. `\.`
        }
        let special: UInt32? = switch c {
        case "a": 0x07
        case "f": 0x0C
        case "t": 0x09
        case "n": 0x0A
        case "r": 0x0D
        case "v": 0x0B
        default: nil
        }
        if let special { return .literal(special) }
        var assertion: RegexAssertion
        switch c {
        case "A": assertion = .textStart
        case "z": assertion = .textEnd
        case "b": assertion = try parseSpecialWordBoundary() ?? .wordBoundary
        case "B": assertion = .notWordBoundary
        case "<": assertion = .wordStart
        case ">": assertion = .wordEnd
        case "Z":
            throw error("`\\Z` is not supported; use `\\z` (end of text) or `$`", at: start)
        default:
            throw error("unrecognized escape sequence `\\\(c)`", at: start)
        }
        if inClass {
            throw error("assertion `\\\(c)` is not allowed inside a character class", at: start)
        }
        if !flags.unicode { assertion = assertion.ascii }
        return .assertion(assertion)
    }

    /// `\b{start}`, `\b{end}`, `\b{start-half}` or `\b{end-half}` after `\b`; `nil` (cursor unmoved) otherwise,
    /// so that `\b{2}` stays a repetition.
    mutating func parseSpecialWordBoundary() throws(Failure) -> RegexAssertion? {
        guard peek() == "{" else { return nil }
        let open = pos
        var index = pos + 1
        var name = ""
        while index < scalars.count,
              scalars[index] == "-" || (scalars[index].isASCII && scalars[index].properties.isAlphabetic) {
            name.unicodeScalars.append(scalars[index])
            index += 1
        }
        if name.isEmpty { return nil }
        guard index < scalars.count, scalars[index] == "}" else {
            throw error("unclosed special word boundary `\\b{…}`", at: open)
        }
        let kind: RegexAssertion
        switch name {
        case "start": kind = .wordStart
        case "end": kind = .wordEnd
        case "start-half": kind = .wordStartHalf
        case "end-half": kind = .wordEndHalf
        default: throw error("unrecognized special word boundary `\\b{\(name)}`", at: open)
        }
        pos = index + 1
        return kind
    }

    /// `\xHH`, `\uHHHH`, `\UHHHHHHHH` or the braced forms `\x{…}`, with the cursor on the letter.
    mutating func parseHex(start: Int) throws(Failure) -> UInt32 {
        let letter = scalars[pos]
        pos += 1
        var value: UInt32 = 0
        var digits = 0
        if peek() == "{" {
            pos += 1
            while let c = peek(), c != "}" {
                guard let digit = c.hexDigitValue else {
                    throw error("invalid hexadecimal digit `\(c)` in escape", at: pos)
                }
                value = digits < 8 ? value * 16 + UInt32(digit) : UInt32.max
                digits += 1
                pos += 1
            }
            guard peek() == "}" else { throw error("unclosed hexadecimal escape `\\\(letter){…`", at: start) }
            pos += 1
            guard digits > 0 else { throw error("empty hexadecimal escape `\\\(letter){}`", at: start) }
        } else {
            let count = letter == "x" ? 2 : (letter == "u" ? 4 : 8)
            for _ in 0..<count {
                guard let c = peek() else { throw error("incomplete hexadecimal escape", at: start) }
                guard let digit = c.hexDigitValue else {
                    throw error("invalid hexadecimal digit `\(c)` in escape", at: pos)
                }
                value = value * 16 + UInt32(digit)
                pos += 1
            }
        }
        guard Unicode.Scalar(value) != nil else {
            throw error("hexadecimal escape does not name a Unicode scalar value", at: start)
        }
        return value
    }

    func perlClass(_ c: Unicode.Scalar) -> ScalarSet {
        let set: ScalarSet
        switch c {
        case "d", "D":
            set = flags.unicode ? UnicodeTables.shared.generalCategories[UnicodeTables.index(of: .decimalNumber)]
                : ScalarSet([0x30...0x39])
        case "s", "S":
            set = flags.unicode ? UnicodeTables.whiteSpace : ScalarSet([0x09...0x0D, 0x20...0x20])
        default:
            set = flags.unicode ? UnicodeTables.shared.word : RegexParser.asciiWord
        }
        return c.properties.isUppercase ? set.inverted() : set
    }

    static let asciiWord = ScalarSet([0x30...0x39, 0x41...0x5A, 0x5F...0x5F, 0x61...0x7A])

    /// `\pL`, `\p{Lu}`, `\P{…}`, `\p{gc=Lu}`, `\p{Greek}`…, with the cursor on `p` or `P`.
    mutating func parseUnicodeClass(start: Int) throws(Failure) -> ScalarSet {
        guard flags.unicode else {
            throw error("Unicode class `\\\(scalars[pos])` needs Unicode mode, which `(?-u)` turned off", at: start)
        }
        var negated = scalars[pos] == "P"
        pos += 1
        skipSpace()
        var name: String
        if peek() == "{" {
            pos += 1
            let nameStart = pos
            while let c = peek(), c != "}" { pos += 1 }
            guard peek() == "}" else { throw error("unclosed Unicode class `\\p{…`", at: start) }
            name = String(String.UnicodeScalarView(scalars[nameStart..<pos]))
            pos += 1
        } else {
            guard let c = peekScalar(), c != "\\" else { throw error("incomplete Unicode class `\\p`", at: start) }
            name = String(c)
            pos += 1
        }
        var property: String? = nil
        let characters = Array(name)
        if let bang = characters.indices.first(where: { characters[$0] == "!" && $0 + 1 < characters.count
            && characters[$0 + 1] == "=" }) {
            property = String(characters[..<bang])
            name = String(characters[(bang + 2)...])
            negated.toggle()
        } else if let index = characters.firstIndex(where: { $0 == ":" || $0 == "=" }) {
            property = String(characters[..<index])
            name = String(characters[(index + 1)...])
        }
        guard var set = RegexParser.unicodeProperty(property: property, value: name) else {
            throw error(
                "unsupported Unicode class `\\p{\(property.map { $0 + "=" } ?? "")\(name)}`: supported are general "
                    + "categories (L, Lu, Ll, Lt, Lm, Lo, M, N, Nd, P, S, Z, C and the others, long names too), "
                    + "Alphabetic, Lowercase, Uppercase, White_Space, Any, ASCII and Assigned; scripts are not",
                at: start)
        }
        set = fold(set)
        return negated ? set.inverted() : set
    }

    /// Unicode's loose name matching: case, spaces, `_` and `-` are ignored, and so is a leading `is`.
    static func normalize(_ name: String) -> String {
        var result = String(name.lowercased().filter { !$0.isWhitespace && $0 != "_" && $0 != "-" })
        if result.hasPrefix("is") && result.count > 2 { result.removeFirst(2) }
        return result
    }

    static func unicodeProperty(property: String?, value: String) -> ScalarSet? {
        let value = normalize(value)
        if let property {
            switch normalize(property) {
            case "gc", "generalcategory": return generalCategory(value)
            default: return nil
            }
        }
        switch value {
        case "any": return .all
        case "ascii": return ScalarSet([0...0x7F])
        case "assigned": return generalCategory("cn")?.inverted()
        case "alphabetic", "alpha": return UnicodeTables.shared.alphabetic
        case "lowercase", "lower": return UnicodeTables.shared.lowercase
        case "uppercase", "upper": return UnicodeTables.shared.uppercase
        case "whitespace", "wspace", "space": return UnicodeTables.whiteSpace
        default: return generalCategory(value)
        }
    }

    static func generalCategory(_ name: String) -> ScalarSet? {
        let categories: [Unicode.GeneralCategory]
        switch name {
        case "l", "letter":
            categories = [.uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter]
        case "lc", "casedletter": categories = [.uppercaseLetter, .lowercaseLetter, .titlecaseLetter]
        case "lu", "uppercaseletter": categories = [.uppercaseLetter]
        case "ll", "lowercaseletter": categories = [.lowercaseLetter]
        case "lt", "titlecaseletter": categories = [.titlecaseLetter]
        case "lm", "modifierletter": categories = [.modifierLetter]
        case "lo", "otherletter": categories = [.otherLetter]
        case "m", "mark", "combiningmark": categories = [.nonspacingMark, .spacingMark, .enclosingMark]
        case "mn", "nonspacingmark": categories = [.nonspacingMark]
        case "mc", "spacingmark": categories = [.spacingMark]
        case "me", "enclosingmark": categories = [.enclosingMark]
        case "n", "number": categories = [.decimalNumber, .letterNumber, .otherNumber]
        case "nd", "decimalnumber", "digit": categories = [.decimalNumber]
        case "nl", "letternumber": categories = [.letterNumber]
        case "no", "othernumber": categories = [.otherNumber]
        case "p", "punctuation", "punct":
            categories = [.connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
                          .initialPunctuation, .finalPunctuation, .otherPunctuation]
        case "pc", "connectorpunctuation": categories = [.connectorPunctuation]
        case "pd", "dashpunctuation": categories = [.dashPunctuation]
        case "ps", "openpunctuation": categories = [.openPunctuation]
        case "pe", "closepunctuation": categories = [.closePunctuation]
        case "pi", "initialpunctuation": categories = [.initialPunctuation]
        case "pf", "finalpunctuation": categories = [.finalPunctuation]
        case "po", "otherpunctuation": categories = [.otherPunctuation]
        case "s", "symbol": categories = [.mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol]
        case "sm", "mathsymbol": categories = [.mathSymbol]
        case "sc", "currencysymbol": categories = [.currencySymbol]
        case "sk", "modifiersymbol": categories = [.modifierSymbol]
        case "so", "othersymbol": categories = [.otherSymbol]
        case "z", "separator": categories = [.spaceSeparator, .lineSeparator, .paragraphSeparator]
        case "zs", "spaceseparator": categories = [.spaceSeparator]
        case "zl", "lineseparator": categories = [.lineSeparator]
        case "zp", "paragraphseparator": categories = [.paragraphSeparator]
        case "c", "other": categories = [.control, .format, .surrogate, .privateUse, .unassigned]
        case "cc", "control", "cntrl": categories = [.control]
        case "cf", "format": categories = [.format]
        case "co", "privateuse": categories = [.privateUse]
        case "cn", "unassigned": categories = [.unassigned]
        default: return nil
        }
        return UnicodeTables.shared.categories(categories)
    }

    // MARK: Bracketed classes

    enum SetOperation { case intersection, difference, symmetricDifference }

    /// `[…]`, with the cursor on `[`. Nested classes, POSIX classes and `&&`, `--`, `~~` are supported.
    mutating func parseBracketClass(depth: Int) throws(Failure) -> ScalarSet {
        guard depth <= RegexParser.nestLimit else {
            throw error("pattern nests deeper than \(RegexParser.nestLimit) levels", at: pos)
        }
        let open = pos
        pos += 1
        skipSpace()
        let negated = peek() == "^"
        if negated {
            pos += 1
            skipSpace()
        }
        var items: [ClosedRange<UInt32>] = []
        var union = ScalarSet()
        // `-` and then `]` at the very start are literals, so an empty class cannot be written.
        while peek() == "-" {
            items.append(0x2D...0x2D)
            pos += 1
            skipSpace()
        }
        if items.isEmpty && peek() == "]" {
            items.append(0x5D...0x5D)
            pos += 1
        }
        var lhs: ScalarSet? = nil
        var operation: SetOperation? = nil
        func current() -> ScalarSet { union.union(ScalarSet(items)) }
        func apply(_ operation: SetOperation?, _ lhs: ScalarSet?, _ rhs: ScalarSet) -> ScalarSet {
            guard let operation, let lhs else { return rhs }
            switch operation {
            case .intersection: return lhs.intersection(rhs)
            case .difference: return lhs.subtracting(rhs)
            case .symmetricDifference: return lhs.symmetricDifference(rhs)
            }
        }
        while true {
            skipSpace()
            guard let c = peek() else { throw error("unclosed character class: `[` has no matching `]`", at: open) }
            switch c {
            case "[":
                if let posix = parsePOSIXClass() {
                    union = union.union(posix)
                } else {
                    union = union.union(try parseBracketClass(depth: depth + 1))
                }
            case "]":
                pos += 1
                var set = apply(operation, lhs, fold(current()))
                set = fold(set)
                return negated ? set.inverted() : set
            case "&" where peek(1) == "&", "-" where peek(1) == "-", "~" where peek(1) == "~":
                let rhs = fold(current())
                lhs = apply(operation, lhs, rhs)
                operation = c == "&" ? .intersection : (c == "-" ? .difference : .symmetricDifference)
                union = ScalarSet()
                items = []
                pos += 2
            default:
                let itemStart = pos
                let first = try parseClassItem()
                skipSpace()
                if peek() == "-", let after = peekPastSpace(), after != "]", after != "-" {
                    pos += 1
                    skipSpace()
                    let secondStart = pos
                    let second = try parseClassItem()
                    guard case .literal(let lo) = first else {
                        throw error("invalid range in character class: a class cannot start a range", at: itemStart)
                    }
                    guard case .literal(let hi) = second else {
                        throw error("invalid range in character class: a class cannot end a range", at: secondStart)
                    }
                    guard lo <= hi else {
                        throw error("invalid range in character class: start is greater than end", at: itemStart)
                    }
                    items.append(lo...hi)
                } else {
                    switch first {
                    case .literal(let value): items.append(value...value)
                    case .set(let set): union = union.union(set)
                    }
                }
            }
        }
    }

    enum ClassItem {
        case literal(UInt32)
        case set(ScalarSet)
    }

    mutating func parseClassItem() throws(Failure) -> ClassItem {
        guard let c = peekScalar() else { throw error("unclosed character class", at: pos) }
        if c == "\\" {
            switch try parseEscape(inClass: true) {
            case .literal(let value): return .literal(value)
            case .set(let set): return .set(set)
            case .assertion: fatalError("parseEscape rejects assertions in classes")
            }
        }
        pos += 1
        return .literal(c.value)
    }

    /// `[:name:]` or `[:^name:]` (ASCII only); `nil` with the cursor unmoved when this is not one.
    mutating func parsePOSIXClass() -> ScalarSet? {
        guard peek(1) == ":" else { return nil }
        var index = pos + 2
        let negated = index < scalars.count && scalars[index] == "^"
        if negated { index += 1 }
        let nameStart = index
        while index < scalars.count && scalars[index] != ":" { index += 1 }
        guard index + 1 < scalars.count, scalars[index + 1] == "]" else { return nil }
        let name = String(String.UnicodeScalarView(scalars[nameStart..<index]))
        let ranges: [ClosedRange<UInt32>]
        switch name {
        case "alnum": ranges = [0x30...0x39, 0x41...0x5A, 0x61...0x7A]
        case "alpha": ranges = [0x41...0x5A, 0x61...0x7A]
        case "ascii": ranges = [0x00...0x7F]
        case "blank": ranges = [0x09...0x09, 0x20...0x20]
        case "cntrl": ranges = [0x00...0x1F, 0x7F...0x7F]
        case "digit": ranges = [0x30...0x39]
        case "graph": ranges = [0x21...0x7E]
        case "lower": ranges = [0x61...0x7A]
        case "print": ranges = [0x20...0x7E]
        case "punct": ranges = [0x21...0x2F, 0x3A...0x40, 0x5B...0x60, 0x7B...0x7E]
        case "space": ranges = [0x09...0x0D, 0x20...0x20]
        case "upper": ranges = [0x41...0x5A]
        case "word": ranges = [0x30...0x39, 0x41...0x5A, 0x5F...0x5F, 0x61...0x7A]
        case "xdigit": ranges = [0x30...0x39, 0x41...0x46, 0x61...0x66]
        default: return nil
        }
        pos = index + 2
        // As with `\P{…}`, the class is case-folded before `^` negates it.
        let set = fold(ScalarSet(ranges))
        return negated ? set.inverted() : set
    }
}
