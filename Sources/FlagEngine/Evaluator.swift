import FlagModel

/// A snapshot compiled for evaluation. Build one per snapshot and share it: it is
/// immutable, and evaluating with a prepared context allocates nothing.
public final class Evaluator: Sendable {
    public let snapshot: Snapshot
    public var version: String { snapshot.version }

    let flags: [CompiledFlag]
    let flagIndex: [String: Int]
    let segments: [CompiledSegment]
    let attributes: [AttributeNeeds]

    public init(snapshot: Snapshot) {
        self.snapshot = snapshot
        var segmentIndex: [String: Int] = [:]
        for (i, s) in snapshot.segments.enumerated() { segmentIndex[s.key] = i }
        var flagIndex: [String: Int] = [:]
        for (i, f) in snapshot.flags.enumerated() { flagIndex[f.key] = i }
        var compiler = ConditionCompiler(segmentIndex: segmentIndex)
        segments = snapshot.segments.map { segment in
            CompiledSegment(
                include: Set(segment.include), exclude: Set(segment.exclude),
                when: compiler.compile(segment.when))
        }
        var flags: [CompiledFlag] = []
        flags.reserveCapacity(snapshot.flags.count)
        for flag in snapshot.flags {
            flags.append(CompiledFlag(flag, flagIndex: flagIndex, compiler: &compiler))
        }
        self.flags = flags
        self.flagIndex = flagIndex
        self.attributes = compiler.attributes
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
        PreparedContext.prepare(context, attributes: attributes, now: now, random: &random)
    }

    // MARK: Evaluation

    /// Evaluates one flag. An unknown key gives `FLAG_NOT_FOUND`.
    public func evaluate(_ key: String, context: borrowing PreparedContext) -> EvaluationResult {
        guard let index = flagIndex[key] else {
            return .failure(
                key: key, code: .flagNotFound, message: "flag '\(key)' is not in this snapshot", version: version)
        }
        return evaluate(at: index, context: context)
    }

    /// Evaluates one flag, checking that it has the type the caller expects.
    public func evaluate(_ key: String, as type: FlagType, context: borrowing PreparedContext) -> EvaluationResult {
        guard let index = flagIndex[key] else {
            return .failure(
                key: key, code: .flagNotFound, message: "flag '\(key)' is not in this snapshot", version: version)
        }
        let flag = flags[index]
        guard flag.type == type else {
            return .failure(
                key: key, code: .typeMismatch,
                message: "flag '\(key)' is of type \(flag.type.rawValue), not \(type.rawValue)", version: version)
        }
        return evaluate(at: index, context: context)
    }

    public func evaluateBoolean(_ key: String, context: borrowing PreparedContext) -> EvaluationResult {
        evaluate(key, as: .boolean, context: context)
    }

    public func evaluateString(_ key: String, context: borrowing PreparedContext) -> EvaluationResult {
        evaluate(key, as: .string, context: context)
    }

    public func evaluateNumber(_ key: String, context: borrowing PreparedContext) -> EvaluationResult {
        evaluate(key, as: .number, context: context)
    }

    public func evaluateJSON(_ key: String, context: borrowing PreparedContext) -> EvaluationResult {
        evaluate(key, as: .json, context: context)
    }

    /// Every flag for one context, in key order.
    public func evaluateAll(context: borrowing PreparedContext) -> [EvaluationResult] {
        var results: [EvaluationResult] = []
        results.reserveCapacity(flags.count)
        for i in flags.indices { results.append(evaluate(at: i, context: context)) }
        return results
    }

    func evaluate(at index: Int, context: borrowing PreparedContext) -> EvaluationResult {
        let flag = flags[index]
        let outcome = decide(index, context: context, depth: 0)
        let variant = outcome.variant
        return EvaluationResult(
            key: flag.key, value: flag.variants[variant], variant: variant, reason: outcome.reason,
            ruleIndex: outcome.rule, ruleName: outcome.rule.flatMap { flag.rules[$0].name }, version: version)
    }

    struct Outcome {
        var variant: String
        var reason: Reason
        var rule: Int?
    }

    /// Prerequisite chains are acyclic (the compiler checks); the depth bound guards
    /// snapshots that arrive from elsewhere.
    func decide(_ index: Int, context: borrowing PreparedContext, depth: Int) -> Outcome {
        let flag = flags[index]
        guard flag.enabled else { return Outcome(variant: flag.offVariant, reason: .disabled) }
        for prerequisite in flag.requires {
            guard depth < 32, let required = prerequisite.flag else {
                return Outcome(variant: flag.offVariant, reason: .prerequisiteFailed)
            }
            let served = decide(required, context: context, depth: depth + 1).variant
            if !prerequisite.variants.contains(served) {
                return Outcome(variant: flag.offVariant, reason: .prerequisiteFailed)
            }
        }
        for (i, rule) in flag.rules.enumerated() {
            guard holds(rule.when, context) else { continue }
            if let rollout = rule.rollout {
                guard let value = bucketValue(rollout.by, context),
                    Murmur3.rolloutBucket(group: rollout.group, value: value) <= rollout.percentage
                else { continue }
            }
            switch rule.serve {
            case .variant(let v): return Outcome(variant: v, reason: .targetingMatch, rule: i)
            case .split(let split): return Outcome(variant: choose(split, context), reason: .split, rule: i)
            }
        }
        switch flag.defaultServe {
        case .variant(let v): return Outcome(variant: v, reason: flag.isStatic ? .static : .default)
        case .split(let split): return Outcome(variant: choose(split, context), reason: .split)
        }
    }

