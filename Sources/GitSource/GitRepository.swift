import CGit2
import FlagCompiler
import FlagModel
import Foundation

/// A failed libgit2 call, with what Flagstaff was doing and what libgit2 said.
public struct GitError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var message: String
    public var code: Int32

    public init(_ operation: String, message: String, code: Int32 = -1) {
        self.operation = operation
        self.message = message
        self.code = code
    }

    /// Reads libgit2's thread-local error right after the failing call.
    static func last(_ operation: String, _ code: Int32) -> GitError {
        GitError(operation, message: LibGit2.lastError(code), code: code)
    }

    public var description: String { "\(operation): \(message)" }
}

/// A Git object id (SHA-1), as raw bytes.
public struct ObjectID: Hashable, Sendable, CustomStringConvertible {
    let raw: git_oid

    init(_ oid: git_oid) { raw = oid }

    public var hex: String {
        var oid = raw
        var buffer = [CChar](repeating: 0, count: Int(GIT_OID_HEXSZ) + 1)
        git_oid_tostr(&buffer, buffer.count, &oid)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public var short: String { String(hex.prefix(12)) }
    public var description: String { hex }

    public static func == (a: ObjectID, b: ObjectID) -> Bool {
        var x = a.raw
        var y = b.raw
        return git_oid_equal(&x, &y) != 0
    }

    public func hash(into hasher: inout Hasher) {
        withUnsafeBytes(of: raw.id) { hasher.combine(bytes: $0) }
    }
}

/// Who made a commit, and when.
public struct Signature: Sendable, Hashable {
    public var name: String
    public var email: String
    /// Seconds since 1970, UTC.
    public var time: Int64
    /// Minutes east of UTC.
    public var offsetMinutes: Int32

    init(_ s: UnsafePointer<git_signature>) {
        name = String(cString: s.pointee.name)
        email = String(cString: s.pointee.email)
        time = s.pointee.when.time
        offsetMinutes = s.pointee.when.offset
    }

    public init(name: String, email: String, time: Int64, offsetMinutes: Int32 = 0) {
        self.name = name
        self.email = email
        self.time = time
        self.offsetMinutes = offsetMinutes
    }
}

/// A commit's metadata, copied out of libgit2.
public struct CommitInfo: Sendable, Hashable {
    public var id: ObjectID
    public var author: Signature
    public var committer: Signature
    public var message: String
    public var parents: [ObjectID]

    /// The first line of the message.
    public var summary: String { String(message.split(separator: "\n", omittingEmptySubsequences: false).first ?? "") }
}

/// One Git repository, bare or with a work tree, opened through libgit2.
///
/// A libgit2 repository handle must not be used from two threads at once: every call here
/// takes the repository's lock, so one `GitRepository` may be shared, but calls serialise.
public final class GitRepository: @unchecked Sendable {
    private let handle: OpaquePointer
    private let lock = NSLock()
    /// The repository's `.git` folder (or the bare repository itself).
    public let path: String

    /// Opens the repository at `path`, or the one that contains it.
    public init(path: String) throws(GitError) {
        _ = LibGit2.initialized
        var repo: OpaquePointer?
        let code = git_repository_open_ext(&repo, path, 0, nil)
        guard code == 0, let repo else {
            throw GitError("open repository '\(path)'", message: LibGit2.lastError(code), code: code)
        }
        handle = repo
        self.path = String(cString: git_repository_path(repo))
    }

    deinit {
        git_repository_free(handle)
    }

    /// Runs `body` with the handle, one caller at a time.
    func withHandle<T>(_ body: (OpaquePointer) throws(GitError) -> T) throws(GitError) -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(handle)
    }

    public var isBare: Bool {
        (try? withHandle { git_repository_is_bare($0) != 0 }) ?? false
    }

    // MARK: Refs

