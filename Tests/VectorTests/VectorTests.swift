import FlagEngine
import FlagModel
import Foundation
import Testing

/// The shared vectors (`Tests/Vectors/`) and the engine agree. With
/// `FLAGSTAFF_WRITE_VECTORS=1` the generator writes them instead of checking them.
struct VectorTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let folder = repositoryRoot.appendingPathComponent("Tests/Vectors")
    static var writing: Bool { ProcessInfo.processInfo.environment["FLAGSTAFF_WRITE_VECTORS"] == "1" }

    /// The files in the folder (snapshot ids without `.json`, JSON Lines as lines).
    static func committed() throws -> VectorGenerator.Files {
        var files = VectorGenerator.Files()
        let snapshots = folder.appendingPathComponent("snapshots")
        for name in try FileManager.default.contentsOfDirectory(atPath: snapshots.path) where name.hasSuffix(".json") {
            files.snapshots[String(name.dropLast(5))] = try String(
                contentsOf: snapshots.appendingPathComponent(name), encoding: .utf8)
        }
        files.cases = try lines("cases.jsonl")
        files.all = try lines("all.jsonl")
        files.unleash = try lines("unleash.jsonl")
        return files
    }

    static func lines(_ name: String) throws -> [String] {
        try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
            .split(separator: "\n").map(String.init)
    }

    static func write(_ files: VectorGenerator.Files) throws {
        let snapshots = folder.appendingPathComponent("snapshots")
        try? FileManager.default.removeItem(at: snapshots)
        try FileManager.default.createDirectory(at: snapshots, withIntermediateDirectories: true)
        for (id, json) in files.snapshots {
            try Data(json.utf8).write(to: snapshots.appendingPathComponent("\(id).json"))
        }
        for (name, lines) in [("cases.jsonl", files.cases), ("all.jsonl", files.all), ("unleash.jsonl", files.unleash)] {
            try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: folder.appendingPathComponent(name))
        }
    }

    /// Regenerating gives the committed files byte for byte: the compiler, the engine, the
    /// flag repositories and the generator have not moved since they were written.
    @Test func theCommittedVectorsAreWhatTheGeneratorMakes() throws {
        let generator = VectorGenerator(repositoryRoot: Self.repositoryRoot)
        let haveSpecification = FileManager.default.fileExists(
            atPath: generator.conformanceFolder.appendingPathComponent("index.json").path)
        let generated = try generator.generate(includeUnleash: haveSpecification || Self.writing)
        if Self.writing {
            try Self.write(generated)
            print("Vectors: wrote \(generated.snapshots.count) snapshots, \(generated.cases.count) cases, "
                + "\(generated.all.count) all-flags cases, \(generated.unleash.count) Unleash cases to \(Self.folder.path)")
            return
        }
        var committed = try Self.committed()
        if !haveSpecification {
            print("Vectors: no Unleash specification at \(generator.conformanceFolder.path); its cases are checked below only")
            committed.unleash = []
            committed.snapshots = committed.snapshots.filter { !$0.key.hasPrefix("unleash-") }
        }
        #expect(Set(generated.snapshots.keys) == Set(committed.snapshots.keys))
        for (id, json) in generated.snapshots.sorted(by: { $0.key < $1.key }) where committed.snapshots[id] != json {
            Issue.record("snapshots/\(id).json differs from what the compiler makes now; regenerate (Tests/Vectors/README.md)")
        }
        for (name, made, stored) in [
            ("cases.jsonl", generated.cases, committed.cases), ("all.jsonl", generated.all, committed.all),
            ("unleash.jsonl", generated.unleash, committed.unleash),
        ] {
            #expect(made.count == stored.count, "\(name): \(made.count) generated, \(stored.count) committed")
            if let i = made.indices.first(where: { $0 < stored.count && made[$0] != stored[$0] }) {
                Issue.record("\(name) line \(i + 1) differs:\n  committed: \(stored[i])\n  generated: \(made[i])")
            }
        }
        #expect(generated.cases.count >= 5_000)
    }

    /// Every committed case, evaluated by the engine on the committed snapshot, gives the
    /// committed answer (independently of the generator).
    @Test func theEngineGivesEveryCommittedAnswer() throws {
        // While the other test rewrites the files, they are not the committed ones.
        guard !Self.writing else { return }
        let files = try Self.committed()
        var evaluators: [String: Evaluator] = [:]
        for (id, json) in files.snapshots {
            evaluators[id] = Evaluator(snapshot: try Snapshot(json: try JSONParser.parse(json)))
        }
        // The wall clock on purpose: every context sets currentTime, so the time of the run must not matter.
        let now = Instant(seconds: Int64(Date().timeIntervalSince1970))
        var checked = 0
        for line in files.cases + files.unleash {
            let vector = try JSONParser.parse(line)
            let evaluator = try #require(evaluators[vector["snapshot"]?.stringValue ?? ""], "\(line)")
            let context = vector["context"]?.objectValue ?? [:]
            let result = evaluator.evaluate(vector["flag"]?.stringValue ?? "", context: evaluator.prepare(context, now: now))
            let got = CanonicalJSON.encode(result.ofrepJSON)
            #expect(got == vector["expected"]?.stringValue, "\(line)")
            for field in ["reason", "variant", "value", "errorCode"] {
                #expect(result.ofrepJSON[field] == vector[field], "\(field) of \(line)")
            }
            checked += 1
        }
        for line in files.all {
            let vector = try JSONParser.parse(line)
            let evaluator = try #require(evaluators[vector["snapshot"]?.stringValue ?? ""])
            let results = evaluator.evaluateAll(context: evaluator.prepare(vector["context"]?.objectValue ?? [:], now: now))
            let got = CanonicalJSON.encode(.object(["flags": .array(results.map(\.ofrepJSON))]))
            #expect(got == vector["expected"]?.stringValue, "\(line)")
            checked += 1
        }
        #expect(checked > 5_000)
    }
}
