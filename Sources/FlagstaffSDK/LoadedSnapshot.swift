import FlagEngine
import FlagModel
import Synchronization

/// One snapshot being served: its evaluator, and counts of what was evaluated on it, in
/// slots indexed by flag, variant and reason so that counting allocates nothing and takes
/// one relaxed atomic add.
final class LoadedSnapshot: @unchecked Sendable {
    let evaluator: Evaluator
    /// `evaluator` again, unretained: the getters reach it without a retain and a release.
    let evaluatorRef: Unmanaged<Evaluator>
    let revision: Int64
    /// The snapshot as canonical JSON, for the cache file.
    let json: [UInt8]
    let types: [FlagType]
    /// Where each flag's slots start; a flag has (variants + 1) × reasons slots.
    private let offsets: [Int]
    /// `slotCount` atomics, allocated once; freed with the snapshot.
    private let counts: UnsafeMutablePointer<Atomic<UInt64>>
    private let slotCount: Int
    static let reasons = Reason.allCases

    init(snapshot: Snapshot, revision: Int64, json: [UInt8]) {
        let evaluator = Evaluator(snapshot: snapshot)
        self.evaluator = evaluator
        self.evaluatorRef = .passUnretained(evaluator)
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
        self.slotCount = total
        self.counts = .allocate(capacity: max(total, 1))
        for i in 0..<total { (counts + i).initialize(to: Atomic(0)) }
    }

    deinit {
        counts.deinitialize(count: slotCount)
        counts.deallocate()
    }

    var version: String { evaluator.version }

    @inline(__always)
    func count(flag index: Int, _ decision: Decision) {
        let reason = decision.reason.ordinal
        let slot = offsets[index] + (decision.variant + 1) * Self.reasons.count + reason
        counts[slot].wrappingAdd(1, ordering: .relaxed)
    }

    /// Takes the counts so far (leaving zeros), as (flag, variant, reason, count).
    func drain() -> [(flag: String, variant: String?, reason: Reason, count: UInt64)] {
        var taken = [UInt64](repeating: 0, count: slotCount)
        for i in 0..<slotCount { taken[i] = counts[i].exchange(0, ordering: .relaxed) }
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
