import FlagCompiler
import FlagEngine
import FlagModel
import Testing

/// A one-project repository in memory: `flags` maps flag keys to their YAML.
func compileRepository(
    flags: [String: String], segments: [String: String] = [:], context: String? = nil,
    environments: String = "production: { branch: main, production: true }\n  staging: { branch: staging }"
) -> Compilation {
    var files = [
        "flagstaff.yaml": """
        version: 1
        organization: acme
        projects: { shop: {} }
        environments:
          \(environments)
        \(context.map { "context:\n" + $0 } ?? "")
        """
    ]
    for (key, yaml) in flags { files["shop/flags/\(key).yaml"] = yaml }
    for (key, yaml) in segments { files["shop/segments/\(key).yaml"] = yaml }
    return Compiler().compile(MemoryTree(files), options: CompileOptions(now: Instant(seconds: 1_767_225_600)))
}

/// The evaluator of a repository that must compile cleanly.
func evaluator(
    flags: [String: String], segments: [String: String] = [:], environment: String = "production",
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) throws -> Evaluator {
    let compilation = compileRepository(flags: flags, segments: segments)
    #expect(compilation.errors.isEmpty, "\(compilation.errors)", sourceLocation: sourceLocation)
    let snapshot = try #require(compilation.snapshot(project: "shop", environment: environment), sourceLocation: sourceLocation)
    return Evaluator(snapshot: snapshot)
}

/// A fixed generator, so that evaluations that draw `random` are repeatable.
typealias SeededGenerator = SplitMix64

extension Evaluator {
    /// Evaluates `key` for a context given as a dictionary, at a fixed time.
    func eval(_ key: String, _ context: [String: Value] = [:], now: Instant = Instant(seconds: 1_767_225_600))
        -> EvaluationResult
    {
        evaluate(key, context: prepare(context, now: now))
    }
}
