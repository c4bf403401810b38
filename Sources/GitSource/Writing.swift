import CGit2
import Foundation

extension GitRepository {
    /// A file of a new commit: the blob to put at `path` (repository-relative), or nil to
    /// delete it.
    public struct FileChange: Sendable, Hashable {
        public var path: String
        public var blob: ObjectID?

        public init(path: String, blob: ObjectID?) {
            self.path = path
            self.blob = blob
        }
    }

    /// Writes a commit whose tree is `parent`'s with `changes` applied, without touching
    /// any branch or work tree. The commit is unreachable until a branch points at it.
    public func commit(
        onto parent: ObjectID, changes: [FileChange], message: String, author: Signature, committer: Signature? = nil
    ) throws(GitError) -> ObjectID {
        try withHandle { repo throws(GitError) -> ObjectID in
            var parentOID = parent.raw
            var parentCommit: OpaquePointer?
            var code = git_commit_lookup(&parentCommit, repo, &parentOID)
            guard code == 0, let parentCommit else { throw GitError.last("read commit \(parent.short)", code) }
            defer { git_commit_free(parentCommit) }
            var parentTree: OpaquePointer?
            code = git_commit_tree(&parentTree, parentCommit)
            guard code == 0, let parentTree else { throw GitError.last("read the tree of \(parent.short)", code) }
            defer { git_tree_free(parentTree) }

            // Only the trees on the changed paths are written again: a repository of 10,000
            // files costs what one of 10 does. Nothing on disk but new objects changes.
            let paths = changes.map { strdup($0.path) }
            defer { paths.forEach { free($0) } }
            var updates = zip(changes, paths).map { change, path in
                var update = git_tree_update()
                update.action = change.blob == nil ? GIT_TREE_UPDATE_REMOVE : GIT_TREE_UPDATE_UPSERT
                update.id = change.blob?.raw ?? git_oid()
                update.filemode = GIT_FILEMODE_BLOB
                update.path = UnsafePointer(path)
                return update
            }
            var treeOID = git_oid()
            code = updates.withUnsafeMutableBufferPointer { buffer in
                git_tree_create_updated(&treeOID, repo, parentTree, buffer.count, buffer.baseAddress)
            }
            guard code == 0 else { throw GitError.last("write the tree", code) }
            var tree: OpaquePointer?
            code = git_tree_lookup(&tree, repo, &treeOID)
            guard code == 0, let tree else { throw GitError.last("read the new tree", code) }
            defer { git_tree_free(tree) }

            var signature: UnsafeMutablePointer<git_signature>?
            code = git_signature_new(&signature, author.name, author.email, author.time, Int32(author.offsetMinutes))
            guard code == 0, let signature else { throw GitError.last("make a signature", code) }
            defer { git_signature_free(signature) }
            let committer = committer ?? author
            var committerSignature: UnsafeMutablePointer<git_signature>?
            code = git_signature_new(
                &committerSignature, committer.name, committer.email, committer.time, Int32(committer.offsetMinutes))
            guard code == 0, let committerSignature else { throw GitError.last("make a signature", code) }
            defer { git_signature_free(committerSignature) }
            var out = git_oid()
            var parents: [OpaquePointer?] = [parentCommit]
            code = parents.withUnsafeMutableBufferPointer { buffer in
                git_commit_create(
                    &out, repo, nil, signature, committerSignature, "UTF-8", message, tree, 1, buffer.baseAddress)
            }
            guard code == 0 else { throw GitError.last("create the commit", code) }
            return ObjectID(out)
        }
    }

    /// The id `bytes` would have as a blob, without storing it.
    public static func blobID(of bytes: [UInt8]) -> ObjectID {
        var oid = git_oid()
        _ = LibGit2.initialized
        _ = bytes.withUnsafeBytes { git_odb_hash(&oid, $0.baseAddress, $0.count, GIT_OBJECT_BLOB) }
        return ObjectID(oid)
    }

    /// Stores `bytes` as a blob and returns its id.
    public func writeBlob(_ bytes: [UInt8]) throws(GitError) -> ObjectID {
        try withHandle { repo throws(GitError) -> ObjectID in
            var oid = git_oid()
            let code = bytes.withUnsafeBytes { git_blob_create_from_buffer(&oid, repo, $0.baseAddress, $0.count) }
            guard code == 0 else { throw GitError.last("write a blob", code) }
            return ObjectID(oid)
        }
    }

