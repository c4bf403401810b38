import FlagCompiler
import FlagDiff
import FlagModel
import FlagServer
import Foundation
import GitSource
import Hummingbird

/// Changes under review (SPEC §14's `write: review`): a write to such an environment is a
/// commit on a new branch `flagstaff/change/<id>` off the environment's branch, carrying
/// `Flagstaff-Environment:` and `Flagstaff-Change:` trailers. Merging applies the change's
/// files onto the environment's branch as one commit (compiled and tested again, refused
/// with 409 when somebody changed one of those files since the change was opened);
/// closing deletes the branch.
extension ManagementAPI {
    static let changePrefix = "flagstaff/change/"

    static func changeBranch(_ id: String) -> String { changePrefix + id }

    static func newChangeID() -> String {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("abcdefghijkmnopqrstuvwxyz23456789")
        return String((0..<10).map { _ in alphabet.randomElement(using: &rng)! })
    }

    /// An open change as Git holds it.
    struct OpenChange: Sendable {
        var id: String
        var environment: String
        var tip: ObjectID
        var base: ObjectID
        var info: CommitInfo
        /// Root-relative paths the change touches.
        var paths: [String]

        /// A caller limited to a project sees the changes that touch only that project.
        func visible(to caller: Caller) -> Bool {
            guard let project = caller.project else { return true }
            return paths.allSatisfy { $0.hasPrefix("\(project)/") }
        }

        var json: Value {
            .object([
                "id": .string(id), "branch": .string(ManagementAPI.changeBranch(id)),
                "environment": .string(environment), "commit": .string(tip.hex), "base": .string(base.hex),
                "summary": .string(info.summary),
                "author": .object(["name": .string(info.author.name), "email": .string(info.author.email)]),
                "createdAt": .string(APITime.iso(Date(timeIntervalSince1970: Double(info.author.time)))),
                "state": .string("open"),
                "links": .object([
                    "self": .string("/api/v1/changes/\(id)"), "merge": .string("/api/v1/changes/\(id)/merge"),
                    "close": .string("/api/v1/changes/\(id)/close"),
                ]),
            ])
        }
    }

    static func trailer(_ name: String, in message: String) -> String? {
        for line in message.split(separator: "\n").reversed() where line.hasPrefix(name + ": ") {
            return String(line.dropFirst(name.count + 2))
        }
        return nil
    }

    /// Every open change, oldest first.
    func openChanges() async throws(ManageError) -> [OpenChange] {
        let writer = self.writer
        return try await blocking { () throws(ManageError) -> [OpenChange] in
            let repository = try writer.repository()
            var found: [OpenChange] = []
            do {
                for branch in try repository.branches() where branch.hasPrefix(Self.changePrefix) {
                    guard let tip = repository.branchTip(branch) else { continue }
                    let info = try repository.commit(tip)
                    guard let environment = Self.trailer("Flagstaff-Environment", in: info.message),
                        let base = info.parents.first
                    else { continue }
                    let before = try writer.tree(at: base)
                    let after = try writer.tree(at: tip)
                    let paths = Set(before.entries.keys).union(after.entries.keys)
                        .filter { before.entries[$0] != after.entries[$0] }.sorted()
                    found.append(
                        OpenChange(
                            id: String(branch.dropFirst(Self.changePrefix.count)), environment: environment, tip: tip,
                            base: base, info: info, paths: paths))
                }
            } catch {
                throw ManageError.unavailable("cannot read the changes: \(error)")
            }
            return found.sorted { ($0.info.author.time, $0.id) < ($1.info.author.time, $1.id) }
        }
    }

    func openChange(_ id: String) async throws(ManageError) -> OpenChange {
        guard let change = try await openChanges().first(where: { $0.id == id }) else {
            throw ManageError.notFound("no open change '\(id)' (merged and closed changes are gone)")
        }
        return change
    }

    func changes(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        let environment = request.uri.queryParameters["environment"].map(String.init)
        let items = try await openChanges().filter { (environment == nil || $0.environment == environment) && $0.visible(to: caller) }
            .map { ($0.id, $0.json) }.sorted { $0.0 < $1.0 }
        return Responses.json(try Page(request).render(items))
    }

