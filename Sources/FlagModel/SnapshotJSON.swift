/// The snapshot's JSON form: what PostgreSQL stores, Redis carries and local-evaluation
/// clients load. `schemas/snapshot.schema.json` describes it.
extension Snapshot {
    /// Everything that has meaning: the input of the version hash.
    public var contentJSON: Value {
        var flagsObject: [String: Value] = [:]
        for flag in flags { flagsObject[flag.key] = flag.json }
        var segmentsObject: [String: Value] = [:]
        for segment in segments { segmentsObject[segment.key] = segment.json }
        var object: [String: Value] = [
            "format": .int(Int64(Snapshot.format)),
            "organization": .string(organization),
            "project": .string(project),
            "environment": .string(environment),
            "production": .bool(production),
            "flags": .object(flagsObject),
            "segments": .object(segmentsObject),
        ]
        // Only when set: a snapshot without a policy hashes to the version it had before
        // policies existed.
        if !analytics.isDefault { object["analytics"] = analytics.json }
        return .object(object)
    }

    /// Writes exactly the bytes of `CanonicalJSON.encodeBytes(contentJSON)`, given the
    /// canonical JSON of each flag and segment in key order, in pieces.
    public func writeCanonicalContent(
        flagJSON: [[UInt8]], segmentJSON: [[UInt8]], _ write: (UnsafeBufferPointer<UInt8>) -> Void
    ) {
        writeCanonical(whole: false, flagJSON: flagJSON, segmentJSON: segmentJSON, write)
    }

    /// Exactly `CanonicalJSON.encodeBytes(json)` (the whole snapshot, with version, commit,
    /// branch and compile time), put together from the canonical JSON of each flag and
    /// segment that the compiler already has: a big snapshot is never encoded whole.
    public func canonicalJSON(pieces: SnapshotPieces) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(
            pieces.flagJSON.reduce(4096) { $0 + $1.count + 64 } + pieces.segmentJSON.reduce(0) { $0 + $1.count + 64 })
        writeCanonical(whole: true, flagJSON: pieces.flagJSON, segmentJSON: pieces.segmentJSON) {
            bytes.append(contentsOf: $0)
        }
        return bytes
    }

    private func writeCanonical(
        whole: Bool, flagJSON: [[UInt8]], segmentJSON: [[UInt8]], _ write: (UnsafeBufferPointer<UInt8>) -> Void
    ) {
        precondition(flagJSON.count == flags.count && segmentJSON.count == segments.count)
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 16)
        func flush() {
            buffer.withUnsafeBufferPointer(write)
            buffer.removeAll(keepingCapacity: true)
        }
        func raw(_ text: String) { buffer.append(contentsOf: text.utf8) }
        func optional(_ text: String?) {
            if let text { CanonicalJSON.writeString(text, to: &buffer) } else { raw("null") }
        }
        func members(_ keys: [String], _ values: [[UInt8]]) {
            buffer.append(UInt8(ascii: "{"))
            for i in keys.indices {
                if i > 0 { buffer.append(UInt8(ascii: ",")) }
                CanonicalJSON.writeString(keys[i], to: &buffer)
                buffer.append(UInt8(ascii: ":"))
                buffer.append(contentsOf: values[i])
                if buffer.count > 1 << 16 { flush() }
            }
            buffer.append(UInt8(ascii: "}"))
        }
        // Top-level keys in canonical (UTF-8) order; `analytics` only when not the default.
        raw("{")
        if !analytics.isDefault {
            raw("\"analytics\":")
            CanonicalJSON.write(analytics.json, to: &buffer)
            raw(",")
        }
        if whole {
            raw("\"branch\":")
            optional(branch)
            raw(",\"commit\":")
            optional(commit)
            raw(",\"compiledAt\":")
            optional(compiledAt)
            raw(",")
        }
        raw("\"environment\":")
        CanonicalJSON.writeString(environment, to: &buffer)
        raw(",\"flags\":")
        members(flags.map(\.key), flagJSON)
        raw(",\"format\":\(Snapshot.format),\"organization\":")
        CanonicalJSON.writeString(organization, to: &buffer)
        raw(",\"production\":\(production ? "true" : "false"),\"project\":")
        CanonicalJSON.writeString(project, to: &buffer)
        raw(",\"segments\":")
        members(segments.map(\.key), segmentJSON)
        if whole {
            raw(",\"version\":")
            CanonicalJSON.writeString(version, to: &buffer)
        }
        raw("}")
        flush()
    }

    /// The whole snapshot, with version, commit, branch and compile time.
    public var json: Value {
        guard case .object(var object) = contentJSON else { return contentJSON }
        object["version"] = .string(version)
        object["commit"] = commit.map(Value.string) ?? .null
        object["branch"] = branch.map(Value.string) ?? .null
        object["compiledAt"] = compiledAt.map(Value.string) ?? .null
        return .object(object)
    }

    /// Reads a snapshot back from its JSON form.
    public init(json: Value) throws(SnapshotDecodingError) {
        let d = Decoder(path: "")
        let object = try d.object(json)
        guard try d.int(object, "format") == Int64(Snapshot.format) else {
            throw SnapshotDecodingError(path: "format", message: "unsupported snapshot format")
        }
        var flags: [Flag] = []
        for (key, value) in try d.object(d.field(object, "flags")) {
            flags.append(try Flag(key: key, json: value, decoder: d.at("flags.\(key)")))
        }
        var segments: [Segment] = []
        for (key, value) in try d.object(d.field(object, "segments")) {
            segments.append(try Segment(key: key, json: value, decoder: d.at("segments.\(key)")))
        }
        self.init(
            organization: try d.string(object, "organization"),
            project: try d.string(object, "project"),
            environment: try d.string(object, "environment"),
            production: try d.bool(object, "production"),
            flags: flags,
            segments: segments,
            analytics: try d.analytics(object),
            version: try d.optionalString(object, "version") ?? "",
            commit: try d.optionalString(object, "commit"),
            branch: try d.optionalString(object, "branch"),
            compiledAt: try d.optionalString(object, "compiledAt"))
    }
}