    /// Creates the local branch `name` at `commit`; fails if it exists, so nothing is
    /// ever overwritten.
    public func createBranch(_ name: String, at commit: ObjectID) throws(GitError) {
        try withHandle { repo throws(GitError) in
            var oid = commit.raw
            var reference: OpaquePointer?
            let code = git_reference_create(&reference, repo, "refs/heads/\(name)", &oid, 0, "flagstaff: create \(name)")
            guard code == 0 else {
                let message = code == GIT_EEXISTS.rawValue ? "branch '\(name)' already exists" : LibGit2.lastError(code)
                throw GitError("create branch '\(name)'", message: message, code: code)
            }
            git_reference_free(reference)
        }
    }
}

// MARK: Moving a branch safely

extension GitRepository {
    /// Moves the local branch `name` from `old` to `new` only if it still points at `old`
    /// (compare-and-swap; libgit2 checks under the reference's lock file). `old == nil`
    /// creates the branch only if it does not exist. False when the branch had moved.
    public func moveBranch(_ name: String, from old: ObjectID?, to new: ObjectID, message: String) throws(GitError) -> Bool {
        try withHandle { repo throws(GitError) -> Bool in
            var newOID = new.raw
            var reference: OpaquePointer?
            let code: Int32
            if let old {
                var oldOID = old.raw
                code = git_reference_create_matching(
                    &reference, repo, "refs/heads/\(name)", &newOID, 1, &oldOID, message)
            } else {
                code = git_reference_create(&reference, repo, "refs/heads/\(name)", &newOID, 0, message)
            }
            if code == GIT_EMODIFIED.rawValue || code == GIT_EEXISTS.rawValue || code == GIT_ELOCKED.rawValue {
                return false
            }
            guard code == 0 else { throw GitError.last("move branch '\(name)'", code) }
            git_reference_free(reference)
            return true
        }
    }

    /// Deletes the local branch `name` if it still points at `expected`. False when it moved
    /// or is gone.
    public func deleteBranch(_ name: String, expecting expected: ObjectID) throws(GitError) -> Bool {
        try withHandle { repo throws(GitError) -> Bool in
            var oid = git_oid()
            guard git_reference_name_to_id(&oid, repo, "refs/heads/\(name)") == 0, ObjectID(oid) == expected else {
                return false
            }
            let code = git_reference_remove(repo, "refs/heads/\(name)")
            guard code == 0 else { throw GitError.last("delete branch '\(name)'", code) }
            return true
        }
    }

    /// Whether `name` may name a branch (`git check-ref-format --branch`'s rules).
    public static func isValidBranchName(_ name: String) -> Bool {
        _ = LibGit2.initialized
        var valid: Int32 = 0
        return git_reference_name_is_valid(&valid, "refs/heads/\(name)") == 0 && valid == 1 && !name.hasPrefix("-")
    }

    /// The branch that a non-bare repository's work tree has checked out, or nil (bare, or
    /// a detached HEAD).
    public var checkedOutBranch: String? {
        try? withHandle { repo throws(GitError) -> String? in
            guard git_repository_is_bare(repo) == 0 else { return nil }
            var head: OpaquePointer?
            guard git_reference_lookup(&head, repo, "HEAD") == 0, let head else { return nil }
            defer { git_reference_free(head) }
            guard git_reference_type(head) == GIT_REFERENCE_SYMBOLIC, let target = git_reference_symbolic_target(head)
            else { return nil }
            let name = String(cString: target)
            return name.hasPrefix("refs/heads/") ? String(name.dropFirst("refs/heads/".count)) : nil
        }
    }

    /// The folder of the work tree, or nil for a bare repository.
    public var workTree: String? {
        try? withHandle { repo throws(GitError) -> String? in
            guard let path = git_repository_workdir(repo) else { return nil }
            return String(cString: path)
        }
    }
}

// MARK: Notes kept in references

extension GitRepository {
    /// Points the reference `name` (a full name such as `refs/flagstaff/audit-head`) at a new
    /// blob holding `bytes`, replacing what it pointed at. Outside `refs/heads/`, so no
    /// branch, work tree or fetch (which mirrors branches only) ever sees it.
    public func setReference(_ name: String, toBlob bytes: [UInt8], message: String) throws(GitError) {
        let blob = try writeBlob(bytes)
        try withHandle { repo throws(GitError) in
            var oid = blob.raw
            var reference: OpaquePointer?
            let code = git_reference_create(&reference, repo, name, &oid, 1, message)
            guard code == 0 else { throw GitError.last("write reference '\(name)'", code) }
            git_reference_free(reference)
        }
    }

