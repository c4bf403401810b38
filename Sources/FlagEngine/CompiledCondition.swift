import FlagModel

// Compiled conditions are immutable class trees: one virtual call per node, operands held
// by the node itself, so evaluation neither copies payloads nor hashes where a short list
// compares faster.

/// A compiled condition.
class ConditionNode: @unchecked Sendable {
    func holds(_ evaluator: Evaluator, _ context: PreparedContext, depth: Int) -> Bool { false }
}

/// Never holds: a condition whose operand did not parse in a snapshot read from elsewhere
/// (the compiler never produces one).
final class NeverNode: ConditionNode, @unchecked Sendable {}

/// Condition nodes in a list that evaluation walks without retaining each node: `refs`
/// are unmanaged twins of `nodes`, which keeps them alive for as long as the list lives.
/// (A strong binding per node cost a retain and a release per condition, about a third of
/// an evaluation.)
struct NodeList: @unchecked Sendable {
    let nodes: [ConditionNode]
    let refs: [Unmanaged<ConditionNode>]

    init(_ nodes: [ConditionNode]) {
        self.nodes = nodes
        self.refs = nodes.map { Unmanaged.passUnretained($0) }
    }

    var isEmpty: Bool { nodes.isEmpty }

    /// Every node in `range` holds.
    @inline(__always)
    func allHold(_ range: Range<Int>, _ evaluator: Evaluator, _ context: PreparedContext, depth: Int) -> Bool {
        for i in range where !refs[i]._withUnsafeGuaranteedRef({ $0.holds(evaluator, context, depth: depth) }) {
            return false
        }
        return true
    }

    @inline(__always)
    func allHold(_ evaluator: Evaluator, _ context: PreparedContext, depth: Int) -> Bool {
        allHold(0..<refs.count, evaluator, context, depth: depth)
    }

    @inline(__always)
    func anyHolds(_ evaluator: Evaluator, _ context: PreparedContext, depth: Int) -> Bool {
        for i in 0..<refs.count where refs[i]._withUnsafeGuaranteedRef({ $0.holds(evaluator, context, depth: depth) }) {
            return true
        }
        return false
    }
}

final class AllNode: ConditionNode, @unchecked Sendable {
    let children: NodeList
    init(_ children: [ConditionNode]) { self.children = NodeList(children) }

    override func holds(_ evaluator: Evaluator, _ context: PreparedContext, depth: Int) -> Bool {
        children.allHold(evaluator, context, depth: depth)
    }
}

final class AnyNode: ConditionNode, @unchecked Sendable {
    let children: NodeList
    init(_ children: [ConditionNode]) { self.children = NodeList(children) }

    override func holds(_ evaluator: Evaluator, _ context: PreparedContext, depth: Int) -> Bool {
        children.anyHolds(evaluator, context, depth: depth)
    }
}

final class NotNode: ConditionNode, @unchecked Sendable {
    let inner: ConditionNode
    init(_ inner: ConditionNode) { self.inner = inner }

    override func holds(_ evaluator: Evaluator, _ context: PreparedContext, depth: Int) -> Bool {
        !inner.holds(evaluator, context, depth: depth)
    }
}

final class SegmentNode: ConditionNode, @unchecked Sendable {
    let index: Int
    init(_ index: Int) { self.index = index }

    override func holds(_ evaluator: Evaluator, _ context: PreparedContext, depth: Int) -> Bool {
        evaluator.inSegment(index, context, depth: depth + 1)
    }
}

/// An attribute condition: Unleash's rules for a missing value (false, but true for
/// `not_in`), then the operator, then `negate`.
class AttributeNode: ConditionNode, @unchecked Sendable {
    let slot: Int
    let negate: Bool
    /// The answer, before `negate`, when the attribute is missing.
    let whenMissing: Bool

    init(slot: Int, negate: Bool, whenMissing: Bool = false) {
        self.slot = slot
        self.negate = negate
        self.whenMissing = whenMissing
    }

    override final func holds(_ evaluator: Evaluator, _ context: PreparedContext, depth: Int) -> Bool {
        guard context.slots[slot].present else { return whenMissing != negate }
        return test(context) != negate
    }

    /// The operator on a present value (`context.slots[slot]`). Fields are read one at a
    /// time, so a slot is never copied whole.
    func test(_ context: PreparedContext) -> Bool { false }

    /// What a context must prepare for this node's attribute.
    func mark(_ needs: inout AttributeNeeds) {}
}

