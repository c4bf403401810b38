import FlagCompiler
import FlagEngine
import Foundation
import Testing

/// Each folder under `Tests/Fixtures/diagnostics/` is a small flag repository with an
/// `expect` file: one line per diagnostic it must produce, `CODE path:line:column`.
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/diagnostics")

    static var names: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    struct Expectation: Hashable, CustomStringConvertible {
        var code: String
        var file: String
        var line: Int
        var column: Int
        var description: String { "\(code) \(file):\(line):\(column)" }
    }

    static func expectations(_ name: String) throws -> [Expectation] {
        let text = try String(contentsOf: root.appendingPathComponent(name).appendingPathComponent("expect"), encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ")
            guard parts.count == 2, !line.hasPrefix("#") else { return nil }
            let position = parts[1].split(separator: ":")
            guard position.count == 3, let l = Int(position[1]), let c = Int(position[2]) else { return nil }
            return Expectation(code: String(parts[0]), file: String(position[0]), line: l, column: c)
        }
    }
}

@Suite("Diagnostics: one fixture per code, at its expected position")
struct DiagnosticFixtureTests {
    /// Fixtures are compiled as of 2026-01-01, so a fixture's `expires: 2025-…` is in the past.
    static let now = Instant(seconds: 1_767_225_600)

    @Test(arguments: Fixtures.names)
    func fixtureProducesItsDiagnostics(name: String) throws {
        let expected = try Fixtures.expectations(name)
        #expect(!expected.isEmpty, "fixture \(name) expects nothing")
        let tree = DirectoryTree(root: Fixtures.root.appendingPathComponent(name).path)
        let compilation = Compiler().compile(tree, options: CompileOptions(now: Self.now))
        let got = Set(
            compilation.diagnostics.map {
                Fixtures.Expectation(
                    code: $0.code.rawValue, file: $0.location.file, line: $0.location.line, column: $0.location.column)
            })
        for e in expected {
            #expect(got.contains(e), "\(name): expected \(e), got \(compilation.diagnostics)")
        }
        if expected.contains(where: { $0.code.hasPrefix("E") }) {
            #expect(compilation.hasErrors)
            #expect(compilation.snapshots.isEmpty, "a repository with errors yields no snapshot")
        }
        for d in compilation.diagnostics {
            #expect(!d.message.isEmpty)
        }
    }

    @Test func everyCodeHasAFixture() throws {
        var covered = Set<String>()
        for name in Fixtures.names { covered.formUnion(try Fixtures.expectations(name).map(\.code)) }
        for code in DiagnosticCode.allCases {
            #expect(covered.contains(code.rawValue), "no fixture produces \(code.rawValue) (\(code))")
        }
    }

    @Test func everyCodeIsDocumented() throws {
        let docs = try String(
            contentsOf: Fixtures.root.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("docs/diagnostics.md"), encoding: .utf8)
        for code in DiagnosticCode.allCases {
            #expect(docs.contains("## \(code.rawValue)"), "docs/diagnostics.md lacks a section for \(code.rawValue)")
        }
    }
}
