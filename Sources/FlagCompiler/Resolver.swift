import FlagEngine
import FlagModel

/// Builds one (project, environment)'s flags and segments from the sources: applies the
/// environment's overlays, fills defaults, and checks every reference and value.
struct Resolver {
    let manifest: Manifest
    let project: String
    let environment: Manifest.Environment
    let flagSources: [String: FlagSource]
    let segmentSources: [String: SegmentSource]
    var diagnostics: [Diagnostic] = []

    init(
        manifest: Manifest, project: String, environment: Manifest.Environment, flags: [String: FlagSource],
        segments: [String: SegmentSource]
    ) {
        self.manifest = manifest
        self.project = project
        self.environment = environment
        self.flagSources = flags
        self.segmentSources = segments
    }

    mutating func report(_ code: DiagnosticCode, _ message: String, at location: SourceLocation, hint: String? = nil) {
        diagnostics.append(Diagnostic(code, message, at: location, hint: hint))
    }

    // MARK: Whole project

    /// Where the last resolution of this project and environment is kept, to patch
    /// rather than redo (nil: no caching), and the content ids that tell what changed.
    var cache: ParseCache?
    var manifestID: String?
    var contentIDs: [String: String] = [:]

    struct Resolved {
        var flags: [Flag]
        var segments: [Segment]
        /// Canonical JSON of each, in key order: the pieces the snapshot version hashes.
        var flagJSON: [[UInt8]]
        var segmentJSON: [[UInt8]]

        /// Without archived flags: they are compiled and checked, never served.
        func served(archived: Set<String>) -> Resolved {
            guard !archived.isEmpty else { return self }
            var out = Resolved(flags: [], segments: segments, flagJSON: [], segmentJSON: segmentJSON)
            for (flag, json) in zip(flags, flagJSON) where !archived.contains(flag.key) {
                out.flags.append(flag)
                out.flagJSON.append(json)
            }
            return out
        }
    }

    mutating func resolve() -> Resolved {
        let flagKeys = flagSources.keys.sorted()  // keys are ASCII: the same as UTF-8 order
        let segmentKeys = segmentSources.keys.sorted()
        let stateKey = "\(project)\u{0}\(environment.key)"
        let today = options.today?.seconds ?? -1
        var flagContent: [String] = []
        var segmentContent: [String] = []
        var cacheable = cache != nil && manifestID != nil
        if cacheable {
            flagContent = flagKeys.compactMap { contentIDs[flagSources[$0]!.file] }
            segmentContent = segmentKeys.compactMap { contentIDs[segmentSources[$0]!.file] }
            cacheable = flagContent.count == flagKeys.count && segmentContent.count == segmentKeys.count
        }
        if cacheable, let cache, let previous = cache.takeProject(stateKey), previous.manifestID == manifestID,
            previous.today == today, previous.flagKeys == flagKeys, previous.segmentKeys == segmentKeys,
            let patched = patch(previous, flagContent: flagContent, segmentContent: segmentContent)
        {
            cache.storeProject(stateKey, patched)
            return Resolved(
                flags: patched.flags, segments: patched.segments, flagJSON: patched.flagJSON,
                segmentJSON: patched.segmentJSON)
        }

        let state = ResolvedProject(
            manifestID: manifestID ?? "", today: today, flagKeys: flagKeys, segmentKeys: segmentKeys)
        for key in segmentKeys {
            let before = diagnostics.count
            let segment = segment(segmentSources[key]!)
            state.segments.append(segment)
            state.segmentJSON.append(CanonicalJSON.encodeBytes(segment.json))
            state.segmentProblems.append(Array(diagnostics[before...]))
        }
        var mark = diagnostics.count
        checkSegmentCycles()
        state.segmentCycleProblems = Array(diagnostics[mark...])
        for key in flagKeys {
            let source = flagSources[key]!
            let before = diagnostics.count
            let flag = flagNamingOverlayProblems(source)
            state.flags.append(flag)
            state.flagJSON.append(CanonicalJSON.encodeBytes(flag.json))
            state.flagProblems.append(Array(diagnostics[before...]))
            state.flagSignatures.append(signature(source))
        }
        mark = diagnostics.count
        checkPrerequisiteCycles(state.flags)
        state.prerequisiteCycleProblems = Array(diagnostics[mark...])
        if cacheable, let cache {
            state.flagContent = flagContent
            state.segmentContent = segmentContent
            cache.storeProject(stateKey, state)
        }
        return Resolved(
            flags: state.flags, segments: state.segments, flagJSON: state.flagJSON, segmentJSON: state.segmentJSON)
    }

