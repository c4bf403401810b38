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

    /// The projects a list covers: the path's one, else every project the caller may see
    /// (`limited: false`: every project, for what is shared by all, like environments).
    func visibleProjects(
        _ context: BasicRequestContext, caller: Caller, manifest: Manifest, limited: Bool = true
    ) async throws(ManageError) -> [String] {
        if context.parameters.get("projectId") != nil {
            let key = try project(try await param(context, "projectId"), in: manifest).key
            try caller.require(project: key)
            return [key]
        }
        return manifest.projects.map(\.key).filter { !limited || caller.project == nil || caller.project == $0 }
    }

    // MARK: Organizations

    func organizations(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        _ = try await reader(request)
        let manifest = try await manifest()
        return Responses.json(
            await numberedList(.organization, try Page(request).render([(manifest.organization, Resources.organization(manifest))])))
    }

    func organization(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        _ = try await reader(request)
        let manifest = try await manifest()
        let id = try await param(context, "organizationId")
        guard id == manifest.organization else {
            throw ManageError.notFound(
                "no organization '\(id)': this flag repository is organization '\(manifest.organization)'")
        }
        return Responses.json(await numbered(.organization, [Resources.organization(manifest)])[0])
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
        if context.parameters.get("organizationId") != nil,
            case let organization = try await param(context, "organizationId"), organization != manifest.organization
        {
            throw ManageError.notFound("no organization '\(organization)'")
        }
        let items = manifest.projects.filter { caller.project == nil || caller.project == $0.key }
            .sorted { $0.key < $1.key }.map { ($0.key, Resources.project($0, manifest)) }
        return Responses.json(await numberedList(.project, try Page(request).render(items)))
    }

    func project(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        let manifest = try await manifest()
        let project = try project(try await param(context, "projectId"), in: manifest)
        try caller.require(project: project.key)
        return Responses.json(await numbered(.project, [Resources.project(project, manifest)])[0])
    }

    func environments(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        let manifest = try await manifest()
        let projects = try await visibleProjects(context, caller: caller, manifest: manifest, limited: false)
        let registry = server.registry
        let items = manifest.environments.sorted { $0.key < $1.key }.map { environment in
            (
                environment.key,
                Resources.environment(
                    environment,
                    served: projects.compactMap { registry.snapshot(project: $0, environment: environment.key) })
            )
        }
        return Responses.json(await numberedList(.environment, try Page(request).render(items), scopes: projects))
    }

    func environment(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        _ = try await reader(request)
        let manifest = try await manifest()
        let environment = try environment(try await param(context, "environmentId"), in: manifest)
        let registry = server.registry
        let resource = Resources.environment(
            environment,
            served: manifest.projects.compactMap { registry.snapshot(project: $0.key, environment: environment.key) })
        return Responses.json(await scopedNumbers(.environment, [resource], scopes: manifest.projects.map(\.key))[0])
    }

    // MARK: Flags

    func flags(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        let manifest = try await manifest()
        let projects = try await visibleProjects(context, caller: caller, manifest: manifest)
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
        if archivedOnly {
            items.sort { $0.id < $1.id }
            return Responses.json(await numberedList(.flag, try Page(request).render(items)))
        }
        // Filter first, render only the page: a project may have 10,000 flags.
        var matching: [(id: String, project: String, flag: Flag)] = []
        for project in projects {
            for entry in flagDefinitions(project: project, manifest: manifest) {
                if let tag, !entry.flag.tags.contains(tag) { continue }
                if let owner, entry.flag.owner != owner { continue }
                if let type, entry.flag.type.rawValue != type { continue }
                matching.append((entry.id, project, entry.flag))
            }
        }
        // One project's ids are in order already; `a1:x` sorts before `a:y`, so several need a sort.
        if projects.count > 1 { matching.sort { $0.id < $1.id } }
        let page = try Page(request)
        let (window, next) = page.window(matching, id: \.id)
        let rendered = window.map { item in
            Resources.flag(
                project: item.project, item.flag, environments: flagStates(project: item.project, key: item.flag.key, manifest: manifest))
        }
        return Responses.json(
            .object(["items": .array(await numbered(.flag, rendered)), "nextCursor": next.map(Value.string) ?? .null]))
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

    /// Every flag a project serves in some environment (the preferred environment's
    /// definition first), by key, with its `project:key` id; worked out once per set of
    /// served snapshots, since a project may have 10,000 flags and lists are read often.
    func flagDefinitions(project: String, manifest: Manifest) -> [(id: String, key: String, flag: Flag)] {
        let registry = server.registry
        var sources: [ActiveSnapshot] = []
        if let preferred = served(project: project, manifest: manifest) { sources.append(preferred) }
        for environment in manifest.environments {
            if let active = registry.snapshot(project: project, environment: environment.key),
                !sources.contains(where: { $0 === active })
            {
                sources.append(active)
            }
        }
        guard let first = sources.first else { return [] }
        let identity = sources.map(ObjectIdentifier.init)
        if let cached = definitions.withLock({ $0[project] }), cached.sources == identity { return cached.entries }
        var out = first.snapshot.flags.map { ($0.key, $0) }
        if sources.count > 1 {
            var seen = Set(out.map(\.0))
            for active in sources.dropFirst() {
                for flag in active.snapshot.flags where seen.insert(flag.key).inserted { out.append((flag.key, flag)) }
            }
            out.sort { $0.0 < $1.0 }
        }
        let entries = out.map { (id: "\(project):\($0.0)", key: $0.0, flag: $0.1) }
        definitions.withLock { $0[project] = (identity, entries) }
        return entries
    }

    /// The flag `key` in a snapshot (flags are in key order).
    static func servedFlag(_ active: ActiveSnapshot?, _ key: String) -> Flag? {
        guard let flags = active?.snapshot.flags else { return nil }
        var low = 0
        var high = flags.count
        while low < high {
            let middle = (low + high) / 2
            if flags[middle].key < key { low = middle + 1 } else { high = middle }
        }
        return low < flags.count && flags[low].key == key ? flags[low] : nil
    }

    /// A flag's state in every environment of the manifest.
    func flagStates(project: String, key: String, manifest: Manifest) -> [(String, Flag?)] {
        manifest.environments.map { environment in
            (environment.key, Self.servedFlag(server.registry.snapshot(project: project, environment: environment.key), key))
        }
    }

    func flag(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        let manifest = try await manifest()
        let (project, key) = try await anyFlag(try await param(context, "flagId"), manifest: manifest)
        try caller.require(project: project)
        let states = flagStates(project: project, key: key, manifest: manifest)
        if let flag = Self.servedFlag(served(project: project, manifest: manifest), key) ?? states.lazy.compactMap(\.1).first {
            return Responses.json(await numbered(.flag, [Resources.flag(project: project, flag, environments: states)])[0])
        }
        // Not served: archived (or not compiled yet).
        if let (_, _, file) = try await archivedFlags(projects: [project], manifest: manifest).first(where: { $0.1 == key }) {
            return Responses.json(await numbered(.flag, [Resources.archivedFlag(project: project, key: key, file)])[0])
        }
        throw ManageError.notFound("flag '\(key)' of project '\(project)' is not served yet")
    }

    func configurationRead(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        let manifest = try await manifest()
        let environment = try environment(try await param(context, "environmentId"), in: manifest)
        let (project, key) = try qualified(
            try await param(context, "flagId"), manifest: manifest, exists: flagExists(manifest), what: "flag")
        try caller.require(project: project)
        guard let active = server.registry.snapshot(project: project, environment: environment.key),
            let flag = Self.servedFlag(active, key)
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
        let projects = try await visibleProjects(context, caller: caller, manifest: manifest)
        var items: [(id: String, value: Value)] = []
        for project in projects {
            guard let active = served(project: project, manifest: manifest) else { continue }
            for segment in active.snapshot.segments {
                items.append(("\(project):\(segment.key)", Resources.segment(project: project, segment)))
            }
        }
        items.sort { $0.id < $1.id }
        return Responses.json(
            await numberedList(.segment, try Page(request).render(items), scopes: manifest.environments.map(\.key)))
    }

    func segment(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        let manifest = try await manifest()
        let (project, key) = try qualified(
            try await param(context, "segmentId"), manifest: manifest, exists: segmentExists(manifest),
            what: "segment")
        try caller.require(project: project)
        guard let active = served(project: project, manifest: manifest),
            let segment = active.snapshot.segments.first(where: { $0.key == key })
        else { throw ManageError.notFound("no segment '\(key)' in project '\(project)'") }
        return Responses.json(
            await scopedNumbers(.segment, [Resources.segment(project: project, segment)], scopes: manifest.environments.map(\.key))[0])
    }
}
