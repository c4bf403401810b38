/// How the targeting key of an evaluation is stored with its event.
public enum TargetingKeyPolicy: String, Sendable, Hashable, CaseIterable {
    /// SHA-256 of the key, lowercase hex: events of one user still group together, but the
    /// key itself (often an email or an account id) is not kept.
    case hashed
    /// The key as the caller sent it.
    case plain
}

/// The manifest's `analytics:` section: what an evaluation event may store (SPEC §15).
///
/// Every snapshot of a repository carries the same policy, so that whoever records events
/// (the daemon, a replica, an SDK) applies the one the snapshot was compiled with.
public struct AnalyticsPolicy: Sendable, Hashable {
    /// What a manifest without `analytics:` means: no context attribute kept, the
    /// targeting key hashed. Snapshots with this policy do not write it, so their versions
    /// are those of before the policy existed.
    public static let `default` = AnalyticsPolicy()

    /// Context attributes stored with an event, sorted by their UTF-8 bytes, each once;
    /// every other attribute is dropped. Never `targetingKey` (see `targetingKey`).
    public var keep: [String]
    public var targetingKey: TargetingKeyPolicy

    public init(keep: [String] = [], targetingKey: TargetingKeyPolicy = .hashed) {
        self.keep = Array(Set(keep)).sorted(by: UTF8Order.precedes)
        self.targetingKey = targetingKey
    }

    public var isDefault: Bool { self == .default }
}
