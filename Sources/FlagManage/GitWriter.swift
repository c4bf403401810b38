import FlagCompiler
import FlagEngine
import FlagModel
import Foundation
import FlagServer
import GitSource

/// Writes through Git (SPEC §14): a mutation of the YAML files applied on the branch tip in
/// memory, compiled with the golden tests, committed, and moved onto the branch only if the
/// branch still points where it did; a remote is pushed. When the branch moved (or the push
/// was refused as not a fast-forward), the mutation runs again on the new tip, a bounded
/// number of times.
///
/// Every method blocks (libgit2, the compiler); the API calls them on one thread of its own,
/// so writes of this process happen one at a time and nothing here is touched concurrently.
final class GitWriter: @unchecked Sendable {
    let configuration: ManagementConfiguration
    let cache = ParseCache()
    private var opened: GitRepository?
    /// Trees read lately, by commit: reading one walks every entry (10,000 files take
    /// milliseconds), and reads and writes keep asking for the same few tips.
    private var trees: [ObjectID: GitTree] = [:]
    private var treeOrder: [ObjectID] = []
    /// The manifest of the control branch, by the commit it was read at.
    private var manifestCache: (commit: ObjectID, manifest: Manifest)?

    init(configuration: ManagementConfiguration) {
        self.configuration = configuration
    }

    /// The repository the daemon reads: the local one, or the mirror of a remote.
    func repository() throws(ManageError) -> GitRepository {
        if let opened { return opened }
        do {
            let repository =
                configuration.isRemote
                ? try GitRepository.mirror(at: configuration.mirrorPath)
                : try GitRepository(path: configuration.repository)
            opened = repository
            return repository
        } catch {
            throw ManageError.unavailable("the flag repository cannot be opened: \(error)")
        }
    }

    /// A root-relative path as the repository names it.
    func repositoryPath(_ path: String) -> String {
        let root = GitRepository.normalise(configuration.root)
        return root.isEmpty ? path : root + "/" + path
    }

    func tip(of branch: String) throws(ManageError) -> ObjectID {
        guard let tip = try repository().branchTip(branch) else {
            throw ManageError.notFound("there is no branch '\(branch)' in the flag repository")
        }
        return tip
    }

    func tree(at commit: ObjectID) throws(ManageError) -> GitTree {
        if let cached = trees[commit] { return cached }
        do {
            let tree = try repository().tree(at: commit, root: configuration.root)
            remember(tree)
            return tree
        } catch {
            throw ManageError.unavailable("cannot read \(commit.short): \(error)")
        }
    }

    private func remember(_ tree: GitTree) {
        if trees.updateValue(tree, forKey: tree.commit) == nil { treeOrder.append(tree.commit) }
        while treeOrder.count > 8 { trees.removeValue(forKey: treeOrder.removeFirst()) }
    }

    /// The manifest at `commit`, read once per commit.
    func cachedManifest(at commit: ObjectID) throws(ManageError) -> Manifest {
        if let manifestCache, manifestCache.commit == commit { return manifestCache.manifest }
        let manifest = try manifest(at: commit)
        manifestCache = (commit, manifest)
        return manifest
    }

    /// What a write is about and who makes it.
    struct Intent {
        /// The branch written (direct), or the branch a change starts from (review).
        var branch: String
        /// The environments whose snapshots come from that branch, compiled with their tests.
        var environments: Set<String>
        /// The commit message's first line, saying what changed.
        var summary: String
        var comment: String?
        var caller: Caller
        var requestID: String
        /// `If-Match`: the file and the ETag the caller last saw.
        var precondition: (path: String, etag: String)?
        /// Write to a new branch of this name instead of `branch` (the `review` policy).
        var changeBranch: String?
        /// Extra trailers (for a change: the environment it is for).
        var trailers: [(String, String)] = []
    }

    struct Written {
        /// nil when the mutation changed nothing (no commit was made).
        var commit: ObjectID?
        /// The tip the mutation was applied on.
        var base: ObjectID
        /// The branch that now holds the commit.
        var branch: String
        /// Root-relative paths changed.
        var paths: [String]
        var compilation: Compilation?
        var baseTree: GitTree
        var attempts: Int
    }

    /// The mutation: given the tip's tree, the files to change (root-relative path → new
    /// bytes, nil to delete). It may throw to refuse (404, 409, 400).
    typealias Mutation = (GitTree) throws(ManageError) -> [String: [UInt8]?]

