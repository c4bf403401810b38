import Crypto
import FlagModel
import FlagStore
import Foundation

/// The request one notification makes to one receiver: body, signature and headers. The
/// same on every retry, so a receiver may de-duplicate by `X-Flagstaff-Delivery`.
public struct Payload: Sendable, Hashable {
    public var deliveryID: String
    public var event: String
    public var body: [UInt8]
    /// `sha256=<hex HMAC-SHA256 of the body>` (GitHub's format); nil without a secret.
    public var signature: String?

    public init(_ notification: StoredNotification, for receiver: Receiver) {
        deliveryID = Self.deliveryID(notification: notification.uid, receiver: receiver.fingerprint)
        event = notification.draft.event
        switch receiver.format {
        case .json: body = Array(CanonicalJSON.encode(Self.json(notification, deliveryID: deliveryID)).utf8)
        case .slack: body = Array(CanonicalJSON.encode(.object(["text": .string(SlackText.render(notification))])).utf8)
        }
        signature = receiver.secret.map { Self.signature(of: body, secret: $0) }
    }

    /// The headers besides `User-Agent`, in a stable order.
    public var headers: [(String, String)] {
        var out = [
            ("Content-Type", "application/json"), ("X-Flagstaff-Event", event), ("X-Flagstaff-Delivery", deliveryID),
        ]
        if let signature { out.append(("X-Flagstaff-Signature-256", signature)) }
        return out
    }

    public static func signature(of body: [UInt8], secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8)))
        return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    /// A UUID-shaped id (version 8: made by Flagstaff) from the notification's own UUID and
    /// the receiver: unique per (message, receiver), the same every time it is sent.
    static func deliveryID(notification: String, receiver: String) -> String {
        var bytes = Array(SHA256.hash(data: Array("\(notification)/\(receiver)".utf8)).prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x80
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = bytes.map { String(format: "%02x", $0) }.joined()
        let h = Array(hex)
        return [h[0..<8], h[8..<12], h[12..<16], h[16..<20], h[20..<32]].map { String($0) }.joined(separator: "-")
    }

    /// The `json` format (docs/notifications.md):
    /// `{ event, delivery, notification, project, environment, revision, version, commit,
    ///    author, time, details }`, absent values as null.
    static func json(_ n: StoredNotification, deliveryID: String) -> Value {
        let d = n.draft
        return .object([
            "event": .string(d.event), "delivery": .string(deliveryID), "notification": .string(n.uid),
            "project": .string(d.project), "environment": .string(d.environment),
            "revision": d.revision.map(Value.int) ?? .null, "version": d.version.map(Value.string) ?? .null,
            "commit": d.commit.map(Value.string) ?? .null, "author": d.author.map(Value.string) ?? .null,
            "time": .string(timestamp(d.occurredAt)), "details": d.details,
        ])
    }

    /// RFC 3339 in UTC with milliseconds.
    public static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }
}

/// The `slack` format's `text`: one message in Slack's mrkdwn per event.
enum SlackText {
    static func render(_ n: StoredNotification) -> String {
        let d = n.draft
        let place = "*\(escape(d.project)) / \(escape(d.environment))*"
        let details: [String: Value]
        if case .object(let o) = d.details { details = o } else { details = [:] }
        func string(_ key: String) -> String? {
            if case .string(let s)? = details[key] { return s }
            return nil
        }
        var byline: [String] = []
        if let author = d.author { byline.append("by \(escape(author))") }
        if let commit = d.commit { byline.append("commit `\(commit.prefix(12))`") }
        if let branch = string("branch") { byline.append("branch `\(escape(branch))`") }
        let footer = byline.isEmpty ? "" : "\n_\(byline.joined(separator: " · "))_"
        switch NotificationEvent(rawValue: d.event) {
        case .flagsChanged:
            var lines = ["\(place) · revision \(d.revision ?? 0) · \(escape(string("summary") ?? "changed"))"]
            lines += changeLines(details["diff"])
            return lines.joined(separator: "\n") + footer
        case .flagKilled:
            let flag = string("flag") ?? "?"
            return ":rotating_light: *Kill switch* · `\(escape(flag))` turned off in \(place): everyone gets "
                + "`\(escape(string("offVariant") ?? "off"))`" + footer
        case .syncRejected:
            var lines = [":x: Commit `\((d.commit ?? "").prefix(12))` *rejected* in \(place); the last good snapshot keeps serving"]
            if case .array(let diagnostics)? = details["diagnostics"] {
                for case .object(let diagnostic) in diagnostics {
                    var location = ""
                    if case .string(let file)? = diagnostic["file"] { location = file }
                    if case .int(let line)? = diagnostic["line"] { location += ":\(line)" }
                    if case .int(let column)? = diagnostic["column"] { location += ":\(column)" }
                    let message: String
                    if case .string(let m)? = diagnostic["message"] { message = m } else { message = "" }
                    lines.append("• `\(escape(location))` \(escape(message))")
                }
            }
            return lines.joined(separator: "\n") + footer
        case .scheduleStep:
            var flags: [String] = []
            if case .array(let list)? = details["flags"] {
                for case .string(let key) in list { flags.append("`\(escape(key))`") }
            }
            var text = ":clock3: *Schedule step* in \(place) at \(escape(string("at") ?? "")): "
                + (flags.isEmpty ? "a step began" : flags.joined(separator: ", ") + " moved to their next step")
                + " (revision \(d.revision ?? 0))"
            if case .array(let changes)? = details["changes"] {
                for case .string(let change) in changes { text += "\n• \(escape(change))" }
            }
            return text
        case .changeOpened, .changeMerged, nil:
            return "\(escape(d.event)) in \(place)" + footer
        }
    }

    /// A bullet per flag and segment of a `SnapshotDiff.json`, its field changes beneath.
    static func changeLines(_ diff: Value?) -> [String] {
        guard case .object(let diff)? = diff else { return [] }
        var lines: [String] = []
        for (noun, list) in [("flag", diff["flags"]), ("segment", diff["segments"])] {
            guard case .array(let changes)? = list else { continue }
            for case .object(let change) in changes {
                guard case .string(let key)? = change["key"], case .string(let kind)? = change["kind"] else { continue }
                lines.append("• \(noun) `\(escape(key))` \(kind)")
                if case .array(let fields)? = change["fields"] {
                    for case .object(let field) in fields {
                        if case .string(let summary)? = field["summary"] { lines.append("    \(escape(summary))") }
                    }
                }
                if case .object(let effect)? = change["effect"], case .string(let text)? = effect["description"] {
                    lines.append("    _effect:_ \(escape(text))")
                }
            }
        }
        return lines
    }

    /// Slack's three escapes; everything else is literal in mrkdwn.
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}
