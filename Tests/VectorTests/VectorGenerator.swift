import FlagCompiler
import FlagEngine
import FlagModel
import Foundation
import UnleashImport

/// Builds the shared vectors (`Tests/Vectors/`, format in its README.md): snapshots compiled
/// from `flags/` and `examples/*/`, seeded contexts made from what their conditions read,
/// and the engine's answer to each; and Unleash's client specification, imported.
struct VectorGenerator {
    /// The seed of every generated context; changing it changes every case.
    static let seed: UInt64 = 0xF1A6_57AF_F000_0013
    /// Contexts per flag of each snapshot (each context is one case).
    static let contextsPerFlag = 120
    /// Contexts per snapshot for the unknown key and for `all.jsonl`.
    static let contextsForUnknownKey = 10
    static let contextsForAll = 12
    /// The key no snapshot has.
    static let unknownKey = "no-such-flag"
    /// What the snapshots' `compiledAt` says, and the default evaluation time.
    static let compiledAt = Instant(seconds: 1_767_225_600)  // 2026-01-01T00:00:00Z

    struct Files: Equatable {
        /// Snapshot id → canonical JSON and a newline.
        var snapshots: [String: String] = [:]
        var cases: [String] = []
        var all: [String] = []
        var unleash: [String] = []
    }

    let repositoryRoot: URL

    /// `<repo>/../shared/conformance/unleash`.
    var conformanceFolder: URL {
        repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/conformance/unleash")
    }

    // MARK: Snapshots

