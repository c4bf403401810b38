import FlagCompiler
import FlagEngine
import FlagModel
import Foundation
import Testing

@testable import FlagstaffSDK

/// The package root, from this file's path.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The demo's storefront/production snapshot, compiled and written where `flagstaff compile --out` would.
func compiledDemoSnapshot() throws -> (path: String, snapshot: Snapshot) {
    let compilation = Compiler().compile(
        DirectoryTree(root: packageRoot.appendingPathComponent("flags").path),
        options: CompileOptions(now: Instant(seconds: 1_767_225_600), runTests: false))
    let snapshot = try #require(compilation.snapshot(project: "storefront", environment: "production"))
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("snapshot-\(UUID().uuidString).json")
    try Data(CanonicalJSON.encode(snapshot.json).utf8).write(to: file)
    return (file.path, snapshot)
}

/// Runs `client` until `body` returns.
func running<T>(_ client: FlagstaffClient, _ body: () async throws -> T) async throws -> T {
    let task = Task { try await client.run() }
    defer { task.cancel() }
    return try await body()
}

/// Waits for `client` to reach a state that `accept` likes, for up to `seconds`.
func state(of client: FlagstaffClient, within seconds: Double = 10, _ accept: (ClientState) -> Bool) async throws
    -> ClientState
{
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if accept(client.state) { return client.state }
        try await Task.sleep(for: .milliseconds(20))
    }
    return client.state
}

@Suite("The Swift SDK, offline and in memory (SPEC §16)")
struct OfflineClientTests {
    @Test func anOfflineClientServesACompiledSnapshotWithTheEngineAnswers() async throws {
        let (path, snapshot) = try compiledDemoSnapshot()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let client = FlagstaffClient(configuration: .offline(path))
        let early = client.bool("new-checkout", default: true)
        #expect(early.errorCode == .providerNotReady)
        #expect(early.value == true)
        try await running(client) {
            let reached = try await state(of: client) { $0 == .ready }
            #expect(reached == .ready)
            let evaluator = Evaluator(snapshot: snapshot)
            let now = FlagstaffClient.now()
            // Every flag, for a few contexts, as the engine answers.
            for user in ["user-1", "user-2", "user-3", "kim"] {
                let attributes: [String: Value] = ["targetingKey": .string(user), "email": "kim@acme.com", "plan": "pro"]
                let context = client.context(attributes)
                let expected = evaluator.evaluateAll(context: evaluator.prepare(attributes, now: now))
                #expect(client.evaluateAll(context: context) == expected)
            }
            // The typed getter says what the engine says.
            let staffContext: [String: Value] = ["targetingKey": "u", "email": "ana@ACME.com"]
            let staff = client.bool("new-checkout", default: true, context: staffContext)
            let engine = evaluator.evaluate("new-checkout", context: evaluator.prepare(staffContext, now: now))
            #expect(staff.value == (engine.value == .bool(true)))
            #expect(staff.variant == engine.variant)
            #expect(staff.reason == engine.reason)
            #expect(staff.ruleName == engine.ruleName)
            #expect(staff.version == snapshot.version)
            let page = client.number("search-results-per-page", default: 1, context: ["targetingKey": "u"])
            #expect(page.errorCode == nil)
            #expect([10, 25, 50].contains(page.value))
        }
    }

    @Test func wrongTypesAndUnknownFlagsAnswerTheDefaultWithTheirCode() async throws {
        let (path, _) = try compiledDemoSnapshot()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let client = FlagstaffClient(configuration: .offline(path))
        try await running(client) {
            _ = try await state(of: client) { $0 == .ready }
            let mismatch = client.string("new-checkout", default: "fallback")
            #expect(mismatch.value == "fallback")
            #expect(mismatch.errorCode == .typeMismatch)
            let missing = client.bool("no-such-flag", default: true)
            #expect(missing.value == true)
            #expect(missing.errorCode == .flagNotFound)
        }
    }

    @Test func aPreparedContextIsReusedAcrossFlagsAndEvaluationsAreCounted() async throws {
        let (path, _) = try compiledDemoSnapshot()
        defer { try? FileManager.default.removeItem(atPath: path) }
        var configuration = FlagstaffConfiguration.offline(path)
        configuration.reporting = true
        let client = FlagstaffClient(configuration: configuration)
        try await running(client) {
            _ = try await state(of: client) { $0 == .ready }
            let context = client.context(["targetingKey": "user-7"])
            for _ in 0..<5 { _ = client.bool("new-checkout", default: false, context: context) }
            for _ in 0..<3 { _ = client.string("checkout-button-color", default: "", context: context) }
            let counts = try #require(client.loaded).drain()
            #expect(counts.filter { $0.flag == "new-checkout" }.map(\.count).reduce(0, +) == 5)
            #expect(counts.filter { $0.flag == "checkout-button-color" }.map(\.count).reduce(0, +) == 3)
            #expect(try #require(client.loaded).drain().isEmpty, "drained once")
        }
    }

    @Test func trackingEventsAreQueuedUpToTheBoundThenDroppedAndCounted() {
        var configuration = FlagstaffConfiguration(url: "http://127.0.0.1:9")
        configuration.maxQueuedEvents = 3
        let client = FlagstaffClient(configuration: configuration)
        for i in 0..<5 { client.track("purchase", context: ["targetingKey": .string("u\(i)")], value: 9.5) }
        #expect(client.reporter.queuedEvents == 3)
        #expect(client.reporter.dropped == 2)
    }

    @Test func aSnapshotFileThatIsNotASnapshotIsAClearError() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString).json")
        try Data("{\"flags\": 3}".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let client = FlagstaffClient(configuration: .offline(file.path))
        await #expect(throws: FlagstaffSDKError.self) { try await client.run() }
    }
}
