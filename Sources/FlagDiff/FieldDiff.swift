import FlagModel

// Field-level differences between two versions of one flag or segment.

/// How base rules line up with head rules: equal rules are matched first (longest common
/// subsequence), so inserting a rule at the top shows as one added rule rather than every
/// rule changed; the rules left over between two matches are paired by name, then by order.
struct RuleAlignment {
    enum Step {
        case same(base: Int, head: Int)
        case changed(base: Int, head: Int)
        case added(head: Int)
        case removed(base: Int)
    }

    var steps: [Step]

    init(base: [Rule], head: [Rule]) {
        let n = base.count
        let m = head.count
        // lcs[i][j]: length of the LCS of base[i...] and head[j...].
        var lcs = [[Int]](repeating: [Int](repeating: 0, count: m + 1), count: n + 1)
        if n > 0 && m > 0 {
            for i in stride(from: n - 1, through: 0, by: -1) {
                for j in stride(from: m - 1, through: 0, by: -1) {
                    lcs[i][j] = base[i] == head[j] ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
                }
            }
        }
        var steps: [Step] = []
        var gapBase: [Int] = []
        var gapHead: [Int] = []
        func flushGap() {
            steps += Self.pair(gapBase, gapHead, base: base, head: head)
            gapBase = []
            gapHead = []
        }
        var i = 0
        var j = 0
        while i < n || j < m {
            if i < n, j < m, base[i] == head[j] {
                flushGap()
                steps.append(.same(base: i, head: j))
                i += 1
                j += 1
            } else if j < m, i == n || lcs[i][j + 1] >= lcs[i + 1][j] {
                gapHead.append(j)
                j += 1
            } else {
                gapBase.append(i)
                i += 1
            }
        }
        flushGap()
        self.steps = steps
    }

    /// Pairs the unmatched rules of one gap: same name first, then in order.
    private static func pair(_ bs: [Int], _ hs: [Int], base: [Rule], head: [Rule]) -> [Step] {
        var headFor: [Int: Int] = [:]
        var usedHead = Set<Int>()
        for b in bs {
            guard let name = base[b].name,
                let h = hs.first(where: { !usedHead.contains($0) && head[$0].name == name })
            else { continue }
            headFor[b] = h
            usedHead.insert(h)
        }
        var freeHead = hs.filter { !usedHead.contains($0) }
        for b in bs where headFor[b] == nil && !freeHead.isEmpty {
            headFor[b] = freeHead.removeFirst()
            usedHead.insert(headFor[b]!)
        }
        // Emit in head order, each removed rule before the head rule that follows it.
        var steps: [Step] = []
        var pendingRemoved = bs.filter { headFor[$0] == nil }
        for h in hs {
            if let b = headFor.first(where: { $0.value == h })?.key {
                while let r = pendingRemoved.first, r < b {
                    steps.append(.removed(base: r))
                    pendingRemoved.removeFirst()
                }
                steps.append(.changed(base: b, head: h))
            } else {
                steps.append(.added(head: h))
            }
        }
        steps += pendingRemoved.map { .removed(base: $0) }
        return steps
    }
}

enum FieldDiff {
    // MARK: Flags

    static func changed(_ base: Flag, _ head: Flag) -> [FieldChange] {
        var out: [FieldChange] = []
        let key = head.key
        scalar(&out, "name", base.name, head.name, quoted: true)
        scalar(&out, "description", base.description, head.description, quoted: true)
        scalar(&out, "owner", base.owner, head.owner)
        if base.tags != head.tags {
            out.append(change("tags", Describe.list(base.tags), Describe.list(head.tags)))
        }
        scalar(&out, "expires", base.expires, head.expires)
        scalar(&out, "type", base.type.rawValue, head.type.rawValue)
        variants(&out, base.variants, head.variants)
        scalar(&out, "enabled", String(base.enabled), String(head.enabled))
        scalar(&out, "off_variant", base.offVariant, head.offVariant)
        serve(&out, path: "default", aspect: nil, base.defaultServe, head.defaultServe, baseKey: base.key, headKey: key)
        requires(&out, base.requires, head.requires)
        rules(&out, base, head)
        if base.window != head.window {
            out.append(change("window", Describe.window(base.window), Describe.window(head.window)))
        }
        if base.events != head.events {
            out.append(change("events", Describe.events(base.events), Describe.events(head.events)))
        }
        return out
    }

