import FlagModel
import Foundation
import Testing
import UnleashImport

/// The command-line path agrees with the library: `flagstaff import unleash` writes a
/// repository, and `flagstaff eval` on it answers a sample of the client specification's
/// cases as Unleash does.
@Suite("flagstaff import unleash, then eval", .serialized)
struct ImportCommandTests {
    static let specification = CLI.packageRoot.deletingLastPathComponent().appendingPathComponent("shared/conformance/unleash")

    @Test func aSampleOfTheSpecificationThroughTheCommandLine() throws {
        guard FileManager.default.fileExists(atPath: Self.specification.path) else {
            print("skipped: \(Self.specification.path) does not exist")
            return
        }
        var checked = 0
        for name in ["03-gradual-rollout-user-id-strategy.json", "08-variants.json", "13-constraint-operators.json", "17-dependent-features.json"] {
            let file = Self.specification.appendingPathComponent(name)
            let spec = try JSONParser.parse(String(contentsOf: file, encoding: .utf8))
            let out = try CLI.temporaryDirectory().appendingPathComponent("imported")
            let imported = try CLI.run(["import", "unleash", file.path, "--out", out.path])
            #expect(imported.status == 0, "\(name): \(imported.stderr)")
            #expect(try CLI.run(["validate", "--repo", out.path]).status == 0, "\(name) validates")
            #expect(try Self.schemaCheck(out) == 0, "\(name): the imported files fit the JSON Schemas")
            let keyMap = try UnleashImport.run(try #require(spec["state"])).keyMap

            let cases = (spec["tests"]?.arrayValue ?? []).map { ($0, false) } + (spec["variantTests"]?.arrayValue ?? []).map { ($0, true) }
            for (index, (testCase, isVariant)) in cases.enumerated() where index % 3 == 0 {
                let toggle = try #require(testCase["toggleName"]?.stringValue)
                let context = UnleashImport.nativeContext(testCase["context"]?.objectValue ?? [:])
                let expected = try #require(testCase["expectedResult"])
                guard let key = keyMap[toggle] else {
                    #expect(expected == .bool(false) || expected["enabled"] == .bool(false), "\(name): \(toggle) is unknown")
                    continue
                }
                let result = try CLI.run([
                    "eval", "--repo", out.path, "--flag", key, "--context", CanonicalJSON.encode(.object(context)),
                ])
                let value = try JSONParser.parse(result.stdout)["value"]
                if isVariant {
                    if case .bool(let on)? = value {
                        #expect(expected["enabled"] == .bool(false) && expected["feature_enabled"] == .bool(on), "\(name) \(toggle)")
                    } else {
                        #expect(value == expected, "\(name) #\(index) \(toggle): \(String(describing: value)) vs \(expected)")
                    }
                } else {
                    let enabled = value?.boolValue ?? value?["feature_enabled"]?.boolValue
                    #expect(enabled == expected.boolValue, "\(name) #\(index) \(toggle)")
                }
                checked += 1
            }
        }
        #expect(checked >= 30, "\(checked) cases checked through the command line")
    }

    /// `scripts/check_schemas.py` on a folder (the imported files carry no schema modeline).
    static func schemaCheck(_ folder: URL) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "scripts/check_schemas.py", "--no-modeline", folder.path]
        process.currentDirectoryURL = CLI.packageRoot
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    @Test func badInputFailsClearlyAndWritesNothing() throws {
        let dir = try CLI.temporaryDirectory()
        let bad = dir.appendingPathComponent("bad.json")
        try Data("{ not json".utf8).write(to: bad)
        let out = dir.appendingPathComponent("out")
        let result = try CLI.run(["import", "unleash", bad.path, "--out", out.path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("not valid JSON"))
        #expect(!FileManager.default.fileExists(atPath: out.path))
        #expect(try CLI.run(["import", "unleash", "/nonexistent.json", "--out", out.path]).status == 2)
    }
}
