import FlagCompiler
import FlagEngine
import FlagModel
import GitSource
import Testing

/// A compilation patched from a cached one must equal a compilation from scratch.
@Suite("Incremental compilation through the cache")
struct IncrementalTests {
    func compileBoth(_ repo: GitRepository, _ ref: String, cache: ParseCache) throws -> (Compilation, Compilation) {
        let tree = try repo.tree(at: try repo.resolve(ref))
        let patched = Compiler(cache: cache).compile(tree, options: CompileOptions())
        let cold = Compiler().compile(tree, options: CompileOptions())
        return (patched, cold)
    }

    @Test func patchedAndColdCompilationsAgreeCommitAfterCommit() throws {
        let fixture = try GitFixture()
        var files = [
            "flagstaff.yaml": GitFixture.manifest,
            "shop/flags/p.yaml": "default: on\n",
            "shop/flags/c.yaml": "requires: [ { flag: p, variants: [on] } ]\ndefault: on\n",
            "shop/segments/x.yaml": "include: [u1]\n",
            "shop/segments/y.yaml": "include: [u2]\n",
        ]
        for i in 0..<20 { files["shop/flags/f\(i).yaml"] = "rules: [ { when: [ { segment: x } ], serve: on } ]\n" }
        try fixture.commit(files, message: "base")
        let repo = try GitRepository(path: fixture.path)
        let cache = ParseCache()
        var (patched, cold) = try compileBoth(repo, "main", cache: cache)
        #expect(patched.snapshots.map(\.version) == cold.snapshots.map(\.version))

        // One rule changes: only that flag is re-resolved, and the result is the same.
        try fixture.commit(["shop/flags/f3.yaml": "rules: [ { when: [ { segment: y } ], serve: on } ]\n"], message: "one")
        (patched, cold) = try compileBoth(repo, "main", cache: cache)
        #expect(patched.snapshots.map(\.version) == cold.snapshots.map(\.version))
        #expect(patched.snapshots[0].flag("f3")?.rules.first?.when == [.segment("y")])

        // p loses its "on" variant: c, unchanged, must now fail to resolve.
        try fixture.commit(["shop/flags/p.yaml": "variants: { yes: true, no: false }\noff_variant: no\ndefault: yes\n"], message: "variants")
        (patched, cold) = try compileBoth(repo, "main", cache: cache)
        #expect(patched.diagnostics == cold.diagnostics)
        #expect(patched.errors.contains { $0.code == .unknownVariant && $0.location.file == "shop/flags/c.yaml" })

        // Back to valid, then a segment cycle made by changing one segment.
        try fixture.commit(["shop/flags/p.yaml": "default: on\n", "shop/segments/x.yaml": "when: [ { segment: y } ]\n"], message: "fix")
        (patched, cold) = try compileBoth(repo, "main", cache: cache)
        #expect(!patched.hasErrors)
        #expect(patched.snapshots.map(\.version) == cold.snapshots.map(\.version))
        try fixture.commit(["shop/segments/y.yaml": "when: [ { segment: x } ]\n"], message: "cycle")
        (patched, cold) = try compileBoth(repo, "main", cache: cache)
        #expect(patched.diagnostics == cold.diagnostics)
        #expect(patched.errors.contains { $0.code == .segmentCycle })
        // An unrelated change must not make the cycle disappear.
        try fixture.commit(["shop/flags/f5.yaml": "default: on\n"], message: "unrelated")
        (patched, cold) = try compileBoth(repo, "main", cache: cache)
        #expect(patched.diagnostics == cold.diagnostics)
        #expect(patched.errors.contains { $0.code == .segmentCycle })
        #expect(patched.snapshots.isEmpty)

        // A warning in an unchanged file keeps being reported.
        try fixture.commit(["shop/segments/y.yaml": "include: [u2]\n", "shop/flags/w.yaml": "expires: 2020-01-01\n"], message: "warn")
        _ = try compileBoth(repo, "main", cache: cache)
        try fixture.commit(["shop/flags/f0.yaml": "default: on\n"], message: "other")
        let tree = try repo.tree(at: try repo.resolve("main"))
        let options = CompileOptions(now: Instant(seconds: 1_767_225_600))
        _ = Compiler(cache: cache).compile(tree, options: options)
        let again = Compiler(cache: cache).compile(tree, options: options)
        #expect(again.diagnostics.map(\.code) == [.expired])
        #expect(again.diagnostics == Compiler().compile(tree, options: options).diagnostics)
    }
}