    /// What an added flag serves, so that a reviewer sees it without opening the file.
    static func added(_ flag: Flag) -> [FieldChange] {
        var out: [FieldChange] = []
        let isBooleanDefault =
            flag.type == .boolean && flag.variants == ["on": .bool(true), "off": .bool(false)]
        if flag.type != .boolean { out.append(change("type", nil, flag.type.rawValue)) }
        if !isBooleanDefault {
            let text = sortedKeys(flag.variants).map { "\($0) = \(Describe.value(flag.variants[$0]!))" }
            out.append(change("variants", nil, text.joined(separator: ", ")))
        }
        if !flag.enabled { out.append(change("enabled", nil, "false")) }
        if !isBooleanDefault || flag.offVariant != "off" { out.append(change("off_variant", nil, flag.offVariant)) }
        out.append(change("default", nil, Describe.serve(flag.defaultServe, flagKey: flag.key)))
        for p in flag.requires {
            out.append(change("requires \(p.flag)", nil, Describe.list(p.variants)))
        }
        for (i, rule) in flag.rules.enumerated() {
            out.append(change(Describe.rulePath(i, rule), nil, Describe.rule(rule, flagKey: flag.key)))
        }
        if let expires = flag.expires { out.append(change("expires", nil, expires)) }
        if let window = flag.window { out.append(change("window", nil, Describe.window(window))) }
        if let events = flag.events { out.append(change("events", nil, Describe.events(events))) }
        return out
    }

    // MARK: Analytics policy

    /// The manifest's `analytics:` as two fields: `analytics keep +1 (+country)` and
    /// `analytics targeting_key: hashed → plain`.
    static func changed(_ base: AnalyticsPolicy, _ head: AnalyticsPolicy) -> [FieldChange] {
        var out: [FieldChange] = []
        keyList(&out, "analytics keep", base.keep, head.keep)
        if base.targetingKey != head.targetingKey {
            out.append(
                change(
                    "analytics targeting_key", Describe.targetingKey(base.targetingKey),
                    Describe.targetingKey(head.targetingKey)))
        }
        return out
    }

    // MARK: Segments

    static func changed(_ base: Segment, _ head: Segment) -> [FieldChange] {
        var out: [FieldChange] = []
        scalar(&out, "name", base.name, head.name, quoted: true)
        scalar(&out, "description", base.description, head.description, quoted: true)
        keyList(&out, "include", base.include, head.include)
        keyList(&out, "exclude", base.exclude, head.exclude)
        if base.when != head.when {
            // Read after the segment's name like include and exclude: `when plan in [pro] → …`.
            let before = Describe.conditions(base.when, empty: "none")
            let after = Describe.conditions(head.when, empty: "none")
            out.append(
                FieldChange(
                    path: "when", before: before, after: after, summary: "when \(before)\(Describe.arrow)\(after)"))
        }
        return out
    }

    static func added(_ segment: Segment) -> [FieldChange] {
        var out: [FieldChange] = []
        keyList(&out, "include", [], segment.include)
        keyList(&out, "exclude", [], segment.exclude)
        if !segment.when.isEmpty {
            let when = Describe.conditions(segment.when)
            out.append(FieldChange(path: "when", before: nil, after: when, summary: "when \(when)"))
        }
        return out
    }

