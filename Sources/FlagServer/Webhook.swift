import Crypto
import FlagModel
import Foundation
import HTTPTypes
import Hummingbird

/// A verified push notification from the Git host.
public struct WebhookPush: Sendable, Hashable {
    /// `X-GitHub-Event` (or similar), e.g. `push`.
    public var event: String
    /// The pushed ref (`refs/heads/main`) when the payload names one.
    public var ref: String?
    public var delivery: String?
}

/// `POST /hooks/git`: GitHub's `X-Hub-Signature-256` (`sha256=` + hex HMAC-SHA256 of the
/// raw body with the shared secret), checked in constant time.
extension FlagServer {
    func webhook(_ request: Request) async throws -> Response {
        guard let secret = configuration.webhookSecret, !secret.isEmpty else {
            return Responses.error(
                .notFound, code: nil, details: "webhooks are off: start the daemon with --webhook-secret")
        }
        let body: ByteBuffer
        switch await readBody(request, limit: configuration.maxWebhookSize) {
        case .failure(let failure): return failure.response(key: nil)
        case .success(let read): body = read
        }
        guard let signature = request.header("X-Hub-Signature-256") else {
            return Responses.error(.unauthorized, code: nil, details: "the X-Hub-Signature-256 header is missing")
        }
        let bytes = Array(buffer: body)
        guard Self.verifySignature(signature, body: bytes, secret: secret) else {
            return Responses.error(.unauthorized, code: nil, details: "the webhook signature does not match")
        }
        let event = request.header("X-GitHub-Event") ?? request.header("X-Gitea-Event") ?? "push"
        if event == "ping" { return Responses.json(.object(["ok": .bool(true)])) }
        var ref: String?
        if let payload = try? JSONParser.parse(bytes: bytes), case .object(let object) = payload,
            case .string(let pushed)? = object["ref"]
        {
            ref = pushed
        }
        onWebhook(WebhookPush(event: event, ref: ref, delivery: request.header("X-GitHub-Delivery")))
        return Responses.json(.object(["accepted": .bool(true)]), status: .accepted)
    }

    /// Whether `header` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under `secret`.
    public static func verifySignature(_ header: String, body: [UInt8], secret: String) -> Bool {
        guard header.hasPrefix("sha256="), let mac = KeysFile.hexBytes(header.dropFirst(7)), mac.count == 32 else {
            return false
        }
        return HMAC<SHA256>.isValidAuthenticationCode(
            mac, authenticating: body, using: SymmetricKey(data: Array(secret.utf8)))
    }

    /// The header value a sender computes, for tests and tools.
    public static func signature(body: [UInt8], secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8)))
        return "sha256=" + KeysFile.hexString(Array(mac))
    }
}
