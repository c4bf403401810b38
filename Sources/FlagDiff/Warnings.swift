import FlagEngine
import FlagModel

/// The warnings a reviewer must see (see `DiffWarning.Kind`).
enum Warnings {
    // MARK: Reshuffles

    /// Rollouts and splits at the same place whose buckets no longer mean the same: a
    /// `group` or `by` changed, a split reordered or its total changed.
    static func reshuffles(_ base: Flag, _ head: Flag) -> [DiffWarning] {
        var messages: [String] = []
        for step in RuleAlignment(base: base.rules, head: head.rules).steps {
            guard case .changed(let b, let h) = step else { continue }
            let br = base.rules[b]
            let hr = head.rules[h]
            let path = Describe.rulePath(h, hr)
            if let x = br.rollout, let y = hr.rollout, x.bucketing != y.bucketing {
                let reasons = bucketingReasons(x.bucketing, y.bucketing)
                messages.append(
                    "\(path): rollout \(reasons.joined(separator: ", ")): users are bucketed afresh, so a different "
                        + "\(y.percentage)% of those matching it get \(Describe.serve(hr.serve, flagKey: head.key))")
            }
            if case .split(let x) = br.serve, case .split(let y) = hr.serve,
                let message = splitReshuffle(x, y, population: "users served its split")
            {
                messages.append("\(path): " + message)
            }
        }
        if case .split(let x) = base.defaultServe, case .split(let y) = head.defaultServe,
            let message = splitReshuffle(x, y, population: "users served the default split")
        {
            messages.append("default: " + message)
        }
        return messages.map { DiffWarning(kind: .reshuffle, key: head.key, message: $0) }
    }

    private static func bucketingReasons(_ a: Bucketing, _ b: Bucketing) -> [String] {
        var reasons: [String] = []
        if a.group != b.group { reasons.append("group \(a.group) → \(b.group)") }
        if a.by != b.by { reasons.append("by \(Describe.list(a.by)) → \(Describe.list(b.by))") }
        return reasons
    }

    private static func splitReshuffle(_ a: Split, _ b: Split, population: String) -> String? {
        var reasons = bucketingReasons(a.bucketing, b.bucketing)
        if reasons.isEmpty {
            if a.totalWeight != b.totalWeight { reasons.append("total \(a.totalWeight) → \(b.totalWeight)") }
            let common = Set(a.weights.map(\.variant)).intersection(b.weights.map(\.variant))
            let orderA = a.weights.map(\.variant).filter(common.contains)
            let orderB = b.weights.map(\.variant).filter(common.contains)
            if orderA != orderB {
                reasons.append("reordered (\(orderA.joined(separator: ", ")) → \(orderB.joined(separator: ", ")))")
            }
        }
        guard !reasons.isEmpty else { return nil }
        var message = "split \(reasons.joined(separator: ", ")): users are bucketed afresh"
        if a.bucketing == b.bucketing {
            if let moved = BucketMath.splitTransitions(a, b) {
                let share = Double(moved.values.reduce(0, +)) / Double(BucketMath.space)
                message += "; \(Describe.percent(share)) of \(population) change variant"
            } else {
                message += "; the totals' period is too long to count exactly"
            }
        }
        return message
    }

    // MARK: Renames

    /// A removed flag and an added one that are the same but for the key look like a rename;
    /// an added flag that buckets by its own key while a bucketed flag was removed may be one.
    static func renames(removed: [Flag], added: [Flag]) -> [DiffWarning] {
        var warnings: [DiffWarning] = []
        var renamedTo = Set<String>()
        var renamedFrom = Set<String>()
        for a in added {
            guard let r = removed.first(where: { !renamedFrom.contains($0.key) && sameButKey($0, a) }) else { continue }
            renamedTo.insert(a.key)
            renamedFrom.insert(r.key)
            var message = "looks like \(r.key) renamed to \(a.key): clients asking for \(r.key) now get FLAG_NOT_FOUND"
            if bucketsByOwnKey(a) {
                message +=
                    "; buckets of the new key differ, so users are bucketed afresh "
                    + "(set `group: \(r.key)` on its rollouts and splits to keep them)"
            } else if hasBucketing(a) {
                message += "; its rollouts and splits keep their buckets (explicit group)"
            }
            warnings.append(DiffWarning(kind: .reshuffle, key: a.key, message: message))
        }
        let bucketedRemoved = removed.filter { !renamedFrom.contains($0.key) && hasBucketing($0) }.map(\.key)
        if !bucketedRemoved.isEmpty {
            for a in added where !renamedTo.contains(a.key) && bucketsByOwnKey(a) {
                warnings.append(
                    DiffWarning(
                        kind: .reshuffle, key: a.key,
                        message: "buckets of the new key differ: if \(a.key) replaces "
                            + "\(bucketedRemoved.joined(separator: ", ")), its users are bucketed afresh "
                            + "(set `group: <old key>` on its rollouts and splits to keep them)"))
            }
        }
        return warnings
    }

    private static func sameButKey(_ a: Flag, _ b: Flag) -> Bool {
        let keys: Set<String> = [a.key, b.key]
        return normalized(a, keys) == normalized(b, keys)
    }

    /// The flag with its key, a name that is only the key, and groups that are one of `keys` blanked.
    private static func normalized(_ flag: Flag, _ keys: Set<String>) -> Flag {
        var f = flag
        if f.name == f.key { f.name = "" }
        f.key = ""
        func fix(_ b: inout Bucketing) { if keys.contains(b.group) { b.group = "" } }
        func fix(_ s: inout Serve) {
            if case .split(var split) = s {
                fix(&split.bucketing)
                s = .split(split)
            }
        }
        for i in f.rules.indices {
            if var rollout = f.rules[i].rollout {
                fix(&rollout.bucketing)
                f.rules[i].rollout = rollout
            }
            fix(&f.rules[i].serve)
        }
        fix(&f.defaultServe)
        return f
    }

