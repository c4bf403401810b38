import FlagCompiler
import FlagEngine
import FlagModel

// MARK: - Drafts: what a file will say, before it is written

/// A variant of an imported json flag.
struct DraftVariant {
    enum Origin: Equatable {
        /// Served when the flag is off: `{name: disabled, enabled: false, feature_enabled: false}`.
        case off
        /// The flag is on but has no variant to give: `{name: disabled, enabled: false, feature_enabled: true}`.
        case onWithoutVariant
        /// An Unleash variant, by its Unleash name.
        case unleash(String)
    }

    var key: String
    var value: Value
    var origin: Origin
}

struct DraftRollout {
    var percentage: Int
    var by: [String]
    /// Nil when `by` is `[random]` alone: the group changes nothing then.
    var group: String?
    var comment: String?
}

enum DraftServe {
    case variant(String)
    case split(weights: [(variant: String, weight: Int)], by: [String], group: String)
}

struct DraftRule {
    var name: String
    var when: [NoteCondition]
    var rollout: DraftRollout?
    var serve: DraftServe

    /// Matches everyone: no condition, no rollout. Rules after it can never match.
    var isCatchAll: Bool { when.isEmpty && rollout == nil }
}

enum RuleItem {
    case rule(DraftRule)
    case comment(String)
}

struct FlagDraft {
    var feature: UFeature
    var key: String
    var isJSON: Bool
    var variants: [DraftVariant] = []
    var enabled: Bool
    var dead = false
    var items: [RuleItem] = []
    /// Nil for a boolean flag whose default is `off` (the language's default).
    var defaultServe: DraftServe?
    var requires: [(flag: String, variants: [String])] = []
    /// Comments at the top of the file, after the origin line.
    var notes: [String] = []
    /// Comments above `requires`.
    var requireNotes: [String] = []
    /// flexibleRollout strategies without `groupId` whose bucket decides (0 < rollout < 100):
    /// yggdrasil buckets them under the *child's* name when checking a dependency on this flag.
    var groupQuirk = false

    var rules: [DraftRule] {
        items.compactMap { if case .rule(let r) = $0 { r } else { nil } }
    }
}

struct SegmentDraft {
    var id: Int
    var key: String
    var name: String?
    var when: [NoteCondition] = []
    /// Why Unleash cannot compile a flag that uses this segment.
    var dead: [(field: String, message: String)] = []
    var unsupported: [(field: String, message: String)] = []
    var usable: Bool { dead.isEmpty && unsupported.isEmpty }
}

/// Problems met while translating one feature.
struct Problems {
    var dead: [(field: String, message: String)] = []
    var unsupported: [(field: String, message: String)] = []
    var warnings: [(field: String, message: String)] = []
}

// MARK: - The importer

struct Importer {
    typealias ImportError = UnleashImport.ImportError
    typealias Warning = UnleashImport.Warning

    let document: UPayloadDocument
    let options: UnleashImport.Options
    var warnings: [Warning] = []
    var segments: [Int: SegmentDraft] = [:]

    init(document: UPayloadDocument, options: UnleashImport.Options) {
        self.document = document
        self.options = options
    }

    static let off = "off"
    static let on = "on"
    static let defaultChain = ["userId", "sessionId", Bucketing.random]

