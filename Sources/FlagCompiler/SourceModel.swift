import FlagEngine
import FlagModel

// The language as written, with a location on everything a later check may point at.
// The parser fills these; the resolver turns them into FlagModel values per environment.

/// The context schema's attribute types.
public enum AttributeType: String, Sendable, Hashable, CaseIterable {
    case string, number, boolean, semver, datetime, ip
}

public struct ContextAttribute: Sendable, Hashable {
    public var name: String
    public var type: AttributeType
    public var allowed: [String]?
    public var description: String?
}

public struct Manifest: Sendable, Hashable {
    public struct Project: Sendable, Hashable {
        public var key: String
        public var name: String
        public var description: String?
    }

    public struct Environment: Sendable, Hashable {
        public var key: String
        public var name: String
        public var branch: String
        public var production: Bool
        public var description: String?
        /// How the management API writes to this environment (SPEC §14): `direct` commits to
        /// the branch, `review` opens a change. nil when the manifest leaves it to the default.
        public var write: WritePolicy?

        /// The policy in force: the manifest's, else `review` for production and `direct` for the rest.
        public var writePolicy: WritePolicy { write ?? (production ? .review : .direct) }
    }

    public enum WritePolicy: String, Sendable, Hashable, CaseIterable {
        case direct, review
    }

    public var version: Int
    public var organization: String
    public var organizationName: String
    public var projects: [Project]
    public var environments: [Environment]
    /// nil when the manifest declares no context schema.
    public var context: [String: ContextAttribute]?
    /// What evaluation events may store; every snapshot carries it.
    public var analytics: AnalyticsPolicy = .default

    public var productionEnvironment: Environment? { environments.first { $0.production } }
    public func environment(_ key: String) -> Environment? { environments.first { $0.key == key } }
}

enum ServeSource: Sendable {
    case variant(Located<String>)
    case split(SplitSource)
}

struct SplitSource: Sendable {
    var weights: [(Located<String>, Located<Int>)]
    var by: [Located<String>]?
    var group: String?
    var location: SourceLocation

}

struct RolloutSource: Sendable {
    /// The fixed percentage; with steps, the one before the first step; with a ramp, `from`.
    var percentage: Located<Int>
    var by: [Located<String>]?
    var group: String?
    var schedule: ScheduleSource?
}

/// A time written in a flag file, with its instant and its UTC form for the snapshot.
struct TimeSource: Sendable {
    var instant: Instant
    var utc: String
    var location: SourceLocation
}

struct WindowSource: Sendable {
    var start: TimeSource?
    var end: TimeSource?
    var location: SourceLocation

    var model: Window { Window(start: start?.utc, end: end?.utc) }
}

enum ScheduleSource: Sendable {
    case ramp(from: Located<Int>, to: Located<Int>, start: TimeSource, end: TimeSource, location: SourceLocation)
    case steps([(at: TimeSource, percentage: Located<Int>)], location: SourceLocation)

    var location: SourceLocation {
        switch self {
        case .ramp(_, _, _, _, let location), .steps(_, let location): location
        }
    }

    /// When the schedule makes its last change.
    var last: TimeSource? {
        switch self {
        case .ramp(_, _, _, let end, _): end
        case .steps(let steps, _): steps.last?.at
        }
    }

    var model: RolloutSchedule {
        switch self {
        case .ramp(let from, let to, let start, let end, _):
            .ramp(Ramp(from: from.value, to: to.value, start: start.utc, end: end.utc))
        case .steps(let steps, _):
            .steps(steps.map { RolloutStep(at: $0.at.utc, percentage: $0.percentage.value) })
        }
    }
}

struct AttributeConditionSource: Sendable {
    var attribute: Located<String>
    var op: Located<Operator>
    /// Each value as written, with its YAML type.
    var values: [Located<Value>]
    var caseInsensitive: Bool
    var negate: Bool
    var location: SourceLocation
}

indirect enum ConditionSource: Sendable {
    case attribute(AttributeConditionSource)
    case segment(Located<String>)
    case all([ConditionSource])
    case any([ConditionSource])
    case not(ConditionSource)
}

struct RuleSource: Sendable {
    var name: String?
    var when: [ConditionSource]
    var rollout: RolloutSource?
    var serve: ServeSource
    var window: WindowSource?
    var location: SourceLocation
    /// False when part of the rule could not be read: it then must not count as a rule
    /// that matches everyone.
    var complete = true
}

