import Benchmark
import BenchmarkFixtures
import FlagCompiler
import FlagEngine
import FlagModel
import Foundation
import GitSource

let now = Instant(seconds: 1_767_225_600)

func compileOrDie(_ tree: any FlagTree) -> Compilation {
    let compilation = Compiler().compile(tree, options: CompileOptions(now: now, runTests: false))
    if compilation.hasErrors { fatalError("benchmark repository does not compile: \(compilation.errors.prefix(5))") }
    return compilation
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .instructions, .throughput], timeUnits: .nanoseconds,
        maxDuration: .seconds(3))

    // MARK: One evaluation

    let single = compileOrDie(
        MemoryTree([
            "flagstaff.yaml": Generator.manifest,
            "shop/flags/checkout.yaml": targetFlag,
        ]))
    let singleEvaluator = Evaluator(snapshot: single.snapshots[0])
    let preparedContext = singleEvaluator.prepare(targetContext, now: now)
    precondition(singleEvaluator.evaluate("checkout", context: preparedContext).reason == .split)

    Benchmark("Evaluate one flag (3 rules, 5 conditions, split)", configuration: .init(scalingFactor: .kilo)) {
        benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(singleEvaluator.evaluate("checkout", context: preparedContext))
        }
    }

    Benchmark("Prepare a context (6 attributes)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(singleEvaluator.prepare(targetContext, now: now))
        }
    }

    // MARK: Rollouts that change with time

    // The same rule three ways, each at 50 % at `now` (2026-01-01T00:00:00Z) and bucketing in
    // one group, so all three hash and answer alike: the difference is computing the
    // percentage from the evaluation time.
    let rollouts = compileOrDie(
        MemoryTree([
            "flagstaff.yaml": Generator.manifest,
            "shop/flags/fixed.yaml": "rules:\n  - { when: [ { attribute: plan, op: in, values: [pro] } ], rollout: { percentage: 50, group: bench }, serve: on }",
            "shop/flags/ramping.yaml": """
                rules:
                  - when: [ { attribute: plan, op: in, values: [pro] } ]
                    rollout: { ramp: { from: 0, to: 100, start: 2025-12-27T00:00:00Z, end: 2026-01-06T00:00:00Z }, group: bench }
                    serve: on
                """,
            "shop/flags/stepped.yaml": """
                rules:
                  - when: [ { attribute: plan, op: in, values: [pro] } ]
                    rollout:
                      percentage: 10
                      steps:
                        - { at: 2025-12-31T00:00:00Z, percentage: 50 }
                        - { at: 2026-01-02T00:00:00Z, percentage: 100 }
                      group: bench
                    serve: on
                """,
        ]))
    let rolloutEvaluator = Evaluator(snapshot: rollouts.snapshots[0])
    let rolloutContext = rolloutEvaluator.prepare(targetContext, now: now)
    let rolloutAnswers = ["fixed", "ramping", "stepped"].map {
        rolloutEvaluator.evaluate($0, context: rolloutContext).variant
    }
    precondition(Set(rolloutAnswers).count == 1, "the three rollouts must agree at 50 %: \(rolloutAnswers)")
    for (name, key) in [
        ("Rollout: fixed 50 %", "fixed"), ("Rollout: ramping, at 50 %", "ramping"), ("Rollout: 2 steps, at 50 %", "stepped"),
    ] {
        Benchmark(name, configuration: .init(scalingFactor: .kilo)) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(rolloutEvaluator.evaluate(key, context: rolloutContext))
            }
        }
    }

    // MARK: Evaluate all

    let thousand = compileOrDie(MemoryTree(Generator.repository(flags: 1_000, segments: 100)))
    let thousandEvaluator = Evaluator(snapshot: thousand.snapshots[0])
    let thousandContext = thousandEvaluator.prepare(targetContext, now: now)

    Benchmark(
        "Evaluate all 1,000 flags for one context",
        configuration: .init(metrics: [.wallClock, .mallocCountTotal, .throughput], timeUnits: .microseconds)
    ) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(thousandEvaluator.evaluateAll(context: thousandContext))
        }
    }

    // MARK: Compile from disk

    Benchmark(
        "Compile 10,000 flags and 1,000 segments from disk",
        configuration: .init(
            metrics: [.wallClock, .peakMemoryResident, .mallocCountTotal], timeUnits: .milliseconds,
            maxDuration: .seconds(60), maxIterations: 5)
    ) { benchmark, root in
        benchmark.startMeasurement()
        let compilation = compileOrDie(DirectoryTree(root: root))
        benchmark.stopMeasurement()
        precondition(compilation.snapshots[0].flags.count == 10_000)
        blackHole(compilation)
    } setup: {
        try Generator.write(Generator.repository(flags: 10_000, segments: 1_000))
    }

    // MARK: Recompile a commit that changes one file

    Benchmark(
        "Recompile 10,000 flags after a one-file commit (Git, warm cache)",
        configuration: .init(
            metrics: [.wallClock, .peakMemoryResident], timeUnits: .milliseconds, maxDuration: .seconds(30),
            maxIterations: 20)
    ) { (benchmark: Benchmark, fixture: (GitRepository, ParseCache, ObjectID)) in
        let (repository, cache, base) = fixture
        var parent = base
        for iteration in benchmark.scaledIterations {
            // A new commit with one flag's rollout moved: outside the measurement.
            let blob = try! repository.writeBlob(
                Array(Generator.flag(7, segments: 1_000, rollout: iteration % 101).utf8))
            let commit = try! repository.commit(
                onto: parent, changes: [.init(path: "shop/flags/flag-7.yaml", blob: blob)], message: "move one rollout",
                author: Signature(name: "bench", email: "bench@localhost", time: 0))
            parent = commit
            benchmark.startMeasurement()
            let compilation = Compiler(cache: cache).compile(
                try! repository.tree(at: commit), options: CompileOptions(now: now, runTests: false))
            benchmark.stopMeasurement()
            precondition(!compilation.hasErrors)
            cache.trim()
            blackHole(compilation)
        }
    } setup: { () throws -> (GitRepository, ParseCache, ObjectID) in
        let root = try Generator.write(Generator.repository(flags: 10_000, segments: 1_000))
        try Generator.git(["init", "-q", "-b", "main"], in: root)
        try Generator.git(["add", "-A"], in: root)
        try Generator.git(["-c", "user.name=bench", "-c", "user.email=b@b", "commit", "-q", "-m", "generated"], in: root)
        let repository = try GitRepository(path: root)
        let base = try repository.resolve("main")
        let cache = ParseCache()
        _ = Compiler(cache: cache).compile(try repository.tree(at: base), options: CompileOptions(now: now, runTests: false))
        return (repository, cache, base)
    }
}