    mutating func run() throws(ImportError) -> UnleashImport.Result {
        // Unleash keeps the last definition of a name (and of a segment id).
        var lastIndex: [String: Int] = [:]
        for (i, f) in document.features.enumerated() { lastIndex[f.name] = i }
        var features: [UFeature] = []
        for (i, f) in document.features.enumerated() {
            if lastIndex[f.name] == i {
                features.append(f)
            } else {
                warnings.append(
                    Warning(
                        feature: f.name, field: "features[\(i)]",
                        message: "defined again later in the payload; the last definition is imported, as Unleash does"))
            }
        }
        let keyMap = Self.flagKeys(features.map(\.name))

        for (i, s) in document.segments.enumerated() {
            if segments[s.id] != nil {
                warnings.append(
                    Warning(
                        feature: "", field: "segments[\(i)]",
                        message: "segment \(s.id) is defined twice; the last definition is imported, as Unleash does"))
            }
            segments[s.id] = segmentDraft(s)
        }

        var drafts: [FlagDraft] = []
        for f in features { drafts.append(try draft(f, key: keyMap[f.name]!)) }
        try resolveDependencies(&drafts)

        var files: [String: String] = ["flagstaff.yaml": manifest()]
        let project = options.project
        for draft in drafts {
            files["\(project)/flags/\(draft.key).yaml"] = render(draft)
        }
        let used = Set(features.flatMap { $0.strategies.flatMap(\.segments) })
        for id in segments.keys.sorted() {
            let s = segments[id]!
            if s.usable {
                files["\(project)/segments/\(s.key).yaml"] = render(s)
            } else if !used.contains(id) {
                let problem = s.dead.first ?? s.unsupported.first!
                warnings.append(
                    Warning(
                        feature: "", field: "segment \(id) \(problem.field)",
                        message: "segment not imported (no feature uses it): \(problem.message)"))
            }
        }
        return UnleashImport.Result(files: files, warnings: warnings, keyMap: keyMap)
    }

    // MARK: Keys

    /// Flag keys for Unleash names: a name that is a valid key keeps it; any other becomes
    /// the nearest valid key (lower case, `-` for other characters), made unique with `-2`, `-3`…
    static func flagKeys(_ names: [String]) -> [String: String] {
        var map: [String: String] = [:]
        var taken = Set<String>()
        for name in names where Keys.isValid(name) {
            map[name] = name
            taken.insert(name)
        }
        for name in names where map[name] == nil {
            let base = sanitize(name, lowercase: true, fallback: "flag")
            let key = unique(base, taken: taken)
            map[name] = key
            taken.insert(key)
        }
        return map
    }

    /// `text` with every character outside `[a-z0-9_.-]` (or `[A-Za-z0-9_.-]`) replaced by
    /// `-` (a run of them by one), starting with a letter or a digit, at most 50 bytes.
    static func sanitize(_ text: String, lowercase: Bool, fallback: String) -> String {
        var out = ""
        var lastReplaced = false
        for s in text.unicodeScalars {
            var c = s
            if lowercase, c >= "A", c <= "Z" { c = Unicode.Scalar(c.value + 32)! }
            let ok =
                (c >= "a" && c <= "z") || (c >= "0" && c <= "9") || c == "_" || c == "." || c == "-"
                || (!lowercase && c >= "A" && c <= "Z")
            if ok {
                out.unicodeScalars.append(c)
                lastReplaced = false
            } else if !lastReplaced {
                out += "-"
                lastReplaced = true
            }
        }
        while let first = out.unicodeScalars.first,
            !((first >= "a" && first <= "z") || (first >= "A" && first <= "Z") || (first >= "0" && first <= "9"))
        {
            out.unicodeScalars.removeFirst()
        }
        if out.isEmpty { out = fallback }
        return String(out.prefix(50))
    }

    static func unique(_ base: String, taken: Set<String>) -> String {
        if !taken.contains(base) { return base }
        var n = 2
        while true {
            let suffix = "-\(n)"
            let candidate = String(base.prefix(50 - suffix.count)) + suffix
            if !taken.contains(candidate) { return candidate }
            n += 1
        }
    }

    // MARK: Segments

    func segmentDraft(_ s: USegment) -> SegmentDraft {
        var draft = SegmentDraft(id: s.id, key: "segment-\(s.id)", name: s.name)
        for (i, c) in s.constraints.enumerated() {
            let field = "constraints[\(i)]"
            switch ConstraintTranslator.translate(c) {
            case .condition(let nc): draft.when.append(nc)
            case .dead(let m): draft.dead.append((field, m))
            case .unsupported(let m): draft.unsupported.append((field, m))
            }
        }
        return draft
    }

