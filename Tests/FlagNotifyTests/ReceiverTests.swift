import Crypto
import FlagModel
import FlagStore
import Foundation
import Testing

@testable import FlagNotify

@Suite("Receivers, payloads and retries")
struct ReceiverTests {
    @Test func aNotifyValueNamesItsSettingsAfterTheURL() throws {
        let r = try Receiver.parse(
            "https://hooks.example.com/services/T0/B0/sekrit format=slack secret=s3 events=flags.changed,flag.killed "
                + "projects=shop environments=production,staging",
            format: .json, secret: "all")
        #expect(r.format == .slack)
        #expect(r.secret == "s3")
        #expect(r.filter.events == ["flags.changed", "flag.killed"])
        #expect(r.filter.projects == ["shop"])
        #expect(r.filter.environments == ["production", "staging"])
        let plain = try Receiver.parse("http://127.0.0.1:9000/hook", format: .slack, secret: "all")
        #expect(plain.format == .slack, "the defaults for all receivers apply")
        #expect(plain.secret == "all")
        #expect(plain.filter == NotificationFilter())
    }

    @Test func aReceiverIsNamedWithoutItsPathQueryOrSecret() throws {
        let r = try Receiver.parse("https://hooks.example.com/services/T0/B0/sekrit?token=abc secret=hush")
        #expect(r.name.hasPrefix("https://hooks.example.com:443#"))
        #expect(!r.name.contains("sekrit") && !r.name.contains("abc"))
        #expect(r.redact("POST https://hooks.example.com/services/T0/B0/sekrit?token=abc failed (hush)") == "POST … failed (…)")
        #expect(try Receiver.parse("http://127.0.0.1:8080/x").name.hasPrefix("http://127.0.0.1:8080#"))
    }

    @Test func badValuesAreRefusedWithoutQuotingTheURL() {
        for value in [
            "ftp://example.com/x", "not a url", "https://example.com/sekrit format=xml",
            "https://example.com/sekrit events=flags.exploded", "https://example.com/sekrit colour=red",
            "https://example.com/sekrit projects=Shop!", "https://example.com/sekrit bare",
        ] {
            do {
                _ = try Receiver.parse(value)
                Issue.record("accepted \(value)")
            } catch {
                #expect(!error.description.contains("sekrit"), "\(error)")
            }
        }
    }

    @Test func theSignatureIsGitHubsHMACSHA256OfTheBody() {
        let body = Array(#"{"event":"flags.changed"}"#.utf8)
        let expected = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array("s3".utf8)))
            .map { String(format: "%02x", $0) }.joined()
        #expect(Payload.signature(of: body, secret: "s3") == "sha256=" + expected)
    }

    @Test func theDeliveryIDIsOnePerMessageAndReceiverAndStable() throws {
        let a = try Receiver.parse("http://127.0.0.1:1/a secret=x")
        let b = try Receiver.parse("http://127.0.0.1:1/b secret=x")
        let n = Self.notification(event: "flags.changed")
        let first = Payload(n, for: a)
        #expect(Payload(n, for: a) == first, "a retry sends the same bytes, signature and id")
        #expect(Payload(n, for: b).deliveryID != first.deliveryID)
        #expect(first.deliveryID.count == 36 && first.deliveryID.split(separator: "-").count == 5)
        #expect(first.headers.contains { $0 == ("X-Flagstaff-Signature-256", first.signature ?? "") })
        guard case .object(let body) = try JSONParser.parse(bytes: first.body) else {
            Issue.record("not an object")
            return
        }
        #expect(body["delivery"] == .string(first.deliveryID))
        #expect(body["event"] == .string("flags.changed"))
        #expect(body["revision"] == .int(3))
        #expect(body["time"] == .string("2026-03-01T12:00:00.000Z"))
    }

    @Test func slackTextEscapesWhatSlackReadsAsMarkup() throws {
        let r = try Receiver.parse("http://127.0.0.1:1/a format=slack")
        let payload = Payload(Self.notification(event: "flag.killed"), for: r)
        guard case .object(let body) = try JSONParser.parse(bytes: payload.body), case .string(let text)? = body["text"]
        else {
            Issue.record("no text")
            return
        }
        #expect(text.contains("*Kill switch*"))
        #expect(text.contains("`checkout`"))
        #expect(text.contains("Ana &lt;ana@acme.com&gt;"), "\(text)")
    }

    @Test func statusesAreSortedIntoDeliveredRefusedAndRetried() {
        let now = Date(timeIntervalSince1970: 1_000_000)
        #expect(AttemptOutcome.classify(status: 204, retryAfter: nil) == .delivered(status: 204))
        #expect(AttemptOutcome.classify(status: 400, retryAfter: nil) == .refused(status: 400, reason: "HTTP 400"))
        #expect(AttemptOutcome.classify(status: 301, retryAfter: nil) == .refused(status: 301, reason: "HTTP 301"))
        #expect(AttemptOutcome.classify(status: 503, retryAfter: nil) == .retry(status: 503, reason: "HTTP 503", retryAfter: nil))
        #expect(AttemptOutcome.classify(status: 429, retryAfter: "7") == .retry(status: 429, reason: "HTTP 429", retryAfter: 7))
        #expect(AttemptOutcome.parseRetryAfter("Mon, 12 Jan 1970 13:46:50 GMT", now: now) == 10)
    }

    @Test func backoffDoublesUpToItsCapAndNeverPassesTheGiveUpTime() {
        let policy = RetryPolicy(first: 0.5, cap: 8, maxAge: 60)
        #expect((1...7).map { policy.delay(failures: $0, retryAfter: nil) } == [0.5, 1, 2, 4, 8, 8, 8])
        #expect(policy.delay(failures: 1, retryAfter: 30) == 30, "a longer Retry-After wins")
        #expect(policy.delay(failures: 3, retryAfter: 0) == 2, "a shorter one does not hurry the backoff")
        let occurred = Date(timeIntervalSince1970: 0)
        let next = policy.nextAttempt(failures: 9, retryAfter: 600, now: Date(timeIntervalSince1970: 55), occurredAt: occurred)
        #expect(next == Date(timeIntervalSince1970: 60))
        #expect(policy.isExpired(occurred, now: Date(timeIntervalSince1970: 60)))
    }

    static func notification(event: String) -> StoredNotification {
        StoredNotification(
            id: 7, uid: "0f8fad5b-d9cb-469f-a165-70867728950e",
            draft: NotificationDraft(
                event: event, project: "shop", environment: "production", revision: 3, version: "sha256:ab",
                commit: "0123456789abcdef", author: "Ana <ana@acme.com>",
                occurredAt: Date(timeIntervalSince1970: 1_772_366_400),
                details: .object(["flag": .string("checkout"), "offVariant": .string("off")]), dedupeKey: "k"))
    }
}
