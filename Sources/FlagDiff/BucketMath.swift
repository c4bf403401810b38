import FlagModel

/// Exact counting over the 2^32 values of a MurmurHash3 (SPEC §5), so that the effect of a
/// rollout or split change is computed rather than sampled.
///
/// A rollout admits hash `h` when `h % 100 + 1 <= p`; a split of total `W` serves the first
/// variant whose running total is `>= h % W + 1`. Both depend on `h` only through a residue,
/// and the number of `h` in `[0, 2^32)` with `h % m == r` is `⌊2^32 / m⌋ + (r < 2^32 % m ? 1 : 0)`.
enum BucketMath {
    /// The number of hash values.
    static let space: UInt64 = 1 << 32
    /// Two split totals are compared exactly by walking the residues modulo their least
    /// common multiple; beyond this period the effect is not computed (never approximated).
    static let maxPeriod: UInt64 = 10_000_000

    /// How many `h` in `[0, 2^32)` have `lo <= h % m < hi`, for `0 <= lo <= hi <= m`.
    static func count(modulus m: UInt64, from lo: UInt64, to hi: UInt64) -> UInt64 {
        precondition(m > 0 && lo <= hi && hi <= m)
        let q = space / m
        let rem = space % m
        return (hi - lo) * q + overlap(lo, hi, 0, rem)
    }

    private static func overlap(_ a: UInt64, _ b: UInt64, _ c: UInt64, _ d: UInt64) -> UInt64 {
        let lo = max(a, c)
        let hi = min(b, d)
        return hi > lo ? hi - lo : 0
    }

    /// Hash values whose rollout gate differs between `a`% and `b`%: buckets in `(min, max]`.
    static func rolloutBand(_ a: Int, _ b: Int) -> UInt64 {
        let lo = UInt64(min(max(a, 0), 100))
        let hi = UInt64(min(max(b, 0), 100))
        return count(modulus: 100, from: min(lo, hi), to: max(lo, hi))
    }

    /// For every (from, to) pair of different variants, how many hash values move from one to
    /// the other when split `a` becomes split `b` (same bucketing). nil when a total is not
    /// positive or the two totals' period exceeds `maxPeriod`.
    static func splitTransitions(_ a: Split, _ b: Split) -> [Pair: UInt64]? {
        let t1 = a.totalWeight
        let t2 = b.totalWeight
        guard t1 > 0, t2 > 0, a.weights.allSatisfy({ $0.weight >= 0 }), b.weights.allSatisfy({ $0.weight >= 0 })
        else { return nil }
        let w1 = UInt64(t1)
        let w2 = UInt64(t2)
        let g = gcd(w1, w2)
        let (lcm, overflow) = (w1 / g).multipliedReportingOverflow(by: w2)
        guard !overflow, lcm <= maxPeriod else { return nil }
        let left = Walker(a)
        let right = Walker(b)
        let q = space / lcm
        let rem = space % lcm
        var moved: [Pair: UInt64] = [:]
        // Walk t over [0, lcm) in stretches where neither side's variant changes; h with
        // h % lcm == t has h % w1 == t % w1 and h % w2 == t % w2.
        var t: UInt64 = 0
        var r1: UInt64 = 0
        var r2: UInt64 = 0
        while t < lcm {
            let v1 = left.variant(at: r1)
            let v2 = right.variant(at: r2)
            let step = min(left.run(from: r1) ?? lcm, right.run(from: r2) ?? lcm, lcm - t)
            if v1 != v2 {
                let n = step * q + overlap(t, t + step, 0, rem)
                moved[Pair(from: v1, to: v2), default: 0] += n
            }
            t += step
            r1 = (r1 + step) % w1
            r2 = (r2 + step) % w2
        }
        return moved
    }

    struct Pair: Hashable {
        var from: String
        var to: String
    }

    /// One split's variant as a function of the residue `r = h % W`.
    private struct Walker {
        let names: [String]
        /// Running totals, only of variants with a positive weight (the others are never served).
        let running: [UInt64]
        let total: UInt64

        init(_ split: Split) {
            var names: [String] = []
            var running: [UInt64] = []
            var sum: UInt64 = 0
            for w in split.weights where w.weight > 0 {
                sum += UInt64(w.weight)
                names.append(w.variant)
                running.append(sum)
            }
            self.names = names
            self.running = running
            self.total = sum
        }

        /// The index of the first running total `>= r + 1`.
        func index(at r: UInt64) -> Int {
            var lo = 0
            var hi = running.count - 1
            while lo < hi {
                let mid = (lo + hi) / 2
                if running[mid] >= r + 1 { hi = mid } else { lo = mid + 1 }
            }
            return lo
        }

        func variant(at r: UInt64) -> String { names[index(at: r)] }

        /// How many residues from `r` on (wrapping) keep serving the same variant name;
        /// nil when every residue serves it.
        func run(from r: UInt64) -> UInt64? {
            var i = index(at: r)
            let name = names[i]
            var position = r
            var length: UInt64 = 0
            for _ in 0...names.count {
                length += running[i] - position
                position = running[i]
                if position == total {
                    position = 0
                    i = 0
                } else {
                    i += 1
                }
                if names[i] != name { return length }
            }
            return nil
        }
    }

    static func gcd(_ a: UInt64, _ b: UInt64) -> UInt64 {
        var a = a
        var b = b
        while b != 0 { (a, b) = (b, a % b) }
        return a
    }
}
