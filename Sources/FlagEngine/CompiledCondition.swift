import FlagModel

/// A condition with its attribute resolved to a context slot and its values parsed.
indirect enum CompiledCondition: Sendable {
    case attribute(slot: Int, test: AttributeTest, negate: Bool)
    case segment(Int)
    case all([CompiledCondition])
    case any([CompiledCondition])
    case not(CompiledCondition)
    /// A condition that can never hold (an operand that did not parse in a snapshot read
    /// from elsewhere); the compiler never produces one.
    case never
}

enum NumberComparison: Sendable { case eq, gt, gte, lt, lte }

enum AttributeTest: Sendable {
    case membership(values: Set<String>, caseInsensitive: Bool, notIn: Bool)
    case contains([String], caseInsensitive: Bool)
    case startsWith([String], caseInsensitive: Bool)
    case endsWith([String], caseInsensitive: Bool)
    case regex(RegexMatcher)
    case number(NumberComparison, Double)
    case before(Instant)
    case after(Instant)
    case semver(NumberComparison, SemVer)
    case cidr([CIDR])
    case exists

    /// What a context must prepare for this test.
    func mark(_ needs: inout AttributeNeeds) {
        switch self {
        case .membership(_, let ci, _), .contains(_, let ci), .startsWith(_, let ci), .endsWith(_, let ci):
            if ci { needs.lowercase = true }
        case .regex, .exists: break
        case .number: needs.number = true
        case .before, .after: needs.instant = true
        case .semver: needs.semver = true
        case .cidr: needs.ip = true
        }
    }

    /// Unleash's rules: a missing value fails every test but `not_in`.
    func holds(_ slot: PreparedContext.Slot) -> Bool {
        guard slot.present else {
            if case .membership(_, _, true) = self { return true }
            return false
        }
        switch self {
        case .exists:
            return true
        case .membership(let values, let ci, let notIn):
            guard let text = ci ? slot.lowercased : slot.text else { return notIn }
            return values.contains(text) != notIn
        case .contains(let values, let ci):
            guard let text = ci ? slot.lowercased : slot.text else { return false }
            for v in values where UTF8Search.contains(text, v) { return true }
            return false
        case .startsWith(let values, let ci):
            guard let text = ci ? slot.lowercased : slot.text else { return false }
            for v in values where UTF8Search.hasPrefix(text, v) { return true }
            return false
        case .endsWith(let values, let ci):
            guard let text = ci ? slot.lowercased : slot.text else { return false }
            for v in values where UTF8Search.hasSuffix(text, v) { return true }
            return false
        case .regex(let matcher):
            guard let text = slot.text else { return false }
            return matcher.matches(text)
        case .number(let cmp, let operand):
            guard let n = slot.number else { return false }
            switch cmp {
            case .eq: return abs(n - operand) < Double.ulpOfOne
            case .gt: return n > operand
            case .gte: return n >= operand
            case .lt: return n < operand
            case .lte: return n <= operand
            }
        case .before(let instant):
            guard let t = slot.instant else { return false }
            return t < instant
        case .after(let instant):
            guard let t = slot.instant else { return false }
            return t > instant
        case .semver(let cmp, let operand):
            guard let v = slot.semver else { return false }
            switch cmp {
            case .eq: return v == operand
            case .gt: return v > operand
            case .gte: return v >= operand
            case .lt: return v < operand
            case .lte: return v <= operand
            }
        case .cidr(let ranges):
            guard let ip = slot.ip else { return false }
            for range in ranges where range.contains(ip) { return true }
            return false
        }
    }
}

/// Turns the model's conditions into compiled ones, interning attributes into slots.
struct ConditionCompiler {
    var attributes: [AttributeNeeds] = []
    var slotByName: [String: Int] = [:]
    let segmentIndex: [String: Int]

    init(segmentIndex: [String: Int]) {
        self.segmentIndex = segmentIndex
    }

    mutating func slot(for name: String) -> Int {
        if let s = slotByName[name] { return s }
        let s = attributes.count
        attributes.append(AttributeNeeds(name: name, path: name.split(separator: ".").map(String.init)))
        slotByName[name] = s
        return s
    }

    mutating func compile(_ conditions: [Condition]) -> [CompiledCondition] {
        conditions.map { compile($0) }
    }

    mutating func compile(_ condition: Condition) -> CompiledCondition {
        switch condition {
        case .segment(let key):
            guard let index = segmentIndex[key] else { return .never }
            return .segment(index)
        case .all(let items): return .all(compile(items))
        case .any(let items): return .any(compile(items))
        case .not(let inner): return .not(compile(inner))
        case .attribute(let c):
            guard let test = Self.test(for: c) else { return .never }
            let s = slot(for: c.attribute)
            test.mark(&attributes[s])
            return .attribute(slot: s, test: test, negate: c.negate)
        }
    }

    /// The parsed test, or nil when an operand does not parse.
    static func test(for c: AttributeCondition) -> AttributeTest? {
        let ci = c.caseInsensitive
        let values = ci ? c.values.map { $0.lowercased() } : c.values
        func single<T>(_ parse: (String) -> T?) -> T? {
            guard c.values.count == 1 else { return nil }
            return parse(c.values[0])
        }
        switch c.op {
        case .in: return .membership(values: Set(values), caseInsensitive: ci, notIn: false)
        case .notIn: return .membership(values: Set(values), caseInsensitive: ci, notIn: true)
        case .contains: return .contains(values, caseInsensitive: ci)
        case .startsWith: return .startsWith(values, caseInsensitive: ci)
        case .endsWith: return .endsWith(values, caseInsensitive: ci)
        case .matches:
            guard c.values.count == 1, let m = try? RegexMatcher(pattern: c.values[0], caseInsensitive: ci) else {
                return nil
            }
            return .regex(m)
        case .numEq, .numGt, .numGte, .numLt, .numLte:
            guard let n = single(NumberSyntax.parse) else { return nil }
            return .number(comparison(c.op), n)
        case .before:
            guard let t = single(Timestamp.parse) else { return nil }
            return .before(t)
        case .after:
            guard let t = single(Timestamp.parse) else { return nil }
            return .after(t)
        case .semverEq, .semverGt, .semverGte, .semverLt, .semverLte:
            guard let v = single({ SemVer($0) }) else { return nil }
            return .semver(comparison(c.op), v)
        case .inCIDR:
            let ranges = c.values.compactMap { CIDR($0) }
            return .cidr(ranges)
        case .exists:
            return .exists
        }
    }

    static func comparison(_ op: Operator) -> NumberComparison {
        switch op {
        case .numEq, .semverEq: .eq
        case .numGt, .semverGt: .gt
        case .numGte, .semverGte: .gte
        case .numLt, .semverLt: .lt
        default: .lte
        }
    }
}
