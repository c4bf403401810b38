import FlagModel

// Time in the language: windows and scheduled rollouts, as plain data the evaluator reads
// without allocating. Instants are nanoseconds since the Unix epoch (Int64 covers 1678 to
// 2262; the compiler only accepts schedule times from 1970 to 2200).

/// A period `[start, end)`; `Int64.min` / `Int64.max` stand for an open side.
struct TimeWindow: Sendable {
    var start: Int64
    var end: Int64

    static let always = TimeWindow(start: .min, end: .max)

    init(start: Int64, end: Int64) {
        self.start = start
        self.end = end
    }

    init(_ window: Window?) {
        self = .always
        guard let window else { return }
        if let s = window.start.flatMap(Timestamp.parse) { start = Self.nanos(s) }
        if let e = window.end.flatMap(Timestamp.parse) { end = Self.nanos(e) }
    }

    var isBounded: Bool { start != .min || end != .max }

    @inline(__always)
    func contains(_ t: Int64) -> Bool { t >= start && t < end }

    /// `instant` in nanoseconds since the epoch, saturating outside what Int64 holds.
    static func nanos(_ instant: Instant) -> Int64 {
        let limit: Int64 = 9_223_372_035
        if instant.seconds >= limit { return .max }
        if instant.seconds <= -limit { return .min }
        return instant.seconds * 1_000_000_000 + Int64(instant.nanos)
    }

    static func instant(_ nanos: Int64) -> Instant {
        let seconds = nanos >= 0 ? nanos / 1_000_000_000 : (nanos - 999_999_999) / 1_000_000_000
        return Instant(seconds: seconds, nanos: Int32(nanos - seconds * 1_000_000_000))
    }
}

/// A rollout's percentage as a function of time.
enum CompiledSchedule: Sendable {
    case none
    /// Linear from `from` to `to` over `[start, end)`; whole percentages, dropping the
    /// fraction toward `from`.
    case ramp(from: Int, to: Int, start: Int64, end: Int64)
    /// `base` until the first step; the steps are a range of the flag's step tables.
    case steps(base: Int, range: Range<Int>)

    init(_ rollout: Rollout, stepTimes: inout [Int64], stepPercentages: inout [Int]) {
        switch rollout.schedule {
        case nil: self = .none
        case .ramp(let r):
            guard let start = Timestamp.parse(r.start), let end = Timestamp.parse(r.end) else {
                self = .none
                return
            }
            self = .ramp(from: r.from, to: r.to, start: TimeWindow.nanos(start), end: TimeWindow.nanos(end))
        case .steps(let steps):
            let first = stepTimes.count
            for step in steps {
                guard let at = Timestamp.parse(step.at) else { continue }
                stepTimes.append(TimeWindow.nanos(at))
                stepPercentages.append(step.percentage)
            }
            self = .steps(base: rollout.percentage, range: first..<stepTimes.count)
        }
    }

    var isScheduled: Bool {
        if case .none = self { return false }
        return true
    }

    @inline(__always)
    func percentage(at t: Int64, _ stepTimes: [Int64], _ stepPercentages: [Int]) -> Int {
        switch self {
        case .none: return -1
        case .ramp(let from, let to, let start, let end):
            if t < start { return from }
            if t >= end { return to }
            return Self.rampPercentage(from: from, to: to, elapsed: t &- start, duration: end &- start)
        case .steps(let base, let range):
            var current = base
            for i in range {
                guard t >= stepTimes[i] else { break }
                current = stepPercentages[i]
            }
            return current
        }
    }

    /// `from + (to - from) * elapsed / duration`, exactly, for `0 <= elapsed < duration`.
    @inline(__always)
    static func rampPercentage(from: Int, to: Int, elapsed: Int64, duration: Int64) -> Int {
        let span = UInt64(abs(to - from))
        guard duration > 0, span > 0 else { return from }
        let product = span.multipliedFullWidth(by: UInt64(elapsed))
        let moved = Int(UInt64(duration).dividingFullWidth(product).quotient)
        return to >= from ? from + moved : from - moved
    }

    /// The instants at which the percentage changes: each step, and for a ramp the first
    /// instant of every whole percentage it passes through.
    func boundaries(_ stepTimes: [Int64]) -> [Int64] {
        switch self {
        case .none: return []
        case .ramp(let from, let to, let start, let end):
            let span = Int64(abs(to - from))
            let duration = end &- start
            guard duration > 0 else { return [start] }
            // At `start` the ramp serves `from`, as before it: the first change is one step in.
            var out: [Int64] = []
            if span > 0 {
                for k in 1...span {
                    // The smallest elapsed with span * elapsed >= k * duration.
                    let product = UInt64(k).multipliedFullWidth(by: UInt64(duration))
                    let (q, r) = UInt64(span).dividingFullWidth(product)
                    let elapsed = Int64(q) + (r > 0 ? 1 : 0)
                    if elapsed < duration { out.append(start + elapsed) }
                }
            }
            out.append(end)
            return out
        case .steps(_, let range): return Array(stepTimes[range])
        }
    }
}

/// The instants at which a flag's outcome may change with time alone.
enum TimeBoundaries {
    static func of(_ flag: Flag) -> [Instant] {
        var nanos: [Int64] = []
        func add(_ window: Window?) {
            let w = TimeWindow(window)
            if w.start != .min { nanos.append(w.start) }
            if w.end != .max { nanos.append(w.end) }
        }
        add(flag.window)
        var stepTimes: [Int64] = []
        var stepPercentages: [Int] = []
        for rule in flag.rules {
            add(rule.window)
            if let rollout = rule.rollout {
                let schedule = CompiledSchedule(rollout, stepTimes: &stepTimes, stepPercentages: &stepPercentages)
                nanos += schedule.boundaries(stepTimes)
            }
        }
        return nanos.map(TimeWindow.instant)
    }
}

extension Rollout {
    /// The percentage this rollout serves at `instant`, as the evaluator computes it.
    public func percentage(at instant: Instant) -> Int {
        var stepTimes: [Int64] = []
        var stepPercentages: [Int] = []
        let schedule = CompiledSchedule(self, stepTimes: &stepTimes, stepPercentages: &stepPercentages)
        guard schedule.isScheduled else { return percentage }
        return schedule.percentage(at: TimeWindow.nanos(instant), stepTimes, stepPercentages)
    }

    /// Every change of this rollout's percentage with time, in order: when, and from what to what.
    public func changes() -> [(at: Instant, from: Int, to: Int)] {
        var stepTimes: [Int64] = []
        var stepPercentages: [Int] = []
        let schedule = CompiledSchedule(self, stepTimes: &stepTimes, stepPercentages: &stepPercentages)
        var out: [(at: Instant, from: Int, to: Int)] = []
        for t in Set(schedule.boundaries(stepTimes)).sorted() {
            let before = schedule.percentage(at: t &- 1, stepTimes, stepPercentages)
            let after = schedule.percentage(at: t, stepTimes, stepPercentages)
            if before != after { out.append((TimeWindow.instant(t), before, after)) }
        }
        return out
    }
}

extension Window {
    /// Whether `instant` falls within the window.
    public func contains(_ instant: Instant) -> Bool {
        TimeWindow(self).contains(TimeWindow.nanos(instant))
    }
}
