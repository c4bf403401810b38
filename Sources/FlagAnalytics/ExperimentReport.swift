import FlagModel
import FlagStore
import Foundation

/// Why a report cannot be made; the message says what to change.
public struct ReportError: Error, Sendable, CustomStringConvertible {
    public var message: String
    /// The database failure behind it, if any.
    public var cause: StoreError?

    public init(_ message: String, cause: StoreError? = nil) {
        self.message = message
        self.cause = cause
    }

    public var description: String { cause.map { "\(message): \($0)" } ?? message }
}

/// The results of a split flag against a tracking event: per variant, users exposed and
/// converted, the conversion rate, and for every variant after the first its lift over the
/// first with a 95 % interval and a p-value; and a sample-ratio-mismatch check of the
/// exposed users against the split's weights.
public struct ExperimentReport: AnalyticsReport, Hashable {
    /// One variant of the split.
    public struct Arm: Sendable, Hashable {
        public var variant: String
        /// Its weight in the split.
        public var weight: Int
        /// Distinct users (targeting keys) exposed.
        public var users: Int64
        /// Exposures, counted once per user and day.
        public var exposures: Int64
        /// Users with the tracking event at or after their first exposure.
        public var converted: Int64
        /// converted / users; nil without users.
        public var rate: Double?
        /// Against the first variant; nil for the first.
        public var lift: Statistics.Lift?
        /// pB − pA and its 95 % Wald interval, against the first variant; nil for the first.
        public var difference: Double?
        public var differenceInterval: Statistics.Interval?
        /// Two-proportion z-test against the first variant; nil for the first or when undefined.
        public var zTest: Statistics.ZTest?
    }

    /// The sample-ratio-mismatch check: exposed users against the weights of the variants
    /// whose weight is above 0.
    public struct RatioCheck: Sendable, Hashable {
        public var variants: [String]
        public var weights: [Int]
        public var observed: [Int64]
        public var test: Statistics.ChiSquare

        public var isMismatch: Bool { test.isMismatch }

        /// What a reader must be told when the check fails; nil when it passes.
        public var warning: String? {
            guard isMismatch else { return nil }
            return "Sample ratio mismatch: \(observed.map(String.init).joined(separator: " / ")) users exposed to "
                + "\(variants.joined(separator: " / ")) where the split's weights \(weights.map(String.init).joined(separator: " / ")) "
                + "expect \(test.expected.map { String(Int64($0.rounded())) }.joined(separator: " / ")) "
                + "(chi-square \(Format.number(test.statistic)), df \(test.degreesOfFreedom), "
                + "p = \(String(format: "%.2g", test.pValue)), below \(Statistics.mismatchThreshold)). Assignment or exposure "
                + "logging is skewed; do not trust the lift until the cause is found."
        }
    }

    public var project: String
    public var environment: String
    public var flag: String
    public var event: String
    public var from: Date
    public var to: Date
    /// Where the split comes from: `default` or `rule 2 (checkout experiment)`.
    public var splitSource: String
    /// The split's variants in the order written, with 0 for those nobody was exposed to.
    public var arms: [Arm]
    /// Variants users were exposed to that the split does not serve (another rule, the off
    /// variant), with their users; not part of the comparison.
    public var outside: [ExposureCounts]
    /// nil when there is nothing to check (fewer than two weighted variants, nobody exposed).
    public var ratioCheck: RatioCheck?

    /// The split an experiment report compares, and where it is in `flag`: the default's
    /// when it serves one, else the first rule's that does.
    public static func split(of flag: Flag) -> (split: Split, source: String)? {
        if case .split(let split) = flag.defaultServe { return (split, "default") }
        for (index, rule) in flag.rules.enumerated() {
            if case .split(let split) = rule.serve {
                return (split, "rule \(index + 1)" + (rule.name.map { " (\($0))" } ?? ""))
            }
        }
        return nil
    }

    /// Throws when `flag` serves no split anywhere.
    public init(
        project: String, environment: String, flag: Flag, event: String, from: Date, to: Date,
        exposures: [ExposureCounts]
    ) throws(ReportError) {
        guard let (split, source) = Self.split(of: flag) else {
            throw ReportError(
                "flag '\(flag.key)' serves no split (neither its default nor a rule): an experiment report compares "
                    + "the variants of a split")
        }
        self.project = project
        self.environment = environment
        self.flag = flag.key
        self.event = event
        self.from = from
        self.to = to
        self.splitSource = source

        var byVariant: [String: ExposureCounts] = [:]
        for row in exposures { byVariant[row.variant] = row }
        var arms: [Arm] = []
        for weight in split.weights where !arms.contains(where: { $0.variant == weight.variant }) {
            let counts = byVariant[weight.variant] ?? ExposureCounts(variant: weight.variant, users: 0, exposures: 0, converted: 0)
            arms.append(
                Arm(
                    variant: weight.variant, weight: weight.weight, users: counts.users, exposures: counts.exposures,
                    converted: counts.converted,
                    rate: counts.users > 0 ? Double(counts.converted) / Double(counts.users) : nil))
        }
        if let control = arms.first {
            for index in arms.indices.dropFirst() {
                let (xA, nA, xB, nB) = (control.converted, control.users, arms[index].converted, arms[index].users)
                arms[index].lift = Statistics.relativeLift(successesA: xA, totalA: nA, successesB: xB, totalB: nB)
                let difference = Statistics.absoluteDifference(successesA: xA, totalA: nA, successesB: xB, totalB: nB)
                arms[index].difference = difference?.difference
                arms[index].differenceInterval = difference?.interval
                arms[index].zTest = Statistics.twoProportionZTest(
                    successesA: xA, totalA: nA, successesB: xB, totalB: nB)
            }
        }
        self.arms = arms
        let inSplit = Set(arms.map(\.variant))
        self.outside = exposures.filter { !inSplit.contains($0.variant) }.sorted { $0.variant < $1.variant }

        let weighted = arms.filter { $0.weight > 0 }
        if let test = Statistics.chiSquareGoodnessOfFit(observed: weighted.map(\.users), weights: weighted.map(\.weight)) {
            self.ratioCheck = RatioCheck(
                variants: weighted.map(\.variant), weights: weighted.map(\.weight), observed: weighted.map(\.users),
                test: test)
        } else {
            self.ratioCheck = nil
        }
    }