    /// `include +2 −1 (+user-17, +user-42, −user-99)`; the keys are listed when few.
    static func keyList(_ out: inout [FieldChange], _ path: String, _ base: [String], _ head: [String]) {
        let baseSet = Set(base)
        let headSet = Set(head)
        let added = head.filter { !baseSet.contains($0) }.sorted()
        let removed = base.filter { !headSet.contains($0) }.sorted()
        guard !added.isEmpty || !removed.isEmpty else { return }
        var counts: [String] = []
        if !added.isEmpty { counts.append("+\(added.count)") }
        if !removed.isEmpty { counts.append("\(Describe.minus)\(removed.count)") }
        var summary = "\(path) " + counts.joined(separator: " ")
        if added.count + removed.count <= 6 {
            let keys = added.map { "+" + $0 } + removed.map { Describe.minus + $0 }
            summary += " (" + keys.joined(separator: ", ") + ")"
        }
        out.append(
            FieldChange(
                path: path, before: Describe.list(base), after: Describe.list(head), summary: summary, added: added,
                removed: removed))
    }

    // MARK: Pieces

    /// `path: before → after`, `path: after` when new, `path: removed (was before)` when gone.
    static func change(_ path: String, _ before: String?, _ after: String?, aspect: String? = nil) -> FieldChange {
        let lead = path + ": " + (aspect.map { $0 + " " } ?? "")
        let summary: String
        switch (before, after) {
        case (let b?, let a?): summary = lead + b + Describe.arrow + a
        case (nil, let a?): summary = lead + a
        case (let b?, nil): summary = lead + "removed (was \(b))"
        case (nil, nil): summary = lead + "none"
        }
        return FieldChange(path: path, before: before, after: after, summary: summary)
    }

    private static func scalar(
        _ out: inout [FieldChange], _ path: String, _ base: String?, _ head: String?, quoted: Bool = false
    ) {
        guard base != head else { return }
        let render: (String?) -> String = { quoted ? Describe.quoted($0) : ($0 ?? "none") }
        var c = change(path, render(base), render(head))
        c.before = base.map { quoted ? render($0) : $0 }
        c.after = head.map { quoted ? render($0) : $0 }
        out.append(c)
    }

    private static func variants(_ out: inout [FieldChange], _ base: [String: Value], _ head: [String: Value]) {
        let names = Set(base.keys).union(head.keys).sorted(by: UTF8Order.precedes)
        for name in names {
            let path = "variant \(name)"
            switch (base[name], head[name]) {
            case (let b?, let h?) where b != h:
                out.append(change(path, Describe.value(b), Describe.value(h)))
            case (nil, let h?):
                var c = change(path, nil, Describe.value(h))
                c.summary = "\(path): added = \(Describe.value(h))"
                out.append(c)
            case (let b?, nil):
                out.append(change(path, Describe.value(b), nil))
            default:
                break
            }
        }
    }

    /// A serve that moved. `aspect` is `serve` inside a rule and nil for the default.
    static func serve(
        _ out: inout [FieldChange], path: String, aspect: String?, _ base: Serve, _ head: Serve, baseKey: String,
        headKey: String
    ) {
        guard base != head else { return }
        switch (base, head) {
        case (.split(let b), .split(let h)):
            if b.weights != h.weights {
                out.append(change(path, Describe.weights(b), Describe.weights(h), aspect: join(aspect, "split")))
            }
            if b.bucketing.by != h.bucketing.by {
                out.append(
                    change(
                        path, Describe.list(b.bucketing.by), Describe.list(h.bucketing.by),
                        aspect: join(aspect, "split by")))
            }
            if b.bucketing.group != h.bucketing.group {
                out.append(
                    change(path, b.bucketing.group, h.bucketing.group, aspect: join(aspect, "split group")))
            }
        default:
            out.append(
                change(
                    path, Describe.serve(base, flagKey: baseKey), Describe.serve(head, flagKey: headKey),
                    aspect: aspect))
        }
    }

    private static func join(_ a: String?, _ b: String) -> String { a.map { "\($0) \(b)" } ?? b }

