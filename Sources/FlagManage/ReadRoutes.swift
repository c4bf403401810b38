import FlagCompiler
import FlagModel
import FlagServer
import Foundation
import GitSource
import Hummingbird

extension ManagementAPI {
    func reader(_ request: Request) async throws(ManageError) -> Caller {
        try await callers.caller(request, server: server)
    }

    // MARK: Organizations

    func organizations(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        _ = try await reader(request)
        let manifest = try await manifest()
        return Responses.json(try Page(request).render([(manifest.organization, Resources.organization(manifest))]))
    }

    func organization(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        _ = try await reader(request)
        let manifest = try await manifest()
        let id = try Self.parameter(context, "organizationId")
        guard id == manifest.organization else {
            throw ManageError.notFound(
                "no organization '\(id)': this flag repository is organization '\(manifest.organization)'")
        }
        return Responses.json(Resources.organization(manifest))
    }

    func createOrganization(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        try caller.require(.owner, "creating an organization")
        let manifest = try await manifest()
        throw ManageError.conflict(
            "ONE_ORGANIZATION",
            "a flag repository is one organization ('\(manifest.organization)'): a second organization is a second "
                + "flag repository with its own daemon; rename this one by editing `organization:` in flagstaff.yaml")
    }

    // MARK: Projects and environments

    func projects(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        let manifest = try await manifest()
        if let organization = context.parameters.get("organizationId"), organization != manifest.organization {
            throw ManageError.notFound("no organization '\(organization)'")
        }
        let items = manifest.projects.filter { caller.project == nil || caller.project == $0.key }
            .sorted { $0.key < $1.key }.map { ($0.key, Resources.project($0, manifest)) }
        return Responses.json(try Page(request).render(items))
    }

    func project(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        let manifest = try await manifest()
        let project = try project(try Self.parameter(context, "projectId"), in: manifest)
        try caller.require(project: project.key)
        return Responses.json(Resources.project(project, manifest))
    }

    func environments(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        let manifest = try await manifest()
        var projects = manifest.projects.map(\.key)
        if let id = context.parameters.get("projectId") {
            projects = [try project(id, in: manifest).key]
            try caller.require(project: projects[0])
        }
        let registry = server.registry
        let items = manifest.environments.sorted { $0.key < $1.key }.map { environment in
            (
                environment.key,
                Resources.environment(
                    environment,
                    served: projects.compactMap { registry.snapshot(project: $0, environment: environment.key) })
            )
        }
        return Responses.json(try Page(request).render(items))
    }

    func environment(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        _ = try await reader(request)
        let manifest = try await manifest()
        let environment = try environment(try Self.parameter(context, "environmentId"), in: manifest)
        let registry = server.registry
        return Responses.json(
            Resources.environment(
                environment,
                served: manifest.projects.compactMap { registry.snapshot(project: $0.key, environment: environment.key) }))
    }

    // MARK: Flags

    func flags(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        let manifest = try await manifest()
        var projects = manifest.projects.map(\.key).filter { caller.project == nil || caller.project == $0 }
        if let id = context.parameters.get("projectId") {
            projects = [try project(id, in: manifest).key]
            try caller.require(project: projects[0])
        }
        let query = request.uri.queryParameters
        let tag = query["tag"].map(String.init)
        let owner = query["owner"].map(String.init)
        let type = query["type"].map(String.init)
        if let type, FlagType(rawValue: type) == nil {
            throw ManageError(
                .badRequest, "INVALID_QUERY", "type must be boolean, string, number or json", field: "type")
        }
        if let archived = query["archived"], archived != "false", archived != "true" {
            throw ManageError(.badRequest, "INVALID_QUERY", "archived must be true or false", field: "archived")
        }
        // Archived flags are not served: they are read from their files on the control branch.
        let archivedOnly = query["archived"] == "true"
        var items: [(id: String, value: Value)] = []
        if archivedOnly {
            for (project, key, file) in try await archivedFlags(projects: projects, manifest: manifest) {
                if let tag, !(file["tags"]?.arrayValue ?? []).contains(.string(tag)) { continue }
                if let owner, file["owner"] != .string(owner) { continue }
                if let type, (file["type"]?.stringValue ?? "boolean") != type { continue }
                items.append(("\(project):\(key)", Resources.archivedFlag(project: project, key: key, file)))
            }
        }
        for project in projects where !archivedOnly {
            for (flag, states) in flagsServed(project: project, manifest: manifest) {
                if let tag, !flag.tags.contains(tag) { continue }
                if let owner, flag.owner != owner { continue }
                if let type, flag.type.rawValue != type { continue }
                items.append(("\(project):\(flag.key)", Resources.flag(project: project, flag, environments: states)))
            }
        }
        items.sort { $0.id < $1.id }
        return Responses.json(try Page(request).render(items))
    }

