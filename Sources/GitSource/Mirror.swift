import CGit2
import Foundation

/// How one branch moved in a fetch.
public struct BranchUpdate: Sendable, Hashable {
    public var branch: String
    /// nil: the branch is new.
    public var old: ObjectID?
    /// nil: the branch was deleted upstream.
    public var new: ObjectID?
    /// The new tip does not descend from the old one: history was rewritten (a force-push).
    public var forced: Bool

    public init(branch: String, old: ObjectID?, new: ObjectID?, forced: Bool) {
        self.branch = branch
        self.old = old
        self.new = new
        self.forced = forced
    }
}

extension GitRepository {
    /// Opens the bare mirror at `path`, creating it (empty) when it does not exist yet.
    /// `fetch(from:)` then keeps its branches equal to the remote's.
    public static func mirror(at path: String) throws(GitError) -> GitRepository {
        _ = LibGit2.initialized
        if !FileManager.default.fileExists(atPath: path) {
            var repo: OpaquePointer?
            let code = git_repository_init(&repo, path, 1)
            guard code == 0, let repo else {
                throw GitError("create mirror '\(path)'", message: LibGit2.lastError(code), code: code)
            }
            git_repository_free(repo)
        }
        return try GitRepository(path: path)
    }

    /// Fetches every branch of `url` (a path, `file://` or `https://`) over this
    /// repository's own branches, as a mirror does, and reports which moved and whether
    /// any was force-pushed. Tags come along.
    public func fetch(from url: String, credentials: GitCredentials? = nil) throws(GitError) -> [BranchUpdate] {
        let payload = PushPayload(credentials: credentials)
        let unmanaged = Unmanaged.passRetained(payload)
        defer { unmanaged.release() }
        let before = Dictionary(uniqueKeysWithValues: try branches().compactMap { b in branchTip(b).map { (b, $0) } })
        try withHandle { repo throws(GitError) in
            var remote: OpaquePointer?
            var code = git_remote_create_anonymous(&remote, repo, url)
            guard code == 0, let remote else { throw GitError.last("use remote '\(url)'", code) }
            defer { git_remote_free(remote) }
            var options = git_fetch_options()
            git_fetch_options_init(&options, UInt32(GIT_FETCH_OPTIONS_VERSION))
            options.prune = GIT_FETCH_PRUNE
            options.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_ALL
            options.callbacks.payload = unmanaged.toOpaque()
            options.callbacks.credentials = PushPayload.credentialCallback
            let specs = ["+refs/heads/*:refs/heads/*"]
            git_error_clear()
            code = specs.withCStringArray { array in
                var strarray = git_strarray(strings: array, count: specs.count)
                return git_remote_fetch(remote, &strarray, &options, "flagstaff fetch")
            }
            guard code == 0 else {
                throw GitError("fetch '\(url)'", message: Self.explainFetch(LibGit2.lastError(code)), code: code)
            }
        }
        let after = Dictionary(uniqueKeysWithValues: try branches().compactMap { b in branchTip(b).map { (b, $0) } })
        var updates: [BranchUpdate] = []
        for name in Set(before.keys).union(after.keys).sorted() {
            let old = before[name]
            let new = after[name]
            guard old != new else { continue }
            var forced = false
            if let old, let new { forced = !(try isDescendant(new, of: old)) }
            updates.append(BranchUpdate(branch: name, old: old, new: new, forced: forced))
        }
        return updates
    }

    /// libgit2's messages name the transport; say what a person should check.
    static func explainFetch(_ message: String) -> String {
        let lower = message.lowercased()
        if lower.contains("auth") || lower.contains("401") || lower.contains("403") || lower.contains("credentials") {
            return "\(message) (the remote needs credentials: use a URL with a token, or a local mirror)"
        }
        if lower.contains("failed to resolve") || lower.contains("could not find repository")
            || lower.contains("failed to connect") || lower.contains("does not exist") || lower.contains("not found")
        {
            return "\(message) (is the remote reachable and the URL right?)"
        }
        return message
    }
}

extension Array where Element == String {
    /// Calls `body` with a C array of C strings that live for the call.
    func withCStringArray<R>(_ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = map { strdup($0) }
        defer { pointers.forEach { free($0) } }
        return pointers.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
    }
}
