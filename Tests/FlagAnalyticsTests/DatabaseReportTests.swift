import FlagAnalytics
import FlagModel
import FlagStore
import Foundation
import Testing

@Suite("Reports through PostgreSQL")
struct DatabaseReportTests {
    /// Simulates an experiment: `users` per variant (targeting keys `<variant>-<i>`), each
    /// exposed once or twice in the last three days, converting with the variant's rate an
    /// hour after the first exposure. Seeded, so every run writes the same rows.
    func simulate(
        _ store: AnalyticsStore, flag: String, arms: [(variant: String, users: Int, rate: Double)], now: Date,
        seed: UInt64
    ) throws {
        var random = SeededGenerator(seed: seed)
        var evaluations: [EvaluationEventRow] = []
        var tracking: [TrackingEventRow] = []
        let start = now.timeIntervalSince1970 - 3 * 86_400
        for arm in arms {
            for i in 0..<arm.users {
                let user = "\(flag)-\(arm.variant)-\(i)"
                let first = start + Double.random(in: 0..<(2 * 86_400), using: &random)
                for time in [first, first + (Bool.random(using: &random) ? 86_400 : 60)] {
                    evaluations.append(
                        EvaluationEventRow(
                            time: time, project: "shop", environment: "production", flag: flag, variant: arm.variant,
                            reason: "SPLIT", version: "sha256:test", targetingKey: user, context: nil))
                }
                if Double.random(in: 0..<1, using: &random) < arm.rate {
                    tracking.append(
                        TrackingEventRow(
                            time: first + 3600, project: "shop", environment: "production", name: "purchase",
                            targetingKey: user, value: 10, details: nil, context: nil))
                }
            }
        }
        // A purchase before any exposure is not a conversion.
        tracking.append(
            TrackingEventRow(
                time: start - 3600, project: "shop", environment: "production", name: "purchase",
                targetingKey: "\(flag)-\(arms[0].variant)-0", value: nil, details: nil, context: nil))
        var day = Int64(start) - 86_400
        while day <= Int64(now.timeIntervalSince1970) + 86_400 {
            try store.ensurePartition("evaluation_events", day: day)
            try store.ensurePartition("tracking_events", day: day)
            day += 86_400
        }
        let ids = try store.environmentIDs()
        #expect(try store.copy(evaluations, ids: ids) == 0)
        #expect(try store.copy(tracking, ids: ids) == 0)
    }

