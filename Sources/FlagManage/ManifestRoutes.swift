import FlagCompiler
import FlagModel
import FlagServer
import Foundation
import GitSource
import Hummingbird

/// Projects and environments are entries of the manifest. A change to them is written on
/// every environment's branch (each compiles with its own manifest), by each branch's
/// policy; a new environment also gets its branch, from a source environment's tip.
extension ManagementAPI {
    static func manifestPath(_ tree: GitTree) -> String? {
        Compiler.manifestNames.first { tree.entries[$0] != nil }
    }

    /// Edits the manifest in every branch's tree.
    func writeManifest(
        _ request: Request, caller: Caller, manifest: Manifest, summary: String, comment: String?,
        edit: @escaping @Sendable (inout YAMLEditor) throws -> Void
    ) async throws -> (writes: [BranchWrite], reviewed: Bool) {
        try await writeEveryBranch(request, caller: caller, manifest: manifest, summary: summary, comment: comment) {
            tree throws(ManageError) in
            guard let path = Self.manifestPath(tree) else {
                throw ManageError.unavailable("a branch has no flagstaff.yaml")
            }
            return [path: try Self.edit(tree, path, edit)]
        }
    }

    static func metadata(_ body: inout Body) throws(ManageError) -> [(String, Value?)] {
        var fields: [(String, Value?)] = []
        for field in ["name", "description"] where body.fields[field] != nil {
            if body.fields[field] == .null {
                _ = body.value(field)
                fields.append((field, nil))
            } else if let text = try body.string(field) {
                fields.append((field, .string(text)))
            }
        }
        return fields
    }

    // MARK: Projects

    /// `POST /api/v1/projects` (`{"key", "name", "description", "comment"}`), owners.
    func createProject(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        try caller.require(.owner, "creating a project")
        guard caller.project == nil else {
            throw ManageError(.forbidden, "FORBIDDEN", "a caller limited to one project may not create projects")
        }
        var body = try await Body.read(request, limit: configuration.maxBodySize)
        let key = try body.string("key", required: true)!
        guard Keys.isValid(key) else { throw ManageError.badRequest("'\(key)' is not a valid key: \(Keys.rule)", field: "key") }
        var entry: [String: Value] = [:]
        for (field, value) in try Self.metadata(&body) { entry[field] = value }
        let comment = try body.string("comment")
        try body.rejectUnknown()
        let manifest = try await manifest()
        guard manifest.projects.first(where: { $0.key == key }) == nil else {
            throw ManageError.conflict("EXISTS", "project '\(key)' already exists")
        }
        let value = Value.object(entry)
        let (writes, reviewed) = try await writeManifest(
            request, caller: caller, manifest: manifest, summary: "Add project \(key)", comment: comment
        ) { editor in try editor.set(["projects", key], to: value) }
        return flagWriteAnswer(
            writes, reviewed: reviewed, resource: .object(["id": .string(key), "key": .string(key)]), status: .created)
    }

    /// `PATCH /api/v1/projects/{projectId}` (`name`, `description`; null removes), owners.
    func updateProject(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        try caller.require(.owner, "changing a project")
        let manifest = try await manifest()
        let key = try project(try await param(context, "projectId"), in: manifest).key
        try caller.require(project: key)
        var body = try await Body.read(request, limit: configuration.maxBodySize)
        let fields = try Self.metadata(&body)
        let comment = try body.string("comment")
        try body.rejectUnknown()
        guard !fields.isEmpty else { throw ManageError.badRequest("nothing to change: give name or description", field: "body") }
        let (writes, reviewed) = try await writeManifest(
            request, caller: caller, manifest: manifest, summary: "Change project \(key)", comment: comment
        ) { editor in
            for (field, value) in fields {
                if let value { try editor.set(["projects", key, field], to: value) } else {
                    try editor.remove(["projects", key, field])
                }
            }
        }
        return flagWriteAnswer(writes, reviewed: reviewed, resource: .object(["id": .string(key)]))
    }

    /// `DELETE /api/v1/projects/{projectId}`: only a project without flags or segments.
    func deleteProject(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        try caller.require(.owner, "deleting a project")
        let manifest = try await manifest()
        let key = try project(try await param(context, "projectId"), in: manifest).key
        try caller.require(project: key)
        guard manifest.projects.count > 1 else {
            throw ManageError.conflict("LAST_PROJECT", "'\(key)' is the only project; a manifest needs one")
        }
        let (writes, reviewed) = try await writeManifest(
            request, caller: caller, manifest: manifest, summary: "Remove project \(key)", comment: nil
        ) { editor in try editor.remove(["projects", key]) }
        return flagWriteAnswer(writes, reviewed: reviewed, resource: .object(["id": .string(key)]))
    }

