import Foundation

/// The tests behind experiment reports: conversion rates compared between two variants, and
/// the check that users were assigned in the ratio the split asks for.
///
/// Every function is pure and takes counts; none needs more than `Foundation`'s `erfc`,
/// `exp`, `log` and `lgamma`.
public enum Statistics {
    /// The 97.5th percentile of the standard normal distribution: a two-sided 95 % interval is
    /// the estimate ± this many standard errors.
    public static let z975 = 1.959_963_984_540_054

    /// Below this p-value, a sample-ratio-mismatch check warns (the threshold experimentation
    /// platforms use: at 0.05, one healthy experiment in twenty would raise the alarm).
    public static let mismatchThreshold = 0.001

    /// A closed interval.
    public struct Interval: Sendable, Hashable {
        public var lower: Double
        public var upper: Double

        public init(lower: Double, upper: Double) {
            self.lower = lower
            self.upper = upper
        }

        public func contains(_ value: Double) -> Bool { lower <= value && value <= upper }
    }

    // MARK: Two proportions

    /// The result of a two-proportion z-test.
    public struct ZTest: Sendable, Hashable {
        /// (pB − pA) / standard error, under the null hypothesis pA = pB (pooled rate).
        public var z: Double
        /// Two-sided: the probability of a |z| at least this large if the rates were equal.
        public var pValue: Double
    }

    /// Pooled two-proportion z-test of `successesB / totalB` against `successesA / totalA`;
    /// nil when it is undefined (a group without users, or a pooled rate of 0 or 1, which
    /// leaves no variance to test against).
    public static func twoProportionZTest(
        successesA: Int64, totalA: Int64, successesB: Int64, totalB: Int64
    ) -> ZTest? {
        guard totalA > 0, totalB > 0 else { return nil }
        let nA = Double(totalA)
        let nB = Double(totalB)
        let pooled = Double(successesA + successesB) / (nA + nB)
        let variance = pooled * (1 - pooled) * (1 / nA + 1 / nB)
        guard variance > 0 else { return nil }
        let z = (Double(successesB) / nB - Double(successesA) / nA) / variance.squareRoot()
        return ZTest(z: z, pValue: twoSidedPValue(z: z))
    }

    /// P(|Z| ≥ |z|) for a standard normal Z: erfc(|z| / √2), exact far into the tail (1 − Φ
    /// would round to 0 beyond z ≈ 8).
    public static func twoSidedPValue(z: Double) -> Double {
        erfc(abs(z) / 2.0.squareRoot())
    }

    /// The relative lift of B over A, pB / pA − 1, and its 95 % interval.
    public struct Lift: Sendable, Hashable {
        /// nil when A never converted (the ratio is unbounded).
        public var estimate: Double?
        /// nil when either rate is 0: the logarithm of the ratio is then not finite.
        public var interval: Interval?
    }

    /// Relative lift with a 95 % interval by the delta method on the log of the rate ratio:
    /// with R = pB / pA, Var(ln R) ≈ (1 − pA) / xA + (1 − pB) / xB (x the successes), and the
    /// interval is exp(ln R ± 1.96 · √Var) − 1. Working on the log keeps the interval
    /// asymmetric as the ratio is (a lift cannot fall below −100 %), which a symmetric interval
    /// around pB / pA − 1 would not respect.
    public static func relativeLift(
        successesA: Int64, totalA: Int64, successesB: Int64, totalB: Int64
    ) -> Lift {
        guard totalA > 0, totalB > 0, successesA > 0 else { return Lift(estimate: nil, interval: nil) }
        let pA = Double(successesA) / Double(totalA)
        let pB = Double(successesB) / Double(totalB)
        let estimate = pB / pA - 1
        guard successesB > 0 else { return Lift(estimate: estimate, interval: nil) }
        let variance = (1 - pA) / Double(successesA) + (1 - pB) / Double(successesB)
        let logRatio = log(pB / pA)
        let margin = z975 * variance.squareRoot()
        return Lift(estimate: estimate, interval: Interval(lower: exp(logRatio - margin) - 1, upper: exp(logRatio + margin) - 1))
    }

    /// The absolute difference pB − pA and its 95 % Wald interval,
    /// ± 1.96 · √(pA(1 − pA)/nA + pB(1 − pB)/nB); nil without users on either side.
    public static func absoluteDifference(
        successesA: Int64, totalA: Int64, successesB: Int64, totalB: Int64
    ) -> (difference: Double, interval: Interval)? {
        guard totalA > 0, totalB > 0 else { return nil }
        let nA = Double(totalA)
        let nB = Double(totalB)
        let pA = Double(successesA) / nA
        let pB = Double(successesB) / nB
        let margin = z975 * (pA * (1 - pA) / nA + pB * (1 - pB) / nB).squareRoot()
        return (pB - pA, Interval(lower: pB - pA - margin, upper: pB - pA + margin))
    }

