import FlagEngine
import FlagModel

extension Keys {
    /// Variant names may also use capitals.
    static func isValidVariantName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...50).contains(bytes.count) else { return false }
        for (i, b) in bytes.enumerated() {
            let alnum = (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39)
            if i == 0 { if !alnum { return false } } else if !(alnum || b == 0x5F || b == 0x2E || b == 0x2D) {
                return false
            }
        }
        return true
    }
}

/// Turns YAML nodes into the source model, reporting every shape problem it meets.
struct SourceParser {
    var reader: NodeReader

    init(file: String) {
        reader = NodeReader(file: file)
    }

    var diagnostics: [Diagnostic] { reader.diagnostics }

    // MARK: Manifest

    static let manifestFields = ["version", "organization", "name", "projects", "environments", "context", "analytics"]

    mutating func manifest(_ node: YAMLNode?) -> Manifest? {
        guard let node else {
            reader.report(
                .missingField, "the manifest is empty", at: SourceLocation(file: reader.file),
                hint: "start from `flagstaff init`")
            return nil
        }
        guard let f = reader.fields(node, allowed: Self.manifestFields, what: "the manifest") else { return nil }
        var version = 1
        if let v = reader.require(f, "version", what: "the manifest", hint: "add `version: 1`"),
            let n = reader.int(v, what: "version")
        {
            version = n.value
            if n.value != 1 {
                reader.report(
                    .unsupportedVersion, "manifest version \(n.value) is not supported", at: v,
                    hint: "this Flagstaff reads version 1")
            }
        }
        var organization = "default"
        if let o = reader.require(f, "organization", what: "the manifest"), let s = reader.string(o, what: "organization") {
            organization = s.value
            if !Keys.isValid(s.value) {
                reader.report(.invalidKey, "'\(s.value)' is not a valid organization key", at: o, hint: Keys.rule)
            }
        }
        let orgName = f["name"].flatMap { reader.string($0, what: "name")?.value } ?? organization

        var projects: [Manifest.Project] = []
        if let p = reader.require(f, "projects", what: "the manifest") {
            for (key, value) in reader.entries(p, what: "projects") {
                if !Keys.isValid(key.value) {
                    reader.report(.invalidKey, "'\(key.value)' is not a valid project key", at: key.location, hint: Keys.rule)
                }
                var project = Manifest.Project(key: key.value, name: key.value)
                if case .scalar(let s) = value.kind, s.value == .null {
                    projects.append(project)
                    continue
                }
                if let pf = reader.fields(value, allowed: ["name", "description"], what: "a project") {
                    if let n = pf["name"] { project.name = reader.string(n, what: "name")?.value ?? key.value }
                    if let d = pf["description"] { project.description = reader.string(d, what: "description")?.value }
                }
                projects.append(project)
            }
            if projects.isEmpty, case .mapping = p.kind {
                reader.report(.invalidValue, "the manifest declares no project", at: p, hint: "add one under `projects:`")
            }
        }

        var environments: [Manifest.Environment] = []
        if let e = reader.require(f, "environments", what: "the manifest") {
            for (key, value) in reader.entries(e, what: "environments") {
                if !Keys.isValid(key.value) {
                    reader.report(
                        .invalidKey, "'\(key.value)' is not a valid environment key", at: key.location, hint: Keys.rule)
                }
                guard
                    let ef = reader.fields(
                        value, allowed: ["branch", "production", "name", "description", "write"], what: "an environment")
                else { continue }
                var env = Manifest.Environment(key: key.value, name: key.value, branch: key.value, production: false)
                if let b = reader.require(
                    ef, "branch", what: "environment '\(key.value)'", hint: "name the Git branch it follows")
                {
                    env.branch = reader.string(b, what: "branch")?.value ?? key.value
                }
                if let p = ef["production"] { env.production = reader.bool(p, what: "production")?.value ?? false }
                if let n = ef["name"] { env.name = reader.string(n, what: "name")?.value ?? key.value }
                if let d = ef["description"] { env.description = reader.string(d, what: "description")?.value }
                if let w = ef["write"], let text = reader.string(w, what: "write") {
                    if let policy = Manifest.WritePolicy(rawValue: text.value) {
                        env.write = policy
                    } else {
                        reader.report(
                            .invalidValue, "write '\(text.value)' must be direct or review", at: text.location,
                            hint: "`write: review` opens a change for every API write; `direct` commits to the branch")
                    }
                }
                environments.append(env)
            }
            let productions = environments.filter(\.production)
            if case .mapping = e.kind {
                if environments.isEmpty {
                    reader.report(.invalidValue, "the manifest declares no environment", at: e)
                } else if productions.count != 1 {
                    reader.report(
                        .invalidValue,
                        productions.isEmpty
                            ? "no environment is marked `production: true`"
                            : "\(productions.count) environments are marked `production: true`",
                        at: e, hint: "mark exactly one environment `production: true`")
                }
            }
        }

        var context: [String: ContextAttribute]?
        // Names written under `context:`, even those whose declaration has a problem of its
        // own: `keep` checks against these so as not to report that problem twice.
        var declared: Set<String>?
        if let c = f["context"] {
            var attributes: [String: ContextAttribute] = [:]
            var names: Set<String> = []
            for (name, value) in reader.entries(c, what: "context") {
                names.insert(name.value)
                if let attribute = contextAttribute(name.value, value) { attributes[name.value] = attribute }
            }
            context = attributes
            declared = names
        }
        var manifest = Manifest(
            version: version, organization: organization, organizationName: orgName, projects: projects,
            environments: environments, context: context)
        if let a = f["analytics"] { manifest.analytics = analytics(a, declared: declared) }
        return manifest
    }

