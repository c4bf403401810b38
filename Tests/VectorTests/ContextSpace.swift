import FlagEngine
import FlagModel

/// What a snapshot's conditions read, and contexts made from it: for each attribute, values
/// that hit and values that miss each operator that reads it, wrong types and absence; the
/// targeting keys its segments list; times around its windows and schedule steps.
struct ContextSpace {
    /// Per attribute, the values worth trying, in three kinds.
    struct Candidates {
        var hits: [Value] = []
        var misses: [Value] = []
    }

    let snapshot: Snapshot
    private(set) var candidates: [String: Candidates] = [:]
    /// Targeting keys that segments list.
    private(set) var listedKeys: [String] = []
    /// Times worth evaluating at (RFC 3339, UTC).
    private(set) var times: [String] = []

    var names: [String] { candidates.keys.sorted() }

    init(snapshot: Snapshot) {
        self.snapshot = snapshot
        var instants: [Instant] = [
            Instant(seconds: 1_735_689_600),  // 2025-01-01
            Instant(seconds: 1_767_225_600),  // 2026-01-01
            Instant(seconds: 1_798_761_600),  // 2027-01-01
            Instant(seconds: 1_830_297_600),  // 2028-01-01
        ]
        for flag in snapshot.flags {
            for rule in flag.rules {
                rule.when.forEach { add($0) }
                for attribute in (rule.rollout?.bucketing.by ?? []) where attribute != Bucketing.random {
                    addBucketing(attribute)
                }
                if case .split(let split) = rule.serve { split.bucketing.by.forEach { addBucketing($0) } }
                instants += Self.instants(rule.window) + Self.instants(rule.rollout?.schedule)
            }
            if case .split(let split) = flag.defaultServe { split.bucketing.by.forEach { addBucketing($0) } }
            instants += Self.instants(flag.window)
        }
        for segment in snapshot.segments {
            segment.when.forEach { add($0) }
            listedKeys += segment.include + segment.exclude
        }
        for condition in allAttributeConditions() where condition.attribute == "currentTime" {
            instants += condition.values.compactMap(Timestamp.parse)
        }
        var seen: Set<String> = []
        for instant in instants {
            for delta: Int64 in [-86_400, -1, 0, 1, 3_600, 86_400] {
                let text = Timestamp.format(Instant(seconds: instant.seconds + delta))
                if seen.insert(text).inserted { times.append(text) }
            }
        }
        candidates["targetingKey"] = nil
        candidates["currentTime"] = nil
        listedKeys = Array(Set(listedKeys)).sorted()
    }

    // MARK: Reading the snapshot

    private func allAttributeConditions() -> [AttributeCondition] {
        var found: [AttributeCondition] = []
        func walk(_ c: Condition) {
            switch c {
            case .attribute(let a): found.append(a)
            case .segment: break
            case .all(let cs), .any(let cs): cs.forEach(walk)
            case .not(let inner): walk(inner)
            }
        }
        snapshot.flags.forEach { $0.rules.forEach { $0.when.forEach(walk) } }
        snapshot.segments.forEach { $0.when.forEach(walk) }
        return found
    }

    private mutating func add(_ condition: Condition) {
        switch condition {
        case .attribute(let a): add(a)
        case .segment: break
        case .all(let cs), .any(let cs): cs.forEach { add($0) }
        case .not(let inner): add(inner)
        }
    }

    private mutating func addBucketing(_ attribute: String) {
        guard attribute != Bucketing.random else { return }
        var c = candidates[attribute] ?? Candidates()
        c.hits += [.string("account-1"), .string("account-2"), .int(7), .bool(true), .string("")]
        candidates[attribute] = c
    }

    private mutating func add(_ condition: AttributeCondition) {
        var c = candidates[condition.attribute] ?? Candidates()
        for text in condition.values {
            switch condition.op.family {
            case .membership, .string, .existence:
                c.hits.append(.string(text))
                if let number = Int64(text) { c.hits.append(.int(number)) }
                if text == "true" || text == "false" { c.hits.append(.bool(text == "true")) }
                c.misses += [.string(text.uppercased()), .string(text + "x"), .string("x" + text), .string("")]
                if condition.op == .contains || condition.op == .startsWith { c.hits.append(.string(text + "-tail")) }
                if condition.op == .contains || condition.op == .endsWith { c.hits.append(.string("head-" + text)) }
            case .regex:
                let literal = String(text.filter { $0.isLetter || $0.isNumber || "@.-_ ".contains($0) })
                c.hits += [.string(literal), .string(literal.lowercased()), .string("https://" + literal + "/a")]
                c.misses += [.string("zzz"), .string(literal.uppercased())]
            case .number:
                let n = Double(text) ?? 0
                c.hits += [.double(n), .string(text)]
                if n == n.rounded() { c.hits.append(.int(Int64(n))) }
                c.misses += [.double(n - 1), .double(n + 1), .double(n + 0.5), .int(Int64(n) - 10), .string("abc")]
            case .date:
                if let instant = Timestamp.parse(text) {
                    for delta: Int64 in [-86_400, -1, 1, 86_400] {
                        c.hits.append(.string(Timestamp.format(Instant(seconds: instant.seconds + delta))))
                    }
                    c.misses.append(.string(Timestamp.format(instant)))
                }
                c.misses += [.string("2026-13-45"), .string("yesterday")]
            case .semver:
                c.hits.append(.string(text))
                let core = text.split(separator: "-", maxSplits: 1).first.map(String.init) ?? text
                var parts = core.split(separator: ".").compactMap { Int($0) }
                if parts.count == 3 {
                    parts[2] += 1
                    c.hits.append(.string(parts.map(String.init).joined(separator: ".")))
                    parts[2] -= 1
                    if parts[1] > 0 { parts[1] -= 1 } else { parts[0] += 1 }
                    c.hits.append(.string(parts.map(String.init).joined(separator: ".")))
                }
                c.misses += [.string(core + "-beta.1"), .string("1.2"), .string("not.a.version")]
            case .cidr:
                let base = text.split(separator: "/").first.map(String.init) ?? text
                c.hits.append(.string(base))
                if base.contains(":") {
                    c.hits.append(.string(base + "1"))
                    c.misses += [.string("2001:db8:ffff::1"), .string("::1")]
                } else {
                    var octets = base.split(separator: ".").map(String.init)
                    if octets.count == 4 {
                        octets[3] = "7"
                        c.hits.append(.string(octets.joined(separator: ".")))
                    }
                    c.misses += [.string("192.0.2.55"), .string("8.8.8.8")]
                }
                c.misses.append(.string("not-an-ip"))
            }
        }
        if condition.values.isEmpty { c.hits.append(.string("anything")) }
        candidates[condition.attribute] = c
    }

