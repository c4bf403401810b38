import ArgumentParser
import FlagCompiler
import FlagDiff
import FlagModel
import GitSource

struct Drift: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Every environment against the production one, flag by flag.",
        discussion: """
            For each environment, its branch tip is compiled as production would see it and compared \
            with production's own branch: what promoting that environment would change in production.
            """)

    @Option(help: "The repository (a folder).")
    var repo: String = "."

    @Option(help: "The flag repository root inside the repository.")
    var root: String?

    @Option(help: "The branch whose manifest names the environments.")
    var controlBranch: String = "main"

    @Option(help: "Output: text, markdown or json.")
    var format: DiffFormat = .text

    func run() throws {
        let repository = try GitRepository(path: repo)
        guard let manifest = try Diff.manifest(repository, controlBranch: controlBranch, root: root),
            let production = manifest.productionEnvironment
        else {
            printError("the control branch '\(controlBranch)' has no valid manifest")
            throw ExitStatus.failed
        }
        let now = Clock.now()
        let only: Set<String> = [production.key]
        let base = try Diff.Side.compile(repository, ref: production.branch, root: root, environments: only, now: now)
        var diffs: [SnapshotDiff] = []
        var failures: [String] = []
        if base.compilation.hasErrors { failures.append("\(production.branch) (production) does not compile") }
        for environment in manifest.environments where !environment.production {
            guard repository.branchTip(environment.branch) != nil else {
                printError("\(environment.key): branch '\(environment.branch)' does not exist yet; skipped")
                continue
            }
            let side = try Diff.Side.compile(
                repository, ref: environment.branch, root: root, environments: only, now: now)
            if side.compilation.hasErrors {
                failures.append("\(environment.key) (\(environment.branch)) does not compile")
                continue
            }
            for snapshot in side.compilation.snapshots {
                var diff = SnapshotDiff(
                    base: base.compilation.snapshot(project: snapshot.project, environment: production.key),
                    head: snapshot, now: now)
                diff.environment = "\(environment.key) vs \(production.key)"
                diffs.append(diff)
            }
        }
        let report = DiffReport(title: "drift from \(production.key) (\(production.branch))", diffs: diffs, failures: failures)
        print(report.render(format), terminator: "")
        if !failures.isEmpty { throw ExitStatus.failed }
    }
}