    // MARK: Analytics

    static let analyticsFields = ["keep", "targeting_key"]

    /// The manifest's `analytics:`. `declared` holds the context schema's names, nil when
    /// the manifest has no schema (then any attribute may be kept).
    private mutating func analytics(_ node: YAMLNode, declared: Set<String>?) -> AnalyticsPolicy {
        guard let f = reader.fields(node, allowed: Self.analyticsFields, what: "analytics") else { return .default }
        var keep: [String] = []
        if let k = f["keep"], let items = reader.strings(k, what: "keep") {
            var seen: Set<String> = []
            for item in items {
                if item.value == "targetingKey" {
                    reader.report(
                        .invalidValue, "`keep` cannot list 'targetingKey'", at: item.location,
                        hint: "the targeting key is governed by `targeting_key` (hashed or plain); remove it here")
                    continue
                }
                guard seen.insert(item.value).inserted else {
                    reader.report(
                        .invalidValue, "'\(item.value)' is listed twice in `keep`", at: item.location,
                        hint: "remove the second one")
                    continue
                }
                // `currentTime` always exists, as in conditions (an event has its own time anyway).
                if let declared, !declared.contains(item.value), item.value != "currentTime" {
                    let declare = "declare it under `context:` in flagstaff.yaml"
                    reader.report(
                        .undeclaredAttribute,
                        "attribute '\(item.value)' in `keep` is not declared in the manifest's context schema",
                        at: item.location,
                        hint: Suggestions.closest(to: item.value, in: declared).map {
                            "did you mean '\($0)'? Or \(declare)"
                        } ?? "\(declare), or fix the spelling")
                }
                keep.append(item.value)
            }
        }
        var targetingKey = TargetingKeyPolicy.hashed
        if let t = f["targeting_key"], let word = reader.string(t, what: "targeting_key") {
            if let policy = TargetingKeyPolicy(rawValue: word.value) {
                targetingKey = policy
            } else {
                reader.report(
                    .invalidValue, "unknown targeting_key policy '\(word.value)'", at: t,
                    hint: Suggestions.hint(for: word.value, in: TargetingKeyPolicy.allCases.map(\.rawValue)))
            }
        }
        return AnalyticsPolicy(keep: keep, targetingKey: targetingKey)
    }

    private mutating func contextAttribute(_ name: String, _ node: YAMLNode) -> ContextAttribute? {
        let typeNames = AttributeType.allCases.map(\.rawValue)
        func type(_ n: YAMLNode) -> AttributeType? {
            guard let word = reader.string(n, what: "the type of '\(name)'") else { return nil }
            guard let t = AttributeType(rawValue: word.value) else {
                reader.report(
                    .invalidContextType, "unknown context type '\(word.value)' for '\(name)'", at: n,
                    hint: Suggestions.hint(for: word.value, in: typeNames))
                return nil
            }
            return t
        }
        if case .scalar = node.kind {
            return type(node).map { ContextAttribute(name: name, type: $0) }
        }
        guard let f = reader.fields(node, allowed: ["type", "enum", "description"], what: "a context attribute"),
            let t = reader.require(f, "type", what: "context attribute '\(name)'"), let attributeType = type(t)
        else { return nil }
        var attribute = ContextAttribute(name: name, type: attributeType)
        if let d = f["description"] { attribute.description = reader.string(d, what: "description")?.value }
        if let e = f["enum"], let items = reader.list(e, what: "enum") {
            attribute.allowed = items.compactMap { item in
                guard case .scalar(let s) = item.kind, let text = s.value.scalarText else {
                    reader.report(.wrongType, "enum values must be scalars", at: item)
                    return nil
                }
                return text
            }
        }
        return attribute
    }