    /// The content of the blob that the reference `name` points at, or nil when there is
    /// no such reference.
    public func referencedBlob(_ name: String) throws(GitError) -> [UInt8]? {
        let id = try withHandle { repo throws(GitError) -> ObjectID? in
            var oid = git_oid()
            let code = git_reference_name_to_id(&oid, repo, name)
            if code == GIT_ENOTFOUND.rawValue { return nil }
            guard code == 0 else { throw GitError.last("read reference '\(name)'", code) }
            return ObjectID(oid)
        }
        return try id.map { id throws(GitError) in try blob(id) }
    }
}

// MARK: A work tree that follows its branch

extension GitRepository {
    /// Whether the work tree and the index hold exactly `blob` at `path` (repository-relative;
    /// nil: the file is absent from both). What a write to the checked-out branch checks
    /// first, so that it never overwrites somebody's uncommitted edit.
    public func workTreeHolds(_ path: String, blob: ObjectID?) throws(GitError) -> Bool {
        guard let root = workTree else { return true }
        let file = (root as NSString).appendingPathComponent(path)
        let onDisk = FileManager.default.contents(atPath: file).map { [UInt8]($0) }
        let indexed = try withHandle { repo throws(GitError) -> ObjectID? in
            var index: OpaquePointer?
            let code = git_repository_index(&index, repo)
            guard code == 0, let index else { throw GitError.last("read the index", code) }
            defer { git_index_free(index) }
            guard git_index_read(index, 0) == 0, let entry = git_index_get_bypath(index, path, 0) else { return nil }
            return ObjectID(entry.pointee.id)
        }
        guard indexed == blob else { return false }
        guard let blob else { return onDisk == nil }
        guard let onDisk else { return false }
        return try self.blob(blob) == onDisk
    }

    /// Writes `bytes` to `path` in the work tree and the index (nil deletes it): after a
    /// write moved the checked-out branch, the work tree agrees with it again.
    public func updateWorkTree(_ path: String, bytes: [UInt8]?) throws(GitError) {
        guard let root = workTree else { return }
        let file = (root as NSString).appendingPathComponent(path)
        if let bytes {
            let folder = (file as NSString).deletingLastPathComponent
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                try Data(bytes).write(to: URL(fileURLWithPath: file), options: .atomic)
            } catch {
                throw GitError("write '\(path)' in the work tree", message: "\(error)")
            }
        } else {
            try? FileManager.default.removeItem(atPath: file)
        }
        try withHandle { repo throws(GitError) in
            var index: OpaquePointer?
            var code = git_repository_index(&index, repo)
            guard code == 0, let index else { throw GitError.last("read the index", code) }
            defer { git_index_free(index) }
            code = git_index_read(index, 0)
            guard code == 0 else { throw GitError.last("read the index", code) }
            code = bytes == nil ? git_index_remove_bypath(index, path) : git_index_add_bypath(index, path)
            guard code == 0 else { throw GitError.last("update '\(path)' in the index", code) }
            code = git_index_write(index)
            guard code == 0 else { throw GitError.last("write the index", code) }
        }
    }
}

// MARK: Pushing

/// A user name and password (or token) for an http(s) remote. Never logged: its
/// description names the user only.
public struct GitCredentials: Sendable, Hashable, CustomStringConvertible {
    public var username: String
    public var password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    public var description: String { "credentials for '\(username)'" }
}

/// Why a push did not land.
public enum PushOutcome: Sendable, Hashable {
    case pushed
    /// The remote's branch is not an ancestor of what was pushed: fetch and try again.
    case rejected(String)
}

/// Passed to libgit2's callbacks through their payload pointer.
final class PushPayload {
    let credentials: GitCredentials?
    var credentialAttempts = 0
    var rejection: String?

    init(credentials: GitCredentials?) { self.credentials = credentials }