struct PrerequisiteSource: Sendable {
    var flag: Located<String>
    var variants: [Located<String>]
    var location: SourceLocation
}

struct VariantSource: Sendable {
    var name: Located<String>
    var value: Value
    var valueLocation: SourceLocation
}

/// The fields an environment overlay may replace; nil means "as in the base".
struct FlagBody: Sendable {
    var enabled: Bool?
    var variants: [VariantSource]?
    var variantsLocation: SourceLocation?
    var offVariant: Located<String>?
    var defaultServe: ServeSource?
    var requires: [PrerequisiteSource]?
    var rules: [RuleSource]?
    var window: WindowSource?
    /// The sample rate of evaluation events; 0 is `events: false`, which an overlay may
    /// write to turn off what the base turns on.
    var events: Double?

    static let overlayableFields = [
        "enabled", "variants", "off_variant", "default", "requires", "rules", "window", "events",
    ]
}

struct GoldenTestSource: Sendable {
    var name: String?
    var environment: Located<String>?
    var context: [String: Value]
    var contextLocation: SourceLocation
    /// Where each context attribute is written, by dotted name.
    var attributeLocations: [String: SourceLocation]
    var expect: Located<String>
    /// The evaluation time the test runs at (`at:`), instead of the compile time.
    var at: TimeSource?
    var value: Value?
    var reason: Located<String>?
    var location: SourceLocation
}

/// A parsed flag file. A class, because compilations share and cache these by the
/// thousand and a struct of this size costs a retain per field on every copy; the parser
/// fills one in and nothing changes it after.
final class FlagSource: @unchecked Sendable {
    var key: String
    var project: String
    var file: String
    var location: SourceLocation
    var name: String?
    var description: String?
    var type: FlagType
    var typeLocation: SourceLocation?
    var owner: String?
    var tags: [String]
    var expires: Located<String>?
    var base: FlagBody
    var overlays: [(environment: Located<String>, body: FlagBody)]
    var tests: [GoldenTestSource]
    /// `archived: true`: kept in Git, compiled and checked, but not served, and no other
    /// flag may require it.
    var archived = false

    init(
        key: String, project: String, file: String, location: SourceLocation, type: FlagType, tags: [String],
        base: FlagBody, overlays: [(environment: Located<String>, body: FlagBody)], tests: [GoldenTestSource]
    ) {
        self.key = key
        self.project = project
        self.file = file
        self.location = location
        self.type = type
        self.tags = tags
        self.base = base
        self.overlays = overlays
        self.tests = tests
    }
}

struct SegmentBody: Sendable {
    var include: [Located<String>]?
    var exclude: [Located<String>]?
    var when: [ConditionSource]?

    static let overlayableFields = ["include", "exclude", "when"]
}

/// A parsed segment file; a class for the same reason as `FlagSource`.
final class SegmentSource: @unchecked Sendable {
    var key: String
    var project: String
    var file: String
    var location: SourceLocation
    var name: String?
    var description: String?
    var base: SegmentBody
    var overlays: [(environment: Located<String>, body: SegmentBody)]

    init(
        key: String, project: String, file: String, location: SourceLocation, base: SegmentBody,
        overlays: [(environment: Located<String>, body: SegmentBody)]
    ) {
        self.key = key
        self.project = project
        self.file = file
        self.location = location
        self.base = base
        self.overlays = overlays
    }
}

/// One project in one environment as last resolved, kept by a `ParseCache` so that the
/// next compilation re-resolves only the files that changed. Arrays run in key order.
final class ResolvedProject: @unchecked Sendable {
    let manifestID: String
    let today: Int64
    let flagKeys: [String]
    let segmentKeys: [String]
    var flagContent: [String] = []
    var segmentContent: [String] = []
    var flagSignatures: [Int] = []
    var flags: [Flag] = []
    var flagJSON: [[UInt8]] = []
    var flagProblems: [[Diagnostic]] = []
    var segments: [Segment] = []
    var segmentJSON: [[UInt8]] = []
    var segmentProblems: [[Diagnostic]] = []
    /// Cycles found in the segment and prerequisite graphs, kept for compilations that
    /// do not need to look again.
    var segmentCycleProblems: [Diagnostic] = []
    var prerequisiteCycleProblems: [Diagnostic] = []

    init(manifestID: String, today: Int64, flagKeys: [String], segmentKeys: [String]) {
        self.manifestID = manifestID
        self.today = today
        self.flagKeys = flagKeys
        self.segmentKeys = segmentKeys
    }
}
