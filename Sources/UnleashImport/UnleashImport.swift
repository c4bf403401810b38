import FlagCompiler
import FlagEngine
import FlagModel

/// Imports the payload of Unleash's `/api/client/features` as a native flag repository.
///
/// Imported flags run on the ordinary compiler and engine. Every rule keeps Unleash's meaning
/// (SEMANTICS.md in the Unleash conformance folder), and every rollout and split keeps the
/// Unleash feature name (or `groupId`) as its group, so every user keeps their bucket.
///
/// - A feature without variants becomes a boolean flag: its value is Unleash's `isEnabled`.
/// - A feature with variants (its own or its strategies') becomes a json flag whose value is
///   the object Unleash's `getVariant` returns: `{name, enabled, feature_enabled, payload?}`.
/// - A feature Unleash cannot evaluate (an unknown operator, a missing segment, a rollout
///   over 100…) is off everywhere in Unleash: it is imported disabled, with a warning.
/// - Anything else that cannot be carried over exactly is an `ImportError` naming the
///   feature and the field.
///
/// Evaluate imported flags with contexts made by `nativeContext(_:)`.
///
/// How each part translates:
///
/// - **Strategies** become rules, in payload order. `default` has no condition; `userWithId`
///   is `userId in [ids]`; `remoteAddress` is `in_cidr` over the valid entries of `IPs`
///   (`{ any: [] }` if none); `flexibleRollout` and `gradualRollout*` become
///   `rollout: { percentage, by, group }`, `by` being the stickiness chain (`default`:
///   `[userId, sessionId, random]`, `random`: `[random]`, a field: `[field]`). A strategy that
///   can never match (custom strategies, `applicationHostname`, missing parameters) is left
///   out with a warning and a comment. Strategies after one that matches everyone are left
///   out with a comment: Unleash never reaches them.
/// - **Constraints** become attribute conditions (`negate` for `inverted`;
///   `case_insensitive` except on IN/NOT_IN, where Unleash ignores it). Answers Unleash fixes
///   whatever the context (IN with no values, a version written `v1.2.3`, a regex that does
///   not compile, IN_CIDR without a valid range) become `{ any: [] }` / `{ all: [] }`, with a
///   comment. NUM_*, DATE_* and SEMVER_* compare by the value's shape, as Unleash does; a
///   date compared with `>=`, `<=` or `==` becomes `after`/`before` one nanosecond away.
/// - **Segments** become `<project>/segments/segment-<id>.yaml` files, used as
///   `{ segment: segment-<id> }` after the strategy's own constraints.
/// - **Variants**: a strategy's variants become a split under the strategy's stickiness and
///   `groupId` (else the feature name); otherwise the feature's variants apply: one rule per
///   override, then the split, by the first variant's stickiness, grouped by the feature
///   name. A variant's stickiness chain ends with `random`, as Unleash draws at random when the
///   context has no value. Extra variants: `off` (the flag is off) and `on` (on, but no
///   variant to give), both named `disabled` as Unleash names them.
/// - **Dependencies** become `requires:` naming the parent's variants that satisfy them.
///   A missing parent, or one with dependencies of its own, can never be satisfied: the
///   child is imported disabled, with a warning.
///
/// Known, documented differences (each leaves a warning or cannot occur in practice):
/// - yggdrasil buckets a parent's flexibleRollout without `groupId` under the *child's* name
///   when checking a dependency; the import keeps the parent's own buckets (as Unleash's other
///   SDKs do) and warns on the child when the parent's percentage is strictly between 0 and 100.
/// - A context *property* named `random` or `currentTime` cannot be a variant's stickiness:
///   both names belong to Flagstaff (`random` draws, `currentTime` is a standard field).
public struct UnleashImport {
    public struct Options: Sendable {
        /// The project folder the flags and segments go in.
        public var project: String = "app"
        public var organization: String = "imported"
        /// The one environment of the manifest (branch `main`, production).
        public var environment: String = "production"
        /// Where the payload came from, for the comment at the top of each file.
        public var source: String = "features.json"

        public init(
            project: String = "app", organization: String = "imported", environment: String = "production",
            source: String = "features.json"
        ) {
            self.project = project
            self.organization = organization
            self.environment = environment
            self.source = source
        }
    }

    /// Something imported with a change the user should know about (a flag imported
    /// disabled, a strategy left out), naming the Unleash feature and the field.
    public struct Warning: Sendable, Hashable, CustomStringConvertible {
        /// The Unleash feature name; empty for a problem with the payload as a whole or a segment.
        public var feature: String
        /// The field in the feature, e.g. `strategies[0].constraints[1].operator`.
        public var field: String
        public var message: String

        public init(feature: String, field: String, message: String) {
            self.feature = feature
            self.field = field
            self.message = message
        }

        public var description: String {
            (feature.isEmpty ? "" : "feature \(YAMLRendering.quoted(feature)), ") + "\(field): \(message)"
        }
    }

    /// What cannot be imported without changing its meaning.
    public struct ImportError: Error, Sendable, Hashable, CustomStringConvertible {
        public var feature: String
        public var field: String
        public var message: String

        public init(feature: String, field: String, message: String) {
            self.feature = feature
            self.field = field
            self.message = message
        }

        public var description: String {
            (feature.isEmpty ? "" : "feature \(YAMLRendering.quoted(feature)), ") + "\(field): \(message)"
        }
    }

    public struct Result: Sendable {
        /// Path relative to the new repository root → YAML text.
        public var files: [String: String]
        public var warnings: [Warning]
        /// Unleash feature name → flag key, for every imported feature.
        public var keyMap: [String: String]

        public init(files: [String: String], warnings: [Warning], keyMap: [String: String]) {
            self.files = files
            self.warnings = warnings
            self.keyMap = keyMap
        }
    }

    /// Imports `payload`: a features payload (`{features, segments?}`), or a delta-API
    /// document (`{events}`), which is applied first.
    public static func run(_ payload: Value, options: Options = Options()) throws(ImportError) -> Result {
        for (field, key) in [("project", options.project), ("organization", options.organization),
            ("environment", options.environment)] where !Keys.isValid(key)
        {
            throw ImportError(feature: "", field: field, message: "'\(key)' is not a valid key: \(Keys.rule)")
        }
        var document = payload
        if payload["features"] == nil, payload["events"] != nil { document = try applyDelta(payload) }
        var importer = Importer(document: try PayloadReader.document(document), options: options)
        return try importer.run()
    }
}