    // MARK: Flags

    static let flagFields = [
        "name", "description", "type", "owner", "tags", "expires", "variants", "enabled", "off_variant", "default",
        "requires", "rules", "environments", "tests", "window", "events", "archived",
    ]

    mutating func flag(_ node: YAMLNode?, key: String, project: String) -> FlagSource {
        let fileLocation = SourceLocation(file: reader.file, line: 1, column: 1)
        let flag = FlagSource(
            key: key, project: project, file: reader.file, location: fileLocation, type: .boolean, tags: [],
            base: FlagBody(), overlays: [], tests: [])
        guard let node else { return flag }
        flag.location = reader.location(node)
        guard let f = reader.fields(node, allowed: Self.flagFields, what: "a flag") else { return flag }
        if let n = f["name"] { flag.name = reader.string(n, what: "name")?.value }
        if let d = f["description"] { flag.description = reader.string(d, what: "description")?.value }
        if let o = f["owner"] { flag.owner = reader.string(o, what: "owner")?.value }
        if let t = f["tags"] { flag.tags = reader.strings(t, what: "tags")?.map(\.value) ?? [] }
        if let e = f["expires"] { flag.expires = reader.name(e, what: "expires") }
        if let a = f["archived"] { flag.archived = reader.bool(a, what: "archived")?.value ?? false }
        if let t = f["type"], let word = reader.string(t, what: "type") {
            flag.typeLocation = word.location
            if let type = FlagType(rawValue: word.value) {
                flag.type = type
            } else {
                reader.report(
                    .invalidValue, "unknown flag type '\(word.value)'", at: t,
                    hint: Suggestions.hint(for: word.value, in: FlagType.allCases.map(\.rawValue)))
            }
        }
        flag.base = body(f, what: "a flag")
        if let envs = f["environments"] {
            for (env, value) in reader.entries(envs, what: "environments") {
                guard
                    let of = reader.fields(
                        value, allowed: Self.flagFields, what: "the '\(env.value)' overlay")
                else { continue }
                for (name, keyNode) in of.keys where !FlagBody.overlayableFields.contains(name) {
                    reader.report(
                        .notOverlayable, "'\(name)' cannot be changed per environment", at: keyNode,
                        hint: "an overlay may set \(FlagBody.overlayableFields.joined(separator: ", "))")
                }
                flag.overlays.append((env, body(of, what: "the '\(env.value)' overlay")))
            }
        }
        if let t = f["tests"], let items = reader.list(t, what: "tests") {
            flag.tests = items.compactMap { goldenTest($0) }
        }
        return flag
    }

    private mutating func body(_ f: NodeReader.Fields, what: String) -> FlagBody {
        var body = FlagBody()
        if let e = f["enabled"] { body.enabled = reader.bool(e, what: "enabled")?.value }
        if let v = f["variants"] {
            body.variantsLocation = reader.location(v)
            body.variants = reader.entries(v, what: "variants").map { name, value in
                if !Keys.isValidVariantName(name.value) {
                    reader.report(
                        .invalidKey, "'\(name.value)' is not a valid variant name", at: name.location,
                        hint: "variant names are 1 to 50 characters of A-Z, a-z, 0-9, '_', '.', '-'")
                }
                return VariantSource(name: name, value: value.value, valueLocation: reader.location(value))
            }
            if body.variants?.isEmpty == true, case .mapping = v.kind {
                reader.report(.invalidValue, "a flag needs at least one variant", at: v)
            }
        }
        if let o = f["off_variant"] { body.offVariant = reader.name(o, what: "off_variant") }
        if let d = f["default"] { body.defaultServe = serve(d) }
        if let r = f["requires"], let items = reader.list(r, what: "requires") {
            body.requires = items.compactMap { prerequisite($0) }
        }
        if let r = f["rules"], let items = reader.list(r, what: "rules") {
            body.rules = items.compactMap { rule($0) }
        }
        if let w = f["window"] { body.window = window(w, what: "the flag's window") }
        if let e = f["events"] { body.events = events(e) }
        return body
    }

