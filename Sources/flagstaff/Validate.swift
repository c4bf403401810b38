import ArgumentParser
import FlagCompiler
import FlagModel

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a flag repository: every file, reference, value and golden test.",
        discussion: "Prints every problem with file:line:col and a stable code; exits 1 when there is an error.")

    @OptionGroup var repository: RepositoryOptions

    @Option(help: "Output format: text, json, github or sarif.")
    var format: DiagnosticFormat = .text

    @ArgumentParser.Flag(help: "Treat warnings as errors.")
    var strict = false

    func run() throws {
        let tree = try repository.tree()
        let compilation = Compiler().compile(tree, options: try repository.compileOptions(now: Clock.now()))
        let output = repository.formatter(format, tree: tree).render(compilation.diagnostics)
        switch format {
        case .json, .sarif: print(output, terminator: "")
        case .text, .github:
            if !output.isEmpty { printError(output) }
            let errors = compilation.errors.count
            let warnings = compilation.warnings.count
            if format == .text {
                if errors == 0 {
                    let flags = Set(compilation.snapshots.flatMap { s in s.flags.map { "\(s.project)/\($0.key)" } }).count
                    let passed = compilation.tests.filter(\.passed).count
                    printError(
                        "ok: \(flags) flags, \(compilation.snapshots.count) snapshots, \(passed) golden tests passed"
                            + (warnings > 0 ? ", \(warnings) warning\(warnings == 1 ? "" : "s")" : ""))
                } else {
                    let skipped = compilation.tests.isEmpty && !compilation.diagnostics.contains { $0.code == .goldenTestFailed }
                    printError(
                        "\(errors) error\(errors == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s")"
                            + (skipped ? "; golden tests run once the errors are fixed" : ""))
                }
            }
        }
        if compilation.hasErrors || (strict && !compilation.warnings.isEmpty) { throw ExitStatus.failed }
    }
}