    // MARK: Features

    mutating func draft(_ f: UFeature, key: String) throws(ImportError) -> FlagDraft {
        var problems = Problems()
        let hasStrategyVariants = f.strategies.contains { !($0.variants ?? []).isEmpty }
        let isJSON = !f.variants.isEmpty || hasStrategyVariants
        var draft = FlagDraft(feature: f, key: key, isJSON: isJSON, enabled: f.enabled)
        var catalog = VariantCatalog()
        if isJSON {
            for v in f.variants { _ = catalog.key(for: v) }
            for s in f.strategies { for v in s.variants ?? [] { _ = catalog.key(for: v) } }
        }

        var reachable = true
        for (i, s) in f.strategies.enumerated() {
            let path = "strategies[\(i)]"
            let label = "strategy \(i + 1) (\(s.name))"
            let translated = strategy(s, path: path, feature: f, problems: &problems, draft: &draft)
            guard reachable else { continue }
            let st: StrategyDraft
            switch translated {
            case .never(let why):
                draft.items.append(.comment("\(label) is not imported: \(why)."))
                continue
            case .rule(let rule):
                st = rule
            }
            var rules: [DraftRule] = []
            if !isJSON {
                rules = [DraftRule(name: label, when: st.when, rollout: st.rollout, serve: .variant(Self.on))]
            } else if let variants = s.variants, !variants.isEmpty {
                // The strategy's own variants: no overrides, the strategy's stickiness and group.
                let group = s.parameters["groupId"] ?? f.name
                let serve = split(
                    variants.map { (catalog.key(for: $0), $0.weight) }, by: Self.variantChain(s.parameters["stickiness"]),
                    group: group, field: path + ".variants", problems: &problems, catalog: &catalog)
                rules = [DraftRule(name: label, when: st.when, rollout: st.rollout, serve: serve)]
            } else {
                rules = featureVariantRules(
                    f, label: label, when: st.when, rollout: st.rollout, problems: &problems, catalog: &catalog)
            }
            for rule in rules {
                guard reachable else { break }
                draft.items.append(.rule(rule))
                if rule.isCatchAll {
                    reachable = false
                    if i + 1 < f.strategies.count {
                        draft.items.append(
                            .comment(
                                (i + 2 == f.strategies.count
                                    ? "strategy \(i + 2) is" : "strategies \(i + 2) to \(f.strategies.count) are")
                                    + " not imported: strategy \(i + 1) matches everyone, so Unleash never reaches them."))
                    }
                }
            }
        }

        if f.strategies.isEmpty {
            if isJSON {
                let rules = featureVariantRules(
                    f, label: "", when: [], rollout: nil, problems: &problems, catalog: &catalog)
                for rule in rules.dropLast() { draft.items.append(.rule(rule)) }
                draft.defaultServe = rules.last!.serve
            } else {
                draft.defaultServe = .variant(Self.on)
            }
        } else if isJSON {
            draft.defaultServe = .variant(Self.off)
        }

        for w in problems.warnings { warnings.append(Warning(feature: f.name, field: w.field, message: w.message)) }
        if !problems.dead.isEmpty {
            for d in problems.dead {
                warnings.append(
                    Warning(
                        feature: f.name, field: d.field,
                        message: "\(d.message): Unleash cannot evaluate this flag and treats it as off for everyone, "
                            + "so it is imported disabled"))
            }
            var dead = FlagDraft(feature: f, key: key, isJSON: isJSON, enabled: false)
            dead.dead = true
            dead.notes = ["Imported disabled: Unleash cannot evaluate this flag, so it is off for everyone there:"]
                + problems.dead.map { "  \($0.field): \($0.message)" }
            if isJSON {
                dead.variants = [catalog.offVariant]
                dead.defaultServe = .variant(Self.off)
            }
            return dead
        }
        if let u = problems.unsupported.first {
            throw ImportError(feature: f.name, field: u.field, message: u.message)
        }
        if isJSON { draft.variants = catalog.variants }
        if !f.enabled { draft.notes.append("Disabled in Unleash.") }
        return draft
    }