    /// `events: true` (every evaluation, 1), `events: false` (none, 0) or a sample rate, a
    /// number with 0 < rate ≤ 1.
    private mutating func events(_ node: YAMLNode) -> Double? {
        let forms = "write `events: true` (every evaluation), `events: false` (none) or a rate such as `events: 0.25`"
        func wrongType(hint: String) {
            reader.report(
                .wrongType, "events must be true, false or a sample rate, found \(NodeReader.describe(node))", at: node,
                hint: hint)
        }
        guard case .scalar(let s) = node.kind else {
            wrongType(hint: forms)
            return nil
        }
        let rate: Double
        switch s.value {
        case .bool(let on): return on ? 1 : 0
        case .int(let i): rate = Double(i)
        case .double(let d): rate = d
        case .string(let text):
            var number = text.hasSuffix("%") ? text.dropLast() : ""
            while number.last == " " { number = number.dropLast() }
            let percent = Double(number)
            if ["yes", "no", "on", "off", "y", "n"].contains(text.lowercased()) {
                wrongType(hint: "YAML 1.2 reads '\(text)' as a string; write true or false")
            } else if let percent {
                let fraction = CanonicalJSON.format(percent / 100)
                wrongType(hint: "a sample rate is a fraction of 1: write \(fraction) for \(text)")
            } else if Double(text) != nil {
                wrongType(hint: "remove the quotes")
            } else {
                wrongType(hint: forms)
            }
            return nil
        default:
            wrongType(hint: forms)
            return nil
        }
        guard rate > 0, rate <= 1 else {
            let hint: String
            if rate == 0 {
                hint = "write `events: false` to record no evaluation"
            } else if rate > 1 && rate <= 100 {
                // Most likely a percentage.
                let fraction = CanonicalJSON.format(rate / 100)
                hint = "a sample rate is a fraction, at most 1 (every evaluation): \(s.text) % is \(fraction)"
            } else {
                hint = "a sample rate is more than 0 and at most 1, which records every evaluation"
            }
            reader.report(
                .invalidSampleRate, "events sample rate \(s.text) is outside 0 < rate ≤ 1", at: node, hint: hint)
            return nil
        }
        return rate
    }

    private mutating func prerequisite(_ node: YAMLNode) -> PrerequisiteSource? {
        guard let f = reader.fields(node, allowed: ["flag", "variants"], what: "a prerequisite"),
            let flagNode = reader.require(f, "flag", what: "a prerequisite"),
            let flag = reader.string(flagNode, what: "flag"),
            let variantsNode = reader.require(
                f, "variants", what: "a prerequisite", hint: "list the variants it must serve, e.g. `variants: [on]`"),
            let variants = reader.names(variantsNode, what: "variants")
        else { return nil }
        if variants.isEmpty, case .sequence = variantsNode.kind {
            reader.report(.invalidValue, "a prerequisite needs at least one variant", at: variantsNode)
        }
        return PrerequisiteSource(flag: flag, variants: variants, location: reader.location(node))
    }

    static let ruleFields = ["name", "when", "rollout", "serve", "window"]

    private mutating func rule(_ node: YAMLNode) -> RuleSource? {
        let errorsBefore = reader.diagnostics.filter { $0.severity == .error }.count
        guard let f = reader.fields(node, allowed: Self.ruleFields, what: "a rule") else { return nil }
        let name = f["name"].flatMap { reader.string($0, what: "name")?.value }
        var when: [ConditionSource] = []
        if let w = f["when"] { when = conditions(w) }
        var rollout: RolloutSource?
        if let r = f["rollout"] { rollout = self.rollout(r) }
        let window = f["window"].flatMap { self.window($0, what: "a rule's window") }
        guard let s = reader.require(f, "serve", what: "a rule", hint: "add `serve: <variant>`"), let serve = serve(s)
        else { return nil }
        let complete = reader.diagnostics.filter { $0.severity == .error }.count == errorsBefore
        return RuleSource(
            name: name, when: when, rollout: rollout, serve: serve, window: window, location: reader.location(node),
            complete: complete)
    }

