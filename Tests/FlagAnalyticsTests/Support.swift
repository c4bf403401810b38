import FlagModel
import FlagStore
import Foundation
import Testing

/// A database of its own on the PostgreSQL that scripts/test.sh starts, migrated.
enum TestDatabase {
    static var adminURL: String? { ProcessInfo.processInfo.environment["FLAGSTAFF_TEST_POSTGRES_URL"] }

    static func migrated() throws -> PostgresConnection {
        guard let adminURL else {
            Issue.record("FLAGSTAFF_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh")
            throw StoreError("test setup", message: "no PostgreSQL")
        }
        let name = "analytics_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try PostgresConnection(url: adminURL).query("CREATE DATABASE \(name)")
        let connection = try PostgresConnection(url: adminURL[..<adminURL.lastIndex(of: "/")!] + "/" + name)
        try Migrator.builtIn.migrate(connection)
        return connection
    }
}

/// SplitMix64: a small generator with a seed, so a simulated experiment is the same on every run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension SyncStore {
    /// Records `snapshot` as served, as the daemon does, so its environment exists.
    func serve(_ snapshot: Snapshot) throws {
        _ = try apply(
            snapshot, commit: String(repeating: "a", count: 40), branch: "main", author: "Ada <ada@acme.example>",
            message: "Flags", redisPrefix: "flagstaff")
    }
}

/// A split flag: `default` serves `weights` in order.
func splitFlag(_ key: String, _ weights: [(String, Int)]) -> Flag {
    Flag(
        key: key, type: .string,
        variants: Dictionary(uniqueKeysWithValues: weights.map { ($0.0, Value.string($0.0)) }), offVariant: weights[0].0,
        defaultServe: .split(
            Split(weights: weights.map { Split.Weight(variant: $0.0, weight: $0.1) }, bucketing: Bucketing(group: key))))
}

func snapshot(_ flags: [Flag]) -> Snapshot {
    Snapshot(
        organization: "acme", project: "shop", environment: "production", production: true, flags: flags, segments: [],
        version: "sha256:test")
}

extension Date {
    init(_ rfc3339: String) {
        self = ISO8601DateFormatter().date(from: rfc3339)!
    }
}