    func change(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        let change = try await openChange(try Self.parameter(context, "changeId"))
        guard change.visible(to: caller) else { throw ManageError.notFound("no open change '\(change.id)'") }
        let manifest = try await manifest()
        let environment = try environment(change.environment, in: manifest)
        guard case .object(var object) = change.json else { fatalError("a change is an object") }
        object["diff"] = try await diff(base: change.base, head: change.tip, environment: environment)
        return Responses.json(.object(object))
    }

    /// `POST /api/v1/changes/{changeId}/merge` (`{"comment"}` optional): owners merge.
    func mergeChange(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        try caller.require(.owner, "merging a change")
        try caller.requireEveryProject("merging a change")
        var body = try await Body.read(request, limit: configuration.maxBodySize, optional: true)
        let comment = try body.string("comment")
        try body.rejectUnknown()
        let change = try await openChange(try Self.parameter(context, "changeId"))
        let manifest = try await manifest()
        let environment = try environment(change.environment, in: manifest)
        let intent = GitWriter.Intent(
            branch: environment.branch,
            environments: Set(manifest.environments.filter { $0.branch == environment.branch }.map(\.key)),
            summary: "Merge change \(change.id): \(change.info.summary)", comment: comment, caller: caller,
            requestID: Self.requestID(request), precondition: nil, changeBranch: nil,
            trailers: [("Flagstaff-Change", change.id)])
        let writer = self.writer
        let written = try await blocking { () throws(ManageError) -> GitWriter.Written in
            let base = try writer.tree(at: change.base)
            let head = try writer.tree(at: change.tip)
            let paths = Set(base.entries.keys).union(head.entries.keys).filter { base.entries[$0] != head.entries[$0] }
            let written = try writer.write(intent) { tip throws(ManageError) -> [String: [UInt8]?] in
                var files: [String: [UInt8]?] = [:]
                for path in paths.sorted() {
                    let current = tip.entries[path]
                    if current != base.entries[path], current != head.entries[path] {
                        throw ManageError.conflict(
                            "CHANGE_CONFLICT",
                            "'\(path)' changed on '\(environment.branch)' since change \(change.id) was opened: "
                                + "close it and make the change again")
                    }
                    do {
                        files[path] = try head.entries[path].map { _ in try head.read(path) }
                    } catch {
                        throw ManageError.unavailable("cannot read \(path): \(error)")
                    }
                }
                return files
            }
            _ = try? writer.deleteBranch(Self.changeBranch(change.id), expecting: change.tip)
            return written
        }
        var merged = change.json
        if case .object(var object) = merged {
            object["state"] = .string("merged")
            merged = .object(object)
        }
        let resource = merged
        return try await answer(
            request, written: written, project: manifest.projects.first?.key ?? "", environment: environment,
            changeID: nil, resource: { _ in resource })
    }

    func closeChange(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await reader(request)
        try caller.require(.editor, "closing a change")
        try caller.requireEveryProject("closing a change")
        let change = try await openChange(try Self.parameter(context, "changeId"))
        let writer = self.writer
        let closed = try await blocking { () throws(ManageError) -> Bool in
            try writer.deleteBranch(Self.changeBranch(change.id), expecting: change.tip)
        }
        guard closed else { throw ManageError.conflict("CONFLICT", "change \(change.id) moved while closing it") }
        guard case .object(var object) = change.json else { fatalError("a change is an object") }
        object["state"] = .string("closed")
        return Responses.json(.object(object))
    }

    /// What a change does to an environment, in a reviewer's words and as JSON (FlagDiff).
    func diff(base: ObjectID, head: ObjectID, environment: Manifest.Environment) async throws(ManageError) -> Value {
        let writer = self.writer
        return try await blocking { () throws(ManageError) -> Value in
            let options = CompileOptions(now: FlagServer.now(), environments: [environment.key], runTests: false)
            let before = Compiler(cache: writer.cache).compile(try writer.tree(at: base), options: options)
            let after = Compiler(cache: writer.cache).compile(try writer.tree(at: head), options: options)
            let projects = Set(before.snapshots.map(\.project)).union(after.snapshots.map(\.project)).sorted()
            let diffs = projects.map { project in
                SnapshotDiff(
                    base: before.snapshot(project: project, environment: environment.key),
                    head: after.snapshot(project: project, environment: environment.key), now: FlagServer.now())
            }
            let report = DiffReport(title: "\(base.short)..\(head.short)", diffs: diffs)
            return .object(["text": .string(report.render(.text)), "report": report.json])
        }
    }
}
