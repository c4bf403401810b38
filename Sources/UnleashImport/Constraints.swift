import FlagEngine
import FlagModel

/// A condition to write, with an optional comment for the reader at the end of its line.
struct NoteCondition {
    var condition: Condition
    var comment: String?

    static let never = Condition.any([])
    static let always = Condition.all([])
}

/// What one Unleash constraint becomes.
enum ConstraintOutcome {
    /// An equivalent condition (possibly a constant `{ any: [] }` / `{ all: [] }`).
    case condition(NoteCondition)
    /// Unleash cannot compile it: the whole flag is off everywhere.
    case dead(String)
    /// Unleash evaluates it, but no native condition means the same.
    case unsupported(String)
}

/// Translates constraints with Unleash's semantics (SEMANTICS.md §3).
enum ConstraintTranslator {
    static func translate(_ c: UConstraint) -> ConstraintOutcome {
        let attribute = c.contextName
        func attr(_ op: Operator, _ values: [String], caseInsensitive: Bool = false) -> Condition {
            .attribute(
                AttributeCondition(
                    attribute: attribute, op: op, values: values,
                    caseInsensitive: caseInsensitive && op.honoursCaseInsensitive, negate: c.inverted))
        }
        /// A constant answer before inversion, inverted as Unleash does.
        func constant(_ holds: Bool, _ why: String) -> ConstraintOutcome {
            let result = holds != c.inverted
            return .condition(
                NoteCondition(
                    condition: result ? NoteCondition.always : NoteCondition.never,
                    comment: "\(attribute) \(c.op)\(c.inverted ? " (inverted)" : ""): \(why), so this "
                        + (result ? "always holds" : "never holds")))
        }

        switch c.op {
        case "IN", "NOT_IN":
            // caseInsensitive is ignored by Unleash for IN / NOT_IN.
            let values = c.values ?? []
            if values.isEmpty {
                return constant(c.op == "NOT_IN", "no values")
            }
            return .condition(NoteCondition(condition: attr(c.op == "IN" ? .in : .notIn, values)))
        case "STR_CONTAINS", "STR_STARTS_WITH", "STR_ENDS_WITH":
            let values = c.values ?? []
            if values.isEmpty { return .dead("\(c.op) on '\(attribute)' has no values") }
            let op: Operator = c.op == "STR_CONTAINS" ? .contains : (c.op == "STR_STARTS_WITH" ? .startsWith : .endsWith)
            return .condition(NoteCondition(condition: attr(op, values, caseInsensitive: c.caseInsensitive)))
        case "NUM_EQ": return comparison(c, .eq)
        case "NUM_GT": return comparison(c, .gt)
        case "NUM_GTE": return comparison(c, .gte)
        case "NUM_LT": return comparison(c, .lt)
        case "NUM_LTE": return comparison(c, .lte)
        case "DATE_AFTER": return comparison(c, .gt)
        case "DATE_BEFORE": return comparison(c, .lt)
        case "SEMVER_EQ", "SEMVER_GT", "SEMVER_GTE", "SEMVER_LT", "SEMVER_LTE":
            if let v = c.value, v.hasPrefix("v") {
                // Unleash special-cases a leading `v`: always false, and `inverted` is not applied.
                return .condition(
                    NoteCondition(
                        condition: NoteCondition.never,
                        comment: "\(attribute) \(c.op) \(YAMLText.commentQuoted(v)): Unleash never matches a "
                            + "version written with a leading 'v', inverted or not"))
            }
            let symbol: Symbol
            switch c.op {
            case "SEMVER_EQ": symbol = .eq
            case "SEMVER_GT": symbol = .gt
            case "SEMVER_GTE": symbol = .gte
            case "SEMVER_LT": symbol = .lt
            default: symbol = .lte
            }
            return comparison(c, symbol)
        case "REGEX":
            guard let pattern = c.value else { return .dead("REGEX on '\(attribute)' has no value") }
            do {
                _ = try RegexMatcher(pattern: pattern, caseInsensitive: c.caseInsensitive)
            } catch {
                if rustAccepts(error) {
                    return .unsupported(
                        "regular expression \(YAMLText.commentQuoted(pattern)) is valid for Unleash but outside "
                            + "what Flagstaff accepts: \(error.message)")
                }
                return constant(false, "the regular expression does not compile (\(error.message))")
            }
            return .condition(
                NoteCondition(condition: attr(.matches, [pattern], caseInsensitive: c.caseInsensitive)))
        case "IN_CIDR":
            let values = c.values ?? []
            if values.isEmpty { return .dead("IN_CIDR on '\(attribute)' has no values") }
            let valid = values.filter { CIDR($0) != nil }
            if valid.isEmpty { return constant(false, "no value is a valid address or range") }
            var note: String?
            if valid.count < values.count {
                let skipped = values.filter { CIDR($0) == nil }.map(YAMLText.commentQuoted).joined(separator: ", ")
                note = "Unleash skips the invalid entries \(skipped)"
            }
            return .condition(NoteCondition(condition: attr(.inCIDR, valid), comment: note))
        default:
            return .dead("unknown operator \(YAMLText.commentQuoted(c.op)) on '\(attribute)'")
        }
    }