    // MARK: Sample ratio mismatch

    /// A chi-square goodness-of-fit test.
    public struct ChiSquare: Sendable, Hashable {
        public var statistic: Double
        public var degreesOfFreedom: Int
        public var pValue: Double
        /// What each category should hold if the weights were followed.
        public var expected: [Double]

        /// p < `Statistics.mismatchThreshold`.
        public var isMismatch: Bool { pValue < Statistics.mismatchThreshold }
    }

    /// Tests `observed` counts against the proportions of integer `weights` (same order, same
    /// length, weights > 0): Σ (o − e)² / e with k − 1 degrees of freedom. nil when there is
    /// nothing to test: fewer than two categories, no observations, or a weight ≤ 0.
    public static func chiSquareGoodnessOfFit(observed: [Int64], weights: [Int]) -> ChiSquare? {
        guard observed.count == weights.count, observed.count >= 2, weights.allSatisfy({ $0 > 0 }) else { return nil }
        let total = Double(observed.reduce(0, +))
        guard total > 0 else { return nil }
        let weightSum = Double(weights.reduce(0, +))
        let expected = weights.map { total * Double($0) / weightSum }
        var statistic = 0.0
        for (o, e) in zip(observed, expected) {
            let d = Double(o) - e
            statistic += d * d / e
        }
        let df = observed.count - 1
        return ChiSquare(
            statistic: statistic, degreesOfFreedom: df, pValue: chiSquarePValue(statistic, degreesOfFreedom: df),
            expected: expected)
    }

    /// P(X ≥ x) for X chi-square distributed with `degreesOfFreedom`: Q(k/2, x/2).
    public static func chiSquarePValue(_ x: Double, degreesOfFreedom: Int) -> Double {
        regularizedGammaQ(Double(degreesOfFreedom) / 2, x / 2)
    }

    // MARK: Incomplete gamma

    /// The regularized upper incomplete gamma function Q(a, x) = Γ(a, x) / Γ(a), for a > 0 and
    /// x ≥ 0 (NaN otherwise).
    ///
    /// Below x = a + 1 the series of P(a, x) converges fast and Q = 1 − P loses nothing (Q is
    /// not small there); above it, Q's continued fraction (modified Lentz) converges fast and
    /// keeps Q's relative precision deep in the tail, where 1 − P would round to 0. Numerical
    /// Recipes §6.2 describes both.
    public static func regularizedGammaQ(_ a: Double, _ x: Double) -> Double {
        guard a > 0, x >= 0, a.isFinite, !x.isNaN else { return .nan }
        if x == 0 { return 1 }
        if x == .infinity { return 0 }
        // x^a e^-x / Γ(a), on the log scale so that neither factor overflows.
        let front = exp(a * log(x) - x - lgamma(a))
        if x < a + 1 {
            return max(0, 1 - front * lowerSeries(a, x))
        }
        return min(1, front * upperContinuedFraction(a, x))
    }

    /// The regularized lower incomplete gamma function P(a, x) = 1 − Q(a, x).
    public static func regularizedGammaP(_ a: Double, _ x: Double) -> Double {
        1 - regularizedGammaQ(a, x)
    }

    private static let epsilon = 1e-15
    private static let tiny = 1e-300
    private static let maxIterations = 10_000

    /// Σ_{n ≥ 0} x^n / (a (a+1) … (a+n)), so that P(a, x) = x^a e^-x / Γ(a) · the sum.
    private static func lowerSeries(_ a: Double, _ x: Double) -> Double {
        var term = 1 / a
        var sum = term
        var denominator = a
        for _ in 0..<maxIterations {
            denominator += 1
            term *= x / denominator
            sum += term
            if abs(term) < abs(sum) * epsilon { break }
        }
        return sum
    }

    /// 1 / (x + 1 − a − 1·(1 − a) / (x + 3 − a − 2·(2 − a) / (x + 5 − a − …))), so that
    /// Q(a, x) = x^a e^-x / Γ(a) · the fraction; evaluated by the modified Lentz method.
    private static func upperContinuedFraction(_ a: Double, _ x: Double) -> Double {
        var b = x + 1 - a
        var c = 1 / tiny
        var d = 1 / b
        var h = d
        for i in 1...maxIterations {
            let an = -Double(i) * (Double(i) - a)
            b += 2
            d = an * d + b
            if abs(d) < tiny { d = tiny }
            c = b + an / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < epsilon { break }
        }
        return h
    }
}
