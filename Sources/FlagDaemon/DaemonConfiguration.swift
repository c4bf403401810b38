import FlagAccess
import FlagNotify
import FlagServer
import Foundation
import GitSource

/// Everything `flagstaff daemon` is told (SPEC §13), resolved from flags, environment and
/// config file by the command line.
public struct DaemonConfiguration: Sendable {
    /// A local repository path, or a `file://` or `https://` URL fetched into `mirror`.
    public var repository: String
    /// The flag repository root inside the repository.
    public var root: String?
    /// The branch whose manifest names the environments.
    public var controlBranch: String = "main"
    public var postgres: String?
    /// A folder of SQL migrations to apply at start instead of those built in.
    public var migrations: String?
    public var redis: String?
    public var redisPrefix: String = "flagstaff"
    public var host: String = "127.0.0.1"
    public var port: Int = 8080
    /// Serve HTTPS with this certificate and key (`--tls-cert`, `--tls-key`).
    public var tls: TLSFiles?
    public var pollInterval: Duration = .seconds(5)
    public var webhookSecret: String?
    public var noAuth: Bool = false
    /// Keys for a daemon without PostgreSQL (see `KeysFile`).
    public var keysFile: String?
    public var rateLimit: RateLimiter.Configuration = .off
    /// Connections that finish no request head, or sit idle, this long are closed.
    public var idleTimeout: Duration? = FlagServer.Configuration.defaultIdleTimeout
    /// Where a remote repository is mirrored.
    public var mirror: String?
    /// The advisory lock key that elects the syncing daemon.
    public var leaderLockKey: Int64 = 0x666C_6167_7374_6166  // "flagstaf"
    /// How often followers and replicas re-read keys, and the leader retries a lost lock.
    public var refreshInterval: Duration = .seconds(2)
    /// Outbound webhooks (`--notify`…); nil when none is configured.
    public var notify: NotifyConfiguration?
    /// Evaluation counts and events (`--analytics-flush`…); nil when off (`--analytics-flush 0`).
    public var analytics: AnalyticsConfiguration? = AnalyticsConfiguration()
    /// For an http(s) remote that needs them (`--git-username`, `--git-password`): fetching
    /// and the management API's pushes. Never logged.
    public var gitCredentials: GitCredentials?
    /// JWT bearer tokens for the management API (`--jwt-jwks`…); nil when only keys are taken.
    public var jwt: JWTConfiguration?

    public init(repository: String) {
        self.repository = repository
    }

    /// Whether `repository` names a remote to fetch rather than a local folder.
    public var isRemote: Bool {
        repository.hasPrefix("file://") || repository.hasPrefix("https://") || repository.hasPrefix("http://")
            || repository.hasPrefix("ssh://") || repository.hasPrefix("git@")
    }

    /// The mirror folder: the configured one, else under systemd's state directory, else
    /// next to the working directory.
    public var mirrorPath: String {
        if let mirror { return mirror }
        if let state = ProcessInfo.processInfo.environment["STATE_DIRECTORY"], !state.isEmpty {
            return (state as NSString).appendingPathComponent("mirror.git")
        }
        return (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(".flagstaff-mirror.git")
    }
}