/// Generated flag repositories of any size, shaped like real ones: rules on a handful of
/// attributes, segments, a split or a rollout in every few flags.
enum Generator {
    static let manifest = """
        version: 1
        organization: bench
        projects: { shop: {} }
        environments:
          production: { branch: main, production: true }
          staging: { branch: staging }
        """

    static func repository(flags: Int, segments: Int) -> [String: String] {
        var files = ["flagstaff.yaml": manifest]
        for s in 0..<segments {
            files["shop/segments/segment-\(s).yaml"] = """
                name: Segment \(s)
                include: [user-\(s), user-\(s + 1)]
                exclude: [user-\(s + 2)]
                when:
                  - { attribute: country, op: in, values: [C\(s % 50), C\(s % 7)] }
                  - { attribute: age, op: num_gte, value: \(s % 60) }
                """
        }
        for f in 0..<flags {
            files["shop/flags/flag-\(f).yaml"] = flag(f, segments: segments, rollout: f % 101)
        }
        return files
    }

    static func flag(_ f: Int, segments: Int, rollout: Int) -> String {
        let segment = segments > 0 ? f % segments : 0
        let serve = f % 3 == 0 ? "serve: { split: { off: 50, on: 50 } }" : "serve: on"
        return """
            name: Flag \(f)
            description: Generated flag number \(f)
            owner: team-\(f % 17)
            tags: [generated, batch-\(f % 10)]
            rules:
              - name: staff
                when: [ { attribute: email, op: ends_with, values: ["@team\(f % 13).example"] } ]
                serve: on
              \(segments > 0 ? "- name: segment\n    when: [ { segment: segment-\(segment) } ]\n    serve: on" : "")
              - name: plans
                when: [ { attribute: plan, op: in, values: [p\(f % 5), p\(f % 11)] } ]
                rollout: \(rollout)
                \(serve)
            default: off
            environments:
              staging: { default: on }
            tests:
              - { context: { targetingKey: nobody }, environment: staging, expect: on }
            """
    }

    static func git(_ arguments: [String], in directory: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git"] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        try process.run()
        process.waitUntilExit()
    }

    /// Writes files under a new temporary folder and returns its path.
    static func write(_ files: [String: String]) throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("flagstaff-bench-\(UUID().uuidString)")
        for (path, text) in files {
            let url = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }
        return root.path
    }
}