    /// The commit that `ref` names: a branch (`main`), a remote branch (`origin/main`), a
    /// tag, a full or short SHA, or anything `git rev-parse` accepts (`HEAD~2`).
    public func resolve(_ ref: String) throws(GitError) -> ObjectID {
        try withHandle { repo throws(GitError) -> ObjectID in
            var object: OpaquePointer?
            var code = git_revparse_single(&object, repo, ref)
            guard code == 0, let object else {
                let message = code == GIT_ENOTFOUND.rawValue
                    ? "no branch, tag or commit named '\(ref)'" : LibGit2.lastError(code)
                throw GitError("resolve '\(ref)'", message: message, code: code)
            }
            defer { git_object_free(object) }
            var commit: OpaquePointer?
            code = git_object_peel(&commit, object, GIT_OBJECT_COMMIT)
            guard code == 0, let commit else {
                throw GitError("resolve '\(ref)'", message: "'\(ref)' does not name a commit", code: code)
            }
            defer { git_object_free(commit) }
            return ObjectID(git_object_id(commit).pointee)
        }
    }

    /// The tip of a local branch, or nil when there is no such branch.
    public func branchTip(_ name: String) -> ObjectID? {
        try? withHandle { repo throws(GitError) -> ObjectID? in
            var oid = git_oid()
            guard git_reference_name_to_id(&oid, repo, "refs/heads/\(name)") == 0 else { return nil }
            return ObjectID(oid)
        }
    }

    /// Local branch names, sorted.
    public func branches() throws(GitError) -> [String] {
        try withHandle { repo throws(GitError) -> [String] in
            var iterator: OpaquePointer?
            var code = git_branch_iterator_new(&iterator, repo, GIT_BRANCH_LOCAL)
            guard code == 0, let iterator else { throw GitError.last("list branches", code) }
            defer { git_branch_iterator_free(iterator) }
            var names: [String] = []
            var reference: OpaquePointer?
            var type = GIT_BRANCH_LOCAL
            while true {
                code = git_branch_next(&reference, &type, iterator)
                if code == GIT_ITEROVER.rawValue { break }
                guard code == 0, let reference else { throw GitError.last("list branches", code) }
                var name: UnsafePointer<CChar>?
                if git_branch_name(&name, reference) == 0, let name { names.append(String(cString: name)) }
                git_reference_free(reference)
            }
            return names.sorted()
        }
    }

    // MARK: Commits

    public func commit(_ id: ObjectID) throws(GitError) -> CommitInfo {
        try withHandle { repo throws(GitError) -> CommitInfo in
            var oid = id.raw
            var commit: OpaquePointer?
            let code = git_commit_lookup(&commit, repo, &oid)
            guard code == 0, let commit else { throw GitError.last("read commit \(id.short)", code) }
            defer { git_commit_free(commit) }
            var parents: [ObjectID] = []
            for i in 0..<git_commit_parentcount(commit) {
                if let p = git_commit_parent_id(commit, i) { parents.append(ObjectID(p.pointee)) }
            }
            return CommitInfo(
                id: id, author: Signature(git_commit_author(commit)), committer: Signature(git_commit_committer(commit)),
                message: git_commit_message(commit).map { String(cString: $0) } ?? "", parents: parents)
        }
    }

    /// The best common ancestor of two commits, or nil when they share no history.
    public func mergeBase(_ a: ObjectID, _ b: ObjectID) throws(GitError) -> ObjectID? {
        try withHandle { repo throws(GitError) -> ObjectID? in
            var out = git_oid()
            var x = a.raw
            var y = b.raw
            let code = git_merge_base(&out, repo, &x, &y)
            if code == GIT_ENOTFOUND.rawValue { return nil }
            guard code == 0 else { throw GitError.last("merge base of \(a.short) and \(b.short)", code) }
            return ObjectID(out)
        }
    }

    /// Whether `commit` has `ancestor` in its history (a commit does not descend from itself).
    public func isDescendant(_ commit: ObjectID, of ancestor: ObjectID) throws(GitError) -> Bool {
        try withHandle { repo throws(GitError) -> Bool in
            var c = commit.raw
            var a = ancestor.raw
            let code = git_graph_descendant_of(repo, &c, &a)
            guard code >= 0 else { throw GitError.last("compare history", code) }
            return code == 1
        }
    }

    // MARK: Trees

