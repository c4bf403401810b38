import ArgumentParser
import FlagCompiler
import FlagDiff
import FlagEngine
import FlagModel
import Foundation
import GitSource

extension DiffFormat: ExpressibleByArgument {}

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "What a change does to each environment: flags and segments changed, who changes variant, warnings.",
        discussion: """
            BASE and HEAD are refs (branches, tags, SHAs; '.' is the working tree). When both name \
            environments of the manifest (`flagstaff diff production staging`), each side is its \
            environment's branch tip and both are seen with BASE's overlays: what merging HEAD's branch \
            into BASE's would change there. Exit 1 when a side does not compile.
            """)

    @Argument(help: "The ref (or environment) to compare from.")
    var base: String

    @Argument(help: "The ref (or environment) to compare to.")
    var head: String

    @Option(help: "The repository (a folder).")
    var repo: String = "."

    @Option(help: "The flag repository root inside the repository.")
    var root: String?

    @Option(help: "The branch whose manifest names the environments.")
    var controlBranch: String = "main"

    @Option(help: "Only this environment.")
    var environment: String?

    @Option(help: "Output: text, markdown (a pull-request comment) or json.")
    var format: DiffFormat = .text

    @Option(help: "A file of contexts, one JSON object per line, to replay through both sides.")
    var sample: String?

    func run() throws {
        let repository = try GitRepository(path: repo)
        let now = Clock.now()
        var sampleContexts: [[String: Value]] = []
        if let sample {
            guard let data = FileManager.default.contents(atPath: sample) else {
                throw ValidationError("cannot read sample file '\(sample)'")
            }
            do {
                sampleContexts = try Replay.contexts(jsonLines: String(decoding: data, as: UTF8.self))
            } catch {
                throw ValidationError("\(sample): \(error)")
            }
        }

        // Environment names compare branch tips as the base environment sees them.
        var baseRef = base
        var headRef = head
        var environments: Set<String>? = environment.map { [$0] }
        var title = "\(base)..\(head)"
        if let manifest = try? Self.manifest(repository, controlBranch: controlBranch, root: root),
            let baseEnvironment = manifest.environment(base), let headEnvironment = manifest.environment(head)
        {
            baseRef = baseEnvironment.branch
            headRef = headEnvironment.branch
            environments = [baseEnvironment.key]
            title = "\(head) (\(headEnvironment.branch)) → \(base) (\(baseEnvironment.branch))"
        }

        let baseSide = try Side.compile(repository, ref: baseRef, root: root, environments: environments, now: now)
        let headSide = try Side.compile(repository, ref: headRef, root: root, environments: environments, now: now)
        var failures: [String] = []
        for (name, side) in [("BASE \(baseRef)", baseSide), ("HEAD \(headRef)", headSide)] where side.compilation.hasErrors {
            let rendered = DiagnosticFormatter(format: .text, source: side.sourceLines).render(side.compilation.errors)
            failures.append("\(name) does not compile:\n\(rendered)")
        }

        var diffs: [SnapshotDiff] = []
        var replays: [String: ReplayEffect] = [:]
        if failures.isEmpty {
            let contexts = sampleContexts + Self.uniqueContexts(baseSide.compilation.tests + headSide.compilation.tests)
            var keys: [(String, String)] = []
            for s in baseSide.compilation.snapshots + headSide.compilation.snapshots
            where !keys.contains(where: { $0 == (s.project, s.environment) }) {
                keys.append((s.project, s.environment))
            }
            for (project, env) in keys {
                let b = baseSide.compilation.snapshot(project: project, environment: env)
                let h = headSide.compilation.snapshot(project: project, environment: env)
                let diff = SnapshotDiff(base: b, head: h, now: now)
                diffs.append(diff)
                if !diff.isEmpty, !contexts.isEmpty {
                    replays["\(project)/\(env)"] = Replay.run(base: b, head: h, contexts: contexts, now: now)
                }
            }
        }
        let report = DiffReport(title: title, diffs: diffs, replays: replays, failures: failures)
        print(report.render(format), terminator: "")
        if !failures.isEmpty { throw ExitStatus.failed }
    }

    static func manifest(_ repository: GitRepository, controlBranch: String, root: String?) throws -> Manifest? {
        let tree = try repository.tree(at: try repository.resolve(controlBranch), root: root)
        return Compiler().compile(tree, options: CompileOptions(runTests: false)).manifest
    }

    /// Golden-test contexts, each once.
    static func uniqueContexts(_ results: [GoldenTestResult]) -> [[String: Value]] {
        var seen = Set<String>()
        var out: [[String: Value]] = []
        for r in results where seen.insert(CanonicalJSON.encode(.object(r.context))).inserted {
            out.append(r.context)
        }
        return out
    }

    /// One side of a comparison: a commit, or the working tree for `.`.
    struct Side {
        var compilation: Compilation
        var sourceLines: @Sendable (String) -> [Substring]?

        static func compile(
            _ repository: GitRepository, ref: String, root: String?, environments: Set<String>?, now: Instant
        ) throws -> Side {
            let tree: any FlagTree
            var options = CompileOptions(now: now, environments: environments)
            if ref == "." {
                let workTree = (repository.path as NSString).deletingLastPathComponent
                tree = DirectoryTree(root: root.map { (workTree as NSString).appendingPathComponent($0) } ?? workTree)
            } else {
                let commit = try repository.resolve(ref)
                options.commit = commit.hex
                tree = try repository.tree(at: commit, root: root)
            }
            let compilation = Compiler().compile(tree, options: options)
            return Side(compilation: compilation) { file in
                guard let bytes = try? tree.read(file), let text = String(validating: bytes, as: UTF8.self) else {
                    return nil
                }
                return text.split(omittingEmptySubsequences: false, whereSeparator: { $0.isNewline })
            }
        }
    }
}