    func choose(_ split: CompiledSplit, _ context: borrowing PreparedContext) -> String {
        guard let value = bucketValue(split.by, context), split.total > 0 else { return split.variants[0] }
        let target = Murmur3.splitTarget(group: split.group, value: value, total: split.total)
        for (i, running) in split.runningTotals.enumerated() where running >= target {
            return split.variants[i]
        }
        return split.variants[split.variants.count - 1]
    }

    /// The first `by` attribute present, as text; `random` draws the context's random number.
    func bucketValue(_ by: [BucketSource], _ context: borrowing PreparedContext) -> String? {
        for source in by {
            switch source {
            case .random: return context.randomText
            case .slot(let s):
                let slot = context.slots[s]
                if slot.present, let text = slot.text { return text }
            }
        }
        return nil
    }

    func holds(_ conditions: [CompiledCondition], _ context: borrowing PreparedContext) -> Bool {
        for c in conditions where !holds(c, context) { return false }
        return true
    }

    func holds(_ condition: CompiledCondition, _ context: borrowing PreparedContext) -> Bool {
        switch condition {
        case .attribute(let slot, let test, let negate):
            return test.holds(context.slots[slot]) != negate
        case .segment(let index):
            return inSegment(index, context, depth: 0)
        case .all(let items):
            return holds(items, context)
        case .any(let items):
            for c in items where holds(c, context) { return true }
            return false
        case .not(let inner):
            return !holds(inner, context)
        case .never:
            return false
        }
    }

    func inSegment(_ index: Int, _ context: borrowing PreparedContext, depth: Int) -> Bool {
        let segment = segments[index]
        if let key = context.targetingKey {
            if segment.exclude.contains(key) { return false }
            if segment.include.contains(key) { return true }
        }
        guard !segment.when.isEmpty, depth < 32 else { return false }
        return holds(segment.when, context)
    }
}

// MARK: - Compiled forms

enum BucketSource: Sendable {
    case slot(Int)
    case random
}

struct CompiledSplit: Sendable {
    var variants: [String]
    var runningTotals: [Int]
    var total: Int
    var by: [BucketSource]
    var group: String
}

enum CompiledServe: Sendable {
    case variant(String)
    case split(CompiledSplit)
}

struct CompiledRollout: Sendable {
    var percentage: Int
    var by: [BucketSource]
    var group: String
}

struct CompiledRule: Sendable {
    var name: String?
    var when: [CompiledCondition]
    var rollout: CompiledRollout?
    var serve: CompiledServe
}

struct CompiledPrerequisite: Sendable {
    /// Index of the required flag; nil when it is not in the snapshot (never satisfied).
    var flag: Int?
    var variants: [String]
}

struct CompiledSegment: Sendable {
    var include: Set<String>
    var exclude: Set<String>
    var when: [CompiledCondition]
}

struct CompiledFlag: Sendable {
    var key: String
    var type: FlagType
    var variants: [String: Value]
    var enabled: Bool
    var offVariant: String
    var defaultServe: CompiledServe
    var requires: [CompiledPrerequisite]
    var rules: [CompiledRule]
    var isStatic: Bool

    init(_ flag: Flag, flagIndex: [String: Int], compiler: inout ConditionCompiler) {
        func sources(_ by: [String]) -> [BucketSource] {
            by.map { $0 == Bucketing.random ? .random : .slot(compiler.slot(for: $0)) }
        }
        func serve(_ s: Serve) -> CompiledServe {
            switch s {
            case .variant(let v): return .variant(v)
            case .split(let split):
                var running = 0
                var totals: [Int] = []
                for w in split.weights {
                    running += w.weight
                    totals.append(running)
                }
                return .split(
                    CompiledSplit(
                        variants: split.weights.map(\.variant), runningTotals: totals, total: running,
                        by: sources(split.bucketing.by), group: split.bucketing.group))
            }
        }
        key = flag.key
        type = flag.type
        variants = flag.variants
        enabled = flag.enabled
        offVariant = flag.offVariant
        isStatic = flag.isStatic
        defaultServe = serve(flag.defaultServe)
        requires = flag.requires.map { CompiledPrerequisite(flag: flagIndex[$0.flag], variants: $0.variants) }
        var rules: [CompiledRule] = []
        for rule in flag.rules {
            let rollout = rule.rollout.map {
                CompiledRollout(percentage: $0.percentage, by: sources($0.bucketing.by), group: $0.bucketing.group)
            }
            rules.append(
                CompiledRule(name: rule.name, when: compiler.compile(rule.when), rollout: rollout, serve: serve(rule.serve)))
        }
        self.rules = rules
    }
}