    /// Re-resolves only the files whose content changed, when nothing they could affect
    /// elsewhere moved: the same keys, and every changed flag with the same type and
    /// variant names (what other flags' prerequisites check). Nil: resolve everything.
    mutating func patch(_ state: ResolvedProject, flagContent: [String], segmentContent: [String]) -> ResolvedProject? {
        let changedFlags = flagContent.indices.filter { flagContent[$0] != state.flagContent[$0] }
        for i in changedFlags where signature(flagSources[state.flagKeys[i]]!) != state.flagSignatures[i] {
            return nil
        }
        let changedSegments = segmentContent.indices.filter { segmentContent[$0] != state.segmentContent[$0] }
        var segmentReferencesMoved = false
        for i in changedSegments {
            let source = segmentSources[state.segmentKeys[i]]!
            let before = diagnostics.count
            let segment = segment(source)
            if !segmentReferences(effective(source).when ?? []).isEmpty
                || state.segments[i].when.contains(where: { if case .segment = $0 { true } else { false } })
            {
                segmentReferencesMoved = true
            }
            state.segments[i] = segment
            state.segmentJSON[i] = CanonicalJSON.encodeBytes(segment.json)
            state.segmentProblems[i] = Array(diagnostics[before...])
            state.segmentContent[i] = segmentContent[i]
        }
        var requiresMoved = false
        for i in changedFlags {
            let source = flagSources[state.flagKeys[i]]!
            let before = diagnostics.count
            let flag = flagNamingOverlayProblems(source)
            if !flag.requires.isEmpty || !state.flags[i].requires.isEmpty { requiresMoved = true }
            state.flags[i] = flag
            state.flagJSON[i] = CanonicalJSON.encodeBytes(flag.json)
            state.flagProblems[i] = Array(diagnostics[before...])
            state.flagContent[i] = flagContent[i]
        }
        // Diagnostics of unchanged files come from the state; the changed ones were just added.
        let changedFlagSet = Set(changedFlags)
        let changedSegmentSet = Set(changedSegments)
        for (i, problems) in state.segmentProblems.enumerated() where !problems.isEmpty && !changedSegmentSet.contains(i) {
            diagnostics += problems
        }
        for (i, problems) in state.flagProblems.enumerated() where !problems.isEmpty && !changedFlagSet.contains(i) {
            diagnostics += problems
        }
        // New edges can only close a cycle through a changed file; otherwise the cycles
        // found last time still stand.
        if segmentReferencesMoved {
            let mark = diagnostics.count
            checkSegmentCycles()
            state.segmentCycleProblems = Array(diagnostics[mark...])
        } else {
            diagnostics += state.segmentCycleProblems
        }
        if requiresMoved {
            let mark = diagnostics.count
            checkPrerequisiteCycles(state.flags)
            state.prerequisiteCycleProblems = Array(diagnostics[mark...])
        } else {
            diagnostics += state.prerequisiteCycleProblems
        }
        return state
    }

    /// What other files' resolution reads of a flag: its type and variant names here.
    mutating func signature(_ source: FlagSource) -> Int {
        var h = Hasher()
        h.combine(source.type)
        h.combine(source.archived)
        if let variants = effective(source).variants {
            for v in variants { h.combine(v.name.value) }
        } else {
            h.combine(0)
        }
        return h.finalize()
    }

    // MARK: Segments