    struct StrategyDraft {
        var when: [NoteCondition]
        var rollout: DraftRollout?
    }

    enum StrategyOutcome {
        case rule(StrategyDraft)
        /// It can never match: left out, with a warning.
        case never(String)
    }

    /// A strategy's conditions and rollout; nil when it can never match (it is left out, with
    /// a warning). Constraints and segments are read either way: they can make the flag dead.
    mutating func strategy(
        _ s: UStrategy, path: String, feature f: UFeature, problems: inout Problems, draft: inout FlagDraft
    ) -> StrategyOutcome {
        var when: [NoteCondition] = []
        var rollout: DraftRollout?
        var never: String?
        let p = s.parameters
        func percentage(_ name: String) -> Int? {
            switch Self.percentage(p[name]) {
            case .invalid:
                never = p[name] == nil
                    ? "it has no '\(name)' parameter, so it never matches"
                    : "its '\(name)' parameter \(YAMLText.commentQuoted(p[name]!)) is not a whole percentage, so it never matches"
                return nil
            case .value(let v) where v > 100:
                if s.name == "gradualRolloutRandom" { return 100 }
                problems.dead.append((path + ".parameters.\(name)", "rollout \(v)% is over 100"))
                return nil
            case .value(let v):
                return Int(v)
            }
        }
        switch s.name {
        case "default":
            break
        case "userWithId":
            if let ids = p["userIds"] {
                let list = ids.split(separator: ",", omittingEmptySubsequences: false).map { Self.trim(String($0)) }
                when.append(
                    NoteCondition(
                        condition: .attribute(AttributeCondition(attribute: "userId", op: .in, values: list))))
            } else {
                never = "it has no 'userIds' parameter, so it never matches"
            }
        case "gradualRolloutUserId", "gradualRolloutSessionId":
            let attribute = s.name == "gradualRolloutUserId" ? "userId" : "sessionId"
            if let group = p["groupId"] {
                if let pct = percentage("percentage") {
                    rollout = DraftRollout(percentage: pct, by: [attribute], group: group)
                }
            } else {
                never = "it has no 'groupId' parameter, so it never matches"
            }
        case "gradualRolloutRandom":
            if let pct = percentage("percentage") {
                var comment: String?
                var effective = pct
                if pct == 1 {
                    effective = 0
                    comment = "Unleash's gradualRolloutRandom never enables anyone at 1%"
                } else if let raw = p["percentage"], Self.percentage(raw) != .value(UInt64(pct)) {
                    comment = "\(raw)% of a random rollout is everyone"
                }
                rollout = DraftRollout(percentage: effective, by: [Bucketing.random], group: nil, comment: comment)
            }
        case "flexibleRollout":
            if let pct = percentage("rollout") {
                let by = Self.rolloutChain(p["stickiness"])
                rollout = DraftRollout(
                    percentage: pct, by: by, group: by == [Bucketing.random] ? nil : (p["groupId"] ?? f.name))
                if p["groupId"] == nil, pct > 0, pct < 100, by != [Bucketing.random] { draft.groupQuirk = true }
            }
        case "remoteAddress":
            if let ips = p["IPs"] {
                let list = ips.split(separator: ",", omittingEmptySubsequences: false).map { Self.trim(String($0)) }
                let valid = list.filter { CIDR($0) != nil }
                if valid.isEmpty {
                    when.append(
                        NoteCondition(
                            condition: NoteCondition.never,
                            comment: "remoteAddress: no entry of IPs is a valid address, so this never holds"))
                } else {
                    let skipped = list.filter { CIDR($0) == nil }
                    when.append(
                        NoteCondition(
                            condition: .attribute(AttributeCondition(attribute: "remoteAddress", op: .inCIDR, values: valid)),
                            comment: skipped.isEmpty
                                ? nil
                                : "Unleash skips the invalid entries "
                                    + skipped.map(YAMLText.commentQuoted).joined(separator: ", ")))
                }
            } else {
                never = "it has no 'IPs' parameter, so it never matches"
            }
        case "applicationHostname":
            never = "it depends on the name of the machine that evaluates it, which Flagstaff does not know; "
                + "Unleash's engine (yggdrasil) evaluates it as false unless built with host names, so it never matches"
        default:
            never = "it is a custom strategy, which Unleash runs only with code the application registers, and "
                + "never matches without that code; write it as conditions by hand"
        }
        for (i, c) in s.constraints.enumerated() {
            let field = path + ".constraints[\(i)]"
            switch ConstraintTranslator.translate(c) {
            case .condition(let nc): when.append(nc)
            case .dead(let m): problems.dead.append((field + ".operator", m))
            case .unsupported(let m): problems.unsupported.append((field, m))
            }
        }
        for (i, id) in s.segments.enumerated() {
            let field = path + ".segments[\(i)]"
            guard let segment = segments[id] else {
                problems.dead.append((field, "segment \(id) does not exist"))
                continue
            }
            for d in segment.dead { problems.dead.append((field, "segment \(id) \(d.field): \(d.message)")) }
            for u in segment.unsupported {
                problems.unsupported.append((field, "segment \(id) \(u.field): \(u.message)"))
            }
            when.append(NoteCondition(condition: .segment(segment.key), comment: segment.name))
        }
        if let never {
            problems.warnings.append((path, "strategy \(YAMLText.commentQuoted(s.name)) is not imported: \(never)"))
            return .never(never)
        }
        return .rule(StrategyDraft(when: when, rollout: rollout))
    }

