import ArgumentParser
import FlagCompiler
import FlagEngine
import FlagModel
import Foundation

/// Where the flag repository is. Every command that reads flags takes these.
struct RepositoryOptions: ParsableArguments {
    @Option(help: "The repository (a folder).")
    var repo: String = "."

    @Option(help: "The flag repository root inside the repository (the folder holding flagstaff.yaml).")
    var root: String?

    /// The folder that holds flagstaff.yaml.
    var rootPath: String {
        guard let root, !root.isEmpty, root != "." else { return repo }
        return root.hasPrefix("/") ? root : (repo as NSString).appendingPathComponent(root)
    }

    func tree() -> any FlagTree { DirectoryTree(root: rootPath) }

    /// How diagnostics name files: relative to the working directory.
    var displayPrefix: String {
        let prefix = rootPath
        if prefix == "." || prefix.isEmpty { return "" }
        return prefix.hasSuffix("/") ? prefix : prefix + "/"
    }

    func formatter(_ format: DiagnosticFormat) -> DiagnosticFormatter {
        let root = rootPath
        return DiagnosticFormatter(format: format, pathPrefix: displayPrefix) { file in
            guard let data = FileManager.default.contents(atPath: root + "/" + file),
                let text = String(data: data, encoding: .utf8)
            else { return nil }
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
) -> Compilation {
    let compilation = Compiler().compile(repository.tree(), options: options)
    let rendered = repository.formatter(format).render(compilation.diagnostics)
    switch format {
    case .text, .github:
        if !rendered.isEmpty { printError(rendered) }
    case .json, .sarif:
        break
    }
    return compilation
}
