import Benchmark
import BenchmarkFixtures
import FlagCompiler
import FlagEngine
import FlagModel
import FlagstaffSDK
import Foundation

/// The Swift SDK's getter against the engine it wraps, on the demo's `new-checkout`
/// (a prerequisite, four rules, a split), for one prepared context.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .instructions, .throughput], timeUnits: .nanoseconds,
        maxDuration: .seconds(3))

    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("flags").path
    let compilation = Compiler().compile(DirectoryTree(root: root), options: CompileOptions(runTests: false))
    guard let snapshot = compilation.snapshot(project: "storefront", environment: "production") else {
        fatalError("the demo repository does not compile: \(compilation.errors.prefix(3))")
    }
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("sdk-bench-\(getpid()).json")
    try! Data(CanonicalJSON.encode(snapshot.json).utf8).write(to: file)

    let attributes: [String: Value] = [
        "targetingKey": "user-42", "email": "kim@example.com", "plan": "pro", "country": "NL",
    ]

    // An online client (counting what it evaluates), loaded from a cache file while its
    // service is unreachable: the evaluation path an application takes.
    var configuration = FlagstaffConfiguration(url: "http://127.0.0.1:9")
    configuration.cacheFile = file.path
    configuration.maxReconnectDelay = .seconds(3600)
    let client = FlagstaffClient(configuration: configuration)
    let running = Task { try await client.run() }
    while client.version == nil { usleep(1_000) }
    _ = running
    let context = client.context(attributes)

    let evaluator = Evaluator(snapshot: snapshot)
    let prepared = evaluator.prepare(attributes, now: Instant(seconds: Int64(Date().timeIntervalSince1970)))
    precondition(
        client.bool("new-checkout", default: false, context: context).variant
            == evaluator.evaluate("new-checkout", context: prepared).variant)

    Benchmark("SDK: bool(new-checkout) with a prepared context, counted", configuration: .init(scalingFactor: .kilo)) {
        benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(client.bool("new-checkout", default: false, context: context))
        }
    }

    Benchmark("Engine: evaluate(new-checkout) with a prepared context", configuration: .init(scalingFactor: .kilo)) {
        benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(evaluator.evaluate("new-checkout", context: prepared))
        }
    }

    // The engine's own target flag (3 rules, 5 conditions, a split; Benchmarks/README.md),
    // through the SDK, beside the engine: the SDK's cost on the figure the engine is held to.
    let targetFile = FileManager.default.temporaryDirectory.appendingPathComponent("sdk-bench-target-\(getpid()).json")
    let target = Compiler().compile(
        MemoryTree([
            "flagstaff.yaml": oneEnvironmentManifest,
            "shop/flags/checkout.yaml": targetFlag,
        ]), options: CompileOptions(runTests: false))
    guard let targetSnapshot = target.snapshots.first else { fatalError("\(target.errors)") }
    try! Data(CanonicalJSON.encode(targetSnapshot.json).utf8).write(to: targetFile)
    var targetConfiguration = FlagstaffConfiguration(url: "http://127.0.0.1:9")
    targetConfiguration.cacheFile = targetFile.path
    targetConfiguration.maxReconnectDelay = .seconds(3600)
    let targetClient = FlagstaffClient(configuration: targetConfiguration)
    let targetRunning = Task { try await targetClient.run() }
    while targetClient.version == nil { usleep(1_000) }
    _ = targetRunning
    let targetClientContext = targetClient.context(targetContext)
    let targetEvaluator = Evaluator(snapshot: targetSnapshot)
    let targetPrepared = targetEvaluator.prepare(targetContext, now: Instant(seconds: Int64(Date().timeIntervalSince1970)))
    precondition(targetClient.bool("checkout", default: false, context: targetClientContext).reason == .split)

    Benchmark("SDK: bool(checkout), the engine's target flag, counted", configuration: .init(scalingFactor: .kilo)) {
        benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(targetClient.bool("checkout", default: false, context: targetClientContext))
        }
    }

    Benchmark("Engine: evaluate(checkout), the engine's target flag", configuration: .init(scalingFactor: .kilo)) {
        benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(targetEvaluator.evaluate("checkout", context: targetPrepared))
        }
    }
}
