import Crypto
import FlagStore
import Foundation

/// How a receiver wants its bodies.
public enum NotificationFormat: String, Sendable, Hashable, CaseIterable {
    /// The documented Flagstaff object (docs/notifications.md).
    case json
    /// A Slack incoming-webhook message: `text` in Slack's mrkdwn.
    case slack
}

/// The events Flagstaff announces (docs/notifications.md).
public enum NotificationEvent: String, Sendable, Hashable, CaseIterable {
    /// Flags or segments of one environment changed in a sync; the change in words.
    case flagsChanged = "flags.changed"
    /// A flag went from enabled to `enabled: false` in an environment: a kill switch.
    case flagKilled = "flag.killed"
    /// A commit did not compile or pass its golden tests and was not applied.
    case syncRejected = "sync.rejected"
    /// A time-based rollout reached one of its steps.
    case scheduleStep = "schedule.step"
    /// Reserved for the management API's reviewed changes (SPEC §14), not sent yet.
    case changeOpened = "change.opened"
    /// Reserved for the management API's reviewed changes (SPEC §14), not sent yet.
    case changeMerged = "change.merged"
}

/// One webhook receiver: its URL (a secret), format, signing secret and filters.
public struct Receiver: Sendable, Hashable {
    public var url: URL
    public var format: NotificationFormat
    /// Signs bodies with HMAC-SHA256; nil sends them unsigned.
    public var secret: String?
    public var filter: NotificationFilter

    public init(url: URL, format: NotificationFormat = .json, secret: String? = nil, filter: NotificationFilter = .init()) {
        self.url = url
        self.format = format
        self.secret = secret
        self.filter = filter
    }

    /// sha256 of the URL, hex: names the receiver in PostgreSQL without the URL.
    public var fingerprint: String {
        SHA256.hash(data: Array(url.absoluteString.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// What logs, errors, status and metrics call it: scheme, host and port, and a short
    /// digest of the whole URL to tell apart receivers on one host. Never the path or query,
    /// which for Slack and most services hold the secret.
    public var name: String {
        let scheme = url.scheme?.lowercased() ?? "?"
        let port = url.port ?? (scheme == "https" ? 443 : 80)
        var host = url.host ?? "?"
        if host.contains(":") && !host.hasPrefix("[") { host = "[\(host)]" }
        return "\(scheme)://\(host):\(port)#\(fingerprint.prefix(8))"
    }

    /// Removes the URL, its path and the secret from a message about this receiver.
    func redact(_ text: String) -> String {
        var out = text
        var secrets = [url.absoluteString]
        if url.path.count > 1 { secrets.append(url.path) }
        if let query = url.query, !query.isEmpty { secrets.append(query) }
        if let secret, !secret.isEmpty { secrets.append(secret) }
        for secret in secrets.sorted(by: { $0.count > $1.count }) {
            out = out.replacingOccurrences(of: secret, with: "…")
        }
        return out
    }

    /// Parses `URL [format=json|slack] [secret=S] [events=a,b] [projects=p,q] [environments=e,f]`,
    /// the value of `--notify` and of a `notify:` line, with the defaults given for all
    /// receivers. Errors never quote the URL.
    public static func parse(_ text: String, format: NotificationFormat = .json, secret: String? = nil) throws(ReceiverError)
        -> Receiver
    {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let first = words.first else { throw ReceiverError("--notify: empty value (expected a URL)") }
        guard let url = URL(string: first), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
            let host = url.host, !host.isEmpty
        else {
            throw ReceiverError("--notify: the first word must be an http:// or https:// URL")
        }
        var receiver = Receiver(url: url, format: format, secret: secret)
        let label = receiver.name
        for word in words.dropFirst() {
            guard let equals = word.firstIndex(of: "=") else {
                throw ReceiverError("--notify \(label): expected name=value after the URL, got a bare word")
            }
            let name = String(word[..<equals])
            let value = String(word[word.index(after: equals)...])
            func list() throws(ReceiverError) -> [String] {
                let items = value.split(separator: ",").map(String.init)
                guard !items.isEmpty else { throw ReceiverError("--notify \(label): \(name)= is empty") }
                for item in items where !Self.isKey(item) {
                    throw ReceiverError("--notify \(label): '\(item)' in \(name)= is not a key")
                }
                return items
            }
            switch name {
            case "format":
                guard let parsed = NotificationFormat(rawValue: value) else {
                    throw ReceiverError("--notify \(label): format must be json or slack, not '\(value)'")
                }
                receiver.format = parsed
            case "secret":
                guard !value.isEmpty else { throw ReceiverError("--notify \(label): secret= is empty") }
                receiver.secret = value
            case "events":
                let events = try list()
                let known = Set(NotificationEvent.allCases.map(\.rawValue))
                for event in events where !known.contains(event) {
                    throw ReceiverError(
                        "--notify \(label): unknown event '\(event)' (known: "
                            + NotificationEvent.allCases.map(\.rawValue).joined(separator: ", ") + ")")
                }
                receiver.filter.events = events
            case "projects": receiver.filter.projects = try list()
            case "environments": receiver.filter.environments = try list()
            default:
                throw ReceiverError(
                    "--notify \(label): unknown setting '\(name)' (known: format, secret, events, projects, environments)")
            }
        }
        return receiver
    }

    private static func isKey(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 50
            && text.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || "_.-".unicodeScalars.contains($0) }
    }
}

/// A `--notify` value that cannot be used.
public struct ReceiverError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Everything the notifier is told.
public struct NotifyConfiguration: Sendable {
    public var receivers: [Receiver]
    /// A message still undelivered this long after its event is given up (`--notify-max-age`).
    public var maxAge: Duration = .seconds(24 * 3600)
    /// One attempt may take this long, connecting included.
    public var attemptTimeout: Duration = .seconds(10)
    /// The first retry waits this long, each next one twice as long, up to `maxBackoff`.
    public var firstBackoff: Duration = .milliseconds(500)
    public var maxBackoff: Duration = .seconds(300)
    /// How often the outbox is looked at without a wake-up (inserts by other processes).
    public var pollInterval: Duration = .seconds(1)
    /// `User-Agent`, e.g. `Flagstaff/0.1.0`.
    public var userAgent: String = "Flagstaff"

    public init(receivers: [Receiver]) {
        self.receivers = receivers
    }
}
