import ArgumentParser
import FlagCompiler
import FlagModel
import Foundation

struct Compile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compile the flag repository into snapshots (canonical JSON, one per project and environment).")

    @OptionGroup var repository: RepositoryOptions

    @Option(help: "Only this project.")
    var project: String?

    @Option(help: "Only this environment.")
    var environment: String?

    @Option(help: "Write <project>/<environment>.json files under this folder instead of printing.")
    var out: String?

    @ArgumentParser.Flag(help: "Indent the JSON for reading (the canonical form has no whitespace).")
    var pretty = false

    @Option(help: "Diagnostics format: text, json, github or sarif.")
    var format: DiagnosticFormat = .text

    func run() throws {
        var options = try repository.compileOptions(now: Clock.now())
        if let environment { options.environments = [environment] }
        let compilation = try compileAndReport(repository, format: format, options: options)
        guard !compilation.hasErrors else { throw ExitStatus.failed }
        if let manifest = compilation.manifest {
            if let project, !manifest.projects.contains(where: { $0.key == project }) {
                throw ValidationError("unknown project '\(project)'")
            }
            if let environment, manifest.environment(environment) == nil {
                throw ValidationError("unknown environment '\(environment)'")
            }
        }
        let snapshots = compilation.snapshots.filter { project == nil || $0.project == project }
        func render(_ s: Snapshot) -> String {
            pretty ? CanonicalJSON.encodePretty(s.json) : CanonicalJSON.encode(s.json)
        }
        if let out {
            for snapshot in snapshots {
                let folder = (out as NSString).appendingPathComponent(snapshot.project)
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                let path = (folder as NSString).appendingPathComponent("\(snapshot.environment).json")
                try Data((render(snapshot) + "\n").utf8).write(to: URL(fileURLWithPath: path))
                printError("wrote \(path) (\(snapshot.flags.count) flags, \(snapshot.version))")
            }
        } else if snapshots.count == 1 {
            print(render(snapshots[0]))
        } else {
            let all = Value.array(snapshots.map(\.json))
            print(pretty ? CanonicalJSON.encodePretty(all) : CanonicalJSON.encode(all))
        }
    }
}