    /// The feature variants, as rules under a strategy's conditions (or for everyone): one
    /// rule per override, in order, then the split. The last rule has the strategy's own
    /// conditions and serves the split.
    func featureVariantRules(
        _ f: UFeature, label: String, when: [NoteCondition], rollout: DraftRollout?, problems: inout Problems,
        catalog: inout VariantCatalog
    ) -> [DraftRule] {
        let prefix = label.isEmpty ? "" : label + ", "
        guard !f.variants.isEmpty else {
            catalog.needsOnWithoutVariant = true
            return [DraftRule(name: label, when: when, rollout: rollout, serve: .variant(Self.on))]
        }
        var rules: [DraftRule] = []
        for (vi, v) in f.variants.enumerated() {
            for (oi, o) in v.overrides.enumerated() where !o.values.isEmpty {
                let field = "variants[\(vi)].overrides[\(oi)]"
                if o.contextName == "currentTime", o.values.contains(where: Self.looksLikeDefaultTime) {
                    // Overrides see the raw field; Flagstaff's currentTime defaults to the evaluation time.
                    problems.unsupported.append(
                        (field,
                            "an override on currentTime with a value written like the evaluation time "
                                + "(YYYY-MM-DDTHH:MM:SSZ) would match when the context has no currentTime, "
                                + "which Unleash never does"))
                }
                let condition = Condition.attribute(
                    AttributeCondition(attribute: o.contextName, op: .in, values: o.values))
                rules.append(
                    DraftRule(
                        name: prefix + "\(o.contextName) override for \(v.name)",
                        when: when + [NoteCondition(condition: condition)], rollout: rollout,
                        serve: .variant(catalog.key(for: v))))
            }
        }
        let serve = split(
            f.variants.map { (catalog.key(for: $0), $0.weight) }, by: Self.variantChain(f.variants[0].stickiness),
            group: f.name, field: "variants", problems: &problems, catalog: &catalog)
        rules.append(DraftRule(name: label.isEmpty ? "variants" : label, when: when, rollout: rollout, serve: serve))
        return rules
    }

