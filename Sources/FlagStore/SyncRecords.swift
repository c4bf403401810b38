import Foundation

/// What one `SyncStore.apply` wrote.
public struct AppliedRevision: Sendable, Hashable {
    /// The environment's new revision, counting up from 1.
    public var revision: Int64
    public var snapshotID: Int64
    public var outboxID: Int64
    /// Keys of flags and segments added or changed, sorted by UTF-8 bytes.
    public var changed: [String]
    /// Keys of flags and segments removed, sorted by UTF-8 bytes.
    public var removed: [String]
    /// Audit rows appended: one per added, changed or removed flag and segment.
    public var auditRows: Int

    public init(
        revision: Int64, snapshotID: Int64, outboxID: Int64, changed: [String], removed: [String], auditRows: Int
    ) {
        self.revision = revision
        self.snapshotID = snapshotID
        self.outboxID = outboxID
        self.changed = changed
        self.removed = removed
        self.auditRows = auditRows
    }
}

/// An environment's latest applied snapshot, as the daemon serves it at start.
public struct StoredSnapshot: Sendable, Hashable {
    public var organization: String
    public var project: String
    public var environment: String
    public var revision: Int64
    public var version: String
    public var commit: String
    public var branch: String
    /// The snapshot's canonical JSON (`Snapshot.json`), for `Snapshot(json:)` or Redis.
    public var content: String

    public init(
        organization: String, project: String, environment: String, revision: Int64, version: String,
        commit: String, branch: String, content: String
    ) {
        self.organization = organization
        self.project = project
        self.environment = environment
        self.revision = revision
        self.version = version
        self.commit = commit
        self.branch = branch
        self.content = content
    }
}

/// Which revision an environment is at, without the snapshot: cheap to poll (a follower
/// daemon compares it with what it serves, then reads `snapshotContent` when behind).
public struct EnvironmentRevision: Sendable, Hashable {
    public var project: String
    public var environment: String
    public var revision: Int64
    public var version: String
    public var commit: String

    public init(project: String, environment: String, revision: Int64, version: String, commit: String) {
        self.project = project
        self.environment = environment
        self.revision = revision
        self.version = version
        self.commit = commit
    }
}

/// A message the outbox still holds for Redis, with the snapshot it announces.
public struct OutboxMessage: Sendable, Hashable {
    public var id: Int64
    /// `<prefix>:<project>:<environment>`.
    public var channel: String
    /// Canonical JSON: `{"changed":[…],"commit":…,"removed":[…],"revision":N,"version":…}`.
    public var payload: String
    public var project: String
    public var environment: String
    public var revision: Int64
    /// The snapshot's canonical JSON, to set at `<channel>:snapshot`.
    public var snapshotContent: String

    public init(
        id: Int64, channel: String, payload: String, project: String, environment: String, revision: Int64,
        snapshotContent: String
    ) {
        self.id = id
        self.channel = channel
        self.payload = payload
        self.project = project
        self.environment = environment
        self.revision = revision
        self.snapshotContent = snapshotContent
    }
}

/// What sync last did for one environment, for `/api/v1/status` and the metrics.
public struct EnvironmentStatus: Sendable, Hashable {
    public var project: String
    public var environment: String
    public var branch: String
    public var production: Bool
    /// The commit of the applied snapshot, or the latest commit with the same content; nil
    /// before the first apply.
    public var commit: String?
    public var revision: Int64?
    public var syncedAt: Date?
    /// Why the newest commit was rejected; cleared when a commit applies.
    public var lastError: String?
    public var lastErrorAt: Date?

    public init(
        project: String, environment: String, branch: String, production: Bool, commit: String?,
        revision: Int64?, syncedAt: Date?, lastError: String?, lastErrorAt: Date?
    ) {
        self.project = project
        self.environment = environment
        self.branch = branch
        self.production = production
        self.commit = commit
        self.revision = revision
        self.syncedAt = syncedAt
        self.lastError = lastError
        self.lastErrorAt = lastErrorAt
    }
}