    /// Regex failures that Rust's `regex` crate (Unleash's engine) would not share: such a
    /// pattern works in Unleash and cannot become "never holds" here.
    static func rustAccepts(_ error: RegexMatcher.CompileError) -> Bool {
        let ours = ["exceeds the limit of", "unsupported Unicode class", "pattern is too large", "bytes long",
            "nests deeper than"]
        return ours.contains { error.message.contains($0) }
    }

    enum Symbol: String {
        case eq = "==", gt = ">", gte = ">=", lt = "<", lte = "<="
    }

    /// NUM_*, DATE_* and SEMVER_*: Unleash picks the comparison from the literal's shape, not
    /// from the operator's name: a date if it looks like one, else a version, else a number,
    /// else the flag is dead.
    static func comparison(_ c: UConstraint, _ symbol: Symbol) -> ConstraintOutcome {
        let attribute = c.contextName
        guard let value = c.value else { return .dead("\(c.op) on '\(attribute)' has no value") }
        let family: String
        if c.op.hasPrefix("NUM_") {
            family = "number"
        } else if c.op.hasPrefix("DATE_") {
            family = "date"
        } else {
            family = "version"
        }
        func note(_ shape: String) -> String? {
            shape == family
                ? nil
                : "\(c.op) with \(YAMLText.commentQuoted(value)) compares \(shape)s, as Unleash does: it goes by the value's shape"
        }
        func attr(_ op: Operator, _ text: String, negate: Bool) -> Condition {
            .attribute(AttributeCondition(attribute: attribute, op: op, values: [text], negate: negate))
        }
        if Shapes.isDate(value) {
            guard let instant = Timestamp.parseLiteral(value), instant.nanos < 1_000_000_000 else {
                return .dead("\(c.op) on '\(attribute)': \(YAMLText.commentQuoted(value)) is not a valid date")
            }
            let condition: Condition
            switch symbol {
            case .gt: condition = attr(.after, value, negate: c.inverted)
            case .lt: condition = attr(.before, value, negate: c.inverted)
            case .gte: condition = attr(.after, Shapes.literal(Shapes.minusNanosecond(instant)), negate: c.inverted)
            case .lte: condition = attr(.before, Shapes.literal(Shapes.plusNanosecond(instant)), negate: c.inverted)
            case .eq:
                let both = Condition.all([
                    attr(.after, Shapes.literal(Shapes.minusNanosecond(instant)), negate: false),
                    attr(.before, Shapes.literal(Shapes.plusNanosecond(instant)), negate: false),
                ])
                condition = c.inverted ? .not(both) : both
            }
            var comment = note("date")
            if symbol == .gte || symbol == .lte || symbol == .eq {
                let exact = "\(symbol.rawValue) \(value) to the nanosecond"
                comment = comment.map { $0 + "; " + exact } ?? exact
            }
            return .condition(NoteCondition(condition: condition, comment: comment))
        }
        if Shapes.isSemVer(value) {
            guard SemVer(value) != nil else {
                return .dead("\(c.op) on '\(attribute)': \(YAMLText.commentQuoted(value)) is not a valid version")
            }
            let op: Operator
            switch symbol {
            case .eq: op = .semverEq
            case .gt: op = .semverGt
            case .gte: op = .semverGte
            case .lt: op = .semverLt
            case .lte: op = .semverLte
            }
            return .condition(NoteCondition(condition: attr(op, value, negate: c.inverted), comment: note("version")))
        }
        if let text = Shapes.number(value) {
            guard let d = Double(text), d.isFinite, NumberSyntax.parse(text) == d else {
                return .unsupported("\(c.op) on '\(attribute)': \(YAMLText.commentQuoted(value)) is out of range")
            }
            let op: Operator
            switch symbol {
            case .eq: op = .numEq
            case .gt: op = .numGt
            case .gte: op = .numGte
            case .lt: op = .numLt
            case .lte: op = .numLte
            }
            return .condition(NoteCondition(condition: attr(op, text, negate: c.inverted), comment: note("number")))
        }
        return .dead(
            "\(c.op) on '\(attribute)': \(YAMLText.commentQuoted(value)) is neither a date, a version nor a number")
    }
}

