import FlagCompiler
import FlagModel
import Foundation
import Testing

/// The JSON Schemas in `schemas/` and the compiler must agree: everything the repository
/// ships validates, and the invalid repositories are rejected by both.
@Suite("JSON Schemas agree with the compiler", .serialized)
struct SchemaTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let invalidRoot = packageRoot.appendingPathComponent("schemas/tests/invalid")

    static var invalidRepositories: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: invalidRoot.path)) ?? [])
            .filter { !$0.hasPrefix(".") && !$0.hasSuffix(".md") }.sorted()
    }

    /// Runs `scripts/check_schemas.py` (Python's jsonschema and ruamel.yaml, installed by
    /// scripts/install.sh).
    static func checkSchemas(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "scripts/check_schemas.py"] + arguments
        process.currentDirectoryURL = packageRoot
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func everyShippedRepositoryValidatesAgainstTheSchemas() throws {
        let (status, output) = try Self.checkSchemas([])
        #expect(status == 0, "\(output)")
        #expect(output.contains(" passed, 0 failed"), "\(output)")
    }

    @Test func compiledSnapshotsValidateAgainstTheSnapshotSchema() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("flagstaff-snapshots-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        var files: [String] = []
        for root in ["flags", "examples/minimal", "examples/typed-context", "examples/schedules"] {
            let compilation = Compiler().compile(
                DirectoryTree(root: Self.packageRoot.appendingPathComponent(root).path),
                options: CompileOptions(commit: "0123456789abcdef0123456789abcdef01234567"))
            #expect(!compilation.hasErrors, "\(root): \(compilation.errors)")
            for snapshot in compilation.snapshots {
                let file = out.appendingPathComponent(
                    "\(root.replacingAll("/", "-"))-\(snapshot.project)-\(snapshot.environment).json")
                try Data(CanonicalJSON.encode(snapshot.json).utf8).write(to: file)
                files.append(file.path)
            }
        }
        #expect(files.count >= 8)
        let (status, output) = try Self.checkSchemas(["--snapshot"] + files)
        #expect(status == 0, "\(output)")
    }

    @Test func snapshotsWithEventsAndAPolicyValidateAgainstTheSnapshotSchema() throws {
        let files = [
            "flagstaff.yaml": """
            version: 1
            organization: acme
            projects: { shop: {} }
            environments:
              production: { branch: main, production: true }
              staging: { branch: staging }
            analytics: { keep: [plan, country], targeting_key: plain }
            """,
            "shop/flags/sampled.yaml": "events: 0.25\nenvironments:\n  staging: { events: true }\n",
            "shop/flags/quiet.yaml": "events: false\n",
        ]
        let compilation = Compiler().compile(MemoryTree(files), options: CompileOptions())
        #expect(!compilation.hasErrors, "\(compilation.errors)")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("flagstaff-events-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        var paths: [String] = []
        for snapshot in compilation.snapshots {
            let file = out.appendingPathComponent("\(snapshot.environment).json")
            try Data(CanonicalJSON.encode(snapshot.json).utf8).write(to: file)
            paths.append(file.path)
        }
        #expect(paths.count == 2)
        let (status, output) = try Self.checkSchemas(["--snapshot"] + paths)
        #expect(status == 0, "\(output)")
    }

    @Test(arguments: invalidRepositories)
    func compilerRejectsEachInvalidRepository(name: String) throws {
        let folder = Self.invalidRoot.appendingPathComponent(name)
        let expected = try String(contentsOf: folder.appendingPathComponent("compiler-code"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let compilation = Compiler().compile(DirectoryTree(root: folder.path), options: CompileOptions())
        #expect(compilation.errors.contains { $0.code.rawValue == expected }, "\(name): \(compilation.diagnostics)")
    }

    @Test func schemasRejectEachInvalidRepository() throws {
        let folders = Self.invalidRepositories.map { Self.invalidRoot.appendingPathComponent($0).path }
        #expect(folders.count >= 30)
        let (status, output) = try Self.checkSchemas(["--expect-invalid"] + folders)
        #expect(status == 0, "\(output)")
        #expect(output.contains("\(folders.count) passed, 0 failed"), "\(output)")
    }
}

extension String {
    fileprivate func replacingAll(_ target: String, _ replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
