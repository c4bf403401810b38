import FlagCompiler
import FlagEngine
import FlagModel
import Testing
import UnleashImport

/// An imported payload, compiled by the ordinary compiler into an ordinary evaluator.
struct Imported {
    var result: UnleashImport.Result
    var compilation: Compilation
    var evaluator: Evaluator

    /// Imports `json` (a features payload), which must compile without errors.
    init(_ json: String, options: UnleashImport.Options = .init(), sourceLocation: Testing.SourceLocation = #_sourceLocation)
        throws
    {
        result = try UnleashImport.run(try JSONParser.parse(json), options: options)
        compilation = Compiler().compile(
            MemoryTree(result.files), options: CompileOptions(now: Instant(seconds: 1_767_225_600)))
        #expect(compilation.diagnostics.isEmpty, "\(compilation.diagnostics)", sourceLocation: sourceLocation)
        let snapshot = try #require(
            compilation.snapshot(project: options.project, environment: options.environment),
            sourceLocation: sourceLocation)
        evaluator = Evaluator(snapshot: snapshot)
    }

    /// The value served for an Unleash feature name and an Unleash context.
    func value(_ feature: String, _ context: [String: Value] = [:], seed: UInt64 = 1) -> Value? {
        guard let key = result.keyMap[feature] else { return nil }
        var random = SeededGenerator(state: seed)
        let native = UnleashImport.nativeContext(context)
        let prepared = evaluator.prepare(native, now: Instant(seconds: 1_767_225_600), random: &random)
        return evaluator.evaluate(key, context: prepared).value
    }

    /// Unleash's isEnabled.
    func isEnabled(_ feature: String, _ context: [String: Value] = [:]) -> Bool {
        switch value(feature, context) {
        case .bool(let b)?: b
        case let v?: v["feature_enabled"] == .bool(true)
        case nil: false
        }
    }

    /// The `name` of the variant Unleash's getVariant returns.
    func variantName(_ feature: String, _ context: [String: Value] = [:]) -> String? {
        value(feature, context)?["name"]?.stringValue
    }

    func file(_ feature: String, project: String = "app") -> String {
        result.files["\(project)/flags/\(result.keyMap[feature] ?? "?").yaml"] ?? ""
    }

    func flag(_ feature: String) -> Flag? {
        evaluator.snapshot.flags.first { $0.key == result.keyMap[feature] }
    }
}

/// A one-feature payload.
func payload(_ features: String..., segments: String = "[]") -> String {
    "{\"version\": 1, \"features\": [\(features.joined(separator: ","))], \"segments\": \(segments)}"
}

/// A feature with one `default` strategy carrying `constraints`.
func constrained(_ name: String, _ constraints: String) -> String {
    """
    {"name": "\(name)", "enabled": true, "strategies": [{"name": "default", "constraints": [\(constraints)]}]}
    """
}
