import CGit2

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
        onto parent: ObjectID, changes: [FileChange], message: String, author: Signature
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

            // An in-memory index: nothing on disk changes.
            var index: OpaquePointer?
            code = git_index_new(&index)
            guard code == 0, let index else { throw GitError.last("create an index", code) }
            defer { git_index_free(index) }
            code = git_index_read_tree(index, parentTree)
            guard code == 0 else { throw GitError.last("read the tree into the index", code) }
            for change in changes {
                if let blob = change.blob {
                    var entry = git_index_entry()
                    entry.mode = 0o100644
                    entry.id = blob.raw
                    code = change.path.withCString { path in
                        entry.path = path
                        return git_index_add(index, &entry)
                    }
                    guard code == 0 else { throw GitError.last("add '\(change.path)'", code) }
                } else {
                    code = git_index_remove_bypath(index, change.path)
                    guard code == 0 else { throw GitError.last("remove '\(change.path)'", code) }
                }
            }
            var treeOID = git_oid()
            code = git_index_write_tree_to(&treeOID, index, repo)
            guard code == 0 else { throw GitError.last("write the tree", code) }
            var tree: OpaquePointer?
            code = git_tree_lookup(&tree, repo, &treeOID)
            guard code == 0, let tree else { throw GitError.last("read the new tree", code) }
            defer { git_tree_free(tree) }

            var signature: UnsafeMutablePointer<git_signature>?
            code = git_signature_new(&signature, author.name, author.email, author.time, Int32(author.offsetMinutes))
            guard code == 0, let signature else { throw GitError.last("make a signature", code) }
            defer { git_signature_free(signature) }
            var out = git_oid()
            var parents: [OpaquePointer?] = [parentCommit]
            code = parents.withUnsafeMutableBufferPointer { buffer in
                git_commit_create(&out, repo, nil, signature, signature, "UTF-8", message, tree, 1, buffer.baseAddress)
            }
            guard code == 0 else { throw GitError.last("create the commit", code) }
            return ObjectID(out)
        }
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
