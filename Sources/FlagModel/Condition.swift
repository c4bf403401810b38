/// A targeting condition. `when:` lists are conjunctions of these.
public indirect enum Condition: Sendable, Hashable {
    case attribute(AttributeCondition)
    case segment(String)
    case all([Condition])
    case any([Condition])
    case not(Condition)
}

/// `{ attribute: A, op: OP, values: [...], case_insensitive, negate }`.
///
/// Values are kept as text, the way Unleash keeps them: numbers as JSON writes them.
public struct AttributeCondition: Sendable, Hashable {
    public var attribute: String
    public var op: Operator
    public var values: [String]
    public var caseInsensitive: Bool
    public var negate: Bool

    public init(attribute: String, op: Operator, values: [String], caseInsensitive: Bool = false, negate: Bool = false) {
        self.attribute = attribute
        self.op = op
        self.values = values
        self.caseInsensitive = caseInsensitive
        self.negate = negate
    }
}

/// The operators of the flag language, with Unleash's semantics.
public enum Operator: String, Sendable, Hashable, CaseIterable {
    case `in`, notIn = "not_in"
    case contains, startsWith = "starts_with", endsWith = "ends_with", matches
    case numEq = "num_eq", numGt = "num_gt", numGte = "num_gte", numLt = "num_lt", numLte = "num_lte"
    case before, after
    case semverEq = "semver_eq", semverGt = "semver_gt", semverGte = "semver_gte"
    case semverLt = "semver_lt", semverLte = "semver_lte"
    case inCIDR = "in_cidr"
    case exists

    public enum Family: Sendable, Hashable {
        case membership, string, regex, number, date, semver, cidr, existence
    }

    public var family: Family {
        switch self {
        case .in, .notIn: .membership
        case .contains, .startsWith, .endsWith: .string
        case .matches: .regex
        case .numEq, .numGt, .numGte, .numLt, .numLte: .number
        case .before, .after: .date
        case .semverEq, .semverGt, .semverGte, .semverLt, .semverLte: .semver
        case .inCIDR: .cidr
        case .exists: .existence
        }
    }

    /// Operators that compare against exactly one value.
    public var takesSingleValue: Bool {
        switch family {
        case .regex, .number, .date, .semver: true
        default: false
        }
    }

    /// Whether `case_insensitive` means anything for this operator.
    public var honoursCaseInsensitive: Bool {
        switch self {
        case .in, .notIn, .contains, .startsWith, .endsWith, .matches: true
        default: false
        }
    }
}

/// A named set of users: listed keys, and the users the conditions describe.
public struct Segment: Sendable, Hashable {
    public var key: String
    public var name: String
    public var description: String?
    /// Targeting keys always in (sorted, unique).
    public var include: [String]
    /// Targeting keys always out; wins over `include` and `when` (sorted, unique).
    public var exclude: [String]
    /// All must hold; empty means nobody but `include`.
    public var when: [Condition]

    public init(
        key: String, name: String? = nil, description: String? = nil, include: [String] = [],
        exclude: [String] = [], when: [Condition] = []
    ) {
        self.key = key
        self.name = name ?? key
        self.description = description
        self.include = include
        self.exclude = exclude
        self.when = when
    }
}