    /// The sample-ratio-mismatch warning, if the check failed.
    public var warning: String? { ratioCheck?.warning }

    // MARK: Rendering

    private var title: String {
        "Experiment \(flag) in \(project)/\(environment) against '\(event)', \(Format.time(from)) to \(Format.time(to))"
    }

    private var table: Table {
        var table = Table(
            ["VARIANT", "WEIGHT", "USERS", "EXPOSURES", "CONVERTED", "RATE", "LIFT", "95 % INTERVAL", "P-VALUE"],
            numeric: [1, 2, 3, 4, 5, 6, 8])
        for (index, arm) in arms.enumerated() {
            table.append([
                arm.variant, String(arm.weight), String(arm.users), String(arm.exposures), String(arm.converted),
                Format.percent(arm.rate), index == 0 ? "(baseline)" : Format.signedPercent(arm.lift?.estimate),
                index == 0 ? "" : Format.interval(arm.lift?.interval), index == 0 ? "" : Format.pValue(arm.zTest?.pValue),
            ])
        }
        return table
    }

    private var notes: [String] {
        var lines = ["Split: the \(splitSource)'s; lift is relative to \(arms.first?.variant ?? "-"), p-values from a pooled two-proportion z-test."]
        if let check = ratioCheck {
            if check.isMismatch {
                lines.append("WARNING: " + (check.warning ?? ""))
            } else {
                lines.append(
                    "Sample ratio: consistent with the weights (chi-square \(Format.number(check.test.statistic)), "
                        + "p \(Format.pValue(check.test.pValue))).")
            }
        } else {
            lines.append("Sample ratio: not checked (fewer than two weighted variants, or nobody exposed).")
        }
        if !outside.isEmpty {
            lines.append(
                "Also exposed outside the split (not compared): "
                    + outside.map { "\(Format.variant($0.variant)) \($0.users) users" }.joined(separator: ", ") + ".")
        }
        return lines
    }

    public var text: String {
        title + "\n\n" + table.text + "\n" + notes.joined(separator: "\n") + "\n"
    }

    public var markdown: String {
        "### \(title)\n\n" + table.markdown + "\n"
            + notes.map { $0.hasPrefix("WARNING: ") ? "> [!WARNING]\n> " + $0.dropFirst(9) : $0 }
            .joined(separator: "\n\n") + "\n"
    }

    /// `{project, environment, flag, event, from, to, split, variants: [{variant, weight,
    /// users, exposures, converted, rate, lift, liftInterval, difference, differenceInterval,
    /// z, pValue}], sampleRatio: {chiSquare, degreesOfFreedom, pValue, expected, mismatch} |
    /// null, warning, outside: [{variant, users}]}`; numbers that cannot be computed are null.
    public var json: Value {
        let variants: [Value] = arms.map { arm in
            .object([
                "variant": .string(arm.variant), "weight": .int(Int64(arm.weight)), "users": .int(arm.users),
                "exposures": .int(arm.exposures), "converted": .int(arm.converted), "rate": Format.json(arm.rate),
                "lift": Format.json(arm.lift?.estimate), "liftInterval": Format.json(arm.lift?.interval),
                "difference": Format.json(arm.difference), "differenceInterval": Format.json(arm.differenceInterval),
                "z": Format.json(arm.zTest?.z), "pValue": Format.json(arm.zTest?.pValue),
            ])
        }
        let ratio: Value = ratioCheck.map { check in
            .object([
                "variants": .array(check.variants.map(Value.string)),
                "chiSquare": Format.json(check.test.statistic),
                "degreesOfFreedom": .int(Int64(check.test.degreesOfFreedom)), "pValue": Format.json(check.test.pValue),
                "expected": .array(check.test.expected.map { Format.json($0) }), "mismatch": .bool(check.isMismatch),
            ])
        } ?? .null
        return .object([
            "project": .string(project), "environment": .string(environment), "flag": .string(flag),
            "event": .string(event), "from": .string(Format.time(from)), "to": .string(Format.time(to)),
            "split": .string(splitSource), "variants": .array(variants), "sampleRatio": ratio,
            "warning": warning.map(Value.string) ?? .null,
            "outside": .array(outside.map { .object(["variant": .string($0.variant), "users": .int($0.users)]) }),
        ])
    }
}