/// The literal shapes of Unleash's rule grammar.
enum Shapes {
    /// `YYYY-MM-DDTHH:MM:SS[.mmm](Z|±HH:MM)`: exactly three fraction digits, if any.
    static func isDate(_ s: String) -> Bool {
        let b = Array(s.utf8)
        func digits(_ range: Range<Int>) -> Bool { range.allSatisfy { $0 < b.count && isDigit(b[$0]) } }
        guard b.count >= 20, digits(0..<4), b[4] == UInt8(ascii: "-"), digits(5..<7), b[7] == UInt8(ascii: "-"),
            digits(8..<10), b[10] == UInt8(ascii: "T"), digits(11..<13), b[13] == UInt8(ascii: ":"),
            digits(14..<16), b[16] == UInt8(ascii: ":"), digits(17..<19)
        else { return false }
        var i = 19
        if b[i] == UInt8(ascii: ".") {
            guard digits(20..<23) else { return false }
            i = 23
        }
        guard i < b.count else { return false }
        if b[i] == UInt8(ascii: "Z") { return i + 1 == b.count }
        guard b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-"), b.count == i + 6, digits((i + 1)..<(i + 3)),
            b[i + 3] == UInt8(ascii: ":"), digits((i + 4)..<(i + 6))
        else { return false }
        return true
    }

    /// `D+.D+.D+`, then optionally `-fragment` and `+fragment`, a fragment being dot-separated
    /// runs of ASCII letters, digits and `-`.
    static func isSemVer(_ s: String) -> Bool {
        let b = Array(s.utf8)
        var i = 0
        func runOfDigits() -> Bool {
            let start = i
            while i < b.count, isDigit(b[i]) { i += 1 }
            return i > start
        }
        func fragment() -> Bool {
            while true {
                let start = i
                while i < b.count, isDigit(b[i]) || isLetter(b[i]) || b[i] == UInt8(ascii: "-") { i += 1 }
                if i == start { return false }
                guard i < b.count, b[i] == UInt8(ascii: ".") else { return true }
                i += 1
            }
        }
        guard runOfDigits(), i < b.count, b[i] == UInt8(ascii: ".") else { return false }
        i += 1
        guard runOfDigits(), i < b.count, b[i] == UInt8(ascii: ".") else { return false }
        i += 1
        guard runOfDigits() else { return false }
        if i < b.count, b[i] == UInt8(ascii: "-") {
            i += 1
            guard fragment() else { return false }
        }
        if i < b.count, b[i] == UInt8(ascii: "+") {
            i += 1
            guard fragment() else { return false }
        }
        return i == b.count
    }

    /// `[+-]?D+(.D*)?([eE][+-]?D+)?`, rewritten so that every number parser reads it the same:
    /// no leading `+`, no bare trailing `.`. Nil when `s` has another shape.
    static func number(_ s: String) -> String? {
        let b = Array(s.utf8)
        var i = 0
        var out = ""
        if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            if b[i] == UInt8(ascii: "-") { out += "-" }
            i += 1
        }
        var start = i
        while i < b.count, isDigit(b[i]) { i += 1 }
        guard i > start else { return nil }
        out += String(decoding: b[start..<i], as: UTF8.self)
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            start = i
            while i < b.count, isDigit(b[i]) { i += 1 }
            if i > start { out += "." + String(decoding: b[start..<i], as: UTF8.self) }
        }
        if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            i += 1
            var exponent = "e"
            if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
                if b[i] == UInt8(ascii: "-") { exponent += "-" }
                i += 1
            }
            start = i
            while i < b.count, isDigit(b[i]) { i += 1 }
            guard i > start else { return nil }
            out += exponent + String(decoding: b[start..<i], as: UTF8.self)
        }
        return i == b.count ? out : nil
    }

    static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    static func isLetter(_ c: UInt8) -> Bool { (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A }

    static func minusNanosecond(_ t: Instant) -> Instant {
        t.nanos == 0 ? Instant(seconds: t.seconds - 1, nanos: 999_999_999) : Instant(seconds: t.seconds, nanos: t.nanos - 1)
    }

    static func plusNanosecond(_ t: Instant) -> Instant {
        t.nanos == 999_999_999 ? Instant(seconds: t.seconds + 1, nanos: 0) : Instant(seconds: t.seconds, nanos: t.nanos + 1)
    }

    /// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
    static func literal(_ t: Instant) -> String {
        let whole = Timestamp.format(Instant(seconds: t.seconds, nanos: 0))
        let nanos = String(t.nanos)
        return String(whole.dropLast()) + "." + String(repeating: "0", count: 9 - nanos.count) + nanos + "Z"
    }
}
