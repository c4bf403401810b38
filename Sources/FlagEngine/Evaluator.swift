import FlagModel

/// A snapshot compiled for evaluation. Build one per snapshot and share it: it is
/// immutable, and evaluating with a prepared context allocates nothing.
public final class Evaluator: @unchecked Sendable {
    public let snapshot: Snapshot
    public var version: String { snapshot.version }

    let flags: [CompiledFlag]
    /// Unmanaged twins of `flags`, which keeps them alive: evaluating retains no flag.
    let flagRefs: [Unmanaged<CompiledFlag>]
    let flagIndex: [String: Int]
    let segments: [CompiledSegment]
    /// Unmanaged twins of `segments`, which keeps them alive: walking segments retains nothing.
    let segmentRefs: [Unmanaged<CompiledSegment>]
    let attributes: [AttributeNeeds]
    /// `attributes`' names as bytes, for preparing a context straight from its JSON.
    let attributeNames: AttributeNameTable
    /// Whether some rollout or split buckets by `random`: only then does preparing a context
    /// draw a random number.
    let usesRandom: Bool
    /// Whether some flag or rule depends on the time (a window or a scheduled rollout): only
    /// then does preparing a context read `currentTime` for them.
    let usesTime: Bool
    /// Every instant at which some flag's outcome may change with time, sorted, unique.
    public let timeBoundaries: [Instant]

    public init(snapshot: Snapshot) {
        self.snapshot = snapshot
        var segmentIndex: [String: Int] = [:]
        for (i, s) in snapshot.segments.enumerated() { segmentIndex[s.key] = i }
        var flagIndex: [String: Int] = [:]
        for (i, f) in snapshot.flags.enumerated() { flagIndex[f.key] = i }
        var compiler = ConditionCompiler(segmentIndex: segmentIndex)
        segments = snapshot.segments.map { segment in
            CompiledSegment(include: segment.include, exclude: segment.exclude, when: compiler.compile(segment.when))
        }
        segmentRefs = segments.map { Unmanaged.passUnretained($0) }
        var flags: [CompiledFlag] = []
        flags.reserveCapacity(snapshot.flags.count)
        for flag in snapshot.flags {
            flags.append(CompiledFlag(flag, flags: snapshot.flags, flagIndex: flagIndex, compiler: &compiler))
        }
        self.flags = flags
        self.flagRefs = flags.map { Unmanaged.passUnretained($0) }
        self.flagIndex = flagIndex
        self.attributes = compiler.attributes
        self.attributeNames = AttributeNameTable(compiler.attributes)
        self.usesRandom = compiler.usesRandom
        self.usesTime = flags.contains { $0.usesTime }
        self.timeBoundaries = Array(Set(snapshot.flags.flatMap(TimeBoundaries.of))).sorted()
    }

    /// The keys of all flags, sorted.
    public var flagKeys: [String] { snapshot.flags.map(\.key) }

    public func flagType(_ key: String) -> FlagType? {
        flagIndex[key].map { flags[$0].type }
    }

    // MARK: Contexts

    /// Prepares `context` for evaluation. `now` is what `currentTime` means when the
    /// context does not set it.
    public func prepare(_ context: [String: Value], now: Instant) -> PreparedContext {
        var rng = SystemRandomNumberGenerator()
        return prepare(context, now: now, random: &rng)
    }

    public func prepare(
        _ context: [String: Value], now: Instant, random: inout some RandomNumberGenerator
    ) -> PreparedContext {
        PreparedContext.prepare(
            context, attributes: attributes, now: now, drawsRandom: usesRandom, readsTime: usesTime, random: &random)
    }

    // MARK: Time

    /// Whether what this snapshot serves may change with time alone.
    public var changesWithTime: Bool { !timeBoundaries.isEmpty }

    /// The first instant after `instant` at which some flag's outcome may change, if any.
    public func nextTimeBoundary(after instant: Instant) -> Instant? {
        let i = boundariesUpTo(instant)
        return i < timeBoundaries.count ? timeBoundaries[i] : nil
    }