    // MARK: Environments

    /// `POST /api/v1/environments` (`{"key", "branch", "source", "name", "description",
    /// "write"}`), owners: the manifest gains the environment on every branch, and its
    /// branch is made at the source environment's tip.
    func createEnvironment(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        try caller.require(.owner, "creating an environment")
        try caller.requireEveryProject("creating an environment")
        var body = try await Body.read(request, limit: configuration.maxBodySize)
        let key = try body.string("key", required: true)!
        guard Keys.isValid(key) else { throw ManageError.badRequest("'\(key)' is not a valid key: \(Keys.rule)", field: "key") }
        let branch = try body.string("branch") ?? key
        guard GitRepository.isValidBranchName(branch), !branch.hasPrefix(Self.changePrefix) else {
            throw ManageError.badRequest("'\(branch)' is not a branch name Git takes (or it is a change's)", field: "branch")
        }
        let sourceKey = try body.string("source", required: true)!
        var entry: [String: Value] = ["branch": .string(branch)]
        for (field, value) in try Self.metadata(&body) { entry[field] = value }
        if let write = try body.string("write") {
            guard Manifest.WritePolicy(rawValue: write) != nil else {
                throw ManageError.badRequest("write must be direct or review", field: "write")
            }
            entry["write"] = .string(write)
        }
        let comment = try body.string("comment")
        try body.rejectUnknown()
        let manifest = try await manifest()
        guard manifest.environment(key) == nil else { throw ManageError.conflict("EXISTS", "environment '\(key)' already exists") }
        let source = try environment(sourceKey, in: manifest)
        let writer = self.writer
        let exists = try await blocking { () throws(ManageError) -> Bool in try writer.repository().branchTip(branch) != nil }
        guard !exists else {
            throw ManageError.conflict("EXISTS", "branch '\(branch)' already exists; name another with 'branch'")
        }
        let value = Value.object(entry)
        let (writes, reviewed) = try await writeManifest(
            request, caller: caller, manifest: manifest, summary: "Add environment \(key) (branch \(branch))",
            comment: comment
        ) { editor in try editor.set(["environments", key], to: value) }
        // The new branch starts where the source environment now is (with the manifest edit
        // when it was direct).
        let made = try await blocking { () throws(ManageError) -> String in
            let tip = try writer.tip(of: source.branch)
            guard try writer.createBranch(try writer.repository(), branch, at: tip) else {
                throw ManageError.conflict("EXISTS", "branch '\(branch)' appeared meanwhile")
            }
            return tip.hex
        }
        if !reviewed { onWritten() }
        return Responses.json(
            .object([
                "resource": .object([
                    "id": .string(key), "branch": .string(branch), "source": .string(source.key),
                    "branchCommit": .string(made),
                ]),
                "writes": .array(writes.map(\.json)),
            ]), status: reviewed ? .accepted : .created)
    }

    /// `PATCH /api/v1/environments/{environmentId}` (`name`, `description`, `write`), owners.
    func updateEnvironment(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        try caller.require(.owner, "changing an environment")
        try caller.requireEveryProject("changing an environment")
        let manifest = try await manifest()
        let key = try environment(try await param(context, "environmentId"), in: manifest).key
        var body = try await Body.read(request, limit: configuration.maxBodySize)
        var fields = try Self.metadata(&body)
        if body.fields["write"] == .null {
            _ = body.value("write")
            fields.append(("write", nil))
        } else if let write = try body.string("write") {
            guard Manifest.WritePolicy(rawValue: write) != nil else {
                throw ManageError.badRequest("write must be direct or review", field: "write")
            }
            fields.append(("write", .string(write)))
        }
        let comment = try body.string("comment")
        try body.rejectUnknown()
        guard !fields.isEmpty else {
            throw ManageError.badRequest("nothing to change: give name, description or write", field: "body")
        }
        let changes = fields
        let (writes, reviewed) = try await writeManifest(
            request, caller: caller, manifest: manifest, summary: "Change environment \(key)", comment: comment
        ) { editor in
            for (field, value) in changes {
                if let value { try editor.set(["environments", key, field], to: value) } else {
                    try editor.remove(["environments", key, field])
                }
            }
        }
        return flagWriteAnswer(writes, reviewed: reviewed, resource: .object(["id": .string(key)]))
    }

