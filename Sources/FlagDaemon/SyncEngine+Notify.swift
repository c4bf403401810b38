import FlagModel
import FlagNotify
import FlagStore
import Foundation
import GitSource

/// What a sync tells the notifier (SPEC §18): drafts for the outbox, built before the
/// transaction that writes them (PostgreSQL) or handed over at once (memory).
extension SyncEngine {
    /// `flags.changed` and `flag.killed` for a snapshot applied over `base`; none without
    /// receivers, so a daemon with no `--notify` writes nothing.
    func changeNotifications(
        base: Snapshot?, head: Snapshot, revision: Int64, branch: String, author: String, info: CommitInfo
    ) -> [NotificationDraft] {
        guard notifier != nil else { return [] }
        return Events.applied(
            base: base, head: head, revision: revision, commit: head.commit ?? "", branch: branch, author: author,
            message: info.message)
    }

    /// `sync.rejected` for one project and environment, with the first diagnostics.
    func rejectionNotifications(
        project: String, environment: String, tip: ObjectID, branch: String, author: String, info: CommitInfo,
        summary: String, diagnostics: String, errors: Int
    ) -> [NotificationDraft] {
        guard notifier != nil else { return [] }
        var list: [Value] = []
        if case .array(let parsed)? = try? JSONParser.parse(diagnostics) { list = parsed }
        return [
            Events.rejected(
                project: project, environment: environment, commit: tip.hex, branch: branch, author: author,
                message: info.message, summary: summary, diagnostics: list, errors: errors)
        ]
    }

    /// Without PostgreSQL: into the notifier's memory outbox, best effort.
    func enqueue(_ drafts: [NotificationDraft]) {
        guard let notifier, !drafts.isEmpty else { return }
        do {
            try notifier.enqueue(drafts)
        } catch {
            logger.error("notifications: could not be queued", metadata: ["error": "\(error)"])
        }
    }
}