    /// The flag repositories: `flags/` and each `examples/<name>/` with a manifest.
    func repositories() throws -> [(prefix: String, root: URL)] {
        var found = [(prefix: "flags", root: repositoryRoot.appendingPathComponent("flags"))]
        let examples = repositoryRoot.appendingPathComponent("examples")
        for name in try FileManager.default.contentsOfDirectory(atPath: examples.path).sorted() {
            let root = examples.appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: root.appendingPathComponent("flagstaff.yaml").path) {
                found.append((prefix: "examples-\(name)", root: root))
            }
        }
        return found
    }

    /// Every (project, environment) snapshot of every repository, by id.
    func snapshots() throws -> [(id: String, snapshot: Snapshot)] {
        var result: [(id: String, snapshot: Snapshot)] = []
        for repository in try repositories() {
            let compilation = Compiler().compile(
                DirectoryTree(root: repository.root.path), options: CompileOptions(now: Self.compiledAt))
            guard !compilation.hasErrors else {
                throw VectorError("\(repository.root.path) does not compile: \(compilation.errors)")
            }
            for snapshot in compilation.snapshots.sorted(by: { ($0.project, $0.environment) < ($1.project, $1.environment) }) {
                result.append((id: "\(repository.prefix)-\(snapshot.project)-\(snapshot.environment)", snapshot: snapshot))
            }
        }
        return result
    }

    // MARK: Everything

    func generate(includeUnleash: Bool) throws -> Files {
        var files = Files()
        var random = SplitMix64(state: Self.seed)
        for (id, snapshot) in try snapshots() {
            files.snapshots[id] = CanonicalJSON.encode(snapshot.json) + "\n"
            let evaluator = Evaluator(snapshot: snapshot)
            let space = ContextSpace(snapshot: snapshot)
            var keys = snapshot.flags.filter { !space.bucketsRandomly($0) }.map(\.key)
            keys.append(Self.unknownKey)
            for key in keys {
                let count = key == Self.unknownKey ? Self.contextsForUnknownKey : Self.contextsPerFlag
                let focus = space.attributes(readBy: key)
                for _ in 0..<count {
                    let context = space.context(focus: focus, random: &random)
                    let result = evaluator.evaluate(key, context: evaluator.prepare(context, now: Self.compiledAt))
                    files.cases.append(Self.caseLine(snapshot: id, flag: key, context: context, result: result))
                }
            }
            if !snapshot.flags.contains(where: space.bucketsRandomly) {
                for _ in 0..<Self.contextsForAll {
                    let context = space.context(focus: Set(space.names), random: &random)
                    let results = evaluator.evaluateAll(context: evaluator.prepare(context, now: Self.compiledAt))
                    let expected = CanonicalJSON.encode(.object(["flags": .array(results.map(\.ofrepJSON))]))
                    files.all.append(
                        CanonicalJSON.encode(
                            .object(["snapshot": .string(id), "context": .object(context), "expected": .string(expected)])))
                }
            }
        }
        if includeUnleash { try addUnleash(to: &files) }
        return files
    }

    static func caseLine(
        snapshot: String, flag: String, context: [String: Value], result: EvaluationResult, extra: [String: Value] = [:]
    ) -> String {
        let ofrep = result.ofrepJSON
        var line: [String: Value] = extra
        line["snapshot"] = .string(snapshot)
        line["flag"] = .string(flag)
        line["context"] = .object(context)
        line["expected"] = .string(CanonicalJSON.encode(ofrep))
        for field in ["reason", "variant", "value", "errorCode"] {
            if let value = ofrep[field] { line[field] = value }
        }
        return CanonicalJSON.encode(.object(line))
    }

    // MARK: Unleash

    /// The seeds an Unleash case is evaluated with: a case is kept only when all agree.
    static let unleashSeeds: [UInt64] = [1, 2, 3, 0x5EED, 0xDEAD_BEEF]

    func addUnleash(to files: inout Files) throws {
        let index = try Self.json(conformanceFolder.appendingPathComponent("index.json"))
        for file in (index.arrayValue ?? []).compactMap(\.stringValue) {
            let spec = try Self.json(conformanceFolder.appendingPathComponent(file))
            guard var state = spec["state"] else { continue }
            if state["events"] != nil { state = try UnleashImport.applyDeltaEvents(state) }
            let imported = try UnleashImport.run(state, options: .init(source: file))
            let compilation = Compiler().compile(MemoryTree(imported.files), options: CompileOptions(now: Self.compiledAt))
            guard !compilation.hasErrors, let snapshot = compilation.snapshot(project: "app", environment: "production")
            else { throw VectorError("\(file) does not import cleanly: \(compilation.errors)") }
            let id = "unleash-" + file.replacingOccurrences(of: ".json", with: "")
            files.snapshots[id] = CanonicalJSON.encode(snapshot.json) + "\n"
            let evaluator = Evaluator(snapshot: snapshot)
            for kind in ["tests", "variantTests"] {
                for (i, testCase) in (spec[kind]?.arrayValue ?? []).enumerated() {
                    let toggle = testCase["toggleName"]?.stringValue ?? ""
                    let key = imported.keyMap[toggle] ?? toggle
                    var context = UnleashImport.nativeContext(testCase["context"]?.objectValue ?? [:])
                    if context["currentTime"] == nil { context["currentTime"] = .string(Timestamp.format(Self.compiledAt)) }
                    let now = context["currentTime"]?.stringValue.flatMap(Timestamp.parse) ?? Self.compiledAt
                    var results: Set<String> = []
                    var result: EvaluationResult?
                    for seed in Self.unleashSeeds {
                        var generator = SplitMix64(state: seed)
                        let r = evaluator.evaluate(key, context: evaluator.prepare(context, now: now, random: &generator))
                        results.insert(CanonicalJSON.encode(r.ofrepJSON))
                        result = r
                    }
                    guard results.count == 1, let result,
                        Self.agrees(result, kind: kind, expected: testCase["expectedResult"], known: imported.keyMap[toggle] != nil)
                    else { continue }
                    files.unleash.append(
                        Self.caseLine(
                            snapshot: id, flag: key, context: context, result: result,
                            extra: [
                                "source": .string("\(file) \(kind) #\(i)"),
                                "description": .string(testCase["description"]?.stringValue ?? ""),
                            ]))
                }
            }
        }
    }

    /// Whether the import gives what the specification expects (as ConformanceTests checks it).
    static func agrees(_ result: EvaluationResult, kind: String, expected: Value?, known: Bool) -> Bool {
        let disabled: Value = ["name": "disabled", "enabled": false, "feature_enabled": false]
        let enabled: Bool
        let variant: Value
        switch (known, result.value) {
        case (false, _), (_, nil):
            (enabled, variant) = (false, disabled)
        case (true, .bool(let on)?):
            (enabled, variant) = (on, ["name": "disabled", "enabled": false, "feature_enabled": .bool(on)])
        case (true, let value?):
            (enabled, variant) = (value["feature_enabled"] == .bool(true), value)
        }
        return kind == "tests" ? expected == .bool(enabled) : expected == variant
    }

    static func json(_ url: URL) throws -> Value {
        try JSONParser.parse(bytes: Array(try Data(contentsOf: url)))
    }
}

struct VectorError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Helpers for making contexts (`SplitMix64` is FlagEngine's seeded generator).
extension SplitMix64 {
    mutating func chance(_ p: Double) -> Bool { Double(next() >> 11) / Double(1 << 53) < p }
    mutating func pick<T>(_ items: [T]) -> T { items[Int(next() % UInt64(items.count))] }
}
