import FlagModel

/// Finds the one rollout or split change of a flag whose serving is otherwise unchanged, and
/// computes exactly which share of its bucket space changes variant.
enum BucketEffects {
    enum Change {
        case rollout(rule: Int, from: Int, to: Int)
        case split(rule: Int?, from: Split, to: Split)
    }

    /// The effect of changing `base` into `head`, or nil when anything but rollout
    /// percentages and split weights changed how the flag serves, when more than one of
    /// those changed, or when the change cannot be counted exactly.
    static func effect(_ base: Flag, _ head: Flag) -> BucketEffect? {
        guard let changes = bucketedChanges(base, head), changes.count == 1 else { return nil }
        let change = changes[0]
        let population: String
        switch change {
        case .rollout(let i, _, _): population = "users matching \(Describe.rulePath(i, head.rules[i]))"
        case .split(let i?, _, _): population = "users served the split of \(Describe.rulePath(i, head.rules[i]))"
        case .split(nil, _, _): population = "users served the default split"
        }
        if !head.enabled {
            return BucketEffect(
                share: 0, transitions: [], population: population,
                description: "nobody changes variant: the flag is disabled")
        }
        switch change {
        case .rollout(let i, let a, let b):
            return rolloutEffect(head, rule: i, from: a, to: b, population: population)
        case .split(_, let a, let b):
            guard let moved = BucketMath.splitTransitions(a, b) else { return nil }
            var transitions = moved.map { pair, count in
                Transition(
                    flag: head.key, from: pair.from, to: pair.to, count: Int(count),
                    share: Double(count) / Double(BucketMath.space))
            }
            transitions.sort(by: Transition.ordered)
            let total = moved.values.reduce(0, +)
            let share = Double(total) / Double(BucketMath.space)
            let description: String
            switch transitions.count {
            case 0: description = "nobody among \(population) changes variant"
            case 1:
                let only = transitions[0]
                description = "\(Describe.percent(share)) of \(population) change from \(only.from!) to \(only.to!)"
            default:
                let parts = transitions.map { "\($0.from!) → \($0.to!) \(Describe.percent($0.share))" }
                description =
                    "\(Describe.percent(share)) of \(population) change variant: " + parts.joined(separator: ", ")
            }
            return BucketEffect(
                share: share, transitions: transitions, population: population, description: description)
        }
    }

    /// A rollout moves a band of buckets between the rule's variant and whatever the context
    /// falls through to; that is known only when every later rule and the default serve one
    /// and the same plain variant.
    private static func rolloutEffect(
        _ flag: Flag, rule i: Int, from a: Int, to b: Int, population: String
    )
        -> BucketEffect?
    {
        guard case .variant(let served) = flag.rules[i].serve, let fallThrough = fallThrough(flag, after: i) else {
            return nil
        }
        if served == fallThrough {
            return BucketEffect(
                share: 0, transitions: [], population: population,
                description: "nobody changes variant: the rule and what follows it both serve \(served)")
        }
        let band = BucketMath.rolloutBand(a, b)
        let share = Double(band) / Double(BucketMath.space)
        let (from, to) = b > a ? (fallThrough, served) : (served, fallThrough)
        let transition = Transition(flag: flag.key, from: from, to: to, count: Int(band), share: share)
        return BucketEffect(
            share: share, transitions: band == 0 ? [] : [transition], population: population,
            description: "\(Describe.percent(share)) of \(population) change from \(from) to \(to)")
    }

    private static func fallThrough(_ flag: Flag, after i: Int) -> String? {
        guard case .variant(let d) = flag.defaultServe else { return nil }
        for rule in flag.rules[(i + 1)...] {
            guard case .variant(let v) = rule.serve, v == d else { return nil }
        }
        return d
    }

    /// The rollout and split-weight changes between two flags that serve alike otherwise;
    /// nil when anything else that decides a variant differs.
    static func bucketedChanges(_ b: Flag, _ h: Flag) -> [Change]? {
        guard b.type == h.type, b.variants == h.variants, b.enabled == h.enabled, b.offVariant == h.offVariant,
            b.requires == h.requires, b.rules.count == h.rules.count, b.window == h.window
        else { return nil }
        var changes: [Change] = []
        for i in h.rules.indices {
            let br = b.rules[i]
            let hr = h.rules[i]
            guard br.when == hr.when, br.window == hr.window else { return nil }
            switch (br.rollout, hr.rollout) {
            case (nil, nil): break
            case (let x?, let y?):
                guard x.bucketing == y.bucketing, x.schedule == nil, y.schedule == nil else { return nil }
                if x.percentage != y.percentage {
                    changes.append(.rollout(rule: i, from: x.percentage, to: y.percentage))
                }
            default: return nil
            }
            guard let serve = serveChange(br.serve, hr.serve, rule: i) else { return nil }
            changes += serve
        }
        guard let serve = serveChange(b.defaultServe, h.defaultServe, rule: nil) else { return nil }
        return changes + serve
    }

    /// [] when equal, one split change when only the weights differ, nil otherwise.
    private static func serveChange(_ a: Serve, _ b: Serve, rule: Int?) -> [Change]? {
        if a == b { return [] }
        guard case .split(let x) = a, case .split(let y) = b, x.bucketing == y.bucketing else { return nil }
        return [.split(rule: rule, from: x, to: y)]
    }
}