    func effective(_ source: SegmentSource) -> SegmentBody {
        var body = source.base
        for (env, overlay) in source.overlays where env.value == environment.key {
            if let i = overlay.include { body.include = i }
            if let e = overlay.exclude { body.exclude = e }
            if let w = overlay.when { body.when = w }
        }
        return body
    }

    mutating func segment(_ source: SegmentSource) -> Segment {
        let body = effective(source)
        func keys(_ list: [Located<String>]?) -> [String] {
            Array(Set((list ?? []).map(\.value))).sorted(by: UTF8Order.precedes)
        }
        return Segment(
            key: source.key, name: source.name, description: source.description, include: keys(body.include),
            exclude: keys(body.exclude), when: conditions(body.when ?? []))
    }

    func segmentReferences(_ conditions: [ConditionSource]) -> [Located<String>] {
        var out: [Located<String>] = []
        func walk(_ c: ConditionSource) {
            switch c {
            case .segment(let key): out.append(key)
            case .all(let items), .any(let items): items.forEach(walk)
            case .not(let inner): walk(inner)
            case .attribute: break
            }
        }
        conditions.forEach(walk)
        return out
    }

    mutating func checkSegmentCycles() {
        var graph: [String: [Located<String>]] = [:]
        for (key, source) in segmentSources {
            graph[key] = segmentReferences(effective(source).when ?? []).filter { segmentSources[$0.value] != nil }
        }
        for cycle in Cycles.find(in: graph) {
            report(
                .segmentCycle, "segments refer to each other in a cycle: \(cycle.path.joined(separator: " → "))",
                at: cycle.edge.location, hint: "a segment may use another segment, but not itself through others")
        }
    }

    // MARK: Flags

    /// Each flag's body in this environment, computed once: resolution, the fingerprint
    /// and the cycle check all need it.
    private var effectiveBodies: [String: FlagBody] = [:]

    mutating func effective(_ source: FlagSource) -> FlagBody {
        if let body = effectiveBodies[source.key] { return body }
        let body = overlaid(source)
        effectiveBodies[source.key] = body
        return body
    }

    func overlaid(_ source: FlagSource) -> FlagBody {
        var body = source.base
        for (env, o) in source.overlays where env.value == environment.key {
            if let v = o.enabled { body.enabled = v }
            if let v = o.variants {
                body.variants = v
                body.variantsLocation = o.variantsLocation
            }
            if let v = o.offVariant { body.offVariant = v }
            if let v = o.defaultServe { body.defaultServe = v }
            if let v = o.requires { body.requires = v }
            if let v = o.rules { body.rules = v }
            if let v = o.window { body.window = v }
            if let v = o.events { body.events = v }
        }
        return body
    }

    /// Resolves a flag; a problem that only this environment's overlay causes (a staging
    /// `variants` overlay dropping a variant the base rules serve) says so, since the line it
    /// points at is in the base and reads fine on its own.
    mutating func flagNamingOverlayProblems(_ source: FlagSource) -> Flag {
        let before = diagnostics.count
        let resolved = flag(source)
        guard diagnostics.count > before, source.overlays.contains(where: { $0.environment.value == environment.key })
        else { return resolved }
        let produced = diagnostics.count
        _ = flag(source, overlays: false)
        let withoutOverlay = Set(diagnostics[produced...])
        diagnostics.removeSubrange(produced...)
        for i in before..<produced where !withoutOverlay.contains(diagnostics[i]) && diagnostics[i].severity == .error {
            diagnostics[i].message += " (in environment '\(environment.key)', with its overlay)"
        }
        return resolved
    }

