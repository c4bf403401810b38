import FlagAnalytics
import Foundation
import Testing

@Suite("Statistics")
struct StatisticsTests {
    func close(_ a: Double, _ b: Double, relative: Double = 1e-9) -> Bool {
        abs(a - b) <= relative * max(abs(a), abs(b))
    }

    @Test func chiSquarePValuesMatchTheTables() {
        // The critical values printed in every chi-square table.
        #expect(abs(Statistics.chiSquarePValue(3.841, degreesOfFreedom: 1) - 0.05) < 1e-4)
        #expect(abs(Statistics.chiSquarePValue(5.991, degreesOfFreedom: 2) - 0.05) < 1e-4)
        #expect(abs(Statistics.chiSquarePValue(16.27, degreesOfFreedom: 3) - 0.001) < 1e-5)
        #expect(abs(Statistics.chiSquarePValue(18.307, degreesOfFreedom: 10) - 0.05) < 1e-5)
        // To full precision (SciPy's chi2.sf), on both sides of x = a + 1 and deep in the tail.
        let known: [(Double, Int, Double)] = [
            (3.841, 1, 0.050013683763956804), (5.991, 2, 0.05001161502657909), (16.27, 3, 0.0009982232399054186),
            (58.0, 1, 2.6211778256716213e-14), (0.5, 4, 0.9735009788392561), (100.0, 7, 1.0787979671702833e-18),
            (40.0, 50, 0.8432273781737623),
        ]
        for (x, df, p) in known {
            #expect(close(Statistics.chiSquarePValue(x, degreesOfFreedom: df), p, relative: 1e-9), "df \(df) x \(x)")
        }
    }

    @Test func incompleteGammaMatchesKnownValuesAndIdentities() {
        #expect(close(Statistics.regularizedGammaQ(0.5, 0.1), 0.6547208460185768))
        #expect(close(Statistics.regularizedGammaQ(5, 2), 0.9473469826562889))
        #expect(close(Statistics.regularizedGammaQ(2.5, 30), 1.2154569777183007e-11))
        // Q(1, x) = e^-x, and with one degree of freedom Q(1/2, x/2) = erfc(√(x/2)).
        for x in [0.01, 0.5, 1.9, 2.1, 10, 50] {
            #expect(close(Statistics.regularizedGammaQ(1, x), exp(-x), relative: 1e-12), "x \(x)")
            #expect(close(Statistics.chiSquarePValue(x, degreesOfFreedom: 1), erfc((x / 2).squareRoot()), relative: 1e-10))
        }
        #expect(Statistics.regularizedGammaQ(3, 0) == 1)
        #expect(Statistics.regularizedGammaQ(-1, 2).isNaN)
        #expect(abs(Statistics.regularizedGammaP(5, 2) + Statistics.regularizedGammaQ(5, 2) - 1) < 1e-15)
    }

    @Test func twoProportionZTestMatchesAHandComputation() throws {
        // 200/1000 vs 250/1000: pooled 0.225, se √(0.225·0.775·2/1000), z = 2.6774, p = 0.00742.
        let test = try #require(Statistics.twoProportionZTest(successesA: 200, totalA: 1000, successesB: 250, totalB: 1000))
        #expect(close(test.z, 2.677397763008329, relative: 1e-12))
        #expect(close(test.pValue, 0.007419649261025693, relative: 1e-9))
        let reversed = try #require(
            Statistics.twoProportionZTest(successesA: 250, totalA: 1000, successesB: 200, totalB: 1000))
        #expect(reversed.z < 0 && close(reversed.pValue, test.pValue))
        #expect(Statistics.twoProportionZTest(successesA: 0, totalA: 10, successesB: 0, totalB: 10) == nil)
        #expect(Statistics.twoProportionZTest(successesA: 1, totalA: 0, successesB: 0, totalB: 10) == nil)
        #expect(close(Statistics.twoSidedPValue(z: 1.959963984540054), 0.05, relative: 1e-12))
    }

    @Test func liftIntervalIsTheDeltaMethodOnTheLogOfTheRatio() throws {
        // 10 % vs 12 % of 20,000: R = 1.2, Var(ln R) = 0.9/2000 + 0.88/2400.
        let lift = Statistics.relativeLift(successesA: 2000, totalA: 20000, successesB: 2400, totalB: 20000)
        let estimate = try #require(lift.estimate)
        let interval = try #require(lift.interval)
        #expect(close(estimate, 0.2, relative: 1e-12))
        let se = (0.9 / 2000 + 0.88 / 2400).squareRoot()
        #expect(close(interval.lower, 1.2 * exp(-Statistics.z975 * se) - 1, relative: 1e-12))
        #expect(close(interval.upper, 1.2 * exp(Statistics.z975 * se) - 1, relative: 1e-12))
        #expect(abs(interval.lower - 0.134635) < 1e-6 && abs(interval.upper - 0.269131) < 1e-6)

        // A rate of 0 leaves the log ratio infinite: no interval, and no lift at all over 0.
        let fromZero = Statistics.relativeLift(successesA: 0, totalA: 100, successesB: 5, totalB: 100)
        #expect(fromZero.estimate == nil && fromZero.interval == nil)
        let toZero = Statistics.relativeLift(successesA: 5, totalA: 100, successesB: 0, totalB: 100)
        #expect(toZero.estimate == -1 && toZero.interval == nil)
    }

    @Test func absoluteDifferenceHasAWaldInterval() throws {
        let result = try #require(
            Statistics.absoluteDifference(successesA: 2000, totalA: 20000, successesB: 2400, totalB: 20000))
        let margin = Statistics.z975 * (0.1 * 0.9 / 20000 + 0.12 * 0.88 / 20000).squareRoot()
        #expect(close(result.difference, 0.02, relative: 1e-12))
        #expect(close(result.interval.lower, 0.02 - margin, relative: 1e-12))
        #expect(close(result.interval.upper, 0.02 + margin, relative: 1e-12))
    }

    @Test func sampleRatioMismatchWarnsOnlyBelowOneInAThousand() throws {
        let skewed = try #require(Statistics.chiSquareGoodnessOfFit(observed: [20000, 18500], weights: [50, 50]))
        #expect(close(skewed.statistic, 2 * 750.0 * 750.0 / 19250, relative: 1e-12))
        #expect(skewed.degreesOfFreedom == 1 && skewed.isMismatch)
        let balanced = try #require(Statistics.chiSquareGoodnessOfFit(observed: [10050, 9950], weights: [1, 1]))
        #expect(!balanced.isMismatch && balanced.pValue > 0.4)
        // Unequal weights: 90/10 observed exactly as asked.
        let uneven = try #require(Statistics.chiSquareGoodnessOfFit(observed: [900, 100], weights: [9, 1]))
        #expect(uneven.statistic == 0 && uneven.pValue == 1 && uneven.expected == [900, 100])
        #expect(Statistics.chiSquareGoodnessOfFit(observed: [5], weights: [1]) == nil)
        #expect(Statistics.chiSquareGoodnessOfFit(observed: [0, 0], weights: [1, 1]) == nil)
        #expect(Statistics.chiSquareGoodnessOfFit(observed: [3, 4], weights: [1, 0]) == nil)
    }
}