    func write(_ intent: Intent, mutation: Mutation) throws(ManageError) -> Written {
        let repository = try repository()
        var attempt = 0
        while true {
            attempt += 1
            if configuration.isRemote, attempt > 1 { try fetch() }
            let base = try tip(of: intent.branch)
            let tree = try tree(at: base)
            if let precondition = intent.precondition {
                let current = tree.contentID(precondition.path).map { "\"\($0)\"" } ?? "\"absent\""
                if tree.contentID(precondition.path) == nil || !Self.etagMatches(precondition.etag, current) {
                    throw ManageError(
                        .preconditionFailed, "PRECONDITION_FAILED",
                        "'\(precondition.path)' changed since ETag \(precondition.etag) (it is \(current) now): "
                            + "read it again and retry", field: "If-Match")
                }
            }
            var changes = try mutation(tree)
            // Unchanged files are not changes.
            for (path, bytes) in changes {
                let existing = tree.entries[path] == nil ? nil : (try? tree.read(path))
                if existing == bytes { changes.removeValue(forKey: path) }
            }
            if changes.isEmpty {
                return Written(
                    commit: nil, base: base, branch: intent.branch, paths: [], compilation: nil, baseTree: tree,
                    attempts: attempt)
            }
            let overlay = OverlayTree(base: tree, changes: changes)
            let compilation = Compiler(cache: cache).compile(
                overlay,
                options: CompileOptions(
                    now: FlagServer.now(), branch: intent.branch, environments: intent.environments, runTests: true))
            if compilation.hasErrors {
                throw ManageError(
                    .unprocessableContent, "INVALID_CHANGE",
                    "the change does not compile or breaks a golden test; nothing was written: "
                        + (compilation.errors.first.map { "\($0.location.file):\($0.location.line): \($0.message)" }
                            ?? ""),
                    diagnostics: Diagnostics.json(compilation.diagnostics))
            }
            let commit = try makeCommit(repository, on: base, changes: changes, intent: intent)
            // The new commit's tree is the base's with the changes: no need to walk it again.
            var entries = tree.entries
            for (path, bytes) in changes { entries[path] = bytes.map(GitRepository.blobID(of:)) }
            remember(GitTree(repository: repository, commit: commit, entries: entries))
            let target = intent.changeBranch ?? intent.branch
            let landed: Bool
            if let changeBranch = intent.changeBranch {
                landed = try createBranch(repository, changeBranch, at: commit)
                if !landed {
                    throw ManageError.conflict("CHANGE_EXISTS", "a change branch '\(changeBranch)' already exists")
                }
            } else {
                landed = try land(repository, commit, on: intent.branch, from: base, changes: changes, tree: tree)
            }
            if landed {
                return Written(
                    commit: commit, base: base, branch: target, paths: changes.keys.sorted(),
                    compilation: compilation, baseTree: tree, attempts: attempt)
            }
            if attempt >= configuration.attempts {
                throw ManageError.conflict(
                    "CONFLICT",
                    "branch '\(intent.branch)' kept moving: the write was tried \(attempt) times; try again")
            }
        }
    }

    static func etagMatches(_ header: String, _ current: String) -> Bool {
        header.split(separator: ",").contains { tag in
            var tag = tag.trimmingCharacters(in: .whitespaces)
            if tag.hasPrefix("W/") { tag.removeFirst(2) }
            return tag == "*" || tag == current
        }
    }

    private func makeCommit(
        _ repository: GitRepository, on base: ObjectID, changes: [String: [UInt8]?], intent: Intent
    ) throws(ManageError) -> ObjectID {
        var message = intent.summary + "\n"
        if let comment = intent.comment, !comment.isEmpty { message += "\n" + comment + "\n" }
        message += "\nFlagstaff-Actor: \(Self.oneLine(intent.caller.actor))"
        message += "\nFlagstaff-Request-Id: \(Self.oneLine(intent.requestID))"
        for (name, value) in intent.trailers { message += "\n\(name): \(Self.oneLine(value))" }
        message += "\n"
        let now = Int64(Date().timeIntervalSince1970)
        do {
            var files: [GitRepository.FileChange] = []
            for (path, bytes) in changes.sorted(by: { $0.key < $1.key }) {
                files.append(
                    GitRepository.FileChange(
                        path: repositoryPath(path), blob: try bytes.map { bytes throws(GitError) in try repository.writeBlob(bytes) }))
            }
            return try repository.commit(
                onto: base, changes: files, message: message,
                author: Signature(name: Self.oneLine(intent.caller.name), email: Self.oneLine(intent.caller.email), time: now),
                committer: Signature(name: configuration.committerName, email: configuration.committerEmail, time: now))
        } catch {
            throw ManageError.unavailable("cannot write the commit: \(error)")
        }
    }