/// The canonical JSON of each flag and segment of one snapshot, in key order: what the
/// compiler hashes versions from, kept so the snapshot can be written without encoding
/// it again (`Snapshot.canonicalJSON(pieces:)`).
public struct SnapshotPieces: Sendable {
    public var flagJSON: [[UInt8]]
    public var segmentJSON: [[UInt8]]

    public init(flagJSON: [[UInt8]], segmentJSON: [[UInt8]]) {
        self.flagJSON = flagJSON
        self.segmentJSON = segmentJSON
    }
}

public struct SnapshotDecodingError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { "snapshot JSON at \(path.isEmpty ? "top level" : path): \(message)" }
}

// MARK: - Encoding

extension Flag {
    public var json: Value {
        var o: [String: Value] = [
            "name": .string(name),
            "type": .string(type.rawValue),
            "tags": .array(tags.map(Value.string)),
            "variants": .object(variants),
            "enabled": .bool(enabled),
            "offVariant": .string(offVariant),
            "default": defaultServe.json,
            "requires": .array(requires.map(\.json)),
            "rules": .array(rules.map(\.json)),
        ]
        if let description { o["description"] = .string(description) }
        if let owner { o["owner"] = .string(owner) }
        if let expires { o["expires"] = .string(expires) }
        if let window { o["window"] = window.json }
        // Only when on: a flag without events hashes as it did before events existed.
        if let events { o["events"] = .double(events) }
        return .object(o)
    }
}

extension AnalyticsPolicy {
    /// `{"keep": [String], "targetingKey": "hashed"|"plain"}`.
    public var json: Value {
        .object(["keep": .array(keep.map(Value.string)), "targetingKey": .string(targetingKey.rawValue)])
    }
}

extension Window {
    public var json: Value {
        var o: [String: Value] = [:]
        if let start { o["start"] = .string(start) }
        if let end { o["end"] = .string(end) }
        return .object(o)
    }
}

extension Rollout {
    public var json: Value {
        var o: [String: Value] = [
            "percentage": .int(Int64(percentage)),
            "by": .array(bucketing.by.map(Value.string)),
            "group": .string(bucketing.group),
        ]
        switch schedule {
        case nil: break
        case .ramp(let r):
            o["ramp"] = .object([
                "from": .int(Int64(r.from)), "to": .int(Int64(r.to)), "start": .string(r.start), "end": .string(r.end),
            ])
        case .steps(let steps):
            o["steps"] = .array(
                steps.map { .object(["at": .string($0.at), "percentage": .int(Int64($0.percentage))]) })
        }
        return .object(o)
    }
}

extension Serve {
    public var json: Value {
        switch self {
        case .variant(let v): return .object(["variant": .string(v)])
        case .split(let split):
            return .object([
                "split": .object([
                    "weights": .array(
                        split.weights.map { .object(["variant": .string($0.variant), "weight": .int(Int64($0.weight))]) }),
                    "by": .array(split.bucketing.by.map(Value.string)),
                    "group": .string(split.bucketing.group),
                ])
            ])
        }
    }
}

extension Rule {
    public var json: Value {
        var o: [String: Value] = ["when": .array(when.map(\.json)), "serve": serve.json]
        if let name { o["name"] = .string(name) }
        if let rollout { o["rollout"] = rollout.json }
        if let window { o["window"] = window.json }
        return .object(o)
    }
}

