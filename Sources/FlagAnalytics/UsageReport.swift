import FlagModel
import FlagStore
import Foundation

/// How often one flag was evaluated, per hour or day and variant, over a period.
public struct UsageReport: AnalyticsReport, Hashable {
    public var project: String
    public var environment: String
    public var flag: String
    public var granularity: UsageGranularity
    /// Inclusive.
    public var from: Date
    /// Exclusive.
    public var to: Date
    /// As `AnalyticsStore.usage` returns them: per bucket, variant and reason, in time order.
    public var buckets: [UsageBucket]

    public init(
        project: String, environment: String, flag: String, granularity: UsageGranularity, from: Date, to: Date,
        buckets: [UsageBucket]
    ) {
        self.project = project
        self.environment = environment
        self.flag = flag
        self.granularity = granularity
        self.from = from
        self.to = to
        self.buckets = buckets
    }

    /// Evaluations per variant over the whole period, most served first (then by name); ""
    /// counts evaluations that served no variant.
    public var variantTotals: [(variant: String, count: Int64)] {
        Self.totals(buckets.map { ($0.variant, $0.count) })
    }

    /// Evaluations per reason over the whole period, most frequent first.
    public var reasonTotals: [(reason: String, count: Int64)] {
        Self.totals(buckets.map { ($0.reason, $0.count) }).map { (reason: $0.variant, count: $0.count) }
    }

    public var total: Int64 { buckets.reduce(0) { $0 + $1.count } }

    private static func totals(_ pairs: [(String, Int64)]) -> [(variant: String, count: Int64)] {
        var sums: [String: Int64] = [:]
        for (key, count) in pairs { sums[key, default: 0] += count }
        return sums.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .map { (variant: $0.key, count: $0.value) }
    }

    /// One row per bucket that has counts, one column per variant, and the row's total.
    private var table: Table {
        let variants = variantTotals.map(\.variant)
        var table = Table(
            [granularity == .hour ? "HOUR (UTC)" : "DAY (UTC)"] + variants.map(Format.variant) + ["TOTAL"],
            numeric: Set(1...(variants.count + 1)))
        var index = 0
        while index < buckets.count {
            let start = buckets[index].start
            var counts: [String: Int64] = [:]
            while index < buckets.count, buckets[index].start == start {
                counts[buckets[index].variant, default: 0] += buckets[index].count
                index += 1
            }
            table.append(
                [Format.bucket(start, granularity.rawValue)] + variants.map { String(counts[$0] ?? 0) }
                    + [String(counts.values.reduce(0, +))])
        }
        table.append(["total"] + variantTotals.map { String($0.count) } + [String(total)])
        return table
    }

    private var title: String {
        "Usage of \(flag) in \(project)/\(environment), per \(granularity.rawValue), "
            + "\(Format.time(from)) to \(Format.time(to))"
    }

    private var reasonsLine: String {
        "By reason: " + reasonTotals.map { "\($0.reason) \($0.count)" }.joined(separator: ", ")
    }

    public var text: String {
        guard !buckets.isEmpty else { return title + "\nno evaluations counted\n" }
        return title + "\n\n" + table.text + "\n" + reasonsLine + "\n"
    }

    public var markdown: String {
        guard !buckets.isEmpty else { return "### \(title)\n\nNo evaluations counted.\n" }
        return "### \(title)\n\n" + table.markdown + "\n" + reasonsLine + "\n"
    }

    /// `{project, environment, flag, granularity, from, to, total, variants: {v: n},
    /// reasons: {r: n}, buckets: [{start, variant, reason, count}]}`; times RFC 3339 UTC.
    public var json: Value {
        .object([
            "project": .string(project), "environment": .string(environment), "flag": .string(flag),
            "granularity": .string(granularity.rawValue), "from": .string(Format.time(from)),
            "to": .string(Format.time(to)), "total": .int(total),
            "variants": .object(Dictionary(uniqueKeysWithValues: variantTotals.map { ($0.variant, Value.int($0.count)) })),
            "reasons": .object(Dictionary(uniqueKeysWithValues: reasonTotals.map { ($0.reason, Value.int($0.count)) })),
            "buckets": .array(
                buckets.map {
                    .object([
                        "start": .string(Format.time($0.start)), "variant": .string($0.variant),
                        "reason": .string($0.reason), "count": .int($0.count),
                    ])
                }),
        ])
    }
}