    static func oneLine(_ text: String) -> String {
        String(text.map { $0 == "\n" || $0 == "\r" || $0 == "<" || $0 == ">" ? " " : $0 })
    }

    /// Moves `branch` from `base` to `commit`: compare-and-swap locally, a push for a remote.
    /// False when the branch moved first (try again).
    private func land(
        _ repository: GitRepository, _ commit: ObjectID, on branch: String, from base: ObjectID,
        changes: [String: [UInt8]?], tree: GitTree
    ) throws(ManageError) -> Bool {
        do {
            if configuration.isRemote {
                switch try repository.push(
                    commit, to: branch, of: configuration.repository, credentials: configuration.credentials)
                {
                case .rejected: return false
                case .pushed:
                    // The mirror follows at once; if the sync's fetch got there first, fine.
                    _ = try repository.moveBranch(branch, from: base, to: commit, message: "flagstaff: management API")
                    return true
                }
            }
            let checkedOut = repository.checkedOutBranch == branch
            if checkedOut {
                // A work tree on this branch must not silently disagree with it: write only
                // if it holds exactly what the branch held for the files changed.
                for path in changes.keys.sorted() {
                    let full = repositoryPath(path)
                    guard try repository.workTreeHolds(full, blob: tree.entries[path]) else {
                        throw ManageError.conflict(
                            "WORKTREE_DIRTY",
                            "'\(full)' has uncommitted changes in the work tree of '\(branch)': commit or discard "
                                + "them first (or serve a bare repository)")
                    }
                }
            }
            guard try repository.moveBranch(branch, from: base, to: commit, message: "flagstaff: management API")
            else { return false }
            if checkedOut {
                for (path, bytes) in changes { try repository.updateWorkTree(repositoryPath(path), bytes: bytes) }
            }
            return true
        } catch let error as ManageError {
            throw error
        } catch {
            throw ManageError.unavailable("cannot update branch '\(branch)': \(error)")
        }
    }

    /// A new branch at `commit` (pushed too, for a remote). False when it exists.
    func createBranch(_ repository: GitRepository, _ name: String, at commit: ObjectID) throws(ManageError) -> Bool {
        do {
            if configuration.isRemote {
                guard case .pushed = try repository.push(
                    commit, to: name, of: configuration.repository, credentials: configuration.credentials)
                else { return false }
            }
            return try repository.moveBranch(name, from: nil, to: commit, message: "flagstaff: open change")
        } catch {
            throw ManageError.unavailable("cannot create branch '\(name)': \(error)")
        }
    }

    /// Deletes a change's branch if it still points at `tip`: on the remote first (else the
    /// next fetch would bring it back), then here. False when it moved or is gone.
    func deleteBranch(_ name: String, expecting tip: ObjectID) throws(ManageError) -> Bool {
        let repository = try repository()
        guard repository.branchTip(name) == tip else { return false }
        do {
            if configuration.isRemote {
                try repository.deleteRemoteBranch(name, of: configuration.repository, credentials: configuration.credentials)
            }
            return try repository.deleteBranch(name, expecting: tip)
        } catch {
            throw ManageError.unavailable("cannot delete branch '\(name)': \(error)")
        }
    }

    /// Brings the mirror up to date with the remote (before a retry).
    func fetch() throws(ManageError) {
        guard configuration.isRemote else { return }
        do {
            _ = try repository().fetch(from: configuration.repository, credentials: configuration.credentials)
        } catch {
            throw ManageError.unavailable("cannot fetch the flag repository: \(error)")
        }
    }
}

/// Diagnostics as `flagstaff validate --format json` writes them.
enum Diagnostics {
    static func json(_ diagnostics: [Diagnostic]) -> Value {
        let formatter = DiagnosticFormatter(format: .json, source: { _ in nil })
        return .array(diagnostics.map(formatter.json))
    }
}
