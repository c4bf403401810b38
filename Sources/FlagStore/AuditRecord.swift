import FlagModel

/// One audit entry as the caller describes it; `AuditLog.append` adds the id, the time and
/// the chain hashes.
public struct AuditRecord: Sendable, Hashable {
    /// Who did it: the commit author for sync, a user or key name otherwise.
    public var actor: String
    /// `flag.created`, `flag.updated`, `flag.deleted`, `segment.…`, `sync.rejected`, ….
    public var action: String
    public var project: String?
    public var environment: String?
    /// `flag`, `segment`, `commit`, ….
    public var resourceType: String
    public var resourceKey: String
    public var commit: String?
    public var branch: String?
    public var message: String?
    public var before: Value?
    public var after: Value?

    public init(
        actor: String, action: String, project: String? = nil, environment: String? = nil,
        resourceType: String, resourceKey: String, commit: String? = nil, branch: String? = nil,
        message: String? = nil, before: Value? = nil, after: Value? = nil
    ) {
        self.actor = actor
        self.action = action
        self.project = project
        self.environment = environment
        self.resourceType = resourceType
        self.resourceKey = resourceKey
        self.commit = commit
        self.branch = branch
        self.message = message
        self.before = before
        self.after = after
    }
}

/// An audit row as stored: the record plus what `append` fixed, and the encoding its hash
/// is computed over.
struct ChainedAuditRow: Sendable {
    var id: Int64
    /// UTC, microseconds: `2026-01-31T09:15:02.123456Z`, exactly what `occurred_at` holds.
    var occurredAt: String
    var record: AuditRecord
    var prevHash: String

    /// The object the hash covers, encoded as canonical JSON (keys sorted by UTF-8 bytes, no
    /// whitespace). Columns that are SQL NULL are left out, so a NULL `before` and a JSON
    /// `null` one hash differently.
    var hashedContent: Value {
        var fields: [String: Value] = [
            "id": .int(id),
            "occurredAt": .string(occurredAt),
            "actor": .string(record.actor),
            "action": .string(record.action),
            "resourceType": .string(record.resourceType),
            "resourceKey": .string(record.resourceKey),
            "prevHash": .string(prevHash),
        ]
        if let project = record.project { fields["project"] = .string(project) }
        if let environment = record.environment { fields["environment"] = .string(environment) }
        if let commit = record.commit { fields["commit"] = .string(commit) }
        if let branch = record.branch { fields["branch"] = .string(branch) }
        if let message = record.message { fields["message"] = .string(message) }
        if let before = record.before { fields["before"] = before }
        if let after = record.after { fields["after"] = after }
        return .object(fields)
    }
}
