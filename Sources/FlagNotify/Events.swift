import FlagDiff
import FlagModel
import FlagStore
import Foundation

/// What happened, as outbox drafts: built where it happens (the sync, a rejection, a
/// schedule step), written in the same transaction, rendered per receiver at delivery.
public enum Events {
    /// A snapshot applied as `revision`: `flags.changed` with the change in a reviewer's
    /// words (the text `flagstaff diff` prints and its JSON), and one `flag.killed` per flag
    /// that went from enabled to `enabled: false`. Nothing when no flag, segment or analytics
    /// policy changed.
    public static func applied(
        base: Snapshot?, head: Snapshot, revision: Int64, commit: String, branch: String, author: String,
        message: String, at time: Date = Date()
    ) -> [NotificationDraft] {
        let diff = SnapshotDiff(base: base, head: head)
        guard !diff.isEmpty else { return [] }
        let place = "\(head.project)/\(head.environment)@\(revision)"
        let report = DiffReport(title: "", diffs: [diff])
        let changedKeys = diff.flags.filter { $0.kind != .removed }.map(\.key)
            + diff.segments.filter { $0.kind != .removed }.map(\.key)
        let removedKeys = diff.flags.filter { $0.kind == .removed }.map(\.key)
            + diff.segments.filter { $0.kind == .removed }.map(\.key)
        func draft(_ event: NotificationEvent, _ details: [String: Value], key: String) -> NotificationDraft {
            var details = details
            details["branch"] = .string(branch)
            details["message"] = .string(message)
            return NotificationDraft(
                event: event.rawValue, project: head.project, environment: head.environment, revision: revision,
                version: head.version, commit: commit, author: author, occurredAt: time, details: .object(details),
                dedupeKey: "\(event.rawValue):\(key)")
        }
        var drafts = [
            draft(
                .flagsChanged,
                [
                    "summary": .string(report.summary), "text": .string(report.render(.text)), "diff": diff.json,
                    "changed": .array(changedKeys.sorted().map(Value.string)),
                    "removed": .array(removedKeys.sorted().map(Value.string)),
                    "production": .bool(head.production),
                ], key: place)
        ]
        let before = Dictionary(base?.flags.map { ($0.key, $0) } ?? [], uniquingKeysWith: { a, _ in a })
        for flag in head.flags where !flag.enabled && before[flag.key]?.enabled == true {
            drafts.append(
                draft(
                    .flagKilled,
                    [
                        "flag": .string(flag.key), "name": .string(flag.name), "offVariant": .string(flag.offVariant),
                        "production": .bool(head.production),
                    ], key: "\(place):\(flag.key)"))
        }
        return drafts
    }

    /// A commit not applied: its error count and first diagnostics (the objects of
    /// `flagstaff validate --format json`, at most five).
    public static func rejected(
        project: String, environment: String, commit: String, branch: String, author: String, message: String,
        summary: String, diagnostics: [Value], errors: Int, at time: Date = Date()
    ) -> NotificationDraft {
        NotificationDraft(
            event: NotificationEvent.syncRejected.rawValue, project: project, environment: environment,
            commit: commit, author: author, occurredAt: time,
            details: .object([
                "summary": .string(summary), "errors": .int(Int64(errors)),
                "diagnostics": .array(Array(diagnostics.prefix(5))), "branch": .string(branch),
                "message": .string(message),
            ]),
            dedupeKey: "\(NotificationEvent.syncRejected.rawValue):\(project)/\(environment)@\(commit)")
    }

    /// A time-based rollout of `revision` reaching the step that starts at `at`. The event's
    /// time (and the age that gives it up) is when it is noticed; `at` is in the details, with
    /// what changed in a reviewer's words (`changes`).
    public static func scheduleStep(
        project: String, environment: String, revision: Int64, version: String, at time: Date, flags: [String],
        changes: [String] = [], noticedAt: Date = Date()
    ) -> NotificationDraft {
        let stamp = Payload.timestamp(time)
        return NotificationDraft(
            event: NotificationEvent.scheduleStep.rawValue, project: project, environment: environment,
            revision: revision, version: version, occurredAt: noticedAt,
            details: .object([
                "at": .string(stamp), "flags": .array(flags.sorted().map(Value.string)),
                "changes": .array(changes.map(Value.string)),
            ]),
            dedupeKey: "\(NotificationEvent.scheduleStep.rawValue):\(project)/\(environment)@\(revision):\(stamp)")
    }
}
