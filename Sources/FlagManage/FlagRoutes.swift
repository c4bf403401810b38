import FlagCompiler
import FlagModel
import FlagServer
import Foundation
import GitSource
import Hummingbird

/// Writes to a flag as a whole (its file on every environment's branch): create, change
/// its description, archive, restore, delete. Each branch is written by its environments'
/// policy: a commit, or a change to review.
extension ManagementAPI {
    /// What one branch got from a write across branches.
    struct BranchWrite: Sendable {
        var branch: String
        var environments: [String]
        var written: GitWriter.Written
        var changeID: String?

        var json: Value {
            var object: [String: Value] = [
                "branch": .string(branch), "environments": .array(environments.map(Value.string)),
                "commit": written.commit.map { .string($0.hex) } ?? .null,
            ]
            if let changeID, written.commit != nil {
                object["change"] = .object([
                    "id": .string(changeID), "branch": .string(ManagementAPI.changeBranch(changeID)),
                    "links": .object(["self": .string("/api/v1/changes/\(changeID)")]),
                ])
            } else {
                object["change"] = .null
            }
            return .object(object)
        }
    }

    /// Applies `mutation` on every environment branch (non-production first), each compiled
    /// with its environments' tests. A failure on one branch stops the rest and says which
    /// branches were already written.
    func writeEveryBranch(
        _ request: Request, caller: Caller, manifest: Manifest, summary: String, comment: String?,
        mutation: @escaping @Sendable (GitTree) throws(ManageError) -> [String: [UInt8]?]
    ) async throws -> (writes: [BranchWrite], reviewed: Bool) {
        var branches: [String] = []
        // Non-production branches first: a change that fails there never reaches production.
        for environment in manifest.environments.sorted(by: { ($0.production ? 1 : 0, $0.key) < ($1.production ? 1 : 0, $1.key) })
        where !branches.contains(environment.branch) {
            branches.append(environment.branch)
        }
        let requestID = Self.requestID(request)
        var writes: [BranchWrite] = []
        for branch in branches {
            let environments = manifest.environments.filter { $0.branch == branch }
            let review = environments.contains { $0.writePolicy == .review }
            let changeID = review ? Self.newChangeID() : nil
            var intent = GitWriter.Intent(
                branch: branch, environments: Set(environments.map(\.key)), summary: summary, comment: comment,
                caller: caller, requestID: requestID, precondition: nil, changeBranch: changeID.map(Self.changeBranch))
            if let changeID {
                intent.trailers = [
                    ("Flagstaff-Environment", environments.first { $0.writePolicy == .review }!.key),
                    ("Flagstaff-Change", changeID),
                ]
            }
            let writer = self.writer
            let prepared = intent
            do {
                let written = try await blocking { () throws(ManageError) -> GitWriter.Written in
                    try writer.write(prepared, mutation: mutation)
                }
                writes.append(
                    BranchWrite(
                        branch: branch, environments: environments.map(\.key), written: written, changeID: changeID))
            } catch {
                var error = error
                // What landed on earlier branches stays (each is a whole, tested commit): the
                // daemon serves it, and the same request again finishes the rest.
                if writes.contains(where: { $0.changeID == nil && $0.written.commit != nil }) { onWritten() }
                if !writes.isEmpty {
                    error.details += " (on branch '\(branch)'; already written: "
                        + writes.map(\.branch).joined(separator: ", ") + ")"
                }
                throw error
            }
        }
        if writes.contains(where: { $0.changeID == nil && $0.written.commit != nil }) { onWritten() }
        return (writes, writes.contains { $0.changeID != nil && $0.written.commit != nil })
    }

    func flagWriteAnswer(_ writes: [BranchWrite], reviewed: Bool, resource: Value, status: HTTPResponse.Status = .ok)
        -> Response
    {
        Responses.json(
            .object(["resource": resource, "writes": .array(writes.map(\.json))]),
            status: reviewed ? .accepted : status)
    }

    static func flagPath(_ tree: GitTree, project: String, key: String) -> String? {
        ["\(project)/flags/\(key).yaml", "\(project)/flags/\(key).yml"].first { tree.entries[$0] != nil }
    }