    private mutating func percentage(_ n: YAMLNode) -> Located<Int>? {
        if case .scalar(let s) = n.kind, case .double = s.value {
            reader.report(
                .invalidRollout, "a rollout is a whole percentage, found \(s.text)", at: n,
                hint: "write an integer from 0 to 100")
            return nil
        }
        if case .scalar(let s) = n.kind, case .string(let text) = s.value, Int(text) != nil {
            reader.report(
                .wrongType, "rollout must be a whole number, found the string \"\(text)\"", at: n,
                hint: "remove the quotes")
            return nil
        }
        guard let p = reader.int(n, what: "rollout") else { return nil }
        guard (0...100).contains(p.value) else {
            reader.report(
                .invalidRollout, "rollout \(p.value) is outside 0...100", at: n,
                hint: "a rollout is a percentage from 0 to 100")
            return nil
        }
        return p
    }

    private mutating func rollout(_ node: YAMLNode) -> RolloutSource? {
        if case .scalar = node.kind {
            return percentage(node).map { RolloutSource(percentage: $0) }
        }
        guard let f = reader.fields(node, allowed: ["percentage", "by", "group", "ramp", "steps"], what: "a rollout")
        else { return nil }
        let by = f["by"].flatMap { bucketing($0) }
        let group = f["group"].flatMap { reader.string($0, what: "group")?.value }
        if let r = f["ramp"] {
            if let s = f.keys["steps"] {
                reader.report(
                    .invalidSchedule, "a rollout has either `ramp` or `steps`, not both", at: s,
                    hint: "write the ramp as steps, or drop the steps")
                return nil
            }
            if let p = f.keys["percentage"] {
                reader.report(
                    .invalidSchedule, "a ramping rollout takes its percentages from the ramp", at: p,
                    hint: "remove `percentage`; the ramp's `from` applies before its start")
                return nil
            }
            guard let ramp = ramp(r) else { return nil }
            guard case .ramp(let from, _, _, _, _) = ramp else { return nil }
            return RolloutSource(percentage: from, by: by, group: group, schedule: ramp)
        }
        if let s = f["steps"] {
            var base = Located(value: 0, location: reader.location(s))
            if let p = f["percentage"] {
                guard let pct = percentage(p) else { return nil }
                base = pct
            }
            guard let steps = steps(s) else { return nil }
            return RolloutSource(percentage: base, by: by, group: group, schedule: steps)
        }
        guard let p = reader.require(f, "percentage", what: "a rollout", hint: "or give it a `ramp` or `steps`"),
            let pct = percentage(p)
        else { return nil }
        return RolloutSource(percentage: pct, by: by, group: group)
    }

    // MARK: Time

    /// A time with a zone, as RFC 3339 writes it (`2026-12-07T09:00:00+01:00`).
    private mutating func time(_ node: YAMLNode, what: String) -> TimeSource? {
        guard case .scalar(let s) = node.kind, s.value != .null else {
            reader.report(.wrongType, "\(what) must be a time, found \(NodeReader.describe(node))", at: node)
            return nil
        }
        guard let instant = Timestamp.parseLiteral(s.text) else {
            let hint: String
            if Timestamp.parseDate(s.text) != nil {
                hint = "add a time of day and a zone, e.g. \(s.text)T00:00:00Z"
            } else if Timestamp.parse(s.text + "Z") != nil {
                hint = "add a zone, e.g. \(s.text)Z for UTC or \(s.text)+01:00"
            } else {
                hint = "write RFC 3339 with a zone, e.g. 2026-12-07T09:00:00Z or 2026-12-07T09:00:00+01:00"
            }
            reader.report(.invalidTime, "\(what) '\(s.text)' is not a time with a zone", at: node, hint: hint)
            return nil
        }
        guard (0...7_258_118_400).contains(instant.seconds) else {
            reader.report(
                .invalidTime, "\(what) '\(s.text)' is outside the years 1970 to 2200", at: node,
                hint: "schedules are for times a service runs")
            return nil
        }
        return TimeSource(instant: instant, utc: Timestamp.formatPrecise(instant), location: reader.location(node))
    }

    private mutating func window(_ node: YAMLNode, what: String) -> WindowSource? {
        guard let f = reader.fields(node, allowed: ["start", "end"], what: what) else { return nil }
        let start = f["start"].flatMap { time($0, what: "start") }
        let end = f["end"].flatMap { time($0, what: "end") }
        if f["start"] == nil, f["end"] == nil {
            reader.report(
                .missingField, "\(what) needs a `start`, an `end` or both", at: node,
                hint: "e.g. `window: { start: 2026-12-07T09:00:00Z, end: 2026-12-14T09:00:00Z }`")
            return nil
        }
        if let start, let end, end.instant <= start.instant {
            reader.report(
                .invalidSchedule, "\(what) ends at \(end.utc), not after it starts at \(start.utc)", at: end.location,
                hint: "the end is excluded: it must come after the start")
            return nil
        }
        guard (f["start"] == nil || start != nil), (f["end"] == nil || end != nil) else { return nil }
        return WindowSource(start: start, end: end, location: reader.location(node))
    }