    /// `DELETE /api/v1/environments/{environmentId}`: out of the manifest; its branch stays.
    func deleteEnvironment(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        try caller.require(.owner, "deleting an environment")
        try caller.requireEveryProject("deleting an environment")
        let manifest = try await manifest()
        let environment = try environment(try await param(context, "environmentId"), in: manifest)
        guard !environment.production else {
            throw ManageError.conflict("PRODUCTION", "'\(environment.key)' is the production environment; it stays")
        }
        let (writes, reviewed) = try await writeManifest(
            request, caller: caller, manifest: manifest, summary: "Remove environment \(environment.key)", comment: nil
        ) { editor in try editor.remove(["environments", environment.key]) }
        return flagWriteAnswer(writes, reviewed: reviewed, resource: .object(["id": .string(environment.key)]))
    }

    // MARK: Promotions

    /// `POST /api/v1/promotions` (`{"from", "to", "flags", "project", "comment"}`): a change
    /// on the target environment carrying the source's version of the flags (all when none
    /// is named) and the segments they use, as `flagstaff promote` writes it.
    func promote(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        try caller.require(.editor, "promoting")
        var body = try await Body.read(request, limit: configuration.maxBodySize)
        let fromKey = try body.string("from", required: true)!
        let toKey = try body.string("to", required: true)!
        let flags = try body.strings("flags") ?? []
        let projectKey = try body.string("project")
        let comment = try body.string("comment")
        try body.rejectUnknown()
        let manifest = try await manifest()
        let source = try environment(fromKey, in: manifest)
        let target = try environment(toKey, in: manifest)
        guard source.branch != target.branch else {
            throw ManageError(
                .conflict, "SAME_BRANCH", "'\(fromKey)' and '\(toKey)' follow the same branch: nothing to promote",
                field: "to")
        }
        if let projectKey { _ = try project(projectKey, in: manifest) }
        if let scope = caller.project, projectKey != scope {
            throw ManageError(.forbidden, "FORBIDDEN", "this caller may promote project '\(scope)' only: set 'project'")
        }
        let changeID = Self.newChangeID()
        let writer = self.writer
        let targetEnvironments = manifest.environments.filter { $0.branch == target.branch }.map(\.key)
        let intent = GitWriter.Intent(
            branch: target.branch,
            environments: Set(manifest.environments.filter { $0.branch == target.branch }.map(\.key)),
            summary: "Promote \(flags.isEmpty ? "everything" : flags.joined(separator: ", ")) from \(source.key) to \(target.key)",
            comment: comment, caller: caller, requestID: Self.requestID(request), precondition: nil,
            changeBranch: Self.changeBranch(changeID),
            trailers: [("Flagstaff-Environment", target.key), ("Flagstaff-Change", changeID)])
        let written = try await blocking { () throws(ManageError) -> GitWriter.Written in
            let sourceTree = try writer.tree(at: try writer.tip(of: source.branch))
            return try writer.write(intent) { tree throws(ManageError) in
                let plan: PromotionPlan
                do {
                    plan = try PromotionPlan(source: sourceTree, target: tree, flags: flags, project: projectKey)
                } catch let error as PromotionPlan.UnknownFlag {
                    throw ManageError(.notFound, "NOT_FOUND", error.description, field: "flags")
                } catch {
                    throw ManageError.unavailable("cannot plan the promotion: \(error)")
                }
                var files: [String: [UInt8]?] = [:]
                for change in plan.changes {
                    guard change.blob != nil else {
                        files[change.path] = nil
                        continue
                    }
                    do {
                        files[change.path] = try PromotionPlan.keepingOverlays(
                            try sourceTree.read(change.path), of: targetEnvironments,
                            from: tree.entries[change.path] == nil ? nil : try tree.read(change.path))
                    } catch let error as YAMLEditError {
                        throw ManageError(
                            .conflict, "UNEDITABLE",
                            "\(change.path) cannot keep the target's overlays without rewriting it (\(error)): promote it with a merge")
                    } catch {
                        throw ManageError.unavailable("cannot read \(change.path): \(error)")
                    }
                }
                return files
            }
        }
        guard written.commit != nil else {
            return Responses.json(
                .object(["resource": .null, "commit": .null, "change": .null, "diff": .null]), status: .ok)
        }
        return try await answer(
            request, written: written, project: projectKey ?? "", environment: target, changeID: changeID,
            resource: { _ in .object(["from": .string(source.key), "to": .string(target.key)]) })
    }
}