    /// Flags whose file on the control branch says `archived: true`, with what the file says.
    func archivedFlags(projects: [String], manifest: Manifest) async throws(ManageError)
        -> [(String, String, Value)]
    {
        let writer = self.writer
        let branch = configuration.controlBranch
        let served = flagExists(manifest)
        let tree = try await blocking { () throws(ManageError) -> GitTree in try writer.tree(at: try writer.tip(of: branch)) }
        return try await blocking { () throws(ManageError) -> [(String, String, Value)] in
            var found: [(String, String, Value)] = []
            for project in projects {
                for path in tree.entries.keys.sorted() where path.hasPrefix("\(project)/flags/") {
                    let key = Compiler.stemOf(String(path.dropFirst("\(project)/flags/".count)))
                    guard !served(project, key), let bytes = try? tree.read(path),
                        let node = try? YAMLReader.parse(bytes, file: path), node.value["archived"] == .bool(true)
                    else { continue }
                    found.append((project, key, node.value))
                }
            }
            return found
        }
    }

    /// Every flag a project serves in some environment, with its state in each.
    func flagsServed(project: String, manifest: Manifest) -> [(Flag, [(String, Flag?)])] {
        let registry = server.registry
        let snapshots = manifest.environments.map { ($0.key, registry.snapshot(project: project, environment: $0.key)) }
        let preferred = served(project: project, manifest: manifest)
        var keys: [String] = []
        var definition: [String: Flag] = [:]
        for active in ([preferred] + snapshots.map(\.1)).compactMap({ $0 }) {
            for flag in active.snapshot.flags where definition[flag.key] == nil {
                definition[flag.key] = flag
                keys.append(flag.key)
            }
        }
        return keys.sorted().map { key in
            (
                definition[key]!,
                snapshots.map { environment, active in
                    (environment, active?.snapshot.flags.first { $0.key == key })
                }
            )
        }
    }

    func flag(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        let manifest = try await manifest()
        let (project, key) = try qualified(
            try Self.parameter(context, "flagId"), manifest: manifest, exists: flagExists(manifest), what: "flag")
        try caller.require(project: project)
        guard let (flag, states) = flagsServed(project: project, manifest: manifest).first(where: { $0.0.key == key })
        else { throw ManageError.notFound("no flag '\(key)' in project '\(project)'") }
        return Responses.json(Resources.flag(project: project, flag, environments: states))
    }

    func configurationRead(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        let manifest = try await manifest()
        let environment = try environment(try Self.parameter(context, "environmentId"), in: manifest)
        let (project, key) = try qualified(
            try Self.parameter(context, "flagId"), manifest: manifest, exists: flagExists(manifest), what: "flag")
        try caller.require(project: project)
        guard let active = server.registry.snapshot(project: project, environment: environment.key),
            let flag = active.snapshot.flags.first(where: { $0.key == key })
        else {
            throw ManageError.notFound("flag '\(key)' is not served in \(environment.key)")
        }
        var body = Resources.configuration(project: project, environment: environment.key, flag)
        if case .object(var object) = body {
            object["served"] = Resources.served(active)
            body = .object(object)
        }
        let etag = try await fileETag(project: project, key: key, kind: "flags", at: active)
        return Responses.json(body, headers: etag.map { [.eTag: $0] } ?? [:])
    }

    /// The ETag of a flag's or segment's file in the commit a snapshot was compiled from:
    /// its Git blob id, which changes exactly when the file does.
    func fileETag(project: String, key: String, kind: String, at active: ActiveSnapshot) async throws(ManageError)
        -> String?
    {
        guard let commit = active.snapshot.commit else { return nil }
        let writer = self.writer
        return try await blocking { () throws(ManageError) -> String? in
            guard let id = try? writer.repository().resolve(commit) else { return nil }
            let tree = try writer.tree(at: id)
            for path in ["\(project)/\(kind)/\(key).yaml", "\(project)/\(kind)/\(key).yml"] {
                if let blob = tree.contentID(path) { return "\"\(blob)\"" }
            }
            return nil
        }
    }

    // MARK: Segments

    func segments(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        let manifest = try await manifest()
        var projects = manifest.projects.map(\.key).filter { caller.project == nil || caller.project == $0 }
        if let id = context.parameters.get("projectId") {
            projects = [try project(id, in: manifest).key]
            try caller.require(project: projects[0])
        }
        var items: [(id: String, value: Value)] = []
        for project in projects {
            guard let active = served(project: project, manifest: manifest) else { continue }
            for segment in active.snapshot.segments {
                items.append(("\(project):\(segment.key)", Resources.segment(project: project, segment)))
            }
        }
        items.sort { $0.id < $1.id }
        return Responses.json(try Page(request).render(items))
    }

    func segment(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        let manifest = try await manifest()
        let (project, key) = try qualified(
            try Self.parameter(context, "segmentId"), manifest: manifest, exists: segmentExists(manifest),
            what: "segment")
        try caller.require(project: project)
        guard let active = served(project: project, manifest: manifest),
            let segment = active.snapshot.segments.first(where: { $0.key == key })
        else { throw ManageError.notFound("no segment '\(key)' in project '\(project)'") }
        return Responses.json(Resources.segment(project: project, segment))
    }
}