    mutating func flag(_ source: FlagSource, overlays: Bool = true) -> Flag {
        let body = overlays ? effective(source) : source.base
        let fileStart = source.location
        var variants: [String: Value] = [:]
        if let declared = body.variants {
            for v in declared {
                if variants[v.name.value] != nil { continue }  // the YAML reader already rejected the duplicate
                if !source.type.accepts(v.value) {
                    report(
                        .variantTypeMismatch,
                        "variant '\(v.name.value)' of a \(source.type.rawValue) flag has \(v.value.kindName) value \(v.value)",
                        at: v.valueLocation, hint: typeHint(source.type))
                }
                if case .string(let s) = v.value, source.type == .number, Double(s) != nil {
                    // Reported above; the hint says how to write a number.
                }
                variants[v.name.value] = v.value
            }
        } else if source.type == .boolean {
            variants = ["on": .bool(true), "off": .bool(false)]
        } else {
            report(
                .missingField, "a \(source.type.rawValue) flag needs 'variants'", at: fileStart,
                hint: "e.g. `variants: { a: ..., b: ... }`")
        }
        

        var offVariant = "off"
        if let off = body.offVariant {
            checkVariant(off, "off_variant", variants)
            offVariant = off.value
        } else if source.type != .boolean {
            report(.missingField, "a \(source.type.rawValue) flag needs 'off_variant'", at: fileStart,
                hint: "name the variant served when the flag is disabled")
        } else if body.variants != nil, variants["off"] == nil {
            report(.missingField, "this flag has no 'off' variant, so it needs 'off_variant'", at: fileStart)
        }

        var defaultServe = Serve.variant(offVariant)
        if let d = body.defaultServe {
            defaultServe = serve(d, flag: source, variants: variants, what: "default")
        } else if source.type != .boolean {
            report(.missingField, "a \(source.type.rawValue) flag needs 'default'", at: fileStart,
                hint: "name the variant served when no rule matches")
        } else if body.variants != nil, variants["off"] == nil {
            report(.missingField, "this flag has no 'off' variant, so it needs 'default'", at: fileStart)
        }

        var requires: [Prerequisite] = []
        for p in body.requires ?? [] {
            guard let required = flagSources[p.flag.value] else {
                report(
                    .unknownFlag, "requires unknown flag '\(p.flag.value)'", at: p.flag.location,
                    hint: Suggestions.hint(for: p.flag.value, in: flagSources.keys, kind: "flags"))
                continue
            }
            if required.key == source.key {
                report(
                    .prerequisiteCycle, "flag '\(source.key)' requires itself", at: p.flag.location,
                    hint: "remove this prerequisite")
                continue
            }
            if required.archived, !source.archived {
                report(
                    .requiresArchived, "flag '\(source.key)' requires '\(required.key)', which is archived",
                    at: p.flag.location, hint: "restore '\(required.key)' (remove `archived: true`) or remove this prerequisite")
                continue
            }
            let requiredVariants = effectiveVariantNames(required)
            for v in p.variants where !requiredVariants.contains(v.value) {
                report(
                    .unknownVariant, "flag '\(required.key)' has no variant '\(v.value)'", at: v.location,
                    hint: Suggestions.hint(for: v.value, in: requiredVariants, kind: "variants"))
            }
            requires.append(Prerequisite(flag: p.flag.value, variants: p.variants.map(\.value)))
        }

        var rules: [Rule] = []
        var catchAll: RuleSource?
        for (i, r) in (body.rules ?? []).enumerated() {
            if let earlier = catchAll {
                report(
                    .unreachableRule,
                    "rule \(i + 1)\(r.name.map { " \"\($0)\"" } ?? "") can never match: rule at line \(earlier.location.line) matches everyone",
                    at: r.location, hint: "move it above, or give the earlier rule a condition")
            }
            if r.complete, r.when.isEmpty, r.rollout == nil, r.window == nil, catchAll == nil { catchAll = r }
            var rollout: Rollout?
            if let ro = r.rollout {
                rollout = Rollout(
                    percentage: ro.percentage.value,
                    bucketing: bucketing(by: ro.by, group: ro.group, flag: source), schedule: ro.schedule?.model)
                if let schedule = ro.schedule { checkNotPast(schedule.last, what: "the rollout's schedule", at: schedule.location) }
            }
            if let w = r.window { checkNotPast(w.end, what: "the rule's window", at: w.location) }
            rules.append(
                Rule(
                    name: r.name, when: conditions(r.when), rollout: rollout,
                    serve: serve(r.serve, flag: source, variants: variants, what: "rule \(i + 1)"),
                    window: r.window?.model))
        }
        if let w = body.window { checkNotPast(w.end, what: "the flag's window", at: w.location) }


        // A test must expect a variant the flag has where it runs.
        if !variants.isEmpty {
            for test in source.tests
            where (test.environment == nil || test.environment?.value == environment.key) && variants[test.expect.value] == nil {
                report(
                    .unknownVariant,
                    "test expects unknown variant '\(test.expect.value)'"
                        + (test.environment == nil ? "" : " in environment '\(environment.key)'"),
                    at: test.expect.location,
                    hint: Suggestions.hint(for: test.expect.value, in: variants.keys.sorted(), kind: "variants"))
            }
        }

        if let expires = source.expires {
            if let date = Timestamp.parseDate(expires.value) {
                if let today = options.today, date < today {
                    report(
                        .expired, "flag '\(source.key)' expired on \(expires.value)", at: expires.location,
                        hint: "remove the flag, or move `expires` forward if it is still needed")
                }
            } else {
                report(.invalidDate, "expires '\(expires.value)' is not a date", at: expires.location, hint: "write YYYY-MM-DD")
            }
        }

        return Flag(
            key: source.key, name: source.name, description: source.description, type: source.type,
            owner: source.owner, tags: source.tags, expires: source.expires?.value, variants: variants,
            enabled: body.enabled ?? true, offVariant: offVariant, defaultServe: defaultServe, requires: requires,
            rules: rules, window: body.window?.model, events: body.events.flatMap { $0 > 0 ? $0 : nil })
    }

    /// A schedule or window whose last change is past changes nothing any more: it warns.
    mutating func checkNotPast(_ last: TimeSource?, what: String, at location: SourceLocation) {
        guard let last, let now = options.now, last.instant <= now else { return }
        report(
            .pastSchedule, "\(what) ended at \(last.utc), which is past", at: location,
            hint: "it now always serves as at its end: write that instead, or move the times forward")
    }

    var options = ResolverOptions()

    mutating func checkVariant(_ name: Located<String>, _ what: String, _ variants: [String: Value]) {
        guard !variants.isEmpty, variants[name.value] == nil else { return }
        report(
            .unknownVariant, "\(what) names unknown variant '\(name.value)'", at: name.location,
            hint: Suggestions.hint(for: name.value, in: variants.keys.sorted(), kind: "variants"))
    }

    func typeHint(_ type: FlagType) -> String {
        switch type {
        case .boolean: "write true or false"
        case .string: "quote the value to make it a string"
        case .number: "write a number without quotes"
        case .json: "any value is allowed"
        }
    }

    mutating func effectiveVariantNames(_ source: FlagSource) -> [String] {
        if let v = effective(source).variants { return v.map(\.name.value) }
        return source.type == .boolean ? ["off", "on"] : []
    }

    mutating func bucketing(by: [Located<String>]?, group: String?, flag: FlagSource) -> Bucketing {
        for attribute in by ?? [] where attribute.value != Bucketing.random {
            checkDeclared(attribute)
        }
        return Bucketing(by: by?.map(\.value) ?? ["targetingKey"], group: group ?? flag.key)
    }

    mutating func serve(
        _ s: ServeSource, flag: FlagSource, variants: [String: Value], what: String
    ) -> Serve {
        switch s {
        case .variant(let v):
            checkVariant(v, what, variants)
            return .variant(v.value)
        case .split(let split):
            var seen = Set<String>()
            for (name, _) in split.weights {
                checkVariant(name, "\(what)'s split", variants)
                if !seen.insert(name.value).inserted {
                    report(.duplicateKey, "variant '\(name.value)' appears twice in the split", at: name.location)
                }
            }
            return .split(
                Split(
                    weights: split.weights.map { Split.Weight(variant: $0.0.value, weight: $0.1.value) },
                    bucketing: bucketing(by: split.by, group: split.group, flag: flag)))
        }
    }

    mutating func checkPrerequisiteCycles(_ flags: [Flag]) {
        var graph: [String: [Located<String>]] = [:]
        for (key, source) in flagSources {
            graph[key] = (effective(source).requires ?? []).map(\.flag).filter {
                flagSources[$0.value] != nil && $0.value != key
            }
        }
        for cycle in Cycles.find(in: graph) {
            report(
                .prerequisiteCycle, "flags require each other in a cycle: \(cycle.path.joined(separator: " → "))",
                at: cycle.edge.location, hint: "break the cycle: a flag cannot depend on itself through others")
        }
    }

    // MARK: Conditions

    mutating func conditions(_ sources: [ConditionSource]) -> [Condition] {
        sources.compactMap { condition($0) }
    }

    mutating func condition(_ source: ConditionSource) -> Condition? {
        switch source {
        case .segment(let key):
            if segmentSources[key.value] == nil {
                report(
                    .unknownSegment, "unknown segment '\(key.value)'", at: key.location,
                    hint: Suggestions.hint(for: key.value, in: segmentSources.keys, kind: "segments")
                        ?? "segments live in \(project)/segments/<key>.yaml")
            }
            return .segment(key.value)
        case .all(let items): return .all(conditions(items))
        case .any(let items): return .any(conditions(items))
        case .not(let inner):
            guard let c = condition(inner) else { return nil }
            return .not(c)
        case .attribute(let c): return attributeCondition(c)
        }
    }

    mutating func checkDeclared(_ attribute: Located<String>) {
        guard let schema = manifest.context else { return }
        let name = attribute.value
        if name == "targetingKey" || name == "currentTime" || schema[name] != nil { return }
        report(
            .undeclaredAttribute, "attribute '\(name)' is not declared in the manifest's context schema",
            at: attribute.location,
            hint: Suggestions.closest(to: name, in: Array(schema.keys) + ["targetingKey", "currentTime"]).map {
                "did you mean '\($0)'?"
            } ?? "declare it under `context:` in flagstaff.yaml")
    }

    mutating func attributeCondition(_ c: AttributeConditionSource) -> Condition {
        let op = c.op.value
        let texts = c.values.map { $0.value.scalarText ?? "" }
        // Operands must parse.
        for v in c.values {
            let text = v.value.scalarText ?? ""
            switch op.family {
            case .number:
                if !v.value.isNumber, NumberSyntax.parse(text) == nil {
                    report(.invalidNumber, "'\(text)' is not a number", at: v.location, hint: "write e.g. 42 or 3.5")
                }
            case .date:
                if Timestamp.parseLiteral(text) == nil {
                    report(
                        .invalidDate, "'\(text)' is not an RFC 3339 date-time with a time zone", at: v.location,
                        hint: "write e.g. 2026-01-31T00:00:00Z")
                }
            case .semver:
                if SemVer(text) == nil {
                    report(
                        .invalidSemver, "'\(text)' is not a semantic version", at: v.location,
                        hint: text.hasPrefix("v") ? "drop the leading 'v'" : "write MAJOR.MINOR.PATCH, e.g. 1.4.0")
                }
            case .cidr:
                if CIDR(text) == nil {
                    report(
                        .invalidCIDR, "'\(text)' is not an IP address or CIDR range", at: v.location,
                        hint: "write e.g. 10.0.0.0/8 or 2001:db8::/32")
                }
            case .regex:
                do {
                    _ = try RegexMatcher(pattern: text, caseInsensitive: c.caseInsensitive)
                } catch {
                    let outsideSubset = ["not supported", "look", "atomic", "possessive", "backreference"]
                        .contains { error.message.contains($0) }
                    report(
                        .invalidRegex, "regular expression '\(text)' is not allowed: \(error.message)", at: v.location,
                        hint: outsideSubset
                            ? "Flagstaff accepts the RE2 subset: no look-around, no back-references, no atomic groups"
                            : "the error is at offset \(error.offset) of the pattern")
                }
            case .membership, .string, .existence:
                break
            }
        }
        // The context schema, when there is one.
        if let schema = manifest.context {
            checkDeclared(c.attribute)
            if let declared = schema[c.attribute.value] ?? Self.builtIn[c.attribute.value] {
                if !Self.compatible(op.family, declared.type) {
                    report(
                        .operatorTypeMismatch,
                        "'\(op.rawValue)' cannot apply to '\(c.attribute.value)', which is a \(declared.type.rawValue)",
                        at: c.op.location, hint: Self.operatorHint(declared.type))
                }
                if op.family == .membership {
                    for v in c.values {
                        let text = v.value.scalarText ?? ""
                        if let allowed = declared.allowed, !allowed.contains(text) {
                            report(
                                .valueNotInEnum, "'\(text)' is not one of the values of '\(c.attribute.value)'",
                                at: v.location,
                                hint: Suggestions.closest(to: text, in: allowed).map { "did you mean '\($0)'?" }
                                    ?? "allowed: \(allowed.joined(separator: ", "))")
                        }
                        if declared.type == .number, !v.value.isNumber, NumberSyntax.parse(text) == nil {
                            report(.invalidNumber, "'\(text)' is not a number", at: v.location)
                        }
                    }
                }
            }
        }
        return .attribute(
            AttributeCondition(
                attribute: c.attribute.value, op: op, values: texts,
                caseInsensitive: c.caseInsensitive && op.honoursCaseInsensitive, negate: c.negate))
    }

    static let builtIn: [String: ContextAttribute] = [
        "targetingKey": ContextAttribute(name: "targetingKey", type: .string),
        "currentTime": ContextAttribute(name: "currentTime", type: .datetime),
    ]

    static func compatible(_ family: Operator.Family, _ type: AttributeType) -> Bool {
        switch (family, type) {
        case (.existence, _): true
        case (.membership, .datetime): false
        case (.membership, _): true
        case (.string, .string), (.regex, .string): true
        case (.number, .number): true
        case (.date, .datetime): true
        case (.semver, .semver): true
        case (.cidr, .ip), (.cidr, .string): true
        default: false
        }
    }

    static func operatorHint(_ type: AttributeType) -> String {
        switch type {
        case .string: "use in, not_in, contains, starts_with, ends_with, matches or exists"
        case .number: "use num_eq, num_gt, num_gte, num_lt, num_lte, in, not_in or exists"
        case .boolean: "use in or not_in with true or false, or exists"
        case .semver: "use semver_eq, semver_gt, semver_gte, semver_lt, semver_lte, in, not_in or exists"
        case .datetime: "use before, after or exists"
        case .ip: "use in_cidr, in, not_in or exists"
        }
    }
}

struct ResolverOptions {
    /// Start of today; `expires` before it warns. nil skips the check.
    var today: Instant?
    /// The compile time; schedules that ended before it warn. nil skips the check.
    var now: Instant?
}

/// Cycle detection in a reference graph, reporting each cycle once.
enum Cycles {
    struct Cycle {
        var path: [String]
        /// The reference that closes the cycle, where the diagnostic points.
        var edge: Located<String>
    }

    static func find(in graph: [String: [Located<String>]]) -> [Cycle] {
        var state: [String: Int] = [:]  // 1 visiting, 2 done
        var stack: [String] = []
        var cycles: [Cycle] = []
        func visit(_ node: String) {
            state[node] = 1
            stack.append(node)
            for edge in graph[node] ?? [] {
                switch state[edge.value] {
                case 1?:
                    let start = stack.firstIndex(of: edge.value)!
                    cycles.append(Cycle(path: Array(stack[start...]) + [edge.value], edge: edge))
                case nil:
                    visit(edge.value)
                default:
                    break
                }
            }
            stack.removeLast()
            state[node] = 2
        }
        for node in graph.keys.sorted() where state[node] == nil { visit(node) }
        return cycles
    }
}