    /// A split, or the one variant that can win it.
    func split(
        _ weights: [(String, Int)], by: [String], group: String, field: String, problems: inout Problems,
        catalog: inout VariantCatalog
    ) -> DraftServe {
        let positive = weights.filter { $0.1 > 0 }
        if positive.isEmpty {
            catalog.needsOnWithoutVariant = true
            problems.warnings.append(
                (field,
                    "the variant weights add up to 0 (Unleash's engine fails on this); imported as "
                        + "{name: disabled, enabled: false, feature_enabled: true}"))
            return .variant(Self.on)
        }
        if positive.count == 1 { return .variant(positive[0].0) }
        return .split(weights: weights.map { (variant: $0.0, weight: $0.1) }, by: by, group: group)
    }

    // MARK: Bucketing chains

    /// flexibleRollout's `stickiness`: `default` is userId, else sessionId, else random; a
    /// named field has no fallback.
    static func rolloutChain(_ stickiness: String?) -> [String] {
        switch stickiness {
        case nil, "default": defaultChain
        case "random": [Bucketing.random]
        case let name?: [name]
        }
    }

    /// A variant's stickiness: `default` is userId, else sessionId; the standard fields are
    /// themselves; any other name (`random` and `currentTime` included) is a property. No
    /// value: a uniform random choice.
    static func variantChain(_ stickiness: String?) -> [String] {
        switch stickiness {
        case nil, "default": return defaultChain
        // A property named `random` or `currentTime` cannot reach Flagstaff's context: the
        // former is the random draw's name, the latter a standard field.
        case "random", "currentTime": return [Bucketing.random]
        case let name?: return [name, Bucketing.random]
        }
    }

    enum Percentage: Equatable {
        case invalid
        case value(UInt64)
    }

    /// Rust's `usize` parse: an optional `+`, then decimal digits only.
    static func percentage(_ text: String?) -> Percentage {
        guard var t = text else { return .invalid }
        if t.hasPrefix("+") { t.removeFirst() }
        guard !t.isEmpty, t.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let v = UInt64(t) else { return .invalid }
        return .value(v)
    }

    /// Rust's `str::trim`: Unicode white space at both ends.
    static func trim(_ s: String) -> String {
        var scalars = Substring(s).unicodeScalars
        while let f = scalars.first, f.properties.isWhitespace { scalars.removeFirst() }
        while let l = scalars.last, l.properties.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }

    /// The form of the evaluation time's default text: `YYYY-MM-DDTHH:MM:SSZ`.
    static func looksLikeDefaultTime(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard b.count == 20 else { return false }
        let pattern = Array("0000-00-00T00:00:00Z".utf8)
        for (x, p) in zip(b, pattern) {
            if p == UInt8(ascii: "0") { if !Shapes.isDigit(x) { return false } } else if x != p { return false }
        }
        return true
    }

    // MARK: Dependencies