    static func edit(_ tree: GitTree, _ path: String, _ body: (inout YAMLEditor) throws -> Void)
        throws(ManageError) -> [UInt8]
    {
        do {
            var editor = try YAMLEditor(try tree.read(path))
            try body(&editor)
            return editor.bytes
        } catch let error as YAMLEditError {
            throw ManageError(
                .conflict, "UNEDITABLE", "\(path) cannot be edited without rewriting it (\(error)): change it with a commit")
        } catch {
            throw ManageError.unavailable("cannot read \(path): \(error)")
        }
    }

    // MARK: Create

    /// `POST /api/v1/projects/{projectId}/flags`: a new flag file on every branch, written
    /// as `flagstaff init` writes files.
    func createFlag(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        try caller.require(.editor, "creating a flag")
        let manifest = try await manifest()
        let project = try project(try await param(context, "projectId"), in: manifest).key
        try caller.require(project: project)
        var body = try await Body.read(request, limit: configuration.maxBodySize)
        let key = try body.string("key", required: true)!
        guard Keys.isValid(key) else {
            throw ManageError.badRequest("'\(key)' is not a valid key: \(Keys.rule)", field: "key")
        }
        var pairs: [(String, Value)] = []
        if let name = try body.string("name") { pairs.append(("name", .string(name))) }
        if let description = try body.string("description") { pairs.append(("description", .string(description))) }
        let type = try body.string("type") ?? "boolean"
        guard FlagType(rawValue: type) != nil else {
            throw ManageError.badRequest("type must be boolean, string, number or json", field: "type")
        }
        if type != "boolean" { pairs.append(("type", .string(type))) }
        if let owner = try body.string("owner") { pairs.append(("owner", .string(owner))) }
        if let tags = try body.strings("tags") { pairs.append(("tags", .array(tags.map(Value.string)))) }
        if let expires = try body.string("expires") { pairs.append(("expires", .string(expires))) }
        if let variants = body.value("variants"), variants != .null {
            guard case .object = variants else {
                throw ManageError.badRequest("variants must be an object of variant name → value", field: "variants")
            }
            pairs.append(("variants", variants))
        }
        if let enabled = try body.bool("enabled") { pairs.append(("enabled", .bool(enabled))) }
        if let offVariant = try body.string("offVariant") { pairs.append(("off_variant", .string(offVariant))) }
        guard let defaultVariant = try body.string("default") ?? (type == "boolean" ? "off" : nil) else {
            throw ManageError.badRequest("a \(type) flag needs 'default': the variant served when no rule matches", field: "default")
        }
        pairs.append(("default", .string(defaultVariant)))
        let comment = try body.string("comment")
        try body.rejectUnknown()
        let bytes = Array(YAMLRendering.document(pairs).utf8)
        let (writes, reviewed) = try await writeEveryBranch(
            request, caller: caller, manifest: manifest, summary: "Add flag \(key)", comment: comment
        ) { tree throws(ManageError) in
            if let existing = Self.flagPath(tree, project: project, key: key) {
                // The same file already there (an earlier try that stopped halfway): done here.
                guard existing == "\(project)/flags/\(key).yaml", (try? tree.read(existing)) == bytes else {
                    throw ManageError.conflict("EXISTS", "flag '\(key)' already exists in project '\(project)'")
                }
            }
            return ["\(project)/flags/\(key).yaml": bytes]
        }
        let resource: Value = .object([
            "id": .string("\(project):\(key)"), "key": .string(key), "project": .string(project),
            "file": .string("\(project)/flags/\(key).yaml"), "source": .string(String(decoding: bytes, as: UTF8.self)),
        ])
        return flagWriteAnswer(writes, reviewed: reviewed, resource: resource, status: .created)
    }

    // MARK: Change, archive, restore, delete

