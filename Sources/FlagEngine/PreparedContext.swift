import FlagModel

/// An evaluation context made ready for one evaluator: every attribute that some condition
/// or bucketing reads is looked up once and parsed into the forms its operators need, so
/// that evaluating flags against it allocates nothing.
public struct PreparedContext: Sendable {
    /// One attribute's value in every form an operator may ask for.
    struct Slot: Sendable {
        var present = false
        /// The value as text (numbers and booleans as JSON writes them); nil for objects and arrays.
        var text: String?
        var lowercased: String?
        var number: Double?
        var semver: SemVer?
        var instant: Instant?
        var ip: IPAddress?
    }

    var slots: [Slot]
    /// The targeting key, for segment `include`/`exclude` lists.
    var targetingKey: String?
    /// Decimal text of a number drawn from 1...9999 for `by: [random]`, drawn once per context
    /// (empty when the snapshot never buckets by `random`).
    var randomText: String
    /// The evaluation time in nanoseconds since the Unix epoch: the context's `currentTime`
    /// when the snapshot has windows or schedules and the context sets a valid one, else `now`.
    var time: Int64

    /// A context prepared for no snapshot: what a holder keeps before it has one. Evaluating
    /// with it is a programming error (its slots do not fit any evaluator).
    public static let none = PreparedContext(slots: [], targetingKey: nil, randomText: "", time: 0)
}

/// What the evaluator needs to know about one attribute when preparing a context.
struct AttributeNeeds: Sendable {
    var name: String
    /// `name` split at dots, to look up nested objects when no top-level key has the full name.
    var path: [String]
    var lowercase = false
    var number = false
    var semver = false
    var instant = false
    var ip = false
    /// Whether some operator (membership, substring, regular expression) or bucketing reads the
    /// value as text. Only `currentTime`'s default depends on it: the clock is formatted as
    /// text only when something reads it so.
    var text = false
    /// Whether this is `currentTime`, which defaults to the clock: decided once, not per context.
    let isCurrentTime: Bool

    init(name: String, path: [String]) {
        self.name = name
        self.path = path
        isCurrentTime = name == "currentTime"
    }
}

extension PreparedContext {
    static func prepare(
        _ context: [String: Value], attributes: [AttributeNeeds], now: Instant, drawsRandom: Bool,
        readsTime: Bool = false, random: inout some RandomNumberGenerator
    ) -> PreparedContext {
        // Filled in place, the needs borrowed: a slot is large, and copying it or the needs
        // (retaining their strings) per attribute was a good part of preparing a context.
        var slots = emptySlots(attributes.count)
        attributes.withUnsafeBufferPointer { list in
            slots.withUnsafeMutableBufferPointer { out in
                guard context.count * list.count <= 256 else {
                    for i in 0..<list.count { fill(&out[i], list[i], lookup(context, list[i]), now: now) }
                    return
                }
                // A small context: its members matched against the names (comparing small
                // strings is cheaper than hashing every needed name), then nested names.
                withUnsafeTemporaryAllocation(of: Bool.self, capacity: list.count) { found in
                    found.initialize(repeating: false)
                    for (key, value) in context {
                        for i in 0..<list.count where list[i].name == key {
                            found[i] = true
                            fill(&out[i], list[i], value, now: now)
                            break
                        }
                    }
                    for i in 0..<list.count where !found[i] {
                        fill(&out[i], list[i], list[i].path.count > 1 ? nested(context, list[i]) : nil, now: now)
                    }
                }
            }
        }
        return finish(
            slots: slots, targetingKey: context["targetingKey"], currentTime: readsTime ? context["currentTime"] : nil,
            now: now, drawsRandom: drawsRandom, random: &random)
    }

    /// `count` empty slots, each made in place: `[Slot](repeating:count:)` copies one through
    /// the value witnesses, which cost as much as filling them.
    static func emptySlots(_ count: Int) -> [Slot] {
        [Slot](unsafeUninitializedCapacity: count) { buffer, initialized in
            for i in 0..<count { (buffer.baseAddress! + i).initialize(to: Slot()) }
            initialized = count
        }
    }

    /// The rest of preparing, once the slots are filled: the targeting key, the random draw and
    /// the time, from the context's `targetingKey` and `currentTime` (nil when absent).
    static func finish(
        slots: [Slot], targetingKey: Value?, currentTime: Value?, now: Instant, drawsRandom: Bool,
        random: inout some RandomNumberGenerator
    ) -> PreparedContext {
        // Drawing costs a system call: only contexts of snapshots that bucket by `random` do.
        let randomText = drawsRandom ? String(Int.random(in: 1...9999, using: &random)) : ""
        var time = now
        if case .string(let text)? = currentTime, let asked = Timestamp.parse(text) {
            time = asked
        }
        return PreparedContext(
            slots: slots, targetingKey: targetingKey?.scalarText, randomText: randomText, time: TimeWindow.nanos(time))
    }

    @inline(__always)
    static func fill(_ slot: inout Slot, _ needs: AttributeNeeds, _ found: Value?, now: Instant) {
        var value = found
        if value == nil, needs.isCurrentTime {
            guard needs.text else {
                // Exactly what formatting the clock and parsing it back would give (whole
                // seconds; no number, version or address reads from a time), without the text.
                slot.present = true
                if needs.instant { slot.instant = Instant(seconds: now.seconds) }
                return
            }
            value = .string(Timestamp.format(now))
        }
        guard let value, value != .null else { return }
        slot.present = true
        slot.text = value.scalarText
        guard let text = slot.text else { return }
        if needs.lowercase { slot.lowercased = text.lowercased() }
        if needs.number {
            switch value {
            case .int(let i): slot.number = Double(i)
            case .double(let d): slot.number = d
            case .string(let s): slot.number = NumberSyntax.parse(s)
            default: slot.number = nil
            }
        }
        if needs.semver { slot.semver = SemVer(text) }
        if needs.instant { slot.instant = Timestamp.parse(text) }
        if needs.ip { slot.ip = IPAddress(text) }
    }

    private static func lookup(_ context: [String: Value], _ needs: AttributeNeeds) -> Value? {
        if let direct = context[needs.name] { return direct }
        guard needs.path.count > 1 else { return nil }
        return nested(context, needs)
    }

    /// A dotted name looked up through nested objects (`device.os` in `{"device":{"os":…}}`).
    private static func nested(_ context: [String: Value], _ needs: AttributeNeeds) -> Value? {
        var current: Value = .object(context)
        for part in needs.path {
            guard case .object(let object) = current, let next = object[part] else { return nil }
            current = next
        }
        return current
    }
}