    private static func instants(_ window: Window?) -> [Instant] {
        [window?.start, window?.end].compactMap { $0.flatMap(Timestamp.parse) }
    }

    private static func instants(_ schedule: RolloutSchedule?) -> [Instant] {
        switch schedule {
        case .ramp(let ramp)?:
            let start = Timestamp.parse(ramp.start)
            let end = Timestamp.parse(ramp.end)
            var found = [start, end].compactMap { $0 }
            if let start, let end { found.append(Instant(seconds: (start.seconds + end.seconds) / 2)) }
            return found
        case .steps(let steps)?: return steps.compactMap { Timestamp.parse($0.at) }
        case nil: return []
        }
    }

    /// Whether the flag buckets by `random` somewhere: its answer is not a function of the context.
    func bucketsRandomly(_ flag: Flag) -> Bool {
        var by: [String] = []
        for rule in flag.rules {
            by += rule.rollout?.bucketing.by ?? []
            if case .split(let split) = rule.serve { by += split.bucketing.by }
        }
        if case .split(let split) = flag.defaultServe { by += split.bucketing.by }
        return by.contains(Bucketing.random)
    }

    /// The attributes a flag reads: its rules, the segments they use, its prerequisites'.
    func attributes(readBy key: String) -> Set<String> {
        var found: Set<String> = []
        var visitedFlags: Set<String> = []
        var visitedSegments: Set<String> = []
        func walk(_ c: Condition) {
            switch c {
            case .attribute(let a): found.insert(a.attribute)
            case .segment(let s):
                guard visitedSegments.insert(s).inserted, let segment = snapshot.segment(s) else { return }
                segment.when.forEach(walk)
            case .all(let cs), .any(let cs): cs.forEach(walk)
            case .not(let inner): walk(inner)
            }
        }
        func visit(_ key: String) {
            guard visitedFlags.insert(key).inserted, let flag = snapshot.flag(key) else { return }
            for rule in flag.rules {
                rule.when.forEach(walk)
                found.formUnion(rule.rollout?.bucketing.by ?? [])
                if case .split(let split) = rule.serve { found.formUnion(split.bucketing.by) }
            }
            if case .split(let split) = flag.defaultServe { found.formUnion(split.bucketing.by) }
            flag.requires.forEach { visit($0.flag) }
        }
        visit(key)
        return found.filter { candidates[$0] != nil }
    }

    // MARK: Making contexts

    /// One context: the focused attributes mostly present, the others now and then.
    func context(focus: Set<String>, random: inout SplitMix64) -> [String: Value] {
        var context: [String: Value] = [:]
        // Targeting keys: many, so rollouts and splits spread; listed ones; odd ones.
        let roll = random.next() % 100
        if roll < 70 {
            context["targetingKey"] = .string("user-\(random.next() % 5_000)")
        } else if roll < 82, !listedKeys.isEmpty {
            context["targetingKey"] = .string(random.pick(listedKeys))
        } else if roll < 88 {
            context["targetingKey"] = .int(Int64(random.next() % 1_000))
        } else if roll < 91 {
            context["targetingKey"] = .string("")
        } else if roll < 94 {
            context["targetingKey"] = .null
        }
        if !times.isEmpty { context["currentTime"] = .string(random.pick(times)) }
        if random.chance(0.1) { context["unrelated"] = .string("noise") }
        for name in names {
            guard random.chance(focus.contains(name) ? 0.8 : 0.15), let c = candidates[name] else { continue }
            let value: Value
            let kind = random.next() % 100
            if kind < 60, !c.hits.isEmpty {
                value = random.pick(c.hits)
            } else if kind < 85, !c.misses.isEmpty {
                value = random.pick(c.misses)
            } else {
                let sample = c.hits.first ?? .string("x")
                value = random.pick([.null, .bool(false), .int(42), .double(2.5), .array([sample]), .object(["v": sample])])
            }
            set(&context, name, value, nested: random.chance(0.75))
        }
        return context
    }

    /// A dotted name as nested objects (`device.os` → `{"device":{"os":…}}`), or as it stands.
    private func set(_ context: inout [String: Value], _ name: String, _ value: Value, nested: Bool) {
        let path = name.split(separator: ".").map(String.init)
        guard nested, path.count > 1 else {
            context[name] = value
            return
        }
        func put(_ object: [String: Value], _ rest: ArraySlice<String>) -> [String: Value] {
            var object = object
            let head = rest.first!
            if rest.count == 1 {
                object[head] = value
            } else {
                object[head] = .object(put(object[head]?.objectValue ?? [:], rest.dropFirst()))
            }
            return object
        }
        context = put(context, path[...])
    }
}