    @Test func aSimulatedExperimentShowsItsLiftAndASkewedOneItsSampleRatioMismatch() throws {
        let connection = try TestDatabase.migrated()
        let sync = SyncStore(connection: connection)
        let store = AnalyticsStore(connection: connection)
        try sync.serve(
            snapshot([
                splitFlag("checkout", [("control", 50), ("treatment", 50)]),
                splitFlag("skewed", [("control", 50), ("treatment", 50)]),
                Flag(key: "plain"),
            ]))
        let now = Date()
        try simulate(
            store, flag: "checkout", arms: [("control", 20_000, 0.10), ("treatment", 20_000, 0.12)], now: now, seed: 7)
        try simulate(
            store, flag: "skewed", arms: [("control", 20_000, 0.10), ("treatment", 18_500, 0.10)], now: now, seed: 8)
        // No ANALYZE: a report right after a load, on partitions without statistics, must not
        // depend on the planner's guesses (the query matches users by a window, not a join).
        let started = ContinuousClock.now

        let served = try Reports.servedSnapshot(sync: sync, project: "shop", environment: "production")
        let report = try Reports.experiment(
            store: store, snapshot: served, flag: "checkout", event: "purchase", from: now.addingTimeInterval(-14 * 86_400),
            to: now)
        #expect(ContinuousClock.now - started < .seconds(10), "the experiment report over 40,000 users")
        #expect(report.arms.map(\.variant) == ["control", "treatment"])
        #expect(report.arms.map(\.users) == [20_000, 20_000])
        #expect(report.arms.allSatisfy { $0.exposures > $0.users && $0.exposures < 2 * $0.users })
        let control = report.arms[0]
        let treatment = report.arms[1]
        #expect(abs((control.rate ?? 0) - 0.10) < 0.01, "\(report.text)")
        #expect(abs((treatment.rate ?? 0) - 0.12) < 0.01, "\(report.text)")
        let lift = try #require(treatment.lift?.estimate)
        let interval = try #require(treatment.lift?.interval)
        #expect(abs(lift - 0.20) < 0.08, "\(report.text)")
        #expect(interval.contains(0.20), "\(report.text)")
        #expect(interval.lower > 0, "\(report.text)")
        #expect((treatment.zTest?.pValue ?? 1) < 0.05, "\(report.text)")
        #expect(report.warning == nil, "a balanced assignment passes the ratio check: \(report.text)")
        #expect(report.ratioCheck?.test.statistic == 0)

        let skewed = try Reports.experiment(
            store: store, snapshot: served, flag: "skewed", event: "purchase", from: now.addingTimeInterval(-14 * 86_400),
            to: now)
        #expect(skewed.arms.map(\.users) == [20_000, 18_500])
        #expect(skewed.ratioCheck?.isMismatch == true)
        #expect(skewed.warning?.contains("20000 / 18500 users exposed to control / treatment") == true, "\(skewed.text)")
        #expect(CanonicalJSON.encode(skewed.json).contains(#""mismatch":true"#))

        #expect(throws: ReportError.self) {
            try Reports.experiment(store: store, snapshot: served, flag: "plain", event: "purchase", from: now, to: now)
        }
        #expect(throws: ReportError.self) {
            try Reports.experiment(store: store, snapshot: served, flag: "nowhere", event: "purchase", from: now, to: now)
        }
    }

    @Test func staleFlagsFromBackDatedCounts() throws {
        let connection = try TestDatabase.migrated()
        let sync = SyncStore(connection: connection)
        let store = AnalyticsStore(connection: connection)
        try sync.serve(
            snapshot([
                Flag(key: "fresh"), Flag(key: "constant"), Flag(key: "quiet"), Flag(key: "unused"),
                Flag(key: "expired", expires: "2020-01-01"),
            ]))
        let now = Date()
        let hourNow = CountKey.hour(of: Int64(now.timeIntervalSince1970))
        func key(_ flag: String, _ variant: String, daysAgo: Int64) -> CountKey {
            CountKey(
                project: "shop", environment: "production", flag: flag, variant: variant, reason: "DEFAULT",
                version: "sha256:test", hour: hourNow - daysAgo * 86_400)
        }
        var counts: [CountKey: UInt64] = [:]
        for (flag, variant, days) in [
            ("fresh", "on", 40), ("fresh", "on", 0), ("fresh", "off", 1),
            ("constant", "on", 45), ("constant", "on", 10), ("constant", "on", 0),
            ("quiet", "on", 60), ("quiet", "off", 31),
            ("expired", "on", 2), ("expired", "off", 2),
            ("removed-from-git", "on", 0),
        ] {
            counts[key(flag, variant, daysAgo: Int64(days))] = 5
        }
        #expect(try store.add(CountBatch(counts: counts)))

        let served = try Reports.servedSnapshot(sync: sync, project: "shop", environment: "production")
        let report = try Reports.stale(store: store, snapshot: served, now: now, days: 30)
        let findings = Dictionary(uniqueKeysWithValues: report.flags.map { ($0.flag, $0.findings.map(\.kind)) })
        #expect(
            findings == [
                "constant": ["ready-to-remove"], "expired": ["expired"], "fresh": [],
                "quiet": ["not-evaluated"], "unused": ["never-evaluated"],
            ])
        #expect(report.readyToRemove.map(\.variant) == ["on"])

        // Usage of the same counts, per day.
        let usage = try Reports.usage(
            store: store, project: "shop", environment: "production", flag: "constant",
            from: now.addingTimeInterval(-50 * 86_400), to: now.addingTimeInterval(3600), granularity: .day)
        #expect(usage.total == 15 && usage.buckets.count == 3)
        #expect(usage.variantTotals.map(\.variant) == ["on"])
        #expect(usage.text.contains("total"), "\(usage.text)")
    }

    @Test func theDefaultEnvironmentIsTheOnlyProjectsProductionOne() throws {
        let connection = try TestDatabase.migrated()
        let sync = SyncStore(connection: connection)
        #expect(throws: ReportError.self) { try Reports.environment(sync: sync, project: nil, environment: nil) }
        try sync.serve(snapshot([Flag(key: "a")]))
        var staging = snapshot([Flag(key: "a")])
        staging.environment = "staging"
        staging.production = false
        try sync.serve(staging)
        let chosen = try Reports.environment(sync: sync, project: nil, environment: nil)
        #expect(chosen.project == "shop" && chosen.environment == "production" && chosen.branch == "main")
        #expect(try Reports.environment(sync: sync, project: nil, environment: "staging").environment == "staging")
        #expect(throws: ReportError.self) { try Reports.environment(sync: sync, project: "other", environment: nil) }
    }
}
