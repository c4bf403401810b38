import FlagCompiler
import FlagModel
import FlagServer
import Foundation
import GitSource
import HTTPTypes
import Hummingbird

extension ManagementAPI {
    static let requestIDHeader = HTTPField.Name("X-Request-Id")!

    /// The caller's request id (`X-Request-Id`, kept when it is sane), else a new one.
    static func requestID(_ request: Request) -> String {
        if let given = request.headers[requestIDHeader], (1...128).contains(given.utf8.count),
            given.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0 != "<" && $0 != ">" })
        {
            return given
        }
        return UUID().uuidString.lowercased()
    }

    // MARK: Flag configuration per environment

    /// `PATCH /api/v1/flags/{flagId}/environments/{environmentId}/toggle`: `{"enabled": …,
    /// "comment": …}`; without `enabled` it flips what the environment serves.
    func toggle(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        try caller.require(.editor, "a toggle")
        var body = try await Body.read(request, limit: configuration.maxBodySize, optional: true)
        let enabled = try body.bool("enabled")
        let comment = try body.string("comment")
        try body.rejectUnknown()
        let manifest = try await manifest()
        let environment = try environment(try await param(context, "environmentId"), in: manifest)
        let (project, key) = try qualified(
            try await param(context, "flagId"), manifest: manifest, exists: flagExists(manifest), what: "flag")
        try caller.require(project: project)
        let target: Bool
        if let enabled {
            target = enabled
        } else {
            // Flip what the branch says now (a toggle just before may not be served yet).
            let writer = self.writer
            target = try await blocking { () throws(ManageError) -> Bool in
                let tree = try writer.tree(at: try writer.tip(of: environment.branch))
                guard let path = Self.flagPath(tree, project: project, key: key),
                    let bytes = try? tree.read(path), let file = try? YAMLReader.parse(bytes, file: path)?.value
                else { throw ManageError.notFound("no file for flag '\(key)' on branch '\(environment.branch)'") }
                let now = file["environments"]?[environment.key]?["enabled"] ?? file["enabled"] ?? .bool(true)
                return !(now == .bool(true))
            }
        }
        return try await writeFlag(
            request, caller: caller, manifest: manifest, project: project, key: key, environment: environment,
            comment: comment, summary: "\(target ? "Enable" : "Disable") \(key) in \(environment.key)",
            killSwitch: !target,
            edits: [(["environments", environment.key, "enabled"], .bool(target))])
    }

    /// `PATCH /api/v1/flags/{flagId}/environments/{environmentId}`: `enabled`, `default` (a
    /// variant), `comment`; written into the flag's overlay for that environment.
    func configurationWrite(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        try caller.require(.editor, "changing a flag")
        var body = try await Body.read(request, limit: configuration.maxBodySize)
        let enabled = try body.bool("enabled")
        let defaultVariant = try body.string("default")
        let comment = try body.string("comment")
        try body.rejectUnknown()
        if enabled == nil, defaultVariant == nil {
            throw ManageError.badRequest("nothing to change: give 'enabled' or 'default'", field: "body")
        }
        let manifest = try await manifest()
        let environment = try environment(try await param(context, "environmentId"), in: manifest)
        let (project, key) = try qualified(
            try await param(context, "flagId"), manifest: manifest, exists: flagExists(manifest), what: "flag")
        try caller.require(project: project)
        var edits: [([String], Value)] = []
        var words: [String] = []
        if let enabled {
            edits.append((["environments", environment.key, "enabled"], .bool(enabled)))
            words.append(enabled ? "enable" : "disable")
        }
        if let defaultVariant {
            edits.append((["environments", environment.key, "default"], .string(defaultVariant)))
            words.append("serve \(defaultVariant) by default")
        }
        let summary = "\(key) in \(environment.key): " + words.joined(separator: ", ")
        return try await writeFlag(
            request, caller: caller, manifest: manifest, project: project, key: key, environment: environment,
            comment: comment, summary: summary.prefix(1).uppercased() + summary.dropFirst(),
            killSwitch: enabled == false && defaultVariant == nil, edits: edits)
    }

    /// Edits a flag's file on an environment's branch (or opens a change for it), and answers
    /// with the configuration, the commit, and the change or the applied snapshot.
    func writeFlag(
        _ request: Request, caller: Caller, manifest: Manifest, project: String, key: String,
        environment: Manifest.Environment, comment: String?, summary: String, killSwitch: Bool,
        edits: [([String], Value)]
    ) async throws -> Response {
        let review = environment.writePolicy == .review && !(killSwitch && caller.may(.owner))
        let candidates = ["\(project)/flags/\(key).yaml", "\(project)/flags/\(key).yml"]
        let ifMatch = request.headers[.ifMatch]
        let changeID = review ? Self.newChangeID() : nil
        var intent = GitWriter.Intent(
            branch: environment.branch,
            environments: Set(manifest.environments.filter { $0.branch == environment.branch }.map(\.key)),
            summary: summary, comment: comment, caller: caller, requestID: Self.requestID(request),
            precondition: nil, changeBranch: changeID.map(Self.changeBranch))
        if let changeID {
            intent.trailers = [("Flagstaff-Environment", environment.key), ("Flagstaff-Change", changeID)]
        }
        let writer = self.writer
        let prepared = intent
        let written = try await blocking { () throws(ManageError) -> GitWriter.Written in
            var intent = prepared
            if let ifMatch {
                let tree = try writer.tree(at: try writer.tip(of: environment.branch))
                let path = candidates.first { tree.entries[$0] != nil } ?? candidates[0]
                intent.precondition = (path, ifMatch)
            }
            return try writer.write(intent) { tree throws(ManageError) -> [String: [UInt8]?] in
                guard let path = candidates.first(where: { tree.entries[$0] != nil }) else {
                    throw ManageError.notFound("no file for flag '\(key)' on branch '\(environment.branch)'")
                }
                let original: [UInt8]
                do {
                    original = try tree.read(path)
                } catch {
                    throw ManageError.unavailable("cannot read \(path): \(error)")
                }
                var editor: YAMLEditor
                do {
                    editor = try YAMLEditor(original)
                    for (keyPath, value) in edits { try editor.set(keyPath, to: value) }
                } catch {
                    throw ManageError(
                        .conflict, "UNEDITABLE",
                        "\(path) cannot be edited without rewriting it (\(error)): change it with a commit")
                }
                return [path: editor.bytes]
            }
        }
        return try await answer(
            request, written: written, project: project, environment: environment, changeID: changeID,
            resource: { compilation in
                compilation?.snapshot(project: project, environment: environment.key)?.flags
                    .first { $0.key == key }
                    .map { Resources.configuration(project: project, environment: environment.key, $0) }
            })
    }

    /// The answer to a write: 200 (direct, or nothing changed), 202 (a change is open, or the
    /// snapshot was not served within the wait).
    func answer(
        _ request: Request, written: GitWriter.Written, project: String, environment: Manifest.Environment,
        changeID: String?, resource: (Compilation?) -> Value?
    ) async throws -> Response {
        var body: [String: Value] = [:]
        body["resource"] = resource(written.compilation) ?? .null
        var headers: HTTPFields = [:]
        if let commit = written.commit {
            body["commit"] = .object([
                "id": .string(commit.hex), "branch": .string(written.branch), "parent": .string(written.base.hex),
                "attempts": .int(Int64(written.attempts)),
            ])
            let path = written.paths.first
            if let path, let blob = try? await blocking({ [writer] () throws(ManageError) -> String? in
                try writer.tree(at: commit).contentID(path)
            }) {
                headers[.eTag] = "\"\(blob)\""
            }
        } else {
            body["commit"] = .null
        }
        if let changeID, let commit = written.commit {
            body["change"] = .object([
                "id": .string(changeID), "branch": .string(written.branch), "environment": .string(environment.key),
                "commit": .string(commit.hex), "state": .string("open"),
                "links": .object([
                    "self": .string("/api/v1/changes/\(changeID)"),
                    "merge": .string("/api/v1/changes/\(changeID)/merge"),
                    "close": .string("/api/v1/changes/\(changeID)/close"),
                ]),
            ])
            body["diff"] = try await diff(base: written.base, head: commit, environment: environment)
            return Responses.json(.object(body), status: .accepted, headers: headers)
        }
        if written.commit != nil { onWritten() }
        if let commit = written.commit, request.uri.queryParameters["wait"] == "applied" {
            if let active = await waitApplied(commit: commit, project: project, environment: environment.key) {
                body["applied"] = Resources.served(active)
            } else {
                body["applied"] = .null
                return Responses.json(.object(body), status: .accepted, headers: headers)
            }
        }
        return Responses.json(.object(body), headers: headers)
    }

    /// Waits until the environment serves what `commit` (or a later commit) compiles to: a
    /// snapshot from it, or the same snapshot as before when the commit changed nothing this
    /// project serves (the sync then notes the commit as seen); nil after the configured wait.
    func waitApplied(commit: ObjectID, project: String, environment: String) async -> ActiveSnapshot? {
        let deadline = ContinuousClock.now + configuration.waitTimeout
        let writer = self.writer
        var checked: String?
        while ContinuousClock.now < deadline {
            let seen = server.registry.state(EnvironmentKey(project: project, environment: environment)).lastSeenCommit
            if let active = server.registry.snapshot(project: project, environment: environment),
                let served = seen ?? active.snapshot.commit
            {
                if served == commit.hex || active.snapshot.commit == commit.hex { return active }
                if served != checked {
                    checked = served
                    let later = (try? await blocking { () throws(ManageError) -> Bool in
                        let repository = try writer.repository()
                        guard let id = try? repository.resolve(served) else { return false }
                        return (try? repository.isDescendant(id, of: commit)) ?? false
                    }) ?? false
                    if later { return active }
                }
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return nil
    }
}
