import FlagEngine
import FlagModel
import Foundation

/// The labels of `flagstaff_evaluations_total`.
struct EvaluationKey: Hashable {
    var project: String
    var environment: String
    var flag: String
    var variant: String
    var reason: String
}

/// Evaluation counts of one served snapshot, one slot per (flag, variant, reason), counted
/// by index: a request adds to its slots under one lock, without hashing a string.
///
/// Slots are turned into labelled counts only when the metrics are read (`drain`). Keys
/// that are not in the snapshot are counted in one number, not by name, so that requests
/// for made-up keys cannot grow the metrics without bound.
final class EvaluationCounters: @unchecked Sendable {
    let project: String
    let environment: String
    let version: String
    private let flagKeys: [String]
    private let variantNames: [[String]]
    /// Per flag: its first slot. A flag has `(variants + 1) × reasons` slots, the first row
    /// for decisions that serve no variant.
    private let base: [Int]
    private static let reasons = Reason.allCases.count

    private let lock = NSLock()
    private var counts: [UInt64]
    private var notFound: UInt64 = 0

    init(evaluator: Evaluator, project: String, environment: String, version: String) {
        self.project = project
        self.environment = environment
        self.version = version
        var keys: [String] = []
        var names: [[String]] = []
        var base: [Int] = []
        var total = 0
        for i in 0..<evaluator.flagCount {
            keys.append(evaluator.flagKey(at: i))
            let variants = evaluator.variantNames(at: i)
            names.append(variants)
            base.append(total)
            total += (variants.count + 1) * Self.reasons
        }
        self.flagKeys = keys
        self.variantNames = names
        self.base = base
        self.counts = [UInt64](repeating: 0, count: total)
    }

    /// The slot counting `decision` for flag `index`.
    @inline(__always)
    func slot(flag index: Int, _ decision: Decision) -> Int {
        base[index] + (decision.variant + 1) * Self.reasons + decision.reason.ordinal
    }

    func record(slot: Int) {
        lock.lock()
        counts[slot] &+= 1
        lock.unlock()
    }

    func record(slots: UnsafeBufferPointer<Int>) {
        lock.lock()
        for slot in slots { counts[slot] &+= 1 }
        lock.unlock()
    }

    func recordNotFound() {
        lock.lock()
        notFound &+= 1
        lock.unlock()
    }

    /// Hands what was counted since the last drain to `visit` (flag, variant or "", reason,
    /// count; unknown keys as one `notFound` total) and starts again from zero.
    func drain(_ visit: (String, String, Reason, UInt64) -> Void, notFound missing: (UInt64) -> Void) {
        lock.lock()
        let counts = self.counts
        let notFound = self.notFound
        self.counts = [UInt64](repeating: 0, count: counts.count)
        self.notFound = 0
        lock.unlock()
        if notFound > 0 { missing(notFound) }
        for flag in flagKeys.indices {
            let names = variantNames[flag]
            let first = base[flag]
            let end = first + (names.count + 1) * Self.reasons
            for slot in first..<end where counts[slot] != 0 {
                let offset = slot - first
                let variant = offset / Self.reasons - 1
                visit(flagKeys[flag], variant >= 0 ? names[variant] : "", Reason.allCases[offset % Self.reasons], counts[slot])
            }
        }
    }
}
