import ArgumentParser
import FlagCompiler
import FlagEngine
import FlagModel
import Foundation
import GitSource

/// Where the flag repository is. Every command that reads flags takes these.
struct RepositoryOptions: ParsableArguments {
    @Option(help: "The repository (a folder).")
    var repo: String = "."

    @Option(help: "The flag repository root inside the repository (the folder holding flagstaff.yaml).")
    var root: String?

    @Option(help: "Read flags at this commit, branch or tag (through Git) instead of from the working tree.")
    var ref: String?

    /// The folder that holds flagstaff.yaml.
    var rootPath: String {
        guard let root, !root.isEmpty, root != "." else { return repo }
        if root.hasPrefix("/") || repo == "." { return root }
        return (repo as NSString).appendingPathComponent(root)
    }

    /// The files to compile: the working tree, or with `--ref` the commit it names.
    func tree() throws -> any FlagTree {
        guard let ref else { return DirectoryTree(root: rootPath) }
        let repository = try GitRepository(path: repo)
        return try repository.tree(at: try repository.resolve(ref), root: root)
    }

    /// Compile options that record where the flags came from.
    func compileOptions(now: Instant) throws -> CompileOptions {
        var options = CompileOptions(now: now)
        if let ref {
            let repository = try GitRepository(path: repo)
            options.commit = try repository.resolve(ref).hex
            if repository.branchTip(ref) != nil { options.branch = ref }
        }
        return options
    }

    /// How diagnostics name files: relative to the working directory.
    var displayPrefix: String {
        let prefix = rootPath
        if prefix == "." || prefix.isEmpty { return "" }
        return prefix.hasSuffix("/") ? prefix : prefix + "/"
    }

    /// Renders diagnostics with source lines read from `tree` (the working tree or a commit).
    func formatter(_ format: DiagnosticFormat, tree: any FlagTree) -> DiagnosticFormatter {
        DiagnosticFormatter(format: format, pathPrefix: displayPrefix) { file in
            guard let bytes = try? tree.read(file), let text = String(validating: bytes, as: UTF8.self) else {
                return nil
            }
            return text.split(omittingEmptySubsequences: false, whereSeparator: { $0.isNewline })
        }
    }
}

extension DiagnosticFormat: ExpressibleByArgument {}

enum Clock {
    /// The current time as the engine counts it.
    static func now() -> Instant {
        let t = Date().timeIntervalSince1970
        let seconds = t.rounded(.down)
        return Instant(seconds: Int64(seconds), nanos: Int32((t - seconds) * 1_000_000_000))
    }
}

/// Writes to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
}

/// Compiles and prints diagnostics to standard error (or standard output for machine formats).
func compileAndReport(
    _ repository: RepositoryOptions, format: DiagnosticFormat, options: CompileOptions, quietWhenClean: Bool = true
) throws -> Compilation {
    let tree = try repository.tree()
    let compilation = Compiler().compile(tree, options: options)
    let rendered = repository.formatter(format, tree: tree).render(compilation.diagnostics)
    switch format {
    case .text, .github:
        if !rendered.isEmpty { printError(rendered) }
    case .json, .sarif:
        break
    }
    return compilation
}
