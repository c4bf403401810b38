import ArgumentParser
import FlagCompiler
import FlagModel
import Foundation
import GitSource

struct Promote: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a branch off the target environment's tip carrying flags from the source environment.",
        discussion: """
            The new branch holds the chosen flags' files (every flag and segment when none is named) as the \
            source environment's branch has them, ready for a pull request into the target's branch. \
            The target branch itself is never written. The result must compile, or no branch is created.
            """)

    @Option(help: "The repository (a folder).")
    var repo: String = "."

    @Option(help: "The flag repository root inside the repository.")
    var root: String?

    @Option(help: "The branch whose manifest names the environments.")
    var controlBranch: String = "main"

    @Option(help: "The environment to take flags from.")
    var from: String

    @Option(help: "The environment to promote them to.")
    var to: String

    @Option(name: .customLong("flag"), help: "A flag to promote (repeat for several; default: all).")
    var flags: [String] = []

    @Option(help: "The project (default: every project).")
    var project: String?

    @Option(help: "The name of the new branch (default: promote/<from>-to-<to>-<commit>).")
    var branch: String?

    func run() throws {
        let repository = try GitRepository(path: repo)
        let prefix = Self.prefix(root)
        let control = try repository.tree(at: try repository.resolve(controlBranch), root: root)
        let manifestCompilation = Compiler().compile(control, options: CompileOptions(runTests: false))
        guard let manifest = manifestCompilation.manifest else {
            printError("the control branch '\(controlBranch)' has no readable manifest")
            throw ExitStatus.failed
        }
        guard let source = manifest.environment(from) else {
            throw ValidationError("unknown environment '\(from)' (known: \(manifest.environments.map(\.key).joined(separator: ", ")))")
        }
        guard let target = manifest.environment(to) else {
            throw ValidationError("unknown environment '\(to)' (known: \(manifest.environments.map(\.key).joined(separator: ", ")))")
        }
        let sourceTip = try repository.resolve(source.branch)
        let targetTip = try repository.resolve(target.branch)
        let sourceTree = try repository.tree(at: sourceTip, root: root)
        let targetTree = try repository.tree(at: targetTip, root: root)

        let plan = try PromotionPlan(
            source: sourceTree, target: targetTree, flags: flags, project: project)
        guard !plan.changes.isEmpty else {
            print("nothing to promote: \(target.branch) already has \(from)'s files")
            return
        }
        let message = plan.message(from: from, to: to, sourceBranch: source.branch, sourceCommit: sourceTip)
        let now = Int64(Date().timeIntervalSince1970)
        let author = Signature(name: "Flagstaff", email: "flagstaff@localhost", time: now)
        let commit = try repository.commit(
            onto: targetTip,
            changes: plan.changes.map { GitRepository.FileChange(path: prefix + $0.path, blob: $0.blob) },
            message: message, author: author)

        // Only a promotion that compiles becomes a branch.
        let result = Compiler().compile(try repository.tree(at: commit, root: root), options: CompileOptions(now: Clock.now()))
        if result.hasErrors {
            printError(
                DiagnosticFormatter(format: .text) { _ in nil }.render(result.errors)
                    + "the promoted flags do not compile on \(target.branch); no branch was created")
            throw ExitStatus.failed
        }
        let name = branch ?? "promote/\(from)-to-\(to)-\(sourceTip.hex.prefix(8))"
        try repository.createBranch(name, at: commit)
        print(message)
        print("created branch \(name) at \(commit.short) (based on \(target.branch) \(targetTip.short))")
    }

    static func prefix(_ root: String?) -> String {
        guard var root, !root.isEmpty, root != "." else { return "" }
        while root.hasSuffix("/") { root.removeLast() }
        return root + "/"
    }
}

/// Which files a promotion copies, adds or deletes, by comparing blob ids.
struct PromotionPlan {
    struct Change {
        var path: String
        var blob: ObjectID?
        var kind: String
    }

    var changes: [Change] = []

    init(source: GitTree, target: GitTree, flags: [String], project: String?) throws {
        func isFlagOrSegment(_ path: String) -> (project: String, kind: String, key: String)? {
            let parts = path.split(separator: "/").map(String.init)
            guard parts.count == 3, parts[1] == "flags" || parts[1] == "segments" else { return nil }
            guard project == nil || parts[0] == project else { return nil }
            return (parts[0], parts[1], Compiler.stemOf(parts[2]))
        }
        var wanted = Set<String>()
        if flags.isEmpty {
            for path in Set(source.entries.keys).union(target.entries.keys) where isFlagOrSegment(path) != nil {
                wanted.insert(path)
            }
        } else {
            for key in flags {
                let matches = source.entries.keys.filter {
                    if let f = isFlagOrSegment($0) { return f.kind == "flags" && f.key == key }
                    return false
                }
                guard !matches.isEmpty else {
                    throw ValidationError("no flag '\(key)' in the source environment's branch")
                }
                wanted.formUnion(matches)
            }
            // The segments those flags use come along, so the promotion compiles.
            wanted.formUnion(try Self.segments(usedBy: wanted, in: source))
        }
        for path in wanted.sorted() {
            let from = source.entries[path]
            let to = target.entries[path]
            guard from != to else { continue }
            changes.append(Change(path: path, blob: from, kind: to == nil ? "added" : (from == nil ? "removed" : "changed")))
        }
    }

    /// Segment files referenced by the given flag files, and by those segments, in turn.
    static func segments(usedBy files: Set<String>, in tree: GitTree) throws -> Set<String> {
        var found = Set<String>()
        var queue = Array(files)
        while let path = queue.popLast() {
            let project = String(path.split(separator: "/").first ?? "")
            let text = String(decoding: try tree.read(path), as: UTF8.self)
            for key in Self.segmentReferences(text) {
                for candidate in ["\(project)/segments/\(key).yaml", "\(project)/segments/\(key).yml"]
                where tree.entries[candidate] != nil && !found.contains(candidate) {
                    found.insert(candidate)
                    queue.append(candidate)
                }
            }
        }
        return found
    }

    /// `segment: KEY` references, read from the YAML text (a promotion must work on flags
    /// that the target's compiler has not seen).
    static func segmentReferences(_ text: String) -> [String] {
        var keys: [String] = []
        var rest = text[...]
        while let r = rest.firstRange(of: "segment:") {
            var tail = rest[r.upperBound...].drop { $0 == " " || $0 == "\"" || $0 == "'" }
            let key = tail.prefix { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }
            if !key.isEmpty { keys.append(String(key)) }
            tail = tail.dropFirst(key.count)
            rest = tail
        }
        return keys
    }

    func message(from: String, to: String, sourceBranch: String, sourceCommit: ObjectID) -> String {
        let flagChanges = changes.filter { $0.path.contains("/flags/") }
        let segmentChanges = changes.filter { $0.path.contains("/segments/") }
        var lines = [
            "Promote \(flagChanges.count) flag\(flagChanges.count == 1 ? "" : "s")"
                + (segmentChanges.isEmpty ? "" : " and \(segmentChanges.count) segment\(segmentChanges.count == 1 ? "" : "s")")
                + " from \(from) to \(to)",
            "",
            "From \(sourceBranch) at \(sourceCommit.short):",
        ]
        for change in changes {
            let parts = change.path.split(separator: "/")
            let what = parts.count == 3 ? "\(parts[0]) \(parts[1].dropLast()) \(Compiler.stemOf(String(parts[2])))" : change.path
            lines.append("- \(what): \(change.kind)")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
