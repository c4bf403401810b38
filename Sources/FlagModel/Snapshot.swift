/// One (project, environment) compiled from one commit, overlays applied.
///
/// Its `version` is `sha256:` + the hex digest of the canonical JSON of its content
/// (everything but `version`, `commit`, `branch` and `compiledAt`), so reformatting YAML
/// never moves it and any change of meaning does.
public struct Snapshot: Sendable, Hashable {
    /// The snapshot JSON's `format`; bumped when its shape changes incompatibly.
    public static let format = 1

    public var organization: String
    public var project: String
    public var environment: String
    public var production: Bool
    /// Sorted by key.
    public var flags: [Flag]
    /// Sorted by key.
    public var segments: [Segment]
    /// The manifest's `analytics:`, the same in every snapshot of one compilation.
    public var analytics: AnalyticsPolicy
    public var version: String
    public var commit: String?
    public var branch: String?
    /// RFC 3339, UTC.
    public var compiledAt: String?

    public init(
        organization: String, project: String, environment: String, production: Bool = false,
        flags: [Flag], segments: [Segment], analytics: AnalyticsPolicy = .default, version: String = "",
        commit: String? = nil, branch: String? = nil, compiledAt: String? = nil
    ) {
        self.organization = organization
        self.project = project
        self.environment = environment
        self.production = production
        self.flags = Self.sortedByKey(flags)
        self.segments = Self.sortedByKey(segments)
        self.analytics = analytics
        self.version = version
        self.commit = commit
        self.branch = branch
        self.compiledAt = compiledAt
    }

    /// Sorted by the keys' UTF-8 bytes; already-sorted input (what the compiler produces)
    /// is only checked.
    static func sortedByKey(_ flags: [Flag]) -> [Flag] {
        for i in flags.indices.dropFirst() where !UTF8Order.precedes(flags[i - 1].key, flags[i].key) {
            return flags.sorted { UTF8Order.precedes($0.key, $1.key) }
        }
        return flags
    }

    static func sortedByKey(_ segments: [Segment]) -> [Segment] {
        for i in segments.indices.dropFirst() where !UTF8Order.precedes(segments[i - 1].key, segments[i].key) {
            return segments.sorted { UTF8Order.precedes($0.key, $1.key) }
        }
        return segments
    }

    /// The flag with this key (binary search: flags are sorted by key).
    public func flag(_ key: String) -> Flag? {
        var low = 0
        var high = flags.count
        while low < high {
            let mid = (low + high) / 2
            if UTF8Order.precedes(flags[mid].key, key) { low = mid + 1 } else { high = mid }
        }
        return low < flags.count && flags[low].key == key ? flags[low] : nil
    }
    public func segment(_ key: String) -> Segment? { segments.first { $0.key == key } }
}

/// Why a result is what it is (§6).
public enum Reason: String, Sendable, Hashable, CaseIterable {
    case `static` = "STATIC"
    case `default` = "DEFAULT"
    case targetingMatch = "TARGETING_MATCH"
    case split = "SPLIT"
    case disabled = "DISABLED"
    case prerequisiteFailed = "PREREQUISITE_FAILED"
    case error = "ERROR"

    /// The reason as OpenFeature providers accept it; ours that they do not know map to
    /// the nearest one they do (the native reason travels in metadata).
    public var openFeatureReason: String {
        switch self {
        case .prerequisiteFailed: "DISABLED"
        default: rawValue
        }
    }
}

/// Error codes of a failed evaluation, as OpenFeature names them.
public enum EvaluationErrorCode: String, Sendable, Hashable, CaseIterable {
    case flagNotFound = "FLAG_NOT_FOUND"
    case parseError = "PARSE_ERROR"
    case typeMismatch = "TYPE_MISMATCH"
    case invalidContext = "INVALID_CONTEXT"
    case general = "GENERAL"
}

/// The outcome of evaluating one flag for one context.
public struct EvaluationResult: Sendable, Hashable {
    public var key: String
    public var value: Value?
    public var variant: String?
    public var reason: Reason
    /// 0-based index of the rule that matched, if one did.
    public var ruleIndex: Int?
    public var ruleName: String?
    public var version: String
    public var errorCode: EvaluationErrorCode?
    public var errorMessage: String?

    public init(
        key: String, value: Value?, variant: String?, reason: Reason, ruleIndex: Int? = nil,
        ruleName: String? = nil, version: String, errorCode: EvaluationErrorCode? = nil,
        errorMessage: String? = nil
    ) {
        self.key = key
        self.value = value
        self.variant = variant
        self.reason = reason
        self.ruleIndex = ruleIndex
        self.ruleName = ruleName
        self.version = version
        self.errorCode = errorCode
        self.errorMessage = errorMessage
    }

    public static func failure(
        key: String, code: EvaluationErrorCode, message: String, version: String
    ) -> EvaluationResult {
        EvaluationResult(
            key: key, value: nil, variant: nil, reason: .error, version: version, errorCode: code,
            errorMessage: message)
    }

    /// The OFREP evaluation object: `key`, `value`, `variant`, `reason`, `metadata`, and
    /// `errorCode`/`errorDetails` on failure. `flagstaff eval` prints this same object.
    public var ofrepJSON: Value {
        var object: [String: Value] = ["key": .string(key), "reason": .string(reason.openFeatureReason)]
        var metadata: [String: Value] = ["version": .string(version), "reason": .string(reason.rawValue)]
        if let ruleIndex { metadata["ruleIndex"] = .int(Int64(ruleIndex)) }
        if let ruleName { metadata["ruleName"] = .string(ruleName) }
        object["metadata"] = .object(metadata)
        if let errorCode {
            object["errorCode"] = .string(errorCode.rawValue)
            if let errorMessage { object["errorDetails"] = .string(errorMessage) }
        } else {
            object["value"] = value ?? .null
            object["variant"] = .string(variant ?? "")
        }
        return .object(object)
    }
}
