import FlagModel
import FlagStore
import Foundation

/// Which flags of a served snapshot look finished with: never evaluated, not evaluated for a
/// while, serving one variant to everyone, or past their `expires` date.
///
/// Built from the snapshot and `flag_activity` (first and last hour each variant was served),
/// in one pass over each: a snapshot of 10,000 flags is classified in milliseconds.
public struct StaleReport: AnalyticsReport, Hashable {
    /// What the report found about one flag. A flag may have several findings.
    public enum Finding: Sendable, Hashable {
        /// No evaluation of it was ever counted in this environment.
        case neverEvaluated
        /// Counted before, but no evaluation since `lastSeen` (the start of the last hour
        /// with a count), which is more than the report's days ago.
        case notEvaluated(lastSeen: Date)
        /// Over the report's days only `variant` was served, and the flag has been counted
        /// for at least that long: its code can serve `variant` and the flag can go.
        case readyToRemove(variant: String)
        /// Its `expires` date (`YYYY-MM-DD`) is before today (UTC).
        case expired(on: String)

        /// `never-evaluated`, `not-evaluated`, `ready-to-remove`, `expired`.
        public var kind: String {
            switch self {
            case .neverEvaluated: "never-evaluated"
            case .notEvaluated: "not-evaluated"
            case .readyToRemove: "ready-to-remove"
            case .expired: "expired"
            }
        }
    }

    /// One flag of the snapshot.
    public struct Entry: Sendable, Hashable {
        public var flag: String
        public var findings: [Finding]
        /// The last hour any variant of it was counted; nil when never.
        public var lastSeen: Date?
        /// Variants (not "") served within the report's days, sorted.
        public var recentVariants: [String]

        public init(flag: String, findings: [Finding], lastSeen: Date?, recentVariants: [String]) {
            self.flag = flag
            self.findings = findings
            self.lastSeen = lastSeen
            self.recentVariants = recentVariants
        }

        /// The variant to keep when the flag is removed, if it is ready to be.
        public var variantToKeep: String? {
            for case .readyToRemove(let variant) in findings { return variant }
            return nil
        }
    }

    public var project: String
    public var environment: String
    public var now: Date
    public var days: Int
    /// Every flag of the snapshot, sorted by key, with or without findings.
    public var flags: [Entry]

    /// `now − days`: activity at or after it is recent.
    public var cutoff: Date { now.addingTimeInterval(-Double(days) * 86_400) }

    /// Flags with at least one finding.
    public var stale: [Entry] { flags.filter { !$0.findings.isEmpty } }

    /// Flags ready to remove, with the variant each serves to everyone.
    public var readyToRemove: [(flag: String, variant: String)] {
        flags.compactMap { entry in entry.variantToKeep.map { (flag: entry.flag, variant: $0) } }
    }

    /// Classifies every flag of `snapshot` from `activity` (any order; rows of flags no
    /// longer in the snapshot are ignored), as of `now`, over the last `days` days.
    ///
    /// - never evaluated: no activity row;
    /// - not evaluated for `days` days: every row's `lastSeen` is before `now − days`;
    /// - ready to remove: the rows with `lastSeen` ≥ `now − days` name exactly one variant
    ///   (rows of "", evaluations that served none, are not a variant), and the flag's
    ///   earliest `firstSeen` is at or before `now − days`, so that the days looked at were
    ///   all counted;
    /// - expired: `expires` is before the UTC day of `now`.
    public init(snapshot: Snapshot, activity: [FlagActivity], now: Date, days: Int) {
        self.project = snapshot.project
        self.environment = snapshot.environment
        self.now = now
        self.days = days
        let cutoff = now.addingTimeInterval(-Double(days) * 86_400)
        let today = Format.day(now)

        struct Seen {
            var firstSeen: Date
            var lastSeen: Date
            var recent: Set<String> = []
        }
        var seen: [String: Seen] = [:]
        seen.reserveCapacity(snapshot.flags.count)
        for row in activity {
            var entry = seen[row.flag] ?? Seen(firstSeen: row.firstSeen, lastSeen: row.lastSeen)
            entry.firstSeen = min(entry.firstSeen, row.firstSeen)
            entry.lastSeen = max(entry.lastSeen, row.lastSeen)
            if row.lastSeen >= cutoff, !row.variant.isEmpty { entry.recent.insert(row.variant) }
            seen[row.flag] = entry
        }

        var entries: [Entry] = []
        entries.reserveCapacity(snapshot.flags.count)
        for flag in snapshot.flags {
            var findings: [Finding] = []
            let activity = seen[flag.key]
            if let activity {
                if activity.lastSeen < cutoff {
                    findings.append(.notEvaluated(lastSeen: activity.lastSeen))
                } else if activity.recent.count == 1, activity.firstSeen <= cutoff, let only = activity.recent.first {
                    findings.append(.readyToRemove(variant: only))
                }
            } else {
                findings.append(.neverEvaluated)
            }
            if let expires = flag.expires, expires < today {
                findings.append(.expired(on: expires))
            }
            entries.append(
                Entry(
                    flag: flag.key, findings: findings, lastSeen: activity?.lastSeen,
                    recentVariants: activity.map { $0.recent.sorted() } ?? []))
        }
        // The snapshot keeps flags sorted by UTF-8 bytes; keys are ASCII, so that is key order.
        self.flags = entries
    }

