// A plain loop over the benchmarked operations, for `perf record` (the benchmark harness
// runs its own protocol and is awkward to profile).
import BenchmarkFixtures
import FlagCompiler
import FlagEngine
import FlagModel
import Foundation
import GitSource

let mode = CommandLine.arguments.dropFirst().first ?? "eval"
let now = Instant(seconds: 1_767_225_600)
if mode == "eval" {
    let c = Compiler().compile(
        MemoryTree(["flagstaff.yaml": oneEnvironmentManifest, "shop/flags/checkout.yaml": targetFlag]), options: CompileOptions())
    let e = Evaluator(snapshot: c.snapshots[0])
    let ctx = e.prepare(
        ["targetingKey": "user-42", "email": "kim@example.com", "plan": "pro", "country": "FR",
         "app_version": "1.9.3", "age": 30], now: now)
    var n = 0
    let start = Date()
    for _ in 0..<5_000_000 { if e.evaluate("checkout", context: ctx).variant == "on" { n += 1 } }
    print(n, Date().timeIntervalSince(start) / 5_000_000 * 1e9, "ns")
} else if mode == "recompile" {
    // A Git repository (from the benchmark's setup) recompiled after one-file commits.
    let repository = try! GitRepository(path: CommandLine.arguments[2])
    let cache = ParseCache()
    var parent = try! repository.resolve("main")
    _ = Compiler(cache: cache).compile(try! repository.tree(at: parent), options: CompileOptions(now: now, runTests: false))
    let original = String(decoding: try! repository.tree(at: parent).read("shop/flags/flag-7.yaml"), as: UTF8.self)
    var total = 0.0
    for i in 0..<20 {
        let text = original.replacingOccurrences(of: "rollout: 7", with: "rollout: \(i)")
        let blob = try! repository.writeBlob(Array(text.utf8))
        parent = try! repository.commit(
            onto: parent, changes: [.init(path: "shop/flags/flag-7.yaml", blob: blob)], message: "m",
            author: Signature(name: "b", email: "b@b", time: 0))
        let start = Date()
        let c = Compiler(cache: cache).compile(try! repository.tree(at: parent), options: CompileOptions(now: now, runTests: false))
        total += Date().timeIntervalSince(start)
        precondition(!c.hasErrors)
        cache.trim()
    }
    print(total / 20 * 1000, "ms per recompile")
} else {
    let root = CommandLine.arguments[2]
    let start = Date()
    let c = Compiler().compile(DirectoryTree(root: root), options: CompileOptions(now: now, runTests: false))
    print(c.snapshots.count, c.errors.count, Date().timeIntervalSince(start), "s")
}
