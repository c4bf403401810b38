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

        let plan: PromotionPlan
        do {
            plan = try PromotionPlan(source: sourceTree, target: targetTree, flags: flags, project: project)
        } catch let error as PromotionPlan.UnknownFlag {
            throw ValidationError(error.description)
        }
        guard !plan.changes.isEmpty else {
            print("nothing to promote: \(target.branch) already has \(from)'s files")
            return
        }
        let message = plan.message(from: from, to: to, sourceBranch: source.branch, sourceCommit: sourceTip)
        let now = Int64(Date().timeIntervalSince1970)
        let author = Signature(name: "Flagstaff", email: "flagstaff@localhost", time: now)
        // The target keeps its own overlays (a kill switch in production survives the promotion).
        let targetEnvironments = manifest.environments.filter { $0.branch == target.branch }.map(\.key)
        var files: [GitRepository.FileChange] = []
        for change in plan.changes {
            var blob = change.blob
            if blob != nil, targetTree.entries[change.path] != nil {
                let kept = try PromotionPlan.keepingOverlays(
                    try sourceTree.read(change.path), of: targetEnvironments, from: try targetTree.read(change.path))
                blob = try repository.writeBlob(kept)
            }
            files.append(GitRepository.FileChange(path: prefix + change.path, blob: blob))
        }
        let commit = try repository.commit(onto: targetTip, changes: files, message: message, author: author)

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