    private static func requires(_ out: inout [FieldChange], _ base: [Prerequisite], _ head: [Prerequisite]) {
        guard base != head else { return }
        var baseBy: [String: [String]] = [:]
        for p in base { baseBy[p.flag] = p.variants }
        var headBy: [String: [String]] = [:]
        for p in head { headBy[p.flag] = p.variants }
        var seen = Set<String>()
        // Head order first (the order written), then what was removed, in base order.
        for p in head + base where seen.insert(p.flag).inserted {
            let path = "requires \(p.flag)"
            switch (baseBy[p.flag], headBy[p.flag]) {
            case (let b?, let h?) where Set(b) != Set(h):
                out.append(change(path, Describe.list(b), Describe.list(h)))
            case (nil, let h?):
                var c = change(path, nil, Describe.list(h))
                c.summary = "\(path): added (variants \(Describe.list(h)))"
                out.append(c)
            case (let b?, nil):
                var c = change(path, Describe.list(b), nil)
                c.summary = "\(path): removed"
                out.append(c)
            default:
                break
            }
        }
    }

    private static func rules(_ out: inout [FieldChange], _ base: Flag, _ head: Flag) {
        let alignment = RuleAlignment(base: base.rules, head: head.rules)
        for step in alignment.steps {
            switch step {
            case .same:
                // Rules that only shifted because another was added or removed above them
                // are not listed: that change is listed already.
                break
            case .added(let h):
                let rule = head.rules[h]
                let path = Describe.rulePath(h, rule)
                let text = Describe.rule(rule, flagKey: head.key)
                out.append(FieldChange(path: path, before: nil, after: text, summary: "\(path): added — \(text)"))
            case .removed(let b):
                let rule = base.rules[b]
                let path = Describe.rulePath(b, rule)
                let text = Describe.rule(rule, flagKey: base.key)
                out.append(FieldChange(path: path, before: text, after: nil, summary: "\(path): removed — \(text)"))
            case .changed(let b, let h):
                ruleFields(
                    &out, base.rules[b], head.rules[h], baseIndex: b, headIndex: h, baseKey: base.key,
                    headKey: head.key)
            }
        }
    }

    private static func ruleFields(
        _ out: inout [FieldChange], _ b: Rule, _ h: Rule, baseIndex: Int, headIndex: Int, baseKey: String,
        headKey: String
    ) {
        var path = Describe.rulePath(headIndex, h)
        if baseIndex != headIndex { path += " (was rule \(baseIndex + 1))" }
        if b.name != h.name {
            out.append(change(path, Describe.quoted(b.name), Describe.quoted(h.name), aspect: "name"))
        }
        if b.when != h.when {
            out.append(change(path, Describe.conditions(b.when), Describe.conditions(h.when), aspect: "when"))
        }
        switch (b.rollout, h.rollout) {
        case (let br?, let hr?):
            if br.percentage != hr.percentage || br.schedule != hr.schedule {
                out.append(change(path, Describe.percentages(br), Describe.percentages(hr), aspect: "rollout"))
            }
            if br.bucketing.by != hr.bucketing.by {
                out.append(
                    change(path, Describe.list(br.bucketing.by), Describe.list(hr.bucketing.by), aspect: "rollout by"))
            }
            if br.bucketing.group != hr.bucketing.group {
                out.append(change(path, br.bucketing.group, hr.bucketing.group, aspect: "rollout group"))
            }
        case (nil, nil):
            break
        default:
            out.append(
                change(
                    path, Describe.rollout(b.rollout, flagKey: baseKey), Describe.rollout(h.rollout, flagKey: headKey),
                    aspect: "rollout"))
        }
        if b.window != h.window {
            out.append(change(path, Describe.window(b.window), Describe.window(h.window), aspect: "window"))
        }
        serve(&out, path: path, aspect: "serve", b.serve, h.serve, baseKey: baseKey, headKey: headKey)
    }

    static func sortedKeys<V>(_ d: [String: V]) -> [String] {
        d.keys.sorted(by: UTF8Order.precedes)
    }
}