    private mutating func ramp(
        _ node: YAMLNode
    ) -> ScheduleSource? {
        guard let f = reader.fields(node, allowed: ["from", "to", "start", "end"], what: "a ramp") else { return nil }
        let example = "e.g. `ramp: { from: 5, to: 100, start: 2026-12-07T09:00:00Z, end: 2026-12-14T09:00:00Z }`"
        guard let fn = reader.require(f, "from", what: "a ramp", hint: example),
            let tn = reader.require(f, "to", what: "a ramp", hint: example),
            let sn = reader.require(f, "start", what: "a ramp", hint: example),
            let en = reader.require(f, "end", what: "a ramp", hint: example)
        else { return nil }
        let from = percentage(fn)
        let to = percentage(tn)
        let start = time(sn, what: "start")
        let end = time(en, what: "end")
        guard let from, let to, let start, let end else { return nil }
        guard end.instant > start.instant else {
            reader.report(
                .invalidSchedule, "the ramp ends at \(end.utc), not after it starts at \(start.utc)", at: end.location,
                hint: "a ramp runs from `start` to a later `end`")
            return nil
        }
        return .ramp(from: from, to: to, start: start, end: end, location: reader.location(node))
    }

    private mutating func steps(
        _ node: YAMLNode
    ) -> ScheduleSource? {
        guard let items = reader.list(node, what: "steps") else { return nil }
        guard !items.isEmpty else {
            reader.report(
                .invalidValue, "`steps` needs at least one step", at: node,
                hint: "e.g. `steps: [{ at: 2026-12-07T09:00:00Z, percentage: 25 }]`")
            return nil
        }
        var steps: [(at: TimeSource, percentage: Located<Int>)] = []
        var complete = true
        for item in items {
            guard let f = reader.fields(item, allowed: ["at", "percentage"], what: "a step"),
                let an = reader.require(f, "at", what: "a step", hint: "when the step begins, with a zone"),
                let pn = reader.require(f, "percentage", what: "a step"),
                let at = time(an, what: "at"), let p = percentage(pn)
            else {
                complete = false
                continue
            }
            if let previous = steps.last, at.instant <= previous.at.instant {
                reader.report(
                    .invalidSchedule, "step at \(at.utc) does not come after the step at \(previous.at.utc)",
                    at: at.location, hint: "list the steps in time order, each at a different time")
                complete = false
                continue
            }
            steps.append((at, p))
        }
        guard complete else { return nil }
        return .steps(steps, location: reader.location(node))
    }

    private mutating func bucketing(_ node: YAMLNode) -> [Located<String>]? {
        guard let by = reader.strings(node, what: "by") else { return nil }
        if by.isEmpty, case .sequence = node.kind {
            reader.report(.invalidValue, "`by` needs at least one attribute", at: node, hint: "omit it for [targetingKey]")
            return nil
        }
        return by
    }

    mutating func serve(_ node: YAMLNode) -> ServeSource? {
        if case .scalar = node.kind {
            return reader.name(node, what: "a variant").map(ServeSource.variant)
        }
        guard let f = reader.fields(node, allowed: ["split", "by", "group"], what: "a split"),
            let s = reader.require(f, "split", what: "a split", hint: "write `split: { variantA: 50, variantB: 50 }`")
        else { return nil }
        var weights: [(Located<String>, Located<Int>)] = []
        var unreadable = false
        for (name, value) in reader.entries(s, what: "split") {
            guard let w = reader.int(value, what: "the weight of '\(name.value)'") else {
                unreadable = true
                continue
            }
            if w.value < 0 {
                reader.report(
                    .invalidWeight, "weight \(w.value) of '\(name.value)' is negative", at: value,
                    hint: "weights are whole numbers from 0 up; 0 serves the variant to nobody")
                unreadable = true
                continue
            }
            weights.append((name, w))
        }
        if case .mapping = s.kind, !unreadable, weights.reduce(0, { $0 + $1.1.value }) == 0 {
            reader.report(.invalidWeight, "the weights of this split add up to 0", at: s, hint: "give a variant a weight")
        }
        return .split(
            SplitSource(
                weights: weights, by: f["by"].flatMap { bucketing($0) },
                group: f["group"].flatMap { reader.string($0, what: "group")?.value }, location: reader.location(node)))
    }

