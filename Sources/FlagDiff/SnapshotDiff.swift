import FlagEngine
import FlagModel

/// What changes between two snapshots of one (project, environment), overlays applied:
/// flags and segments added, removed and changed, field by field, with the exact effect of
/// rollout and split changes and the warnings a reviewer must see.
///
/// Flags and segments are compared by key. A renamed flag (keys are file names) is a
/// removal plus an addition, with a `reshuffle` warning when the two are otherwise the same.
public struct SnapshotDiff: Sendable, Hashable {
    public var project: String
    public var environment: String
    /// Whether the environment is production (head's flag, else base's).
    public var production: Bool
    /// The base snapshot's version; nil when there is no base (everything is added).
    public var baseVersion: String?
    /// The head snapshot's version; nil when there is no head (everything is removed).
    public var headVersion: String?
    /// Only flags added, removed or changed, sorted by key.
    public var flags: [FlagChange]
    /// Only segments added, removed or changed, sorted by key.
    public var segments: [SegmentChange]
    /// Sorted by flag key, then kind; in the order found within one flag.
    public var warnings: [DiffWarning]
    /// Changes of the analytics policy (the manifest's `analytics:`) that the snapshot
    /// carries: `analytics keep`, then `analytics targeting_key`.
    public var analytics: [FieldChange]

    /// No flag, no segment and no analytics policy changed. (Warnings only ever accompany
    /// changes.)
    public var isEmpty: Bool { flags.isEmpty && segments.isEmpty && analytics.isEmpty }

    /// Compares two snapshots of one (project, environment).
    ///
    /// - Parameters:
    ///   - base: the snapshot before; nil means everything in `head` is added.
    ///   - head: the snapshot after; nil means everything in `base` is removed.
    ///   - now: the time `expires` dates are checked against for `expiredInUse`; nil skips it.
    public init(base: Snapshot?, head: Snapshot?, now: Instant? = nil) {
        project = head?.project ?? base?.project ?? ""
        environment = head?.environment ?? base?.environment ?? ""
        production = head?.production ?? base?.production ?? false
        baseVersion = base?.version
        headVersion = head?.version

        let baseFlags = Self.index(base?.flags ?? [], \.key)
        let headFlags = Self.index(head?.flags ?? [], \.key)
        var flags: [FlagChange] = []
        var warnings: [DiffWarning] = []
        var removed: [Flag] = []
        var added: [Flag] = []
        for key in Self.sortedUnion(baseFlags.keys, headFlags.keys) {
            switch (baseFlags[key], headFlags[key]) {
            case (let b?, let h?):
                guard b != h else { continue }
                let scheduleChanged = ScheduleEffects.changed(b, h)
                flags.append(
                    FlagChange(
                        key: key, kind: .changed, fields: FieldDiff.changed(b, h), effect: BucketEffects.effect(b, h),
                        schedule: scheduleChanged ? ScheduleEffects.steps(h) : []))
                warnings += Warnings.reshuffles(b, h)
                if production, let w = Warnings.switchedForEveryone(b, h) { warnings.append(w) }
                if let now, let w = Warnings.expiredInUse(h, now: now) { warnings.append(w) }
            case (nil, let h?):
                added.append(h)
                flags.append(
                    FlagChange(key: key, kind: .added, fields: FieldDiff.added(h), schedule: ScheduleEffects.steps(h)))
                if let now, let w = Warnings.expiredInUse(h, now: now) { warnings.append(w) }
            case (let b?, nil):
                removed.append(b)
                flags.append(FlagChange(key: key, kind: .removed))
                if let w = Warnings.removedWhileRequired(b, base: base, head: head) { warnings.append(w) }
            case (nil, nil):
                break
            }
        }
        warnings += Warnings.renames(removed: removed, added: added)
        self.flags = flags
        self.warnings = Self.sorted(warnings)

        let baseSegments = Self.index(base?.segments ?? [], \.key)
        let headSegments = Self.index(head?.segments ?? [], \.key)
        var segments: [SegmentChange] = []
        for key in Self.sortedUnion(baseSegments.keys, headSegments.keys) {
            switch (baseSegments[key], headSegments[key]) {
            case (let b?, let h?):
                guard b != h else { continue }
                segments.append(
                    SegmentChange(
                        key: key, kind: .changed, fields: FieldDiff.changed(b, h), usedBy: Self.users(of: key, in: head)
                    ))
            case (nil, let h?):
                segments.append(
                    SegmentChange(
                        key: key, kind: .added, fields: FieldDiff.added(h), usedBy: Self.users(of: key, in: head)))
            case (_?, nil):
                segments.append(SegmentChange(key: key, kind: .removed, usedBy: Self.users(of: key, in: base)))
            case (nil, nil):
                break
            }
        }
        self.segments = segments

        // A new environment lists a policy that is not the default; a removed one, nothing.
        if let head {
            analytics = FieldDiff.changed(base?.analytics ?? .default, head.analytics)
        } else {
            analytics = []
        }
    }

    /// A diff made of parts, for tools that assemble their own.
    public init(
        project: String, environment: String, production: Bool, baseVersion: String?, headVersion: String?,
        flags: [FlagChange], segments: [SegmentChange], warnings: [DiffWarning], analytics: [FieldChange] = []
    ) {
        self.project = project
        self.environment = environment
        self.production = production
        self.baseVersion = baseVersion
        self.headVersion = headVersion
        self.flags = flags
        self.segments = segments
        self.warnings = warnings
        self.analytics = analytics
    }

    // MARK: Helpers

    private static func index<T>(_ items: [T], _ key: KeyPath<T, String>) -> [String: T] {
        var out: [String: T] = [:]
        for item in items { out[item[keyPath: key]] = item }
        return out
    }

    private static func sortedUnion(
        _ a: Dictionary<String, some Any>.Keys, _ b: Dictionary<String, some Any>.Keys
    )
        -> [String]
    {
        Set(a).union(b).sorted(by: UTF8Order.precedes)
    }

    private static func sorted(_ warnings: [DiffWarning]) -> [DiffWarning] {
        let kinds = DiffWarning.Kind.allCases
        return warnings.enumerated().sorted { x, y in
            if x.element.key != y.element.key {
                return x.element.key.utf8.lexicographicallyPrecedes(y.element.key.utf8)
            }
            let kx = kinds.firstIndex(of: x.element.kind)!
            let ky = kinds.firstIndex(of: y.element.kind)!
            return kx != ky ? kx < ky : x.offset < y.offset
        }.map(\.element)
    }

    /// Flags whose conditions reach segment `key`, directly or through other segments.
    static func users(of key: String, in snapshot: Snapshot?) -> [String] {
        guard let snapshot else { return [] }
        var segmentsReaching: Set<String> = [key]
        // Segments that use a segment in the set join it, until nothing changes (cycles are compile errors,
        // and the loop ends anyway because the set only grows).
        var grew = true
        while grew {
            grew = false
            for segment in snapshot.segments where !segmentsReaching.contains(segment.key) {
                if segment.when.contains(where: { mentions($0, segmentsReaching) }) {
                    segmentsReaching.insert(segment.key)
                    grew = true
                }
            }
        }
        return snapshot.flags.filter { flag in
            flag.rules.contains { rule in rule.when.contains { mentions($0, segmentsReaching) } }
        }.map(\.key)
    }

    private static func mentions(_ c: Condition, _ keys: Set<String>) -> Bool {
        switch c {
        case .attribute: false
        case .segment(let k): keys.contains(k)
        case .all(let items), .any(let items): items.contains { mentions($0, keys) }
        case .not(let inner): mentions(inner, keys)
        }
    }
}