    /// The flag repository root at `commit`: `root` is a folder inside the repository
    /// (nil or empty: the repository root). Nothing is checked out.
    public func tree(at commit: ObjectID, root: String? = nil) throws(GitError) -> GitTree {
        let entries = try withHandle { repo throws(GitError) -> [String: ObjectID] in
            var oid = commit.raw
            var commitObject: OpaquePointer?
            var code = git_commit_lookup(&commitObject, repo, &oid)
            guard code == 0, let commitObject else { throw GitError.last("read commit \(commit.short)", code) }
            defer { git_commit_free(commitObject) }
            var tree: OpaquePointer?
            code = git_commit_tree(&tree, commitObject)
            guard code == 0, var tree else { throw GitError.last("read the tree of \(commit.short)", code) }
            defer { git_tree_free(tree) }
            let prefix = Self.normalise(root)
            if !prefix.isEmpty {
                var entry: OpaquePointer?
                code = git_tree_entry_bypath(&entry, tree, prefix)
                guard code == 0, let entry else {
                    throw GitError(
                        "read '\(prefix)' at \(commit.short)", message: "there is no folder '\(prefix)' in this commit",
                        code: code)
                }
                defer { git_tree_entry_free(entry) }
                guard git_tree_entry_type(entry) == GIT_OBJECT_TREE else {
                    throw GitError("read '\(prefix)' at \(commit.short)", message: "'\(prefix)' is not a folder")
                }
                var sub: OpaquePointer?
                code = git_tree_lookup(&sub, repo, git_tree_entry_id(entry))
                guard code == 0, let sub else { throw GitError.last("read '\(prefix)'", code) }
                git_tree_free(tree)
                tree = sub
            }
            var collected = TreeCollector()
            code = withUnsafeMutablePointer(to: &collected) { pointer in
                git_tree_walk(tree, GIT_TREEWALK_PRE, { rootPath, entry, payload in
                    guard let entry, let payload else { return 0 }
                    let collector = payload.assumingMemoryBound(to: TreeCollector.self)
                    let name = String(cString: git_tree_entry_name(entry))
                    // Hidden folders (.github, .git) hold nothing of the flag repository.
                    if name.hasPrefix(".") { return git_tree_entry_type(entry) == GIT_OBJECT_TREE ? 1 : 0 }
                    guard git_tree_entry_type(entry) == GIT_OBJECT_BLOB else { return 0 }
                    let path = String(cString: rootPath!) + name
                    collector.pointee.entries[path] = ObjectID(git_tree_entry_id(entry).pointee)
                    return 0
                }, pointer)
            }
            guard code == 0 else { throw GitError.last("walk the tree of \(commit.short)", code) }
            return collected.entries
        }
        return GitTree(repository: self, commit: commit, entries: entries)
    }

    /// The bytes of a blob.
    func blob(_ id: ObjectID) throws(GitError) -> [UInt8] {
        try withHandle { repo throws(GitError) -> [UInt8] in
            var oid = id.raw
            var blob: OpaquePointer?
            let code = git_blob_lookup(&blob, repo, &oid)
            guard code == 0, let blob else { throw GitError.last("read blob \(id.short)", code) }
            defer { git_blob_free(blob) }
            let size = Int(git_blob_rawsize(blob))
            guard size > 0, let raw = git_blob_rawcontent(blob) else { return [] }
            return Array(UnsafeRawBufferPointer(start: raw, count: size))
        }
    }

    public static func normalise(_ root: String?) -> String {
        guard var root, root != "." else { return "" }
        while root.hasPrefix("./") { root.removeFirst(2) }
        while root.hasSuffix("/") { root.removeLast() }
        return root
    }
}

private struct TreeCollector {
    var entries: [String: ObjectID] = [:]
}

/// A flag repository root as one commit holds it, read through libgit2.
public struct GitTree: FlagTree {
    public let repository: GitRepository
    public let commit: ObjectID
    /// Path (relative to the root) → blob id.
    public let entries: [String: ObjectID]

    /// A tree known without reading it: another commit's, with some entries changed.
    public init(repository: GitRepository, commit: ObjectID, entries: [String: ObjectID]) {
        self.repository = repository
        self.commit = commit
        self.entries = entries
    }

    public func files() throws -> [String] {
        // String order is UTF-8 byte order for the ASCII paths of a flag repository, and
        // far faster to sort; the compiler orders its diagnostics itself.
        entries.keys.sorted()
    }

    public func read(_ path: String) throws -> [UInt8] {
        guard let id = entries[path] else { throw FlagTreeError("no file '\(path)' at \(commit.short)") }
        do {
            return try repository.blob(id)
        } catch {
            throw FlagTreeError("\(error)")
        }
    }

    public func contentID(_ path: String) -> String? { entries[path]?.hex }
}
