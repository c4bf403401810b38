import ArgumentParser
import FlagCompiler
import FlagEngine
import FlagModel
import Foundation

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a flag (or all flags) for a context; prints the same JSON object the HTTP API returns.")

    @OptionGroup var repository: RepositoryOptions

    @Option(help: "The flag key.")
    var flag: String?

    @ArgumentParser.Flag(help: "Evaluate every flag of the project.")
    var all = false

    @Option(help: "The evaluation context as a JSON object, or @FILE to read it from a file.")
    var context: String = "{}"

    @Option(help: "The environment (default: the production environment).")
    var environment: String?

    @Option(help: "The project (default: the only project).")
    var project: String?

    @Option(help: "Fail with TYPE_MISMATCH unless the flag has this type: boolean, string, number or json.")
    var type: FlagType?

    @Option(
        help: ArgumentHelp(
            "Evaluate at this time instead of now (RFC 3339 with a zone, e.g. 2026-12-07T09:00:00Z).",
            discussion: "Windows and scheduled rollouts answer as they will then; a `currentTime` in the context still wins."))
    var at: String?

    func validate() throws {
        if let at, Timestamp.parse(at) == nil {
            throw ValidationError("--at '\(at)' is not a time with a zone; write e.g. 2026-12-07T09:00:00Z")
        }
        if flag == nil && !all { throw ValidationError("name a flag with --flag, or use --all") }
        if flag != nil && all { throw ValidationError("--flag and --all exclude each other") }
    }

    func run() throws {
        let contextObject = try parseContext()
        let compilation = try compileAndReport(repository, format: .text, options: try repository.compileOptions(now: Clock.now()))
        guard !compilation.hasErrors, let manifest = compilation.manifest else { throw ExitStatus.failed }
        let projectKey: String
        if let project {
            projectKey = project
        } else if manifest.projects.count == 1 {
            projectKey = manifest.projects[0].key
        } else {
            throw ValidationError(
                "this repository has several projects; choose one with --project (\(manifest.projects.map(\.key).joined(separator: ", ")))")
        }
        let environmentKey = environment ?? manifest.productionEnvironment?.key ?? ""
        guard let snapshot = compilation.snapshot(project: projectKey, environment: environmentKey) else {
            throw ValidationError("no project '\(projectKey)' with environment '\(environmentKey)' in this repository")
        }
        let evaluator = Evaluator(snapshot: snapshot)
        let prepared = evaluator.prepare(contextObject, now: at.flatMap(Timestamp.parse) ?? Clock.now())
        if all {
            let results = evaluator.evaluateAll(context: prepared)
            print(CanonicalJSON.encodePretty(.object(["flags": .array(results.map(\.ofrepJSON))])))
            return
        }
        let result = type.map { evaluator.evaluate(flag!, as: $0, context: prepared) }
            ?? evaluator.evaluate(flag!, context: prepared)
        print(CanonicalJSON.encodePretty(result.ofrepJSON))
        if result.errorCode != nil { throw ExitStatus.failed }
    }

    func parseContext() throws -> [String: Value] {
        var text = context
        if text.hasPrefix("@") {
            let path = String(text.dropFirst())
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("cannot read context file '\(path)'")
            }
            text = String(decoding: data, as: UTF8.self)
        }
        let value: Value
        do {
            value = try JSONParser.parse(text)
        } catch {
            throw ValidationError("--context is not valid JSON: \(error)")
        }
        guard case .object(let object) = value else {
            throw ValidationError("--context must be a JSON object, found \(value.kindName)")
        }
        return object
    }
}

extension FlagType: ExpressibleByArgument {}