    /// How many boundaries fall at or before `instant` (binary search).
    private func boundariesUpTo(_ instant: Instant) -> Int {
        var low = 0
        var high = timeBoundaries.count
        while low < high {
            let mid = (low + high) / 2
            if timeBoundaries[mid] <= instant { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// The keys of the flags whose outcome may change at `instant`, sorted.
    public func flagsChanging(at instant: Instant) -> [String] {
        snapshot.flags.filter { TimeBoundaries.of($0).contains(instant) }.map(\.key)
    }

    /// The last instant at or before `instant` at which some flag's outcome may have changed:
    /// what serving is like between two boundaries is named by the boundary it began at.
    public func lastTimeBoundary(atOrBefore instant: Instant) -> Instant? {
        let i = boundariesUpTo(instant)
        return i > 0 ? timeBoundaries[i - 1] : nil
    }

    // MARK: Evaluation

    /// Evaluates one flag. An unknown key gives `FLAG_NOT_FOUND`.
    public func evaluate(_ key: String, context: PreparedContext) -> EvaluationResult {
        guard let index = flagIndex[key] else {
            return .failure(
                key: key, code: .flagNotFound, message: "flag '\(key)' is not in this snapshot", version: version)
        }
        return evaluate(at: index, context: context)
    }

    /// Evaluates one flag, checking that it has the type the caller expects.
    public func evaluate(_ key: String, as type: FlagType, context: PreparedContext) -> EvaluationResult {
        guard let index = flagIndex[key] else {
            return .failure(
                key: key, code: .flagNotFound, message: "flag '\(key)' is not in this snapshot", version: version)
        }
        guard flags[index].type == type else {
            return .failure(
                key: key, code: .typeMismatch,
                message: "flag '\(key)' is of type \(flags[index].type.rawValue), not \(type.rawValue)",
                version: version)
        }
        return evaluate(at: index, context: context)
    }

    public func evaluateBoolean(_ key: String, context: PreparedContext) -> EvaluationResult {
        evaluate(key, as: .boolean, context: context)
    }

    public func evaluateString(_ key: String, context: PreparedContext) -> EvaluationResult {
        evaluate(key, as: .string, context: context)
    }

    public func evaluateNumber(_ key: String, context: PreparedContext) -> EvaluationResult {
        evaluate(key, as: .number, context: context)
    }

    public func evaluateJSON(_ key: String, context: PreparedContext) -> EvaluationResult {
        evaluate(key, as: .json, context: context)
    }

    /// Every flag for one context, in key order.
    public func evaluateAll(context: PreparedContext) -> [EvaluationResult] {
        var results: [EvaluationResult] = []
        results.reserveCapacity(flags.count)
        for i in flags.indices { results.append(evaluate(at: i, context: context)) }
        return results
    }

    func evaluate(at index: Int, context: PreparedContext) -> EvaluationResult {
        flagRefs[index]._withUnsafeGuaranteedRef { evaluate($0, context: context) }
    }

    /// Evaluates flag `index` (see `index(of:)`), also giving the decision behind the result:
    /// what a caller that counts decisions by index needs, with nothing more retained than
    /// `evaluate` retains.
    public func evaluate(at index: Int, context: PreparedContext, decision: inout Decision) -> EvaluationResult {
        flagRefs[index]._withUnsafeGuaranteedRef { flag in
            decision = decide(flag, context: context, depth: 0)
            return result(of: decision, flag)
        }
    }

    // MARK: Decisions by index

    /// The number of flags; flag indices run from 0 in the order of `flagKeys`.
    public var flagCount: Int { flags.count }

    /// The index of the flag named `key`, if the snapshot has it.
    public func index(of key: String) -> Int? { flagIndex[key] }

    /// Decides flag `index` for `context` without building a result: what a server that
    /// encodes answers from per-snapshot tables needs, and nothing that allocates. The
    /// decision's indices point into `variantNames(at:)` and `ruleNames(at:)`.
    public func decide(at index: Int, context: PreparedContext) -> Decision {
        flagRefs[index]._withUnsafeGuaranteedRef { decide($0, context: context, depth: 0) }
    }

    /// The result that `decision` stands for, as `evaluate` builds it.
    public func result(of decision: Decision, at index: Int) -> EvaluationResult {
        flagRefs[index]._withUnsafeGuaranteedRef { result(of: decision, $0) }
    }

    @inline(__always)
    func result(of decision: Decision, _ flag: CompiledFlag) -> EvaluationResult {
        let variant = decision.variant
        return EvaluationResult(
            key: flag.key, value: variant >= 0 ? flag.variantValues[variant] : nil,
            variant: variant >= 0 ? flag.variantNames[variant] : nil, reason: decision.reason,
            ruleIndex: decision.rule >= 0 ? decision.rule : nil,
            ruleName: decision.rule >= 0 ? flag.ruleNames[decision.rule] : nil, version: version)
    }

    public func flagKey(at index: Int) -> String { flags[index].key }
    /// Variant names of flag `index`, sorted; a decision's `variant` indexes this.
    public func variantNames(at index: Int) -> [String] { flags[index].variantNames }
    public func variantValues(at index: Int) -> [Value] { flags[index].variantValues }
    /// Rule names of flag `index` (nil for unnamed rules); a decision's `rule` indexes this.
    public func ruleNames(at index: Int) -> [String?] { flags[index].ruleNames }

    @inline(__always)
    func evaluate(_ flag: CompiledFlag, context: PreparedContext) -> EvaluationResult {
        result(of: decide(flag, context: context, depth: 0), flag)
    }

    typealias Outcome = Decision

    /// Prerequisite chains are acyclic (the compiler checks); the depth bound guards
    /// snapshots that arrive from elsewhere.
    func decide(_ flag: CompiledFlag, context: PreparedContext, depth: Int) -> Outcome {
        guard flag.enabled else { return Outcome(variant: flag.offVariant, reason: .disabled) }
        if flag.window.isBounded, !flag.window.contains(context.time) {
            return Outcome(variant: flag.offVariant, reason: .disabled)
        }
        if !flag.requires.isEmpty { return decideWithPrerequisites(flag, context: context, depth: depth) }
        return decideRules(flag, context: context)
    }

    func decideWithPrerequisites(_ flag: CompiledFlag, context: PreparedContext, depth: Int) -> Outcome {
        for prerequisite in flag.requires {
            guard depth < 32, prerequisite.flag >= 0 else {
                return Outcome(variant: flag.offVariant, reason: .prerequisiteFailed)
            }
            let required = flags[prerequisite.flag]
            let served = decide(required, context: context, depth: depth + 1).variant
            if !prerequisite.variants.contains(served) {
                return Outcome(variant: flag.offVariant, reason: .prerequisiteFailed)
            }
        }
        return decideRules(flag, context: context)
    }

    func decideRules(_ flag: CompiledFlag, context: PreparedContext) -> Outcome {
        for i in 0..<flag.rules.count {
            let rule = flag.rules[i]
            var percentage = rule.percentage
            if rule.timed {
                guard rule.window.contains(context.time) else { continue }
                if rule.schedule.isScheduled {
                    percentage = rule.schedule.percentage(at: context.time, flag.stepTimes, flag.stepPercentages)
                }
            }
            guard flag.conditions.allHold(rule.conditions, self, context, depth: 0) else { continue }
            if percentage >= 0 {
                guard let value = bucketValue(flag.by, rule.by, context),
                    Int(rule.hasher.hash(value) % 100) + 1 <= percentage
                else { continue }
            }
            return Outcome(variant: serve(rule.serve, flag, context), reason: rule.serve.isSplit ? .split : .targetingMatch, rule: i)
        }
        let d = flag.defaultServe
        return Outcome(
            variant: serve(d, flag, context), reason: d.isSplit ? .split : (flag.isStatic ? .static : .default))
    }

    @inline(__always)
    func serve(_ s: ServeRef, _ flag: CompiledFlag, _ context: PreparedContext) -> Int {
        s.isSplit ? choose(flag.splits[s.index], context) : s.index
    }

    func choose(_ split: CompiledSplit, _ context: PreparedContext) -> Int {
        guard !split.variants.isEmpty else { return -1 }
        guard let value = bucketValue(split.by, 0..<split.by.count, context), split.total > 0 else {
            return split.variants[0]
        }
        let target = Int(UInt64(split.hasher.hash(value)) % UInt64(split.total)) + 1
        var i = 0
        for running in split.runningTotals {
            if running >= target { return split.variants[i] }
            i += 1
        }
        return split.variants[split.variants.count - 1]
    }

    /// The first `by` attribute present, as text; `random` draws the context's random number.
    @inline(__always)
    func bucketValue(_ sources: [BucketSource], _ range: Range<Int>, _ context: PreparedContext) -> String? {
        for i in range {
            switch sources[i] {
            case .random: return context.randomText
            case .slot(let s):
                if context.slots[s].present, let text = context.slots[s].text { return text }
            }
        }
        return nil
    }


    /// Segment conditions may nest segments; the compiler rejects cycles, and the depth
    /// bound guards snapshots that arrive from elsewhere.
    func inSegment(_ index: Int, _ context: PreparedContext, depth: Int) -> Bool {
        segmentRefs[index]._withUnsafeGuaranteedRef { inSegment($0, context, depth: depth) }
    }

    @inline(__always)
    private func inSegment(_ segment: CompiledSegment, _ context: PreparedContext, depth: Int) -> Bool {
        if let key = context.targetingKey {
            if segment.exclude.contains(key) { return false }
            if segment.include.contains(key) { return true }
        }
        guard !segment.when.isEmpty, depth < 32 else { return false }
        return segment.when.allHold(self, context, depth: depth)
    }
}

/// What evaluating one flag decided. Variants are indices into the flag's variant table,
/// rules into its rules; -1 is none (a rule: no rule matched).
public struct Decision: Sendable, Hashable {
    public var variant: Int
    public var reason: Reason
    public var rule: Int

    public init(variant: Int, reason: Reason, rule: Int = -1) {
        self.variant = variant
        self.reason = reason
        self.rule = rule
    }
}

// MARK: - Compiled forms

enum BucketSource: Sendable {
    case slot(Int)
    case random
}

final class CompiledSplit: Sendable {
    /// Indices into the flag's variant tables.
    let variants: [Int]
    let runningTotals: [Int]
    let total: Int
    let by: [BucketSource]
    let hasher: BucketHasher

    init(variants: [Int], runningTotals: [Int], total: Int, by: [BucketSource], group: String) {
        self.variants = variants
        self.runningTotals = runningTotals
        self.total = total
        self.by = by
        self.hasher = BucketHasher(group: group, seed: Murmur3.variantSeed)
    }
}

/// What a rule or default serves: a variant index, or an index into the flag's splits.
struct ServeRef: Sendable {
    var isSplit: Bool
    var index: Int
}

/// murmur3 of `"<group>:<value>"` with the `"<group>:"` part hashed once, at compile time.
struct BucketHasher: Sendable {
    let prefix: Murmur3.Hasher

    init(group: String, seed: UInt32) {
        var h = Murmur3.Hasher(seed: seed)
        h.combine(group)
        h.combine(UInt8(ascii: ":"))
        prefix = h
    }

    @inline(__always)
    func hash(_ value: String) -> UInt32 {
        var h = prefix
        h.combine(value)
        return h.finalize()
    }
}

/// A rule as plain data, so walking the rules retains nothing: its conditions are a range
/// of the flag's condition list, its bucketing attributes a range of the flag's `by`.
struct RuleData: Sendable {
    var conditions: Range<Int>
    /// -1 when the rule has no rollout.
    var percentage: Int
    var by: Range<Int>
    var hasher: BucketHasher
    var serve: ServeRef
    /// Whether the rule has a window or a scheduled rollout.
    var timed: Bool
    var window: TimeWindow
    var schedule: CompiledSchedule
}

struct CompiledPrerequisite: Sendable {
    /// Index of the required flag; -1 when it is not in the snapshot (never satisfied).
    var flag: Int
    /// Indices into the required flag's variant tables.
    var variants: [Int]
}

final class CompiledSegment: Sendable {
    let include: KeySet
    let exclude: KeySet
    let when: NodeList

    init(include: [String], exclude: [String], when: [ConditionNode]) {
        self.include = KeySet(include)
        self.exclude = KeySet(exclude)
        self.when = NodeList(when)
    }
}

/// Targeting keys of a segment: short lists compare faster than they hash.
struct KeySet: Sendable {
    let keys: [String]
    let set: Set<String>?

    init(_ keys: [String]) {
        self.keys = keys
        self.set = keys.count > 8 ? Set(keys) : nil
    }

    @inline(__always)
    func contains(_ key: String) -> Bool {
        if let set { return set.contains(key) }
        for k in keys where k == key { return true }
        return false
    }
}

final class CompiledFlag: Sendable {
    let key: String
    let type: FlagType
    /// Variant names and values, sorted by name; outcomes are indices into these.
    let variantNames: [String]
    let variantValues: [Value]
    let enabled: Bool
    let offVariant: Int
    let defaultServe: ServeRef
    let requires: [CompiledPrerequisite]
    let rules: [RuleData]
    let ruleNames: [String?]
    /// The top-level conditions of every rule, in rule order.
    let conditions: NodeList
    /// The bucketing attributes of every rollout, in rule order.
    let by: [BucketSource]
    let splits: [CompiledSplit]
    let isStatic: Bool
    let window: TimeWindow
    /// The steps of every stepped rollout, in rule order; a rule's schedule names its range.
    let stepTimes: [Int64]
    let stepPercentages: [Int]
    var usesTime: Bool { window.isBounded || rules.contains { $0.timed } }

    static func variantTable(_ flag: Flag) -> [String] { flag.variants.keys.sorted() }

    init(_ flag: Flag, flags: [Flag], flagIndex: [String: Int], compiler: inout ConditionCompiler) {
        let names = Self.variantTable(flag)
        var indexOf: [String: Int] = [:]
        for (i, n) in names.enumerated() { indexOf[n] = i }
        func index(_ name: String) -> Int { indexOf[name] ?? -1 }
        func sources(_ by: [String]) -> [BucketSource] {
            by.map {
                if $0 == Bucketing.random {
                    compiler.usesRandom = true
                    return .random
                }
                let s = compiler.slot(for: $0)
                compiler.attributes[s].text = true
                return .slot(s)
            }
        }
        var splits: [CompiledSplit] = []
        func serve(_ s: Serve) -> ServeRef {
            switch s {
            case .variant(let v): return ServeRef(isSplit: false, index: index(v))
            case .split(let split):
                var running = 0
                var totals: [Int] = []
                for w in split.weights {
                    running += w.weight
                    totals.append(running)
                }
                splits.append(
                    CompiledSplit(
                        variants: split.weights.map { index($0.variant) }, runningTotals: totals, total: running,
                        by: sources(split.bucketing.by), group: split.bucketing.group))
                return ServeRef(isSplit: true, index: splits.count - 1)
            }
        }
        key = flag.key
        type = flag.type
        variantNames = names
        variantValues = names.map { flag.variants[$0]! }
        enabled = flag.enabled
        offVariant = index(flag.offVariant)
        isStatic = flag.isStatic
        defaultServe = serve(flag.defaultServe)
        requires = flag.requires.map { p in
            guard let i = flagIndex[p.flag] else { return CompiledPrerequisite(flag: -1, variants: []) }
            let required = Self.variantTable(flags[i])
            return CompiledPrerequisite(flag: i, variants: p.variants.compactMap { required.firstIndex(of: $0) })
        }
        var rules: [RuleData] = []
        var nodes: [ConditionNode] = []
        var by: [BucketSource] = []
        var stepTimes: [Int64] = []
        var stepPercentages: [Int] = []
        for rule in flag.rules {
            let start = nodes.count
            nodes += compiler.compile(rule.when)
            let byStart = by.count
            var percentage = -1
            var hasher = BucketHasher(group: flag.key, seed: Murmur3.rolloutSeed)
            var schedule = CompiledSchedule.none
            if let rollout = rule.rollout {
                percentage = rollout.percentage
                by += sources(rollout.bucketing.by)
                hasher = BucketHasher(group: rollout.bucketing.group, seed: Murmur3.rolloutSeed)
                schedule = CompiledSchedule(rollout, stepTimes: &stepTimes, stepPercentages: &stepPercentages)
            }
            let window = TimeWindow(rule.window)
            rules.append(
                RuleData(
                    conditions: start..<nodes.count, percentage: percentage, by: byStart..<by.count, hasher: hasher,
                    serve: serve(rule.serve), timed: window.isBounded || schedule.isScheduled, window: window,
                    schedule: schedule))
        }
        self.window = TimeWindow(flag.window)
        self.stepTimes = stepTimes
        self.stepPercentages = stepPercentages
        self.rules = rules
        self.ruleNames = flag.rules.map(\.name)
        self.conditions = NodeList(nodes)
        self.by = by
        self.splits = splits
    }
}
