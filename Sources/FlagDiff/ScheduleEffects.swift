import FlagEngine
import FlagModel

/// What a flag's schedules will do, step by step, with the exact effect of each step on the
/// bucket space: what a reviewer needs before approving a rollout that ramps by itself.
public enum ScheduleEffects {
    /// The steps of `flag`'s scheduled rollouts and windows, in time order; [] when it has none.
    static func steps(_ flag: Flag) -> [ScheduleStep] {
        var out: [ScheduleStep] = []
        if let window = flag.window {
            let path = "flag"
            if let start = window.start {
                out.append(ScheduleStep(at: start, path: path, description: "starts serving its rules (off_variant before)"))
            }
            if let end = window.end {
                out.append(ScheduleStep(at: end, path: path, description: "stops: everyone gets \(flag.offVariant)"))
            }
        }
        for (i, rule) in flag.rules.enumerated() {
            let path = Describe.rulePath(i, rule)
            if let window = rule.window {
                if let start = window.start { out.append(ScheduleStep(at: start, path: path, description: "starts to apply")) }
                if let end = window.end { out.append(ScheduleStep(at: end, path: path, description: "stops applying")) }
            }
            guard let rollout = rule.rollout, let schedule = rollout.schedule else { continue }
            let population = "users matching \(path)"
            switch schedule {
            case .steps:
                for change in rollout.changes() {
                    out.append(
                        ScheduleStep(
                            at: Timestamp.format(change.at), path: path,
                            description: "rollout \(change.from)% → \(change.to)%: "
                                + effect(flag, rule: i, from: change.from, to: change.to, population: population),
                            from: change.from, to: change.to))
                }
            case .ramp(let ramp):
                let changes = rollout.changes()
                guard let first = changes.first, let last = changes.last else { continue }
                var text = "ramps \(ramp.from)% → \(ramp.to)% until \(Describe.time(ramp.end)), "
                    + "one point every \(interval(ramp, points: changes.count)) from \(Describe.time(Timestamp.format(first.at))): "
                    + effect(flag, rule: i, from: ramp.from, to: ramp.to, population: population)
                if changes.count > 1 {
                    let point = BucketMath.rolloutBand(first.from, first.to)
                    text += " (\(Describe.percent(Double(point) / Double(BucketMath.space))) at each point)"
                }
                out.append(
                    ScheduleStep(
                        at: ramp.start, path: path, description: text, from: ramp.from, to: last.to))
            }
        }
        return out.sorted { $0.at < $1.at }
    }

    /// What changes in `snapshot` at `instant` (a step reached while serving), one line per
    /// flag and rule in a reviewer's words: `launch rule 1 "go live": rollout 0% → 100%:
    /// 100.0% of users matching rule 1 "go live" change from off to on`.
    public static func changes(in snapshot: Snapshot, at instant: Instant) -> [String] {
        // One nanosecond earlier: what was served just before the step.
        let before =
            instant.nanos == 0
            ? Instant(seconds: instant.seconds - 1, nanos: 999_999_999)
            : Instant(seconds: instant.seconds, nanos: instant.nanos - 1)
        func edge(_ window: Window?) -> String? {
            guard let window else { return nil }
            let was = window.contains(before)
            let now = window.contains(instant)
            return was == now ? nil : (now ? "starts" : "stops")
        }
        var out: [String] = []
        for flag in snapshot.flags {
            if let change = edge(flag.window) {
                out.append(
                    change == "starts"
                        ? "\(flag.key): its window opens: it serves its rules"
                        : "\(flag.key): its window closes: everyone gets \(flag.offVariant)")
            }
            for (i, rule) in flag.rules.enumerated() {
                let path = "\(flag.key) \(Describe.rulePath(i, rule))"
                if let change = edge(rule.window) { out.append("\(path): \(change == "starts" ? "starts to apply" : "stops applying")") }
                guard let rollout = rule.rollout, rollout.schedule != nil else { continue }
                let a = rollout.percentage(at: before)
                let b = rollout.percentage(at: instant)
                guard a != b else { continue }
                out.append(
                    "\(path): rollout \(a)% → \(b)%: "
                        + effect(flag, rule: i, from: a, to: b, population: "users matching \(Describe.rulePath(i, rule))"))
            }
        }
        return out
    }

    /// Whether the windows or rollout schedules of two versions of a flag differ; renaming a
    /// rule or changing its conditions does not count.
    static func changed(_ b: Flag, _ h: Flag) -> Bool {
        func timing(_ f: Flag) -> [String] {
            [Describe.window(f.window)]
                + f.rules.map { Describe.window($0.window) + " " + ($0.rollout.map(Describe.percentages) ?? "") }
        }
        return timing(b) != timing(h)
    }

    /// The exact share of `population` that a rollout change from `a` to `b` moves, and between which variants.
    static func effect(_ flag: Flag, rule i: Int, from a: Int, to b: Int, population: String) -> String {
        let share = Double(BucketMath.rolloutBand(a, b)) / Double(BucketMath.space)
        guard case .variant(let served) = flag.rules[i].serve, let fallThrough = fallThrough(flag, after: i) else {
            return "\(Describe.percent(share)) of \(population) \(b > a ? "join" : "leave") the rule"
        }
        if served == fallThrough { return "nobody changes variant: the rule and what follows it both serve \(served)" }
        let (from, to) = b > a ? (fallThrough, served) : (served, fallThrough)
        return "\(Describe.percent(share)) of \(population) change from \(from) to \(to)"
    }

    private static func fallThrough(_ flag: Flag, after i: Int) -> String? {
        guard case .variant(let d) = flag.defaultServe else { return nil }
        for rule in flag.rules[(i + 1)...] {
            guard case .variant(let v) = rule.serve, v == d, rule.window == nil else { return nil }
        }
        return d
    }

    /// The time between two whole-percent points of a ramp, in words (`1 h 46 min`).
    static func interval(_ ramp: Ramp, points: Int) -> String {
        guard let start = Timestamp.parse(ramp.start), let end = Timestamp.parse(ramp.end), points > 0 else { return "?" }
        let seconds = (end.seconds - start.seconds) / Int64(points)
        if seconds >= 86_400 { return "\(seconds / 86_400) d \(seconds % 86_400 / 3600) h" }
        if seconds >= 3600 { return "\(seconds / 3600) h \(seconds % 3600 / 60) min" }
        if seconds >= 60 { return "\(seconds / 60) min \(seconds % 60) s" }
        return "\(seconds) s"
    }
}

/// One step of a schedule as a reviewer reads it.
public struct ScheduleStep: Sendable, Hashable {
    /// RFC 3339, UTC.
    public var at: String
    /// `flag` or `rule 2 "staff"`.
    public var path: String
    /// `rollout 10% → 25%: 15.0% of users matching rule 1 change from off to on`.
    public var description: String
    public var from: Int?
    public var to: Int?

    public init(at: String, path: String, description: String, from: Int? = nil, to: Int? = nil) {
        self.at = at
        self.path = path
        self.description = description
        self.from = from
        self.to = to
    }

    /// `2026-12-07 09:00 UTC  rule 1: rollout 10% → 25%: …`
    public var summary: String { "\(Describe.time(at)) \(path): \(description)" }

    public var json: Value {
        var o: [String: Value] = [
            "at": .string(at), "path": .string(path), "description": .string(description), "summary": .string(summary),
        ]
        if let from { o["from"] = .int(Int64(from)) }
        if let to { o["to"] = .int(Int64(to)) }
        return .object(o)
    }
}
