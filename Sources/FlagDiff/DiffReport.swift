import FlagModel

/// How a `DiffReport` is written out.
public enum DiffFormat: String, Sendable, CaseIterable {
    /// For a terminal: a heading per project / environment, one indented line per change.
    case text
    /// For a pull-request comment: a summary line, a section per environment, warnings as quotes.
    case markdown
    /// For tools: canonical JSON, see `DiffReport.json`.
    case json
}

/// The diff of a whole change (several environments), with the replayed effect on contexts
/// and any compile failures, ready to print.
public struct DiffReport: Sendable, Hashable {
    /// What is compared, e.g. `main..feature-x`.
    public var title: String
    /// One per (project, environment), in the order to show them.
    public var diffs: [SnapshotDiff]
    /// Replayed contexts, keyed `project/environment`.
    public var replays: [String: ReplayEffect]
    /// Rendered diagnostics when HEAD (or BASE) does not compile, shown first.
    public var failures: [String]

    public init(
        title: String = "", diffs: [SnapshotDiff], replays: [String: ReplayEffect] = [:], failures: [String] = []
    ) {
        self.title = title
        self.diffs = diffs
        self.replays = replays
        self.failures = failures
    }

    /// No environment changed and nothing failed to compile.
    public var isEmpty: Bool { failures.isEmpty && diffs.allSatisfy(\.isEmpty) }

    /// `2 flags changed, 1 added · 1 segment changed · 1 warning`. Each flag and segment is
    /// counted once per project however many environments it changes in; identical
    /// warnings in several environments count once.
    public var summary: String {
        var parts: [String] = []
        if !failures.isEmpty { parts.append("does not compile") }
        let flagCounts = Self.counts(diffs.flatMap { d in d.flags.map { ("\(d.project)/\($0.key)", $0.kind) } })
        if let text = Self.countText(flagCounts, noun: "flag") { parts.append(text) }
        let segmentCounts = Self.counts(diffs.flatMap { d in d.segments.map { ("\(d.project)/\($0.key)", $0.kind) } })
        if let text = Self.countText(segmentCounts, noun: "segment") { parts.append(text) }
        // One manifest per repository: its policy counts once, however many snapshots carry it.
        if diffs.contains(where: { !$0.analytics.isEmpty }) { parts.append("analytics policy changed") }
        let warningCount = Set(
            diffs.flatMap { d in d.warnings.map { "\(d.project)/\($0.kind.rawValue)/\($0.key)/\($0.message)" } }
        ).count
        if warningCount > 0 { parts.append(Describe.plural(warningCount, "warning")) }
        return parts.isEmpty ? "No flag changes" : parts.joined(separator: " · ")
    }

    /// Renders the report.
    public func render(_ format: DiffFormat) -> String {
        switch format {
        case .text: TextRenderer(report: self).render()
        case .markdown: MarkdownRenderer(report: self).render()
        case .json: CanonicalJSON.encodePretty(json) + "\n"
        }
    }

    // MARK: Counting

    private static func counts(_ items: [(String, FlagChange.Kind)]) -> [FlagChange.Kind: Int] {
        var kindOf: [String: FlagChange.Kind] = [:]
        for (id, kind) in items where kindOf[id] == nil { kindOf[id] = kind }
        var out: [FlagChange.Kind: Int] = [:]
        for kind in kindOf.values { out[kind, default: 0] += 1 }
        return out
    }

    /// `2 flags changed, 1 added, 1 removed`: the noun goes with the first count.
    private static func countText(_ counts: [FlagChange.Kind: Int], noun: String) -> String? {
        var pieces: [String] = []
        for kind in [FlagChange.Kind.changed, .added, .removed] {
            guard let n = counts[kind], n > 0 else { continue }
            pieces.append(pieces.isEmpty ? "\(Describe.plural(n, noun)) \(kind.rawValue)" : "\(n) \(kind.rawValue)")
        }
        return pieces.isEmpty ? nil : pieces.joined(separator: ", ")
    }

    /// The replay of `diff`'s environment, if one was run.
    func replay(for diff: SnapshotDiff) -> ReplayEffect? { replays["\(diff.project)/\(diff.environment)"] }

    /// Replays whose environment has no diff in this report, sorted by key.
    var orphanReplays: [(String, ReplayEffect)] {
        let shown = Set(diffs.map { "\($0.project)/\($0.environment)" })
        return replays.filter { !shown.contains($0.key) }.sorted { $0.key < $1.key }
    }

