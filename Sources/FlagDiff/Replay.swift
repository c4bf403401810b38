import FlagEngine
import FlagModel

/// Who changes variant when contexts are evaluated through both sides of a diff.
public struct ReplayEffect: Sendable, Hashable {
    /// How many contexts were replayed.
    public var contexts: Int
    /// How many of them got a different variant of at least one flag.
    public var changed: Int
    /// Per flag key, only flags for which some context changed variant: each from → to with
    /// the number of contexts and their share of all contexts, largest first.
    public var transitions: [String: [Transition]]

    public init(contexts: Int, changed: Int, transitions: [String: [Transition]]) {
        self.contexts = contexts
        self.changed = changed
        self.transitions = transitions
    }

    /// Flag keys with transitions, sorted.
    public var flagKeys: [String] {
        transitions.keys.sorted(by: UTF8Order.precedes)
    }
}

/// Replays contexts (golden-test contexts, a `--sample contexts.jsonl` file) through both
/// snapshots of a diff.
public enum Replay {
    /// Evaluates every context through both sides for every flag present in either, and
    /// counts who changes variant, from what to what. A flag absent on one side counts as
    /// no variant (nil). `by: [random]` draws the same number on both sides for a context,
    /// so only real changes are counted and the result is the same on every run.
    public static func run(base: Snapshot?, head: Snapshot?, contexts: [[String: Value]], now: Instant) -> ReplayEffect
    {
        let left = base.map(Evaluator.init(snapshot:))
        let right = head.map(Evaluator.init(snapshot:))
        let keys = Set((base?.flags ?? []).map(\.key)).union((head?.flags ?? []).map(\.key))
            .sorted(by: UTF8Order.precedes)
        var counts: [String: [Pair: Int]] = [:]
        var changed = 0
        for (i, context) in contexts.enumerated() {
            var leftRandom = SplitMix64(state: UInt64(i) &* 0x9E37_79B9_7F4A_7C15)
            var rightRandom = SplitMix64(state: UInt64(i) &* 0x9E37_79B9_7F4A_7C15)
            let l = left.map { $0.prepare(context, now: now, random: &leftRandom) }
            let r = right.map { $0.prepare(context, now: now, random: &rightRandom) }
            var any = false
            for key in keys {
                let from = l.flatMap { left!.evaluate(key, context: $0).variant }
                let to = r.flatMap { right!.evaluate(key, context: $0).variant }
                guard from != to else { continue }
                counts[key, default: [:]][Pair(from: from, to: to), default: 0] += 1
                any = true
            }
            if any { changed += 1 }
        }
        let total = Double(max(contexts.count, 1))
        var transitions: [String: [Transition]] = [:]
        for (key, pairs) in counts {
            transitions[key] = pairs.map { pair, count in
                Transition(flag: key, from: pair.from, to: pair.to, count: count, share: Double(count) / total)
            }.sorted(by: Transition.ordered)
        }
        return ReplayEffect(contexts: contexts.count, changed: changed, transitions: transitions)
    }

    /// Reads a sample file: one JSON object (an evaluation context) per line; blank lines
    /// and lines starting with `#` are skipped.
    public static func contexts(jsonLines text: String) throws(SampleError) -> [[String: Value]] {
        var out: [[String: Value]] = []
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let trimmed = line.drop { $0 == " " || $0 == "\t" || $0 == "\r" }
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let value: Value
            do {
                value = try JSONParser.parse(String(line))
            } catch {
                throw SampleError(line: lineNumber, message: error.description)
            }
            guard case .object(let context) = value else {
                throw SampleError(line: lineNumber, message: "expected a JSON object, found \(value.kindName)")
            }
            out.append(context)
        }
        return out
    }

    /// A line of a sample file that is not a JSON object.
    public struct SampleError: Error, Sendable, Hashable, CustomStringConvertible {
        /// 1-based.
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    private struct Pair: Hashable {
        var from: String?
        var to: String?
    }
}
