import FlagCompiler
import FlagModel
import FlagServer
import Foundation
import GitSource
import Hummingbird

/// Writes to segments: their file on every environment's branch, by each branch's policy.
extension ManagementAPI {
    static func segmentPath(_ tree: GitTree, project: String, key: String) -> String? {
        ["\(project)/segments/\(key).yaml", "\(project)/segments/\(key).yml"].first { tree.entries[$0] != nil }
    }

    /// `POST /api/v1/projects/{projectId}/segments`: `{"key", "name", "description",
    /// "include", "exclude", "comment"}` (conditions are written in Git).
    func createSegment(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        try caller.require(.editor, "creating a segment")
        let manifest = try await manifest()
        let project = try project(try await param(context, "projectId"), in: manifest).key
        try caller.require(project: project)
        var body = try await Body.read(request, limit: configuration.maxBodySize)
        let key = try body.string("key", required: true)!
        guard Keys.isValid(key) else { throw ManageError.badRequest("'\(key)' is not a valid key: \(Keys.rule)", field: "key") }
        var pairs: [(String, Value)] = []
        if let name = try body.string("name") { pairs.append(("name", .string(name))) }
        if let description = try body.string("description") { pairs.append(("description", .string(description))) }
        pairs.append(("include", .array((try body.strings("include") ?? []).map(Value.string))))
        if let exclude = try body.strings("exclude") { pairs.append(("exclude", .array(exclude.map(Value.string)))) }
        let comment = try body.string("comment")
        try body.rejectUnknown()
        let bytes = Array(YAMLRendering.document(pairs).utf8)
        let (writes, reviewed) = try await writeEveryBranch(
            request, caller: caller, manifest: manifest, summary: "Add segment \(key)", comment: comment
        ) { tree throws(ManageError) in
            if let existing = Self.segmentPath(tree, project: project, key: key) {
                guard existing == "\(project)/segments/\(key).yaml", (try? tree.read(existing)) == bytes else {
                    throw ManageError.conflict("EXISTS", "segment '\(key)' already exists in project '\(project)'")
                }
            }
            return ["\(project)/segments/\(key).yaml": bytes]
        }
        return flagWriteAnswer(
            writes, reviewed: reviewed,
            resource: .object([
                "id": .string("\(project):\(key)"), "key": .string(key), "project": .string(project),
                "source": .string(String(decoding: bytes, as: UTF8.self)),
            ]), status: .created)
    }

    /// `PATCH /api/v1/segments/{segmentId}`: `name`, `description`, `include`, `exclude`.
    func updateSegment(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        try caller.require(.editor, "changing a segment")
        let manifest = try await manifest()
        let (project, key) = try qualified(
            try await param(context, "segmentId"), manifest: manifest, exists: segmentExists(manifest),
            what: "segment")
        try caller.require(project: project)
        var body = try await Body.read(request, limit: configuration.maxBodySize)
        var sets: [(String, Value)] = []
        var removes: [String] = []
        for field in ["name", "description"] where body.fields[field] != nil {
            if body.fields[field] == .null {
                _ = body.value(field)
                removes.append(field)
            } else if let text = try body.string(field) {
                sets.append((field, .string(text)))
            }
        }
        for field in ["include", "exclude"] {
            if let list = try body.strings(field) { sets.append((field, .array(list.map(Value.string)))) }
        }
        let comment = try body.string("comment")
        try body.rejectUnknown()
        guard !sets.isEmpty || !removes.isEmpty else {
            throw ManageError.badRequest("nothing to change: give name, description, include or exclude", field: "body")
        }
        let (setting, removing) = (sets, removes)
        let (writes, reviewed) = try await writeEveryBranch(
            request, caller: caller, manifest: manifest, summary: "Change segment \(key)", comment: comment
        ) { tree throws(ManageError) in
            guard let path = Self.segmentPath(tree, project: project, key: key) else { return [:] }
            return [
                path: try Self.edit(tree, path) { editor in
                    for (field, value) in setting { try editor.set([field], to: value) }
                    for field in removing { try editor.remove([field]) }
                }
            ]
        }
        return flagWriteAnswer(writes, reviewed: reviewed, resource: .object(["id": .string("\(project):\(key)")]))
    }

    /// `DELETE /api/v1/segments/{segmentId}` (a segment still used is 422).
    func deleteSegment(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        try caller.require(.owner, "deleting a segment")
        let manifest = try await manifest()
        let (project, key) = try qualified(
            try await param(context, "segmentId"), manifest: manifest, exists: segmentExists(manifest),
            what: "segment")
        try caller.require(project: project)
        let (writes, reviewed) = try await writeEveryBranch(
            request, caller: caller, manifest: manifest, summary: "Delete segment \(key)", comment: nil
        ) { tree throws(ManageError) in
            guard let path = Self.segmentPath(tree, project: project, key: key) else { return [:] }
            return [path: nil]
        }
        return flagWriteAnswer(writes, reviewed: reviewed, resource: .object(["id": .string("\(project):\(key)")]))
    }
}