    // MARK: Conditions

    mutating func conditions(_ node: YAMLNode) -> [ConditionSource] {
        guard let items = reader.list(node, what: "when") else { return [] }
        return items.compactMap { condition($0) }
    }

    static let conditionFields = [
        "attribute", "op", "values", "value", "case_insensitive", "negate", "segment", "all", "any", "not",
    ]

    mutating func condition(_ node: YAMLNode) -> ConditionSource? {
        guard let f = reader.fields(node, allowed: Self.conditionFields, what: "a condition") else { return nil }
        let forms = ["segment", "all", "any", "not", "attribute"].filter { f[$0] != nil }
        guard forms.count == 1, let form = forms.first else {
            reader.report(
                forms.isEmpty ? .missingField : .invalidValue,
                forms.isEmpty
                    ? "a condition needs 'attribute', 'segment', 'all', 'any' or 'not'"
                    : "a condition has one of 'attribute', 'segment', 'all', 'any', 'not', found \(forms.joined(separator: " and "))",
                at: node)
            return nil
        }
        if form != "attribute" {
            for extra in ["op", "values", "value", "case_insensitive", "negate"] where f[extra] != nil {
                reader.report(.unknownField, "'\(extra)' belongs to attribute conditions, not '\(form)'", at: f.keys[extra]!)
            }
        }
        switch form {
        case "segment":
            return reader.string(f["segment"]!, what: "segment").map(ConditionSource.segment)
        case "all":
            return .all(conditions(f["all"]!))
        case "any":
            return .any(conditions(f["any"]!))
        case "not":
            guard let inner = condition(f["not"]!) else { return nil }
            return .not(inner)
        default:
            break
        }
        guard let attribute = reader.string(f["attribute"]!, what: "attribute"),
            let opNode = reader.require(f, "op", what: "a condition", hint: "e.g. `op: in`"),
            let opWord = reader.string(opNode, what: "op")
        else { return nil }
        guard let op = Operator(rawValue: opWord.value) else {
            let names = Operator.allCases.map(\.rawValue)
            let suffixed = names.filter { $0.hasSuffix("_" + opWord.value) }
            let hint =
                Suggestions.closest(to: opWord.value, in: names).map { "did you mean '\($0)'?" }
                ?? (suffixed.isEmpty ? nil : "did you mean \(suffixed.map { "'\($0)'" }.joined(separator: " or "))?")
                ?? "operators: \(names.joined(separator: ", "))"
            reader.report(.unknownOperator, "unknown operator '\(opWord.value)'", at: opNode, hint: hint)
            return nil
        }
        var values: [Located<Value>] = []
        if f["values"] != nil, f["value"] != nil {
            reader.report(
                .invalidValue, "write either 'value' or 'values', not both", at: f.keys["value"]!,
                hint: "`value: x` is short for `values: [x]`")
        }
        func scalarValue(_ n: YAMLNode) -> Located<Value>? {
            guard case .scalar(let s) = n.kind, s.value != .null else {
                reader.report(.wrongType, "condition values must be strings or numbers, found \(NodeReader.describe(n))", at: n)
                return nil
            }
            return Located(value: s.value, location: reader.location(n))
        }
        if let v = f["values"], let items = reader.list(v, what: "values") {
            values = items.compactMap(scalarValue)
        } else if let v = f["value"], let single = scalarValue(v) {
            values = [single]
        }
        let arityNode = f["values"] ?? f["value"] ?? opNode
        if op == .exists {
            if !values.isEmpty {
                reader.report(.operatorArity, "'exists' takes no values", at: arityNode, hint: "remove the values")
            }
        } else if op.takesSingleValue {
            if values.count != 1 {
                reader.report(
                    .operatorArity, "'\(op.rawValue)' takes exactly one value, found \(values.count)", at: arityNode,
                    hint: "write `value: …`")
            }
        } else if values.isEmpty, f["values"] == nil || reader.diagnostics.last?.location != reader.location(f["values"]!) {
            reader.report(.operatorArity, "'\(op.rawValue)' needs at least one value", at: arityNode, hint: "add `values: [...]`")
        }
        let ci = f["case_insensitive"].flatMap { reader.bool($0, what: "case_insensitive")?.value } ?? false
        if ci, !op.honoursCaseInsensitive {
            reader.report(
                .caseInsensitiveIgnored, "'case_insensitive' has no effect on '\(op.rawValue)'",
                at: f.keys["case_insensitive"]!, hint: "remove it")
        }
        let negate = f["negate"].flatMap { reader.bool($0, what: "negate")?.value } ?? false
        return .attribute(
            AttributeConditionSource(
                attribute: attribute, op: Located(value: op, location: opWord.location), values: values,
                caseInsensitive: ci, negate: negate, location: reader.location(node)))
    }