extension Prerequisite {
    public var json: Value { .object(["flag": .string(flag), "variants": .array(variants.map(Value.string))]) }
}

extension Condition {
    public var json: Value {
        switch self {
        case .attribute(let c):
            return .object([
                "attribute": .string(c.attribute),
                "op": .string(c.op.rawValue),
                "values": .array(c.values.map(Value.string)),
                "caseInsensitive": .bool(c.caseInsensitive),
                "negate": .bool(c.negate),
            ])
        case .segment(let key): return .object(["segment": .string(key)])
        case .all(let items): return .object(["all": .array(items.map(\.json))])
        case .any(let items): return .object(["any": .array(items.map(\.json))])
        case .not(let inner): return .object(["not": inner.json])
        }
    }
}

extension Segment {
    public var json: Value {
        var o: [String: Value] = [
            "name": .string(name),
            "include": .array(include.map(Value.string)),
            "exclude": .array(exclude.map(Value.string)),
            "when": .array(when.map(\.json)),
        ]
        if let description { o["description"] = .string(description) }
        return .object(o)
    }
}

// MARK: - Decoding

private struct Decoder {
    var path: String

    func at(_ sub: String) -> Decoder { Decoder(path: path.isEmpty ? sub : "\(path).\(sub)") }

    func fail(_ message: String, _ field: String? = nil) -> SnapshotDecodingError {
        let full = field.map { path.isEmpty ? $0 : "\(path).\($0)" } ?? path
        return SnapshotDecodingError(path: full, message: message)
    }

    func object(_ v: Value) throws(SnapshotDecodingError) -> [String: Value] {
        guard case .object(let o) = v else { throw fail("expected an object, found \(v.kindName)") }
        return o
    }

    func field(_ o: [String: Value], _ key: String) throws(SnapshotDecodingError) -> Value {
        guard let v = o[key] else { throw fail("missing", key) }
        return v
    }

    func string(_ o: [String: Value], _ key: String) throws(SnapshotDecodingError) -> String {
        guard case .string(let s) = try field(o, key) else { throw fail("expected a string", key) }
        return s
    }

    func optionalString(_ o: [String: Value], _ key: String) throws(SnapshotDecodingError) -> String? {
        switch o[key] {
        case nil, .null?: return nil
        case .string(let s)?: return s
        default: throw fail("expected a string", key)
        }
    }

    func bool(_ o: [String: Value], _ key: String) throws(SnapshotDecodingError) -> Bool {
        guard case .bool(let b) = try field(o, key) else { throw fail("expected a boolean", key) }
        return b
    }

    func int(_ o: [String: Value], _ key: String) throws(SnapshotDecodingError) -> Int64 {
        guard case .int(let i) = try field(o, key) else { throw fail("expected an integer", key) }
        return i
    }

    func array(_ o: [String: Value], _ key: String) throws(SnapshotDecodingError) -> [Value] {
        guard case .array(let a) = try field(o, key) else { throw fail("expected an array", key) }
        return a
    }

    func strings(_ o: [String: Value], _ key: String) throws(SnapshotDecodingError) -> [String] {
        var out: [String] = []
        for v in try array(o, key) {
            guard case .string(let s) = v else { throw fail("expected strings", key) }
            out.append(s)
        }
        return out
    }

    /// A sample rate, 0 < rate ≤ 1, written as an integer or a float; nil when absent.
    func events(_ o: [String: Value]) throws(SnapshotDecodingError) -> Double? {
        let rate: Double
        switch o["events"] {
        case nil, .null?: return nil
        case .double(let d)?: rate = d
        case .int(let i)?: rate = Double(i)
        default: throw fail("expected a number", "events")
        }
        guard rate > 0, rate <= 1 else { throw fail("a sample rate must be more than 0 and at most 1", "events") }
        return rate
    }

    /// The policy written, or the default when there is none.
    func analytics(_ o: [String: Value]) throws(SnapshotDecodingError) -> AnalyticsPolicy {
        guard let value = o["analytics"], value != .null else { return .default }
        let d = at("analytics")
        let ao = try d.object(value)
        let word = try d.string(ao, "targetingKey")
        guard let targetingKey = TargetingKeyPolicy(rawValue: word) else {
            throw d.fail("unknown targeting key policy \(word)", "targetingKey")
        }
        return AnalyticsPolicy(keep: try d.strings(ao, "keep"), targetingKey: targetingKey)
    }

    func bucketing(_ o: [String: Value]) throws(SnapshotDecodingError) -> Bucketing {
        Bucketing(by: try strings(o, "by"), group: try string(o, "group"))
    }

    func window(_ o: [String: Value]) throws(SnapshotDecodingError) -> Window? {
        guard let w = o["window"] else { return nil }
        let wo = try at("window").object(w)
        return Window(start: try at("window").optionalString(wo, "start"), end: try at("window").optionalString(wo, "end"))
    }