    static func shortVersion(_ v: String?) -> String {
        guard let v else { return "absent" }
        guard v.hasPrefix("sha256:") else { return v.isEmpty ? "unversioned" : v }
        return String(v.prefix(7 + 12))
    }
}

// MARK: - JSON

extension DiffReport {
    /// The JSON form, written with `CanonicalJSON` (keys sorted):
    ///
    /// ```
    /// { "title": String, "summary": String, "empty": Bool, "failures": [String],
    ///   "diffs": [SnapshotDiff.json],
    ///   "replays": { "project/environment": ReplayEffect.json } }
    /// ```
    public var json: Value {
        var replayObject: [String: Value] = [:]
        for (key, replay) in replays { replayObject[key] = replay.json }
        return .object([
            "title": .string(title),
            "summary": .string(summary),
            "empty": .bool(isEmpty),
            "failures": .array(failures.map(Value.string)),
            "diffs": .array(diffs.map(\.json)),
            "replays": .object(replayObject),
        ])
    }
}

extension SnapshotDiff {
    /// ```
    /// { "project", "environment": String, "production", "empty": Bool,
    ///   "baseVersion", "headVersion": String | null,
    ///   "flags": [{ "key", "kind": "added"|"removed"|"changed", "fields": [Field],
    ///               "effect": { "share": Float, "population", "description": String,
    ///                           "transitions": [Transition] } | null,
    ///               "schedule": [{ "at", "path", "description", "summary": String, "from", "to": Int? }] }],
    ///   "segments": [{ "key", "kind", "fields": [Field], "usedBy": [String] }],
    ///   "warnings": [{ "kind": "reshuffle"|"removedWhileRequired"|"switchedForEveryone"|"expiredInUse",
    ///                  "key", "message": String }],
    ///   "analytics": [Field] }
    /// Field: { "path", "summary": String, "before", "after": String | null, "added", "removed": [String] }
    /// Transition: { "flag": String, "from", "to": String | null, "count": Int, "share": Float }
    /// ```
    public var json: Value {
        .object([
            "project": .string(project),
            "environment": .string(environment),
            "production": .bool(production),
            "empty": .bool(isEmpty),
            "baseVersion": baseVersion.map(Value.string) ?? .null,
            "headVersion": headVersion.map(Value.string) ?? .null,
            "flags": .array(
                flags.map { f in
                    .object([
                        "key": .string(f.key),
                        "kind": .string(f.kind.rawValue),
                        "fields": .array(f.fields.map(\.json)),
                        "effect": f.effect?.json ?? .null,
                        "schedule": .array(f.schedule.map(\.json)),
                    ])
                }),
            "segments": .array(
                segments.map { s in
                    .object([
                        "key": .string(s.key),
                        "kind": .string(s.kind.rawValue),
                        "fields": .array(s.fields.map(\.json)),
                        "usedBy": .array(s.usedBy.map(Value.string)),
                    ])
                }),
            "warnings": .array(
                warnings.map { w in
                    .object(["kind": .string(w.kind.rawValue), "key": .string(w.key), "message": .string(w.message)])
                }),
            "analytics": .array(analytics.map(\.json)),
        ])
    }
}

extension FieldChange {
    var json: Value {
        .object([
            "path": .string(path),
            "summary": .string(summary),
            "before": before.map(Value.string) ?? .null,
            "after": after.map(Value.string) ?? .null,
            "added": .array(added.map(Value.string)),
            "removed": .array(removed.map(Value.string)),
        ])
    }
}

extension BucketEffect {
    var json: Value {
        .object([
            "share": .double(share),
            "population": .string(population),
            "description": .string(description),
            "transitions": .array(transitions.map(\.json)),
        ])
    }
}

extension Transition {
    var json: Value {
        .object([
            "flag": .string(flag),
            "from": from.map(Value.string) ?? .null,
            "to": to.map(Value.string) ?? .null,
            "count": .int(Int64(count)),
            "share": .double(share),
        ])
    }
}

extension ReplayEffect {
    /// `{ "contexts": Int, "changed": Int, "flags": { key: [Transition] } }`
    public var json: Value {
        var flags: [String: Value] = [:]
        for (key, list) in transitions { flags[key] = .array(list.map(\.json)) }
        return .object([
            "contexts": .int(Int64(contexts)),
            "changed": .int(Int64(changed)),
            "flags": .object(flags),
        ])
    }
}
