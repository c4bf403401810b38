import Crypto
import FlagEngine
import FlagModel
import FlagServer
import Foundation
import Testing

@Suite("The events queue")
struct EventQueueTests {
    static func served(events: String, keep: String = "[plan, tags]", targetingKey: String = "hashed") throws -> ActiveSnapshot {
        let snapshots = try compileSnapshots([
            "flagstaff.yaml": demoManifest + "\nanalytics:\n  keep: \(keep)\n  targeting_key: \(targetingKey)\n",
            "shop/flags/checkout.yaml": "events: \(events)\ndefault: on\n",
            "shop/flags/quiet.yaml": "default: off\n",
        ])
        return ActiveSnapshot(snapshot: try #require(snapshots.first { $0.environment == "production" }), revision: 1)
    }

    static func hex(_ text: String) -> String {
        SHA256.hash(data: Array(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    @Test func onlyKeptScalarsAndAHashedKeyWaitAndAreWritten() throws {
        let active = try Self.served(events: "true")
        let queue = EventQueue(capacity: 10)
        let longKey = String(repeating: "k", count: 5_000)
        for key in ["user-1", longKey] {
            let context: [String: Value] = [
                "targetingKey": .string(key), "plan": .string("pro"), "email": .string("ana@example.com"),
                "tags": .array([.string("a")]),
            ]
            _ = FlagServer.answer(active, key: "checkout", context: context, events: queue)
            _ = FlagServer.answer(active, key: "quiet", context: context, events: queue)
        }
        let (evaluations, tracking) = queue.take()
        #expect(tracking.isEmpty)
        #expect(evaluations.map(\.flag) == ["checkout", "checkout"], "only the flag with events records")
        #expect(evaluations.map(\.targetingKey) == [Self.hex("user-1"), Self.hex(longKey)], "hashed once, however long")
        #expect(evaluations.allSatisfy { $0.context == #"{"plan":"pro"}"# }, "no email, and no list")
        #expect(evaluations.allSatisfy { $0.variant == "on" && $0.reason == "STATIC" && $0.version == active.version }, "\(evaluations)")
    }

    @Test func aPlainPolicyKeepsTheKeyAsGiven() throws {
        let active = try Self.served(events: "true", keep: "[]", targetingKey: "plain")
        let queue = EventQueue(capacity: 10)
        _ = FlagServer.bulkBody(active, context: ["targetingKey": .int(42), "plan": .string("pro")], events: queue)
        let (evaluations, _) = queue.take()
        #expect(evaluations.map(\.targetingKey) == ["42"])
        #expect(evaluations.map(\.context) == [nil])
    }

    @Test func aFullQueueDropsAndCountsInsteadOfWaiting() throws {
        let active = try Self.served(events: "true")
        let queue = EventQueue(capacity: 3)
        for _ in 0..<10 { _ = FlagServer.answer(active, key: "checkout", context: [:], events: queue) }
        #expect(queue.depth == 3)
        #expect(queue.dropped == 7)
        #expect(queue.take().evaluations.count == 3)
        #expect(queue.depth == 0)
    }

    @Test func aSampleRateRecordsThatShareOfEvaluations() throws {
        let active = try Self.served(events: "0.25")
        let queue = EventQueue(capacity: 100_000)
        for _ in 0..<40_000 { _ = FlagServer.answer(active, key: "checkout", context: [:], events: queue) }
        // 10,000 expected; the standard deviation is sqrt(40,000 × 0.25 × 0.75) ≈ 87.
        #expect((9_500...10_500).contains(queue.depth), "\(queue.depth)")
    }
}