    public init(project: String, environment: String, now: Date, days: Int, flags: [Entry]) {
        self.project = project
        self.environment = environment
        self.now = now
        self.days = days
        self.flags = flags
    }

    // MARK: Rendering

    private func describe(_ finding: Finding) -> String {
        switch finding {
        case .neverEvaluated: "never evaluated"
        case .notEvaluated(let lastSeen):
            "not evaluated for \(days) days (last \(Format.day(lastSeen)))"
        case .readyToRemove(let variant): "ready to remove: served only '\(variant)' for \(days) days"
        case .expired(let on): "expired on \(on)"
        }
    }

    private var title: String {
        "Stale flags in \(project)/\(environment) over the last \(days) days (as of \(Format.time(now)))"
    }

    private var summary: String {
        let stale = self.stale
        let counts = ["never-evaluated", "not-evaluated", "ready-to-remove", "expired"].map { kind in
            (kind, stale.filter { $0.findings.contains { $0.kind == kind } }.count)
        }
        return "\(flags.count) flag\(flags.count == 1 ? "" : "s") checked, \(stale.count) with findings"
            + (stale.isEmpty ? "" : ": " + counts.filter { $0.1 > 0 }.map { "\($0.1) \($0.0)" }.joined(separator: ", "))
    }

    private var table: Table {
        var table = Table(["FLAG", "FINDINGS", "LAST SEEN"])
        for entry in stale {
            table.append([
                entry.flag, entry.findings.map(describe).joined(separator: "; "),
                entry.lastSeen.map(Format.time) ?? "never",
            ])
        }
        return table
    }

    public var text: String {
        var out = title + "\n" + summary + "\n"
        if !stale.isEmpty { out += "\n" + table.text }
        return out
    }

    public var markdown: String {
        var out = "### \(title)\n\n\(summary).\n"
        if !stale.isEmpty { out += "\n" + table.markdown }
        return out
    }

    /// `{project, environment, now, days, cutoff, flags: [{flag, lastSeen, recentVariants,
    /// findings: [{kind, …}]}]}` with every flag of the snapshot (`findings` empty for those
    /// in use), and `readyToRemove: [{flag, variant}]`.
    public var json: Value {
        func findingJSON(_ finding: Finding) -> Value {
            var object: [String: Value] = ["kind": .string(finding.kind), "text": .string(describe(finding))]
            switch finding {
            case .neverEvaluated: break
            case .notEvaluated(let lastSeen): object["lastSeen"] = .string(Format.time(lastSeen))
            case .readyToRemove(let variant): object["variant"] = .string(variant)
            case .expired(let on): object["expires"] = .string(on)
            }
            return .object(object)
        }
        return .object([
            "project": .string(project), "environment": .string(environment), "now": .string(Format.time(now)),
            "days": .int(Int64(days)), "cutoff": .string(Format.time(cutoff)),
            "flags": .array(
                flags.map { entry in
                    .object([
                        "flag": .string(entry.flag), "lastSeen": entry.lastSeen.map { .string(Format.time($0)) } ?? .null,
                        "recentVariants": .array(entry.recentVariants.map(Value.string)),
                        "findings": .array(entry.findings.map(findingJSON)),
                    ])
                }),
            "readyToRemove": .array(
                readyToRemove.map { .object(["flag": .string($0.flag), "variant": .string($0.variant)]) }),
        ])
    }
}