    func schedule(_ o: [String: Value]) throws(SnapshotDecodingError) -> RolloutSchedule? {
        if let r = o["ramp"] {
            let ro = try at("ramp").object(r)
            let d = at("ramp")
            return .ramp(
                Ramp(
                    from: Int(try d.int(ro, "from")), to: Int(try d.int(ro, "to")), start: try d.string(ro, "start"),
                    end: try d.string(ro, "end")))
        }
        guard o["steps"] != nil else { return nil }
        var steps: [RolloutStep] = []
        for s in try array(o, "steps") {
            let so = try at("steps").object(s)
            steps.append(RolloutStep(at: try at("steps").string(so, "at"), percentage: Int(try at("steps").int(so, "percentage"))))
        }
        return .steps(steps)
    }

    func serve(_ v: Value) throws(SnapshotDecodingError) -> Serve {
        let o = try object(v)
        if case .string(let variant)? = o["variant"] { return .variant(variant) }
        guard let splitValue = o["split"] else { throw fail("expected `variant` or `split`") }
        let split = try at("split").object(splitValue)
        var weights: [Split.Weight] = []
        for w in try array(split, "weights") {
            let wo = try object(w)
            weights.append(Split.Weight(variant: try string(wo, "variant"), weight: Int(try int(wo, "weight"))))
        }
        return .split(Split(weights: weights, bucketing: try bucketing(split)))
    }

    func condition(_ v: Value) throws(SnapshotDecodingError) -> Condition {
        let o = try object(v)
        if let segment = o["segment"] {
            guard case .string(let key) = segment else { throw fail("expected a string", "segment") }
            return .segment(key)
        }
        if let all = o["all"] { return .all(try conditions(all)) }
        if let any = o["any"] { return .any(try conditions(any)) }
        if let inner = o["not"] { return .not(try condition(inner)) }
        let opName = try string(o, "op")
        guard let op = Operator(rawValue: opName) else { throw fail("unknown operator \(opName)", "op") }
        return .attribute(
            AttributeCondition(
                attribute: try string(o, "attribute"), op: op, values: try strings(o, "values"),
                caseInsensitive: try bool(o, "caseInsensitive"), negate: try bool(o, "negate")))
    }

    func conditions(_ v: Value) throws(SnapshotDecodingError) -> [Condition] {
        guard case .array(let items) = v else { throw fail("expected an array of conditions") }
        var out: [Condition] = []
        for item in items { out.append(try condition(item)) }
        return out
    }
}

extension Flag {
    fileprivate init(key: String, json: Value, decoder d: Decoder) throws(SnapshotDecodingError) {
        let o = try d.object(json)
        let typeName = try d.string(o, "type")
        guard let type = FlagType(rawValue: typeName) else { throw d.fail("unknown type \(typeName)", "type") }
        var requires: [Prerequisite] = []
        for r in try d.array(o, "requires") {
            let ro = try d.object(r)
            requires.append(Prerequisite(flag: try d.string(ro, "flag"), variants: try d.strings(ro, "variants")))
        }
        var rules: [Rule] = []
        for r in try d.array(o, "rules") {
            let ro = try d.object(r)
            var rollout: Rollout?
            if let rv = ro["rollout"] {
                let rollo = try d.object(rv)
                rollout = Rollout(
                    percentage: Int(try d.int(rollo, "percentage")), bucketing: try d.bucketing(rollo),
                    schedule: try d.at("rollout").schedule(rollo))
            }
            rules.append(
                Rule(
                    name: try d.optionalString(ro, "name"), when: try d.conditions(try d.field(ro, "when")),
                    rollout: rollout, serve: try d.serve(try d.field(ro, "serve")), window: try d.window(ro)))
        }
        self.init(
            key: key, name: try d.string(o, "name"), description: try d.optionalString(o, "description"),
            type: type, owner: try d.optionalString(o, "owner"), tags: try d.strings(o, "tags"),
            expires: try d.optionalString(o, "expires"), variants: try d.object(try d.field(o, "variants")),
            enabled: try d.bool(o, "enabled"), offVariant: try d.string(o, "offVariant"),
            defaultServe: try d.serve(try d.field(o, "default")), requires: requires, rules: rules,
            window: try d.window(o), events: try d.events(o))
    }
}

extension Segment {
    fileprivate init(key: String, json: Value, decoder d: Decoder) throws(SnapshotDecodingError) {
        let o = try d.object(json)
        self.init(
            key: key, name: try d.string(o, "name"), description: try d.optionalString(o, "description"),
            include: try d.strings(o, "include"), exclude: try d.strings(o, "exclude"),
            when: try d.conditions(try d.field(o, "when")))
    }
}