    static func bucketings(_ flag: Flag) -> [Bucketing] {
        var out: [Bucketing] = []
        for rule in flag.rules {
            if let r = rule.rollout { out.append(r.bucketing) }
            if case .split(let s) = rule.serve { out.append(s.bucketing) }
        }
        if case .split(let s) = flag.defaultServe { out.append(s.bucketing) }
        return out
    }

    static func hasBucketing(_ flag: Flag) -> Bool { !bucketings(flag).isEmpty }

    /// A rollout or split whose group is the flag's own key: renaming the flag reshuffles it.
    static func bucketsByOwnKey(_ flag: Flag) -> Bool {
        bucketings(flag).contains { $0.group == flag.key && !$0.by.contains(Bucketing.random) }
    }

    // MARK: Prerequisites

    static func removedWhileRequired(_ removed: Flag, base: Snapshot?, head: Snapshot?) -> DiffWarning? {
        let key = removed.key
        func dependents(_ s: Snapshot?) -> [String] {
            (s?.flags ?? []).filter { $0.key != key && $0.requires.contains { $0.flag == key } }.map(\.key)
        }
        let stillRequire = dependents(head)
        let required = dependents(base).filter { !stillRequire.contains($0) }
        var parts: [String] = []
        if !stillRequire.isEmpty {
            let one = stillRequire.count == 1
            parts.append(
                "\(stillRequire.joined(separator: ", ")) still \(one ? "requires" : "require") it "
                    + "(the prerequisite can never be met, so "
                    + "\(one ? "it serves its" : "they serve their") off variant)")
        }
        if !required.isEmpty {
            parts.append(
                "\(required.joined(separator: ", ")) required it before this change; check that dropping the "
                    + "prerequisite is meant")
        }
        guard !parts.isEmpty else { return nil }
        return DiffWarning(
            kind: .removedWhileRequired, key: key, message: "removed, but " + parts.joined(separator: "; "))
    }

    // MARK: Everyone at once

    /// In production: a change after which the variant every context gets changes at once.
    static func switchedForEveryone(_ base: Flag, _ head: Flag) -> DiffWarning? {
        let before = uniformVariant(base)
        let after = uniformVariant(head)
        if base.enabled != head.enabled {
            guard before != after else { return nil }
            let message =
                head.enabled
                ? "enabled false → true turns the flag on for everyone at once"
                    + (after.map { ": everyone gets \($0) instead of \(base.offVariant)" } ?? "")
                : "enabled true → false turns the flag off for everyone at once: everyone gets \(head.offVariant)"
            return DiffWarning(kind: .switchedForEveryone, key: head.key, message: message)
        }
        guard head.enabled else { return nil }
        // Who got the default (or a top rule that matches everyone) before now all get `after`.
        if let after, let previous = before ?? plainDefault(base), previous != after {
            return DiffWarning(
                kind: .switchedForEveryone, key: head.key,
                message: "everyone switches from \(previous) to \(after) at once, with no rollout in between")
        }
        if let after, before == nil, plainDefault(base) == nil {
            return DiffWarning(
                kind: .switchedForEveryone, key: head.key,
                message: "everyone gets \(after) at once, with no rollout in between")
        }
        // A rollout that jumps from nobody to everyone it targets.
        for step in RuleAlignment(base: base.rules, head: head.rules).steps {
            guard case .changed(let b, let h) = step, let from = base.rules[b].rollout, from.percentage == 0 else {
                continue
            }
            let hr = head.rules[h]
            let to = hr.rollout?.percentage ?? 100
            guard to == 100 else { continue }
            let whom = hr.when.isEmpty ? "everyone" : "everyone matching \(Describe.conditions(hr.when))"
            return DiffWarning(
                kind: .switchedForEveryone, key: head.key,
                message: "\(Describe.rulePath(h, hr)): rollout 0% → \(hr.rollout == nil ? "none" : "100%") switches "
                    + "\(whom) to \(Describe.serve(hr.serve, flagKey: head.key)) at once")
        }
        return nil
    }

    /// The variant every context gets, when there is one: a disabled flag's off variant, the
    /// first rule when it matches everyone and serves a plain variant, or a rule-less flag's
    /// plain default.
    static func uniformVariant(_ flag: Flag) -> String? {
        guard flag.enabled else { return flag.offVariant }
        if let first = flag.rules.first {
            guard first.when.isEmpty, first.rollout == nil, case .variant(let v) = first.serve else { return nil }
            return v
        }
        return plainDefault(flag)
    }

    private static func plainDefault(_ flag: Flag) -> String? {
        if case .variant(let v) = flag.defaultServe { return v }
        return nil
    }

    // MARK: Expiry

    /// A flag past its `expires` day that still serves something other than its off variant.
    static func expiredInUse(_ flag: Flag, now: Instant) -> DiffWarning? {
        guard let expires = flag.expires, let day = Timestamp.parseDate(expires) else { return nil }
        let startOfToday = Instant(seconds: now.seconds - ((now.seconds % 86_400) + 86_400) % 86_400)
        guard day < startOfToday else { return nil }
        if !flag.enabled { return nil }
        if flag.isStatic, flag.defaultServe == .variant(flag.offVariant) { return nil }
        let serving: String
        if flag.isStatic, case .variant(let v) = flag.defaultServe {
            serving = "still serves \(v) to everyone"
        } else {
            serving = "still targets users"
        }
        return DiffWarning(
            kind: .expiredInUse, key: flag.key,
            message: "expired on \(expires) and \(serving); remove it from the code and the repository, "
                + "or move `expires` forward")
    }
}
