import ArgumentParser
import FlagCompiler
import FlagModel

struct Test: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the golden tests of every flag in every environment they name.")

    @OptionGroup var repository: RepositoryOptions

    @Option(help: "Only this environment.")
    var environment: String?

    @Option(help: "Diagnostics format: text, json, github or sarif.")
    var format: DiagnosticFormat = .text

    @ArgumentParser.Flag(help: "List passing tests too.")
    var verbose = false

    func run() throws {
        var options = try repository.compileOptions(now: Clock.now())
        if let environment { options.environments = [environment] }
        let tree = try repository.tree()
        let compilation = Compiler().compile(tree, options: options)
        let problems = compilation.diagnostics.filter { $0.severity == .error && $0.code != .goldenTestFailed }
        if !problems.isEmpty {
            printError(repository.formatter(format, tree: tree).render(problems))
            printError("the repository does not compile; no tests ran")
            throw ExitStatus.failed
        }
        var lines: [String] = []
        for result in compilation.tests {
            // Where the test is written, as `validate` names places, so an editor can jump there.
            let place = "\(repository.displayPrefix)\(result.location.file):\(result.location.line):\(result.location.column)"
            let name = "\(result.project)/\(result.flag) [\(result.environment)]" + (result.name.map { " \($0)" } ?? "")
            if let failure = result.failure {
                lines.append("\(place): FAIL \(name): \(failure)")
            } else if result.skippedBecauseDisabled {
                lines.append("\(place): skip \(name): the flag is disabled in \(result.environment)")
            } else if verbose {
                lines.append("\(place): ok   \(name)")
            }
        }
        if format == .text {
            for line in lines { print(line) }
        } else {
            let failures = compilation.tests.filter { !$0.passed }.map(\.diagnostic)
            print(repository.formatter(format, tree: tree).render(failures), terminator: "")
        }
        let skipped = compilation.tests.filter(\.skippedBecauseDisabled).count
        let passed = compilation.tests.filter(\.passed).count - skipped
        let failed = compilation.tests.count - passed - skipped
        if format == .text { print("\(passed) passed, \(failed) failed" + (skipped > 0 ? ", \(skipped) skipped (flag disabled)" : "")) }
        if failed > 0 { throw ExitStatus.failed }
    }
}
