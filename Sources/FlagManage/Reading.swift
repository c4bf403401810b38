import FlagCompiler
import FlagModel
import FlagServer
import Foundation
import GitSource
import Hummingbird

/// What the read routes look things up in: the manifest of the control branch, the
/// snapshots the server serves, and the request's identifiers and paging.
extension ManagementAPI {
    /// The manifest at the control branch's tip.
    func manifest() async throws(ManageError) -> Manifest {
        let writer = self.writer
        let branch = configuration.controlBranch
        return try await blocking { () throws(ManageError) -> Manifest in
            try writer.cachedManifest(at: try writer.tip(of: branch))
        }
    }

    func project(_ id: String, in manifest: Manifest) throws(ManageError) -> Manifest.Project {
        guard let project = manifest.projects.first(where: { $0.key == id }) else {
            throw ManageError.notFound(
                "no project '\(id)'; the manifest declares \(manifest.projects.map(\.key).joined(separator: ", "))")
        }
        return project
    }

    func environment(_ id: String, in manifest: Manifest) throws(ManageError) -> Manifest.Environment {
        guard let environment = manifest.environment(id) else {
            throw ManageError.notFound(
                "no environment '\(id)'; the manifest declares "
                    + manifest.environments.map(\.key).joined(separator: ", "))
        }
        return environment
    }

    /// A flag or segment identifier: `project:key`, or a bare key that one project alone has.
    func qualified(_ id: String, manifest: Manifest, exists: @Sendable (String, String) -> Bool, what: String)
        throws(ManageError) -> (project: String, key: String)
    {
        if let colon = id.firstIndex(of: ":") {
            let project = String(id[..<colon])
            let key = String(id[id.index(after: colon)...])
            _ = try self.project(project, in: manifest)
            guard exists(project, key) else { throw ManageError.notFound("no \(what) '\(key)' in project '\(project)'") }
            return (project, key)
        }
        let owners = manifest.projects.map(\.key).filter { exists($0, id) }
        guard let first = owners.first else { throw ManageError.notFound("no \(what) '\(id)'") }
        guard owners.count == 1 else {
            throw ManageError(
                .badRequest, "AMBIGUOUS", "'\(id)' is a \(what) of several projects (\(owners.joined(separator: ", "))): "
                    + "name it as project:key")
        }
        return (first, id)
    }

    /// The snapshot served for a project's environment, preferring production.
    func served(project: String, environment: String? = nil, manifest: Manifest) -> ActiveSnapshot? {
        let registry = server.registry
        if let environment { return registry.snapshot(project: project, environment: environment) }
        if let production = manifest.productionEnvironment,
            let active = registry.snapshot(project: project, environment: production.key)
        {
            return active
        }
        return manifest.environments.lazy.compactMap { registry.snapshot(project: project, environment: $0.key) }.first
    }

    func flagExists(_ manifest: Manifest) -> @Sendable (String, String) -> Bool {
        let registry = server.registry
        return { project, key in
            manifest.environments.contains { environment in
                ManagementAPI.servedFlag(registry.snapshot(project: project, environment: environment.key), key) != nil
            }
        }
    }

    func segmentExists(_ manifest: Manifest) -> @Sendable (String, String) -> Bool {
        let registry = server.registry
        return { project, key in
            manifest.environments.contains { environment in
                registry.snapshot(project: project, environment: environment.key)?.snapshot.segments
                    .contains { $0.key == key } == true
            }
        }
    }

    static func parameter(_ context: BasicRequestContext, _ name: String) throws(ManageError) -> String {
        guard let value = context.parameters.get(name) else {
            throw ManageError(.badRequest, "INVALID_PATH", "the path has no \(name)", field: name)
        }
        return value.removingPercentEncoding ?? value
    }
}

/// `limit` and `cursor` of a list: items in identifier order, at most `limit`, after the cursor.
struct Page {
    var limit: Int
    var cursor: String?

    static let defaultLimit = 100
    static let maxLimit = 1_000

    init(_ request: Request) throws(ManageError) {
        let query = request.uri.queryParameters
        limit = Self.defaultLimit
        if let text = query["limit"] {
            guard let value = Int(String(text)), (1...Self.maxLimit).contains(value) else {
                throw ManageError(
                    .badRequest, "INVALID_QUERY", "limit must be a whole number from 1 to \(Self.maxLimit)",
                    field: "limit")
            }
            limit = value
        }
        cursor = query["cursor"].map(String.init)
    }

    /// The page of `items` (sorted by id) after the cursor, and the next cursor.
    func window<T>(_ items: [T], id: (T) -> String) -> (ArraySlice<T>, String?) {
        var start = items.startIndex
        if let cursor {
            var low = items.startIndex
            var high = items.endIndex
            while low < high {
                let middle = (low + high) / 2
                if id(items[middle]) <= cursor { low = middle + 1 } else { high = middle }
            }
            start = low
        }
        let end = min(items.endIndex, start + limit)
        return (items[start..<end], end < items.endIndex ? id(items[end - 1]) : nil)
    }

    /// `{"items": [...], "nextCursor": …}` for items already sorted by `id`.
    func render(_ items: [(id: String, value: Value)]) -> Value {
        let after = cursor.map { cursor in items.drop { $0.id <= cursor } } ?? items[...]
        let page = Array(after.prefix(limit))
        let next: Value = after.count > limit ? .string(page.last!.id) : .null
        return .object(["items": .array(page.map(\.value)), "nextCursor": next])
    }
}

extension GitWriter {
    /// The manifest of the flag repository at `commit`.
    func manifest(at commit: ObjectID) throws(ManageError) -> Manifest {
        let tree = try tree(at: commit)
        guard let path = Compiler.manifestNames.first(where: { tree.entries[$0] != nil }) else {
            throw ManageError.unavailable("there is no flagstaff.yaml at \(commit.short)")
        }
        let bytes: [UInt8]
        do {
            bytes = try tree.read(path)
        } catch {
            throw ManageError.unavailable("cannot read \(path): \(error)")
        }
        let compilation = Compiler().compile(
            { var tree = MemoryTree([:]); tree.contents = [path: bytes]; return tree }(), options: CompileOptions(runTests: false))
        guard let manifest = compilation.manifest else {
            throw ManageError.unavailable("the manifest at \(commit.short) does not compile")
        }
        return manifest
    }
}
