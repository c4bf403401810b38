import FlagModel

/// How a client finds the service and behaves when it cannot reach it.
public struct FlagstaffConfiguration: Sendable {
    /// The service's base URL, e.g. `https://flags.internal:8080`.
    public var url: String
    /// A server key (`flagstaff keys create --type server`); nil against a `--no-auth` service.
    public var key: String?
    /// Against a `--no-auth` service, the project and environment to follow (sent as
    /// `X-Flagstaff-Project` / `X-Flagstaff-Environment`); with a key, the key decides.
    public var project: String?
    public var environment: String?
    /// Each new snapshot is written here (atomically); at start, the client serves it while
    /// the service is unreachable, reporting `stale` until the service answers.
    public var cacheFile: String?
    /// Serve this snapshot file (`flagstaff compile` output) and never touch the network.
    public var offlineSnapshot: String?
    /// First wait before reconnecting; doubles (with jitter) up to `maxReconnectDelay`.
    public var reconnectDelay: Duration = .milliseconds(500)
    public var maxReconnectDelay: Duration = .seconds(30)
    /// A stream that sends nothing (not even the service's keep-alive comment, every 15 s)
    /// for this long is taken as lost and reopened.
    public var idleTimeout: Duration = .seconds(45)
    /// For the snapshot request and each analytics batch.
    public var requestTimeout: Duration = .seconds(10)
    /// Counts and tracking events are sent this often, off the evaluation path.
    public var reportInterval: Duration = .seconds(10)
    /// Tracking events kept while waiting to be sent; beyond it new ones are dropped and counted.
    public var maxQueuedEvents: Int = 10_000
    /// Whether to report counts and tracking events at all.
    public var reporting: Bool = true

    public init(url: String, key: String? = nil) {
        self.url = url.hasSuffix("/") ? String(url.dropLast()) : url
        self.key = key
    }

    /// A client that serves a compiled snapshot file and makes no request.
    public static func offline(_ snapshotFile: String) -> FlagstaffConfiguration {
        var configuration = FlagstaffConfiguration(url: "")
        configuration.offlineSnapshot = snapshotFile
        configuration.reporting = false
        return configuration
    }
}

/// What a client can do for the application right now.
public enum ClientState: Sendable, Hashable {
    /// No snapshot yet: getters answer their defaults (reason ERROR, PROVIDER_NOT_READY).
    case notReady
    /// Serving the service's current snapshot and following its changes.
    case ready
    /// Serving the last snapshot it had (or the cache file's) without reaching the service.
    case stale(String)
    /// Never got a snapshot, and the service refuses or cannot be reached.
    case error(String)
}

/// A new snapshot being served.
public struct RevisionEvent: Sendable, Hashable {
    public var revision: Int64
    public var version: String
    public var commit: String?
}

/// A failure talking to the service.
public struct FlagstaffSDKError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// A typed answer with everything the engine said about it.
public struct FlagDetails<T: Sendable>: Sendable {
    /// The flag's value, or the default the caller gave when there is an error.
    public var value: T
    /// The engine's result, kept whole rather than copied field by field.
    public var result: EvaluationResult
    /// Set when the result is an error, or before any snapshot (`providerNotReady`).
    public var errorCode: FlagErrorCode?

    public var key: String { result.key }
    public var variant: String? { result.variant }
    public var reason: Reason { result.reason }
    /// 0-based index of the rule that matched, if one did.
    public var ruleIndex: Int? { result.ruleIndex }
    public var ruleName: String? { result.ruleName }
    /// The snapshot version evaluated; nil when there was no snapshot.
    public var version: String? { result.version.isEmpty ? nil : result.version }
    public var errorMessage: String? { result.errorMessage }
}

/// OpenFeature's error codes: the engine's, and `PROVIDER_NOT_READY` before any snapshot.
public enum FlagErrorCode: String, Sendable, Hashable {
    case providerNotReady = "PROVIDER_NOT_READY"
    case flagNotFound = "FLAG_NOT_FOUND"
    case parseError = "PARSE_ERROR"
    case typeMismatch = "TYPE_MISMATCH"
    case invalidContext = "INVALID_CONTEXT"
    case general = "GENERAL"

    init(_ code: EvaluationErrorCode) {
        self = FlagErrorCode(rawValue: code.rawValue) ?? .general
    }
}