    mutating func resolveDependencies(_ drafts: inout [FlagDraft]) throws(ImportError) {
        var index: [String: Int] = [:]
        for (i, d) in drafts.enumerated() { index[d.feature.name] = i }
        for c in drafts.indices where !drafts[c].feature.dependencies.isEmpty {
            let child = drafts[c].feature
            var unsatisfiable: [(String, String)] = []
            for (i, dep) in child.dependencies.enumerated() {
                let field = "dependencies[\(i)]"
                guard let p = index[dep.feature] else {
                    unsatisfiable.append((field, "its parent \(YAMLRendering.quoted(dep.feature)) does not exist"))
                    continue
                }
                let parent = drafts[p]
                if !parent.feature.dependencies.isEmpty {
                    unsatisfiable.append(
                        (field,
                            "its parent \(YAMLRendering.quoted(dep.feature)) has dependencies of its own; Unleash allows "
                                + "one level only, so this dependency is never satisfied"))
                    continue
                }
                var variants: [String]
                if dep.enabled {
                    if parent.dead {
                        unsatisfiable.append(
                            (field, "its parent \(YAMLRendering.quoted(dep.feature)) is off for everyone in Unleash"))
                        continue
                    }
                    if !parent.isJSON {
                        variants = [Self.on]
                    } else {
                        // A parent without a variant to give passes any variant list.
                        variants = parent.variants.compactMap { v in
                            switch v.origin {
                            case .off: nil
                            case .onWithoutVariant: v.key
                            case .unleash(let name): dep.variants.isEmpty || dep.variants.contains(name) ? v.key : nil
                            }
                        }
                        if variants.isEmpty {
                            unsatisfiable.append(
                                (field,
                                    "its parent \(YAMLRendering.quoted(dep.feature)) has no variant named "
                                        + dep.variants.map(YAMLRendering.quoted).joined(separator: " or ")))
                            continue
                        }
                    }
                } else {
                    if parent.isJSON, !dep.variants.isEmpty {
                        throw ImportError(
                            feature: child.name, field: field + ".variants",
                            message: "a dependency on \(YAMLRendering.quoted(dep.feature)) being disabled and serving one "
                                + "of \(dep.variants.map(YAMLRendering.quoted).joined(separator: ", ")) asks which "
                                + "variant a disabled flag would have chosen; Flagstaff serves a disabled flag's "
                                + "off variant and cannot express this")
                    }
                    variants = [Self.off]
                }
                if parent.groupQuirk {
                    warnings.append(
                        Warning(
                            feature: child.name, field: field,
                            message: "the parent \(YAMLRendering.quoted(dep.feature)) has a flexibleRollout without groupId; "
                                + "when checking this dependency, Unleash's engine (yggdrasil) buckets it under this "
                                + "flag's name, while Flagstaff (like Unleash's other SDKs) uses the parent's own "
                                + "buckets: some users may see this dependency differently"))
                }
                drafts[c].requires.append((parent.key, variants))
            }
            if !unsatisfiable.isEmpty {
                drafts[c].enabled = false
                drafts[c].requireNotes.append(
                    "Imported disabled: Unleash never enables this flag, because a dependency can never be satisfied:")
                for (field, message) in unsatisfiable {
                    drafts[c].requireNotes.append("  \(field): \(message)")
                    warnings.append(
                        Warning(
                            feature: child.name, field: field,
                            message: message + "; the flag is never on in Unleash, so it is imported disabled"))
                }
            }
        }
    }
}

// MARK: - Variants of a json flag

struct VariantCatalog {
    struct Identity: Hashable {
        var name: String
        var payload: UPayload?
    }

    private(set) var unleash: [DraftVariant] = []
    private var keys: [Identity: String] = [:]
    private var taken: Set<String> = [Importer.off, Importer.on]
    var needsOnWithoutVariant = false

    var offVariant: DraftVariant {
        DraftVariant(
            key: Importer.off,
            value: ["name": "disabled", "enabled": false, "feature_enabled": false], origin: .off)
    }

    var onWithoutVariant: DraftVariant {
        DraftVariant(
            key: Importer.on,
            value: ["name": "disabled", "enabled": false, "feature_enabled": true], origin: .onWithoutVariant)
    }

    /// `off`, the Unleash variants in order of first appearance, and `on` when a rule serves it.
    var variants: [DraftVariant] {
        [offVariant] + unleash + (needsOnWithoutVariant ? [onWithoutVariant] : [])
    }

    /// The variant key of an Unleash variant; the same name and payload share one key.
    mutating func key(for v: UVariant) -> String {
        let identity = Identity(name: v.name, payload: v.payload)
        if let key = keys[identity] { return key }
        let key = Importer.unique(Importer.sanitize(v.name, lowercase: false, fallback: "variant"), taken: taken)
        taken.insert(key)
        keys[identity] = key
        var value: [String: Value] = ["name": .string(v.name), "enabled": true, "feature_enabled": true]
        if let p = v.payload { value["payload"] = ["type": .string(p.type), "value": .string(p.value)] }
        unleash.append(DraftVariant(key: key, value: .object(value), origin: .unleash(v.name)))
        return key
    }
}
