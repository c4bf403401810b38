import ArgumentParser
import FlagCompiler
import FlagModel
import Foundation
import UnleashImport

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import flags from another system.", subcommands: [ImportUnleashCommand.self])
}

struct ImportUnleashCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unleash",
        abstract: "Turn Unleash's /api/client/features payload into a Flagstaff flag repository.",
        discussion: """
            Features without variants become boolean flags (Unleash's isEnabled); features with variants \
            become json flags whose value is what Unleash's getVariant returns. Users keep their buckets. \
            What Unleash could not evaluate either imports as a disabled flag, with a warning.
            """)

    @Argument(help: "The features payload (JSON), as /api/client/features returns it.")
    var features: String

    @Option(help: "The folder to write the flag repository to (created; must not hold a manifest).")
    var out: String

    @Option(help: "The project key to import into.")
    var project: String = "app"

    @Option(help: "The organization key.")
    var organization: String = "imported"

    @ArgumentParser.Flag(help: "Write into a folder that already holds a flagstaff.yaml.")
    var force = false

    func validate() throws {
        if !Keys.isValid(project) { throw ValidationError("'\(project)' is not a valid project key: \(Keys.rule)") }
        if !Keys.isValid(organization) {
            throw ValidationError("'\(organization)' is not a valid organization key: \(Keys.rule)")
        }
    }

    func run() throws {
        guard let data = FileManager.default.contents(atPath: features) else {
            throw ValidationError("cannot read '\(features)'")
        }
        var payload: Value
        do {
            payload = try JSONParser.parse(bytes: [UInt8](data), limits: .init(maxDepth: 64, maxMembers: 10_000_000))
        } catch {
            printError("\(features): not valid JSON: \(error)")
            throw ExitStatus.failed
        }
        // A client-specification test file wraps the payload in `state`.
        if payload["features"] == nil, payload["events"] == nil, let state = payload["state"] { payload = state }
        var options = UnleashImport.Options()
        options.project = project
        options.organization = organization
        options.source = (features as NSString).lastPathComponent
        let result: UnleashImport.Result
        do {
            result = try UnleashImport.run(payload, options: options)
        } catch {
            printError("error: \(error)")
            throw ExitStatus.failed
        }
        let manifest = (out as NSString).appendingPathComponent("flagstaff.yaml")
        if FileManager.default.fileExists(atPath: manifest), !force {
            printError("\(manifest) already exists; use --force to write over it")
            throw ExitStatus.failed
        }
        // The result must compile before anything is written.
        let compilation = Compiler().compile(MemoryTree(result.files), options: CompileOptions(now: Clock.now()))
        if compilation.hasErrors {
            printError(DiagnosticFormatter(format: .text) { _ in nil }.render(compilation.errors))
            printError("the imported repository does not compile; nothing was written")
            throw ExitStatus.failed
        }
        for (path, text) in result.files.sorted(by: { $0.key < $1.key }) {
            let full = (out as NSString).appendingPathComponent(path)
            try FileManager.default.createDirectory(
                atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(fileURLWithPath: full))
        }
        for warning in result.warnings { printError("warning: \(warning)") }
        let flags = result.files.keys.filter { $0.contains("/flags/") }.count
        let segments = result.files.keys.filter { $0.contains("/segments/") }.count
        print("imported \(flags) flags and \(segments) segments into \(out) (\(result.warnings.count) warnings)")
        let renamed = result.keyMap.filter { $0.key != $0.value }
        if !renamed.isEmpty {
            print("renamed to fit flag keys (buckets are unchanged):")
            for (from, to) in renamed.sorted(by: { $0.key < $1.key }) { print("  \(from) → \(to)") }
        }
    }
}