final class ExistsNode: AttributeNode, @unchecked Sendable {
    override func test(_ context: PreparedContext) -> Bool { true }
}

final class MembershipNode: AttributeNode, @unchecked Sendable {
    let values: [String]
    /// For long lists only; short ones compare faster than they hash.
    let set: Set<String>?
    let caseInsensitive: Bool
    let notIn: Bool

    init(slot: Int, negate: Bool, values: [String], caseInsensitive: Bool, notIn: Bool) {
        self.values = values
        self.set = values.count > 8 ? Set(values) : nil
        self.caseInsensitive = caseInsensitive
        self.notIn = notIn
        super.init(slot: slot, negate: negate, whenMissing: notIn)
    }

    override func test(_ context: PreparedContext) -> Bool {
        guard let text = caseInsensitive ? context.slots[slot].lowercased : context.slots[slot].text else { return notIn }
        if let set { return set.contains(text) != notIn }
        for v in values where v == text { return !notIn }
        return notIn
    }

    override func mark(_ needs: inout AttributeNeeds) {
        needs.text = true
        if caseInsensitive { needs.lowercase = true }
    }
}

final class SubstringNode: AttributeNode, @unchecked Sendable {
    enum Kind { case contains, prefix, suffix }
    let kind: Kind
    let values: [String]
    let caseInsensitive: Bool

    init(slot: Int, negate: Bool, kind: Kind, values: [String], caseInsensitive: Bool) {
        self.kind = kind
        self.values = values
        self.caseInsensitive = caseInsensitive
        super.init(slot: slot, negate: negate)
    }

    override func test(_ context: PreparedContext) -> Bool {
        guard let text = caseInsensitive ? context.slots[slot].lowercased : context.slots[slot].text else { return false }
        for v in values {
            let hit: Bool
            switch kind {
            case .contains: hit = UTF8Search.contains(text, v)
            case .prefix: hit = UTF8Search.hasPrefix(text, v)
            case .suffix: hit = UTF8Search.hasSuffix(text, v)
            }
            if hit { return true }
        }
        return false
    }

    override func mark(_ needs: inout AttributeNeeds) {
        needs.text = true
        if caseInsensitive { needs.lowercase = true }
    }
}

final class MatchesNode: AttributeNode, @unchecked Sendable {
    let matcher: RegexMatcher

    init(slot: Int, negate: Bool, matcher: RegexMatcher) {
        self.matcher = matcher
        super.init(slot: slot, negate: negate)
    }

    override func test(_ context: PreparedContext) -> Bool {
        guard let text = context.slots[slot].text else { return false }
        return matcher.matches(text)
    }

    override func mark(_ needs: inout AttributeNeeds) { needs.text = true }
}

enum Comparison: Sendable {
    case eq, gt, gte, lt, lte

    init(_ op: Operator) {
        switch op {
        case .numEq, .semverEq: self = .eq
        case .numGt, .semverGt, .after: self = .gt
        case .numGte, .semverGte: self = .gte
        case .numLt, .semverLt, .before: self = .lt
        default: self = .lte
        }
    }

    @inline(__always)
    func holds<T: Comparable>(_ a: T, _ b: T) -> Bool {
        switch self {
        case .eq: a == b
        case .gt: a > b
        case .gte: a >= b
        case .lt: a < b
        case .lte: a <= b
        }
    }
}

final class NumberNode: AttributeNode, @unchecked Sendable {
    let comparison: Comparison
    let operand: Double

    init(slot: Int, negate: Bool, comparison: Comparison, operand: Double) {
        self.comparison = comparison
        self.operand = operand
        super.init(slot: slot, negate: negate)
    }

    override func test(_ context: PreparedContext) -> Bool {
        guard let n = context.slots[slot].number else { return false }
        // Unleash compares equality within one ulp of 1, so "12.0" equals 12.
        if comparison == .eq { return abs(n - operand) < Double.ulpOfOne }
        return comparison.holds(n, operand)
    }

    override func mark(_ needs: inout AttributeNeeds) { needs.number = true }
}

final class DateNode: AttributeNode, @unchecked Sendable {
    let comparison: Comparison
    let operand: Instant

    init(slot: Int, negate: Bool, comparison: Comparison, operand: Instant) {
        self.comparison = comparison
        self.operand = operand
        super.init(slot: slot, negate: negate)
    }

