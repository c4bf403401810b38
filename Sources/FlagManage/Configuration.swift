import FlagAccess
import GitSource

/// What the management API needs to know about the flag repository and its callers.
public struct ManagementConfiguration: Sendable {
    /// A local repository path, or the `file://`/`http(s)://` URL the daemon mirrors.
    public var repository: String
    public var isRemote: Bool
    /// The daemon's mirror of a remote repository (written after a push lands).
    public var mirrorPath: String
    public var root: String?
    /// Where the manifest is read and written.
    public var controlBranch: String
    /// For pushing to (and fetching from) an http(s) remote; never logged.
    public var credentials: GitCredentials?
    /// The committer of every commit the API makes (the caller is the author).
    public var committerName = "Flagstaff"
    public var committerEmail = "flagstaff@localhost"
    /// Tries of one write when the branch moves under it (or a push is refused) before 409.
    public var attempts = 4
    public var maxBodySize = 64 * 1024
    /// How long `?wait=applied` waits for the change to be served before answering 202.
    public var waitTimeout: Duration = .seconds(10)
    /// Whether the server's keys come from a keys file: then the key routes refuse, since a
    /// key written to PostgreSQL would work until the next restart and then silently stop.
    public var keysFromFile = false
    /// JWT bearer tokens, when configured (`--jwt-jwks`).
    public var jwt: JWTConfiguration?

    public init(repository: String, isRemote: Bool, mirrorPath: String, root: String?, controlBranch: String) {
        self.repository = repository
        self.isRemote = isRemote
        self.mirrorPath = mirrorPath
        self.root = root
        self.controlBranch = controlBranch
    }
}