    /// `PATCH /api/v1/flags/{flagId}`: `name`, `description`, `owner`, `tags`, `expires`
    /// (null removes), on every branch.
    func updateFlag(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        try caller.require(.editor, "changing a flag")
        let manifest = try await manifest()
        let (project, key) = try await anyFlag(try await param(context, "flagId"), manifest: manifest)
        try caller.require(project: project)
        var body = try await Body.read(request, limit: configuration.maxBodySize)
        var sets: [(String, Value)] = []
        var removes: [String] = []
        for field in ["name", "description", "owner", "expires"] where body.fields[field] != nil {
            if body.fields[field] == .null {
                _ = body.value(field)
                removes.append(field)
            } else if let text = try body.string(field) {
                sets.append((field, .string(text)))
            }
        }
        if body.fields["tags"] == .null {
            _ = body.value("tags")
            removes.append("tags")
        } else if let tags = try body.strings("tags") {
            sets.append(("tags", .array(tags.map(Value.string))))
        }
        let comment = try body.string("comment")
        try body.rejectUnknown()
        guard !sets.isEmpty || !removes.isEmpty else {
            throw ManageError.badRequest("nothing to change: give name, description, owner, tags or expires", field: "body")
        }
        let changed = (sets.map(\.0) + removes).sorted().joined(separator: ", ")
        let (setting, removing) = (sets, removes)
        let (writes, reviewed) = try await writeEveryBranch(
            request, caller: caller, manifest: manifest, summary: "Change \(changed) of flag \(key)", comment: comment
        ) { tree throws(ManageError) in
            guard let path = Self.flagPath(tree, project: project, key: key) else { return [:] }
            return [
                path: try Self.edit(tree, path) { editor in
                    for (field, value) in setting { try editor.set([field], to: value) }
                    for field in removing { try editor.remove([field]) }
                }
            ]
        }
        return flagWriteAnswer(writes, reviewed: reviewed, resource: .object(["id": .string("\(project):\(key)")]))
    }

    func archiveFlag(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        try await setArchived(request, context, true)
    }

    func restoreFlag(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        try await setArchived(request, context, false)
    }

    /// `archived: true` on every branch (the flag stops being served), or its removal.
    func setArchived(_ request: Request, _ context: BasicRequestContext, _ archived: Bool) async throws -> Response {
        let caller = try await reader(request)
        try caller.require(.editor, archived ? "archiving a flag" : "restoring a flag")
        var body = try await Body.read(request, limit: configuration.maxBodySize, optional: true)
        let comment = try body.string("comment")
        try body.rejectUnknown()
        let manifest = try await manifest()
        let (project, key) = try await anyFlag(try await param(context, "flagId"), manifest: manifest)
        try caller.require(project: project)
        let (writes, reviewed) = try await writeEveryBranch(
            request, caller: caller, manifest: manifest, summary: "\(archived ? "Archive" : "Restore") flag \(key)",
            comment: comment
        ) { tree throws(ManageError) in
            guard let path = Self.flagPath(tree, project: project, key: key) else { return [:] }
            return [
                path: try Self.edit(tree, path) { editor in
                    if archived { try editor.set(["archived"], to: .bool(true)) } else { try editor.remove(["archived"]) }
                }
            ]
        }
        return flagWriteAnswer(
            writes, reviewed: reviewed,
            resource: .object(["id": .string("\(project):\(key)"), "archived": .bool(archived)]))
    }

    /// `DELETE /api/v1/flags/{flagId}`: the file goes from every branch (owners only; a
    /// flag still required elsewhere is 422).
    func deleteFlag(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        try caller.require(.owner, "deleting a flag")
        let manifest = try await manifest()
        let (project, key) = try await anyFlag(try await param(context, "flagId"), manifest: manifest)
        try caller.require(project: project)
        let (writes, reviewed) = try await writeEveryBranch(
            request, caller: caller, manifest: manifest, summary: "Delete flag \(key)",
            comment: request.uri.queryParameters["comment"].map(String.init)
        ) { tree throws(ManageError) in
            guard let path = Self.flagPath(tree, project: project, key: key) else { return [:] }
            return [path: nil]
        }
        return flagWriteAnswer(writes, reviewed: reviewed, resource: .object(["id": .string("\(project):\(key)")]))
    }

    /// A flag served somewhere, or one whose file is on the control branch (an archived flag).
    func anyFlag(_ id: String, manifest: Manifest) async throws(ManageError) -> (project: String, key: String) {
        let served = flagExists(manifest)
        let writer = self.writer
        let branch = configuration.controlBranch
        let tree = try await blocking { () throws(ManageError) -> GitTree in try writer.tree(at: try writer.tip(of: branch)) }
        return try qualified(
            id, manifest: manifest,
            exists: { project, key in served(project, key) || Self.flagPath(tree, project: project, key: key) != nil },
            what: "flag")
    }
}