    // MARK: Golden tests

    static let testFields = ["name", "environment", "context", "expect", "value", "reason", "at"]

    private mutating func goldenTest(_ node: YAMLNode) -> GoldenTestSource? {
        guard let f = reader.fields(node, allowed: Self.testFields, what: "a test") else { return nil }
        guard let c = reader.require(f, "context", what: "a test", hint: "e.g. `context: { targetingKey: u1 }`"),
            let e = reader.require(f, "expect", what: "a test", hint: "name the variant it must serve"),
            let expect = reader.name(e, what: "expect")
        else { return nil }
        guard case .object(let context) = c.value else {
            reader.report(.wrongType, "a test's context must be a mapping, found \(NodeReader.describe(c))", at: c)
            return nil
        }
        var reason: Located<String>?
        if let r = f["reason"], let word = reader.string(r, what: "reason") {
            if Reason(rawValue: word.value) == nil || word.value == "ERROR" {
                reader.report(
                    .invalidValue, "unknown reason '\(word.value)'", at: r,
                    hint: Suggestions.hint(
                        for: word.value, in: Reason.allCases.filter { $0 != .error }.map(\.rawValue)))
            } else {
                reason = word
            }
        }
        var attributeLocations: [String: SourceLocation] = [:]
        func collect(_ node: YAMLNode, prefix: String) {
            guard case .mapping(let pairs) = node.kind else { return }
            for pair in pairs {
                guard case .scalar(let key) = pair.key.kind else { continue }
                let name = prefix.isEmpty ? key.text : prefix + "." + key.text
                attributeLocations[name] = reader.location(pair.key)
                collect(pair.value, prefix: name)
            }
        }
        collect(c, prefix: "")
        var at: TimeSource?
        if let a = f["at"] {
            guard let time = time(a, what: "at") else { return nil }
            at = time
        }
        return GoldenTestSource(
            name: f["name"].flatMap { reader.string($0, what: "name")?.value },
            environment: f["environment"].flatMap { reader.string($0, what: "environment") }, context: context,
            contextLocation: reader.location(c), attributeLocations: attributeLocations, expect: expect, at: at,
            value: f["value"]?.value, reason: reason, location: reader.location(node))
    }

    // MARK: Segments

    static let segmentFields = ["name", "description", "include", "exclude", "when", "environments"]

    mutating func segment(_ node: YAMLNode?, key: String, project: String) -> SegmentSource {
        let segment = SegmentSource(
            key: key, project: project, file: reader.file, location: SourceLocation(file: reader.file, line: 1, column: 1),
            base: SegmentBody(), overlays: [])
        guard let node else { return segment }
        segment.location = reader.location(node)
        guard let f = reader.fields(node, allowed: Self.segmentFields, what: "a segment") else { return segment }
        if let n = f["name"] { segment.name = reader.string(n, what: "name")?.value }
        if let d = f["description"] { segment.description = reader.string(d, what: "description")?.value }
        segment.base = segmentBody(f)
        if let envs = f["environments"] {
            for (env, value) in reader.entries(envs, what: "environments") {
                guard let of = reader.fields(value, allowed: Self.segmentFields, what: "the '\(env.value)' overlay")
                else { continue }
                for (name, keyNode) in of.keys where !SegmentBody.overlayableFields.contains(name) {
                    reader.report(
                        .notOverlayable, "'\(name)' cannot be changed per environment", at: keyNode,
                        hint: "an overlay may set \(SegmentBody.overlayableFields.joined(separator: ", "))")
                }
                segment.overlays.append((env, segmentBody(of)))
            }
        }
        return segment
    }

    private mutating func segmentBody(_ f: NodeReader.Fields) -> SegmentBody {
        var body = SegmentBody()
        if let i = f["include"] { body.include = reader.names(i, what: "include") }
        if let e = f["exclude"] { body.exclude = reader.names(e, what: "exclude") }
        if let w = f["when"] { body.when = conditions(w) }
        return body
    }
}