    /// Offers the credentials once; a second ask means they were refused, and asking again
    /// would loop.
    /// libgit2 sets no message for a callback's refusal, so the one set here is what the
    /// error says (rather than whatever failed last on the thread).
    static let credentialCallback: git_credential_acquire_cb = { out, _, _, allowed, payload in
        guard let payload, let out else { return GIT_EAUTH.rawValue }
        let state = Unmanaged<PushPayload>.fromOpaque(payload).takeUnretainedValue()
        guard let credentials = state.credentials else {
            git_error_set_str(
                Int32(GIT_ERROR_NET.rawValue),
                "the remote asks for credentials and none are configured (--git-username, --git-password)")
            return GIT_EAUTH.rawValue
        }
        guard state.credentialAttempts == 0, allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT.rawValue != 0 else {
            git_error_set_str(
                Int32(GIT_ERROR_NET.rawValue), "the remote refused the credentials for '\(credentials.username)'")
            return GIT_EAUTH.rawValue
        }
        state.credentialAttempts += 1
        return git_credential_userpass_plaintext_new(out, credentials.username, credentials.password)
    }
}

extension GitRepository {
    /// Pushes `commit` to the branch `branch` of `url` without force, so the remote refuses
    /// it unless its branch is an ancestor. `.rejected` when that happened.
    public func push(_ commit: ObjectID, to branch: String, of url: String, credentials: GitCredentials?)
        throws(GitError) -> PushOutcome
    {
        // A local ref to push from: a push names refs, not bare commits.
        let staging = "refs/flagstaff/push/\(branch)"
        try withHandle { repo throws(GitError) in
            var oid = commit.raw
            var reference: OpaquePointer?
            let code = git_reference_create(&reference, repo, staging, &oid, 1, "flagstaff: push")
            guard code == 0 else { throw GitError.last("prepare the push of '\(branch)'", code) }
            git_reference_free(reference)
        }
        let (code, rejection) = try push(refspec: "\(staging):refs/heads/\(branch)", to: url, credentials: credentials)
        if code == GIT_ENONFASTFORWARD.rawValue {
            return .rejected("the remote's '\(branch)' moved (not a fast-forward)")
        }
        guard code == 0 else {
            let message = LibGit2.lastError(code)
            if message.contains("fast-forward") || message.contains("fastforward") { return .rejected(message) }
            throw GitError("push to '\(branch)'", message: Self.explainFetch(message), code: code)
        }
        if let rejection {
            // Only a remote whose branch moved is worth another try on the new tip; a hook
            // or a protected branch says no for good.
            let moved = ["non-fast-forward", "fetch first", "stale info", "fast forward"]
            if moved.contains(where: { rejection.lowercased().contains($0) }) { return .rejected(rejection) }
            throw GitError("push to '\(branch)'", message: "the remote refused it: \(rejection)")
        }
        return .pushed
    }
}

extension GitRepository {
    /// Deletes the branch `branch` of the remote `url` (a push of nothing to it). A branch
    /// already gone is fine.
    public func deleteRemoteBranch(_ branch: String, of url: String, credentials: GitCredentials?) throws(GitError) {
        let (code, rejection) = try push(refspec: ":refs/heads/\(branch)", to: url, credentials: credentials)
        guard code == 0 else {
            throw GitError("delete '\(branch)' on the remote", message: Self.explainFetch(LibGit2.lastError(code)), code: code)
        }
        if let rejection {
            throw GitError("delete '\(branch)' on the remote", message: "the remote refused it: \(rejection)")
        }
    }

    /// Pushes one refspec to `url`: libgit2's result, and the remote's refusal of the ref if
    /// it sent one. Read `LibGit2.lastError` right after a non-zero code.
    func push(refspec: String, to url: String, credentials: GitCredentials?) throws(GitError) -> (Int32, String?) {
        let payload = PushPayload(credentials: credentials)
        let unmanaged = Unmanaged.passRetained(payload)
        defer { unmanaged.release() }
        let code = try withHandle { repo throws(GitError) -> Int32 in
            var remote: OpaquePointer?
            var code = git_remote_create_anonymous(&remote, repo, url)
            guard code == 0, let remote else { throw GitError.last("use remote", code) }
            defer { git_remote_free(remote) }
            var options = git_push_options()
            git_push_options_init(&options, UInt32(GIT_PUSH_OPTIONS_VERSION))
            options.callbacks.payload = unmanaged.toOpaque()
            options.callbacks.credentials = PushPayload.credentialCallback
            options.callbacks.push_update_reference = { _, status, payload in
                if let status, let payload {
                    Unmanaged<PushPayload>.fromOpaque(payload).takeUnretainedValue().rejection = String(cString: status)
                }
                return 0
            }
            let specs = [refspec]
            git_error_clear()
            code = specs.withCStringArray { array in
                var strarray = git_strarray(strings: array, count: specs.count)
                return git_remote_push(remote, &strarray, &options)
            }
            return code
        }
        return (code, payload.rejection)
    }
}
