import FlagEngine
import FlagModel
import Synchronization

/// One snapshot being served: its evaluator, and counts of what was evaluated on it, in
/// slots indexed by flag, variant and reason so that counting allocates nothing.
final class LoadedSnapshot: Sendable {
    let evaluator: Evaluator
    let revision: Int64
    /// The snapshot as canonical JSON, for the cache file.
    let json: [UInt8]
    let types: [FlagType]
    /// Where each flag's slots start; a flag has (variants + 1) × reasons slots.
    private let offsets: [Int]
    private let counts: Mutex<[UInt64]>
    static let reasons = Reason.allCases

    init(snapshot: Snapshot, revision: Int64, json: [UInt8]) {
        let evaluator = Evaluator(snapshot: snapshot)
        self.evaluator = evaluator
        self.revision = revision
        self.json = json
        var types: [FlagType] = []
        var offsets: [Int] = []
        var total = 0
        for i in 0..<evaluator.flagCount {
            types.append(evaluator.flagType(evaluator.flagKey(at: i)) ?? .json)
            offsets.append(total)
            total += (evaluator.variantNames(at: i).count + 1) * Self.reasons.count
        }
        self.types = types
        self.offsets = offsets
        self.counts = Mutex([UInt64](repeating: 0, count: total))
    }

    var version: String { evaluator.version }

    @inline(__always)
    func count(flag index: Int, _ decision: Decision) {
        let reason = Self.reasonIndex(decision.reason)
        let slot = offsets[index] + (decision.variant + 1) * Self.reasons.count + reason
        counts.withLock { $0[slot] &+= 1 }
    }

    @inline(__always)
    static func reasonIndex(_ reason: Reason) -> Int {
        switch reason {
        case .static: 0
        case .default: 1
        case .targetingMatch: 2
        case .split: 3
        case .disabled: 4
        case .prerequisiteFailed: 5
        case .error: 6
        }
    }

    /// Takes the counts so far (leaving zeros), as (flag, variant, reason, count).
    func drain() -> [(flag: String, variant: String?, reason: Reason, count: UInt64)] {
        let taken = counts.withLock { counts -> [UInt64] in
            let copy = counts
            for i in counts.indices { counts[i] = 0 }
            return copy
        }
        var out: [(flag: String, variant: String?, reason: Reason, count: UInt64)] = []
        for i in 0..<evaluator.flagCount {
            let variants = evaluator.variantNames(at: i)
            for v in 0...variants.count {
                for (r, reason) in Self.reasons.enumerated() {
                    let n = taken[offsets[i] + v * Self.reasons.count + r]
                    if n > 0 { out.append((evaluator.flagKey(at: i), v == 0 ? nil : variants[v - 1], reason, n)) }
                }
            }
        }
        return out
    }
}