    override func test(_ context: PreparedContext) -> Bool {
        guard let t = context.slots[slot].instant else { return false }
        return comparison.holds(t, operand)
    }

    override func mark(_ needs: inout AttributeNeeds) { needs.instant = true }
}

final class SemVerNode: AttributeNode, @unchecked Sendable {
    let comparison: Comparison
    let operand: SemVer

    init(slot: Int, negate: Bool, comparison: Comparison, operand: SemVer) {
        self.comparison = comparison
        self.operand = operand
        super.init(slot: slot, negate: negate)
    }

    override func test(_ context: PreparedContext) -> Bool {
        guard let v = context.slots[slot].semver else { return false }
        return comparison.holds(v, operand)
    }

    override func mark(_ needs: inout AttributeNeeds) { needs.semver = true }
}

final class CIDRNode: AttributeNode, @unchecked Sendable {
    let ranges: [CIDR]

    init(slot: Int, negate: Bool, ranges: [CIDR]) {
        self.ranges = ranges
        super.init(slot: slot, negate: negate)
    }

    override func test(_ context: PreparedContext) -> Bool {
        guard let ip = context.slots[slot].ip else { return false }
        for range in ranges where range.contains(ip) { return true }
        return false
    }

    override func mark(_ needs: inout AttributeNeeds) { needs.ip = true }
}

/// Turns the model's conditions into compiled ones, interning attributes into slots.
struct ConditionCompiler {
    var attributes: [AttributeNeeds] = []
    var slotByName: [String: Int] = [:]
    let segmentIndex: [String: Int]
    /// Set when some rollout or split buckets by `random`.
    var usesRandom = false

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

    mutating func compile(_ conditions: [Condition]) -> [ConditionNode] {
        conditions.map { compile($0) }
    }

    mutating func compile(_ condition: Condition) -> ConditionNode {
        switch condition {
        case .segment(let key):
            guard let index = segmentIndex[key] else { return NeverNode() }
            return SegmentNode(index)
        case .all(let items): return AllNode(compile(items))
        case .any(let items): return AnyNode(compile(items))
        case .not(let inner): return NotNode(compile(inner))
        case .attribute(let c):
            let s = slot(for: c.attribute)
            guard let node = Self.node(for: c, slot: s) else { return NeverNode() }
            node.mark(&attributes[s])
            return node
        }
    }

    /// The node for an attribute condition, or nil when an operand does not parse.
    static func node(for c: AttributeCondition, slot: Int) -> AttributeNode? {
        let ci = c.caseInsensitive && c.op.honoursCaseInsensitive
        let values = ci ? c.values.map { $0.lowercased() } : c.values
        let single = c.values.count == 1 ? c.values[0] : nil
        let negate = c.negate
        switch c.op {
        case .in, .notIn:
            return MembershipNode(slot: slot, negate: negate, values: values, caseInsensitive: ci, notIn: c.op == .notIn)
        case .contains:
            return SubstringNode(slot: slot, negate: negate, kind: .contains, values: values, caseInsensitive: ci)
        case .startsWith:
            return SubstringNode(slot: slot, negate: negate, kind: .prefix, values: values, caseInsensitive: ci)
        case .endsWith:
            return SubstringNode(slot: slot, negate: negate, kind: .suffix, values: values, caseInsensitive: ci)
        case .matches:
            guard let single, let m = try? RegexMatcher(pattern: single, caseInsensitive: ci) else { return nil }
            return MatchesNode(slot: slot, negate: negate, matcher: m)
        case .numEq, .numGt, .numGte, .numLt, .numLte:
            guard let n = single.flatMap(NumberSyntax.parse) else { return nil }
            return NumberNode(slot: slot, negate: negate, comparison: Comparison(c.op), operand: n)
        case .before, .after:
            guard let t = single.flatMap(Timestamp.parse) else { return nil }
            return DateNode(slot: slot, negate: negate, comparison: Comparison(c.op), operand: t)
        case .semverEq, .semverGt, .semverGte, .semverLt, .semverLte:
            guard let v = single.flatMap({ SemVer($0) }) else { return nil }
            return SemVerNode(slot: slot, negate: negate, comparison: Comparison(c.op), operand: v)
        case .inCIDR:
            return CIDRNode(slot: slot, negate: negate, ranges: c.values.compactMap { CIDR($0) })
        case .exists:
            return ExistsNode(slot: slot, negate: negate)
        }
    }
}
