import FlagModel

// The value types a diff is made of. `SnapshotDiff` builds them; the renderers read them.

/// One flag added, removed or changed between two snapshots of one environment.
public struct FlagChange: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case added, removed, changed
    }

    public var key: String
    public var kind: Kind
    /// Human-readable field changes, in a stable order: name, description, owner, tags,
    /// expires, type, variants, enabled, off_variant, default, requires, rules. An added
    /// flag lists what it serves (before is nil); a removed flag lists nothing.
    public var fields: [FieldChange]
    /// The exact effect on buckets when the only change that affects serving is one
    /// rollout percentage or one split's weights; nil otherwise (replay contexts instead).
    public var effect: BucketEffect?
    /// When the head flag's windows or scheduled rollouts are new or changed: each step to
    /// come, in time order, with its exact bucket effect.
    public var schedule: [ScheduleStep]

    public init(
        key: String, kind: Kind, fields: [FieldChange] = [], effect: BucketEffect? = nil, schedule: [ScheduleStep] = []
    ) {
        self.key = key
        self.kind = kind
        self.fields = fields
        self.effect = effect
        self.schedule = schedule
    }
}

/// One field that moved, as a reviewer reads it.
public struct FieldChange: Sendable, Hashable {
    /// Where the change is: `default`, `enabled`, `variant on`, `requires payments-v2`,
    /// `rule 2 "quarter of pro users"`, `include`…
    public var path: String
    /// The old value as text; nil when the field is new.
    public var before: String?
    /// The new value as text; nil when the field is gone.
    public var after: String?
    /// The whole line: `rule 2 "quarter of pro users": rollout 25% → 50%`.
    public var summary: String
    /// For list fields (segment include/exclude): the items that came in, sorted.
    public var added: [String]
    /// For list fields (segment include/exclude): the items that went out, sorted.
    public var removed: [String]

    public init(
        path: String, before: String?, after: String?, summary: String, added: [String] = [], removed: [String] = []
    ) {
        self.path = path
        self.before = before
        self.after = after
        self.summary = summary
        self.added = added
        self.removed = removed
    }
}

/// One segment added, removed or changed.
public struct SegmentChange: Sendable, Hashable {
    public var key: String
    public var kind: FlagChange.Kind
    /// In a stable order: name, description, include, exclude, when.
    public var fields: [FieldChange]
    /// Flags of the head snapshot (or of the base one, for a removed segment) whose
    /// conditions use this segment, directly or through other segments; sorted.
    public var usedBy: [String]

    public init(key: String, kind: FlagChange.Kind, fields: [FieldChange] = [], usedBy: [String] = []) {
        self.key = key
        self.kind = kind
        self.fields = fields
        self.usedBy = usedBy
    }
}

/// The exact effect of a rollout or split change on the bucket space (SPEC §5), computed
/// by counting hash values, not by sampling.
public struct BucketEffect: Sendable, Hashable {
    /// The share, 0...1, of the 2^32 hash values of `population` whose served variant changes.
    public var share: Double
    /// From → to, each with its share of `population`; `count` counts hash values out of 2^32.
    public var transitions: [Transition]
    /// Whom `share` is a share of: `users matching rule 2 "quarter of pro users"`,
    /// `users served the default split`.
    public var population: String
    /// `25.0% of users matching rule 2 "quarter of pro users" change from off to on`.
    public var description: String

    public init(share: Double, transitions: [Transition], population: String, description: String) {
        self.share = share
        self.transitions = transitions
        self.population = population
        self.description = description
    }
}

/// Something a reviewer must see before merging.
public struct DiffWarning: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// Users are bucketed afresh: a flag renamed, a `group` or `by` changed, a split
        /// reordered or its total changed.
        case reshuffle
        /// A flag removed while other flags list it in `requires`.
        case removedWhileRequired
        /// In production, a flag whose served variant changes for everyone at once.
        case switchedForEveryone
        /// A flag past its `expires` date that is added or changed and still serves
        /// something other than its off variant.
        case expiredInUse

        /// The kind as a heading reads it.
        public var title: String {
            switch self {
            case .reshuffle: "Buckets reshuffle"
            case .removedWhileRequired: "Removed while required"
            case .switchedForEveryone: "Switched for everyone"
            case .expiredInUse: "Expired but in use"
            }
        }
    }

    public var kind: Kind
    /// The flag the warning is about.
    public var key: String
    public var message: String

    public init(kind: Kind, key: String, message: String) {
        self.kind = kind
        self.key = key
        self.message = message
    }
}

/// Users (or hash values) of one flag moving from one variant to another.
public struct Transition: Sendable, Hashable {
    public var flag: String
    /// nil: the flag is absent on that side (replay), or no variant was served.
    public var from: String?
    public var to: String?
    /// Contexts (replay) or hash values out of 2^32 (bucket effect).
    public var count: Int
    /// `count` as a share of all contexts replayed, or of the effect's population.
    public var share: Double

    public init(flag: String, from: String?, to: String?, count: Int, share: Double) {
        self.flag = flag
        self.from = from
        self.to = to
        self.count = count
        self.share = share
    }

    /// Largest first, then by from and to, absent sides first: a deterministic order.
    static func ordered(_ a: Transition, _ b: Transition) -> Bool {
        if a.count != b.count { return a.count > b.count }
        if a.flag != b.flag { return a.flag.utf8.lexicographicallyPrecedes(b.flag.utf8) }
        if a.from != b.from { return precedes(a.from, b.from) }
        return precedes(a.to, b.to)
    }

    private static func precedes(_ a: String?, _ b: String?) -> Bool {
        switch (a, b) {
        case (nil, nil): false
        case (nil, _): true
        case (_, nil): false
        case (let a?, let b?): a.utf8.lexicographicallyPrecedes(b.utf8)
        }
    }
}
