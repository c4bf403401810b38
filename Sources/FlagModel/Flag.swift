/// The type of a flag's values.
public enum FlagType: String, Sendable, Hashable, CaseIterable {
    case boolean, string, number, json

    /// Whether `value` is a legal value for a flag of this type.
    public func accepts(_ value: Value) -> Bool {
        switch (self, value) {
        case (.boolean, .bool), (.string, .string), (.number, .int), (.number, .double), (.json, _): true
        default: false
        }
    }
}

/// A compiled flag: one environment's view, overlays already applied, defaults filled in.
public struct Flag: Sendable, Hashable {
    public var key: String
    public var name: String
    public var description: String?
    public var type: FlagType
    public var owner: String?
    public var tags: [String]
    /// `YYYY-MM-DD`; past it the flag is stale.
    public var expires: String?
    public var variants: [String: Value]
    public var enabled: Bool
    public var offVariant: String
    public var defaultServe: Serve
    public var requires: [Prerequisite]
    public var rules: [Rule]
    /// When set, the flag is served only within it; outside, everyone gets `offVariant`.
    public var window: Window?
    /// The share of evaluations recorded as evaluation events, in 0 < rate ≤ 1 (`events: true`
    /// is 1); nil records none. It never changes what the flag serves.
    public var events: Double?

    public init(
        key: String, name: String? = nil, description: String? = nil, type: FlagType = .boolean,
        owner: String? = nil, tags: [String] = [], expires: String? = nil,
        variants: [String: Value] = ["on": .bool(true), "off": .bool(false)], enabled: Bool = true,
        offVariant: String = "off", defaultServe: Serve = .variant("off"), requires: [Prerequisite] = [],
        rules: [Rule] = [], window: Window? = nil, events: Double? = nil
    ) {
        self.key = key
        self.name = name ?? key
        self.description = description
        self.type = type
        self.owner = owner
        self.tags = tags
        self.expires = expires
        self.variants = variants
        self.enabled = enabled
        self.offVariant = offVariant
        self.defaultServe = defaultServe
        self.requires = requires
        self.rules = rules
        self.window = window
        self.events = events
    }

    /// A flag with no rules, no prerequisites, no window and a plain default always serves the same.
    public var isStatic: Bool {
        guard rules.isEmpty, requires.isEmpty, window == nil, case .variant = defaultServe else { return false }
        return true
    }
}

/// What a rule or the default serves: one variant, or a weighted split.
public enum Serve: Sendable, Hashable {
    case variant(String)
    case split(Split)
}

/// A weighted choice among variants, bucketed as Unleash does (seed 86028157).
public struct Split: Sendable, Hashable {
    public struct Weight: Sendable, Hashable {
        public var variant: String
        public var weight: Int
        public init(variant: String, weight: Int) {
            self.variant = variant
            self.weight = weight
        }
    }

    /// In the order written; the order decides which bucket gets which variant.
    public var weights: [Weight]
    public var bucketing: Bucketing

    public init(weights: [Weight], bucketing: Bucketing) {
        self.weights = weights
        self.bucketing = bucketing
    }

    public var totalWeight: Int { weights.reduce(0) { $0 + $1.weight } }
}

/// Which context attributes feed the hash, and the group that salts it.
public struct Bucketing: Sendable, Hashable {
    /// The word in `by:` that means a fresh random number instead of an attribute.
    public static let random = "random"

    /// The first attribute present wins; `random` draws a fresh number.
    public var by: [String]
    /// `<group>:<value>` is hashed; the flag key unless set.
    public var group: String

    public init(by: [String] = ["targetingKey"], group: String) {
        self.by = by
        self.group = group
    }
}

/// A percentage gate on a rule: `murmur3("<group>:<value>", 0) % 100 + 1 <= percentage`.
///
/// With a schedule the percentage depends on the evaluation time (`currentTime`); the gate
/// and the buckets stay the same, so a user in at 10 % is still in at 25 %.
public struct Rollout: Sendable, Hashable {
    /// The fixed percentage; with steps, the percentage before the first step; with a ramp,
    /// the ramp's `from`.
    public var percentage: Int
    public var bucketing: Bucketing
    public var schedule: RolloutSchedule?

    public init(percentage: Int, bucketing: Bucketing, schedule: RolloutSchedule? = nil) {
        self.percentage = percentage
        self.bucketing = bucketing
        self.schedule = schedule
    }
}

/// How a rollout's percentage changes with time. Times are RFC 3339 in UTC, as the
/// compiler writes them (`2026-12-07T08:00:00Z`).
public enum RolloutSchedule: Sendable, Hashable {
    /// From `from` % at `start` to `to` % at `end`, linearly, in whole percentages (the
    /// fraction is dropped toward `from`); `from` before `start`, `to` from `end` on.
    case ramp(Ramp)
    /// The rollout's own percentage until the first step, then each step's from its `at`;
    /// in the order of time.
    case steps([RolloutStep])
}

public struct Ramp: Sendable, Hashable {
    public var from: Int
    public var to: Int
    public var start: String
    public var end: String

    public init(from: Int, to: Int, start: String, end: String) {
        self.from = from
        self.to = to
        self.start = start
        self.end = end
    }
}

public struct RolloutStep: Sendable, Hashable {
    public var at: String
    public var percentage: Int

    public init(at: String, percentage: Int) {
        self.at = at
        self.percentage = percentage
    }
}

/// A period of time, `start` included and `end` excluded; either may be open. Times are
/// RFC 3339 in UTC.
public struct Window: Sendable, Hashable {
    public var start: String?
    public var end: String?

    public init(start: String? = nil, end: String? = nil) {
        self.start = start
        self.end = end
    }
}

/// One targeting rule: all conditions hold, the rollout gate passes, then it serves.
public struct Rule: Sendable, Hashable {
    public var name: String?
    public var when: [Condition]
    public var rollout: Rollout?
    public var serve: Serve
    /// When set, the rule applies only within it.
    public var window: Window?

    public init(
        name: String? = nil, when: [Condition] = [], rollout: Rollout? = nil, serve: Serve, window: Window? = nil
    ) {
        self.name = name
        self.when = when
        self.rollout = rollout
        self.serve = serve
        self.window = window
    }
}

/// A flag that must serve one of `variants` for the flag that requires it to be evaluated.
public struct Prerequisite: Sendable, Hashable {
    public var flag: String
    public var variants: [String]

    public init(flag: String, variants: [String]) {
        self.flag = flag
        self.variants = variants
    }
}
