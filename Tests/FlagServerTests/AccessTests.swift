import FlagModel
import FlagServer
import Foundation
import Testing

/// A server that requires keys: one of each type for shop/production, one revoked, one expired.
struct KeyedServer {
    var server: FlagServer
    var keys: [String: String] = [:]

    init(rate: Double = 0, burst: Double? = nil) throws {
        var records: [APIKey] = []
        for (name, type, revoked, expires) in [
            ("server", APIKeyType.server, false, nil as Date?), ("client", .client, false, nil),
            ("admin", .admin, false, nil), ("revoked", .server, true, nil),
            ("expired", .server, false, Date(timeIntervalSinceNow: -60)),
            ("staging", .server, false, nil),
        ] {
            let (key, prefix) = APIKeyFormat.generate()
            keys[name] = key
            records.append(
                APIKey(
                    id: name, name: name, project: "shop", environment: name == "staging" ? "staging" : "production",
                    type: type, prefix: prefix, secretHash: APIKeyFormat.hash(key), expiresAt: expires, revoked: revoked))
        }
        let registry = SnapshotRegistry()
        for snapshot in try demoSnapshots() { registry.swap(ActiveSnapshot(snapshot: snapshot, revision: 1)) }
        server = FlagServer(
            configuration: .init(port: 0, rateLimit: rate > 0 ? .init(rate: rate, burst: burst) : .off,
                                 webhookSecret: "s3cret", keepAliveInterval: .milliseconds(200)),
            registry: registry, authentication: .keys(KeyRing(keys: records)))
    }
}

@Suite("Keys, limits, snapshot, stream and webhook")
struct AccessTests {
    @Test func keysDecideWhoMayCallAndWhichEnvironmentTheyGet() async throws {
        let setup = try KeyedServer()
        let keys = setup.keys
        try await withServer(setup.server) { port throws in
            let path = "/ofrep/v1/evaluate/flags/dark-mode"
            #expect(try await request(port, "POST", path, body: "{}").status == 401)
            #expect(try await request(port, "POST", path, headers: ["X-API-Key": "fsk_nothing"], body: "{}").status == 401)
            let forged = String(keys["server"]!.dropLast()) + (keys["server"]!.hasSuffix("A") ? "B" : "A")
            #expect(try await request(port, "POST", path, headers: ["X-API-Key": forged], body: "{}").status == 401)
            let revoked = try await request(port, "POST", path, headers: ["X-API-Key": keys["revoked"]!], body: "{}")
            #expect(revoked.status == 401)
            #expect(revoked.text.contains("revoked"))
            let expired = try await request(port, "POST", path, headers: ["X-API-Key": keys["expired"]!], body: "{}")
            #expect(expired.status == 401)
            #expect(expired.text.contains("expired"))

            let bearer = try await request(
                port, "POST", path, headers: ["Authorization": "Bearer \(keys["server"]!)"], body: "{}")
            #expect(bearer.status == 200)
            let client = try await request(port, "POST", path, headers: ["X-API-Key": keys["client"]!], body: "{}")
            #expect(client.status == 200)

            // The key decides the environment; asking for another one is forbidden.
            let staging = try await request(
                port, "POST", "/ofrep/v1/evaluate/flags", headers: ["X-API-Key": keys["staging"]!], body: "{}")
            #expect(object(object(try staging.json())["metadata"] ?? .null)["environment"] == .string("staging"))
            let other = try await request(
                port, "POST", path,
                headers: ["X-API-Key": keys["server"]!, "X-Flagstaff-Environment": "staging"], body: "{}")
            #expect(other.status == 403)

            // Client keys never see the rules; status is for admins.
            #expect(try await request(port, "GET", "/api/v1/snapshot", headers: ["X-API-Key": keys["client"]!]).status == 403)
            #expect(try await request(port, "GET", "/api/v1/snapshot", headers: ["X-API-Key": keys["server"]!]).status == 200)
            #expect(try await request(port, "GET", "/api/v1/status", headers: ["X-API-Key": keys["server"]!]).status == 403)
            #expect(try await request(port, "GET", "/api/v1/status", headers: ["X-API-Key": keys["admin"]!]).status == 200)
        }
        #expect(setup.server.authentication.ringForTests?.drainLastUsed()["server"] != nil, "last use is recorded")
    }

    @Test func aKeyOverItsRateGets429WithRetryAfterInWholeSeconds() async throws {
        // A slow rate, so a loaded test machine cannot refill a token between the requests.
        let setup = try KeyedServer(rate: 0.05, burst: 3)
        let key = setup.keys["server"]!
        let other = setup.keys["client"]!
        try await withServer(setup.server) { port throws in
            var statuses: [Int] = []
            var retryAfter: String?
            for _ in 0..<5 {
                let response = try await request(
                    port, "POST", "/ofrep/v1/evaluate/flags/dark-mode", headers: ["X-API-Key": key], body: "{}")
                statuses.append(response.status)
                if response.status == 429 { retryAfter = response.header("Retry-After") }
            }
            #expect(statuses == [200, 200, 200, 429, 429])
            // 1 / 0.05 = 20 s for a whole token, given as whole seconds.
            let seconds = try #require(retryAfter.flatMap { Int($0) }, "Retry-After is whole seconds: \(retryAfter ?? "none")")
            #expect((1...20).contains(seconds))
            // Another key has its own bucket.
            let fresh = try await request(
                port, "POST", "/ofrep/v1/evaluate/flags/dark-mode", headers: ["X-API-Key": other], body: "{}")
            #expect(fresh.status == 200)
        }
    }

    @Test func theSnapshotRouteHasAnETagAndAnswers304() async throws {
        try await withServer(try openServer()) { port throws in
            let response = try await request(port, "GET", "/api/v1/snapshot")
            #expect(response.status == 200)
            let snapshot = try Snapshot(json: try response.json())
            #expect(snapshot.environment == "production")
            #expect(response.header("ETag") == "\"\(snapshot.version)\"")
            #expect(response.header("X-Flagstaff-Revision") == "1")
            let again = try await request(port, "GET", "/api/v1/snapshot", headers: ["If-None-Match": response.header("ETag")!])
            #expect(again.status == 304)
        }
    }

    @Test func theStreamSendsTheCurrentSnapshotThenEachNewOneAndResumes() async throws {
        let server = try openServer(.init(port: 0, keepAliveInterval: .milliseconds(200)))
        let newer = try demoSnapshots(rollout: 80).first { $0.environment == "production" }!
        try await withServer(server) { port throws in
            try await onThread {
                let connection = try RawConnection(port: port)
                connection.send(Array("GET /api/v1/stream HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
                var seen: [UInt8] = []
                #expect(connection.read(until: "\"type\":\"refetchEvaluation\"", into: &seen))
                let first = String(decoding: seen, as: UTF8.self)
                #expect(first.contains("text/event-stream"))
                #expect(first.contains("id: 1\nevent: snapshot\ndata: {\"type\":\"snapshot\""))
                #expect(connection.read(until: ": keep-alive", into: &seen), "an idle stream gets comments")
                server.registry.swap(ActiveSnapshot(snapshot: newer, revision: 2))
                #expect(connection.read(until: "id: 2\nevent: snapshot", into: &seen))
                #expect(connection.read(until: "\"etag\":\"\(newer.version)\"", into: &seen))
            }

            // Resuming from the current revision sends nothing old; an older id gets the current one.
            try await onThread {
                let connection = try RawConnection(port: port)
                connection.send(Array("GET /api/v1/stream?events=ofrep HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 1\r\n\r\n".utf8))
                var seen: [UInt8] = []
                #expect(connection.read(until: "id: 2\nevent: message", into: &seen))
                #expect(!String(decoding: seen, as: UTF8.self).contains("event: snapshot"), "events=ofrep has no snapshots")
                let current = try RawConnection(port: port)
                current.send(Array("GET /api/v1/stream HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 2\r\n\r\n".utf8))
                var quiet: [UInt8] = []
                #expect(current.read(until: ": keep-alive", into: &quiet))
                #expect(!String(decoding: quiet, as: UTF8.self).contains("id: "), "nothing to resume")
            }
        }
    }

    @Test func theWebhookChecksItsSignature() async throws {
        let pushes = PushLog()
        let registry = SnapshotRegistry()
        let server = FlagServer(
            configuration: .init(port: 0, webhookSecret: "s3cret"), registry: registry, authentication: .none,
            onWebhook: { pushes.append($0) })
        let body = #"{"ref":"refs/heads/main"}"#
        try await withServer(server) { port throws in
            let unsigned = try await request(port, "POST", "/hooks/git", body: body)
            #expect(unsigned.status == 401)
            let wrong = try await request(
                port, "POST", "/hooks/git",
                headers: ["X-Hub-Signature-256": FlagServer.signature(body: Array(body.utf8), secret: "other")], body: body)
            #expect(wrong.status == 401)
            let signed = try await request(
                port, "POST", "/hooks/git",
                headers: ["X-Hub-Signature-256": FlagServer.signature(body: Array(body.utf8), secret: "s3cret"),
                          "X-GitHub-Event": "push"], body: body)
            #expect(signed.status == 202)
        }
        #expect(pushes.all.map(\.ref) == ["refs/heads/main"])
    }

    @Test func rateLimiterRefillsAtItsRate() {
        let limiter = RateLimiter(.init(rate: 10, burst: 2))
        let start: UInt64 = 1_000_000_000
        #expect(limiter.acquire("k", now: start) == .allowed)
        #expect(limiter.acquire("k", now: start) == .allowed)
        #expect(limiter.acquire("k", now: start) == .limited(retryAfter: 1))
        #expect(limiter.acquire("k", now: start + 100_000_000) == .allowed, "one token back after 0.1 s at 10/s")
        #expect(limiter.acquire("k", now: start + 100_000_000) == .limited(retryAfter: 1))
        let slow = RateLimiter(.init(rate: 0.2, burst: 1))
        #expect(slow.acquire("k", now: start) == .allowed)
        #expect(slow.acquire("k", now: start) == .limited(retryAfter: 5))
    }

    @Test func keysFileRoundTripsAndRejectsNonsense() throws {
        let (key, prefix) = APIKeyFormat.generate()
        #expect(key.hasPrefix("fsk_") && key.count == 4 + 12 + 1 + 32)
        let line = KeysFile.line(
            prefix: prefix, hash: APIKeyFormat.hash(key), type: .client, project: "shop", environment: "production",
            expires: nil, name: "web app")
        let parsed = try KeysFile.parse("# keys\n\n" + line + "\n")
        #expect(parsed.count == 1)
        #expect(parsed[0].name == "web app" && parsed[0].type == .client)
        let ring = KeyRing(keys: parsed)
        #expect((try? ring.authenticate(Substring(key), now: Date()).get())?.project == "shop")
        #expect(throws: KeysFile.ParseError.self) { try KeysFile.parse("fsk_abc nothex server shop production") }
    }
}

final class PushLog: @unchecked Sendable {
    private let lock = NSLock()
    private var pushes: [WebhookPush] = []
    func append(_ push: WebhookPush) {
        lock.lock()
        pushes.append(push)
        lock.unlock()
    }
    var all: [WebhookPush] {
        lock.lock()
        defer { lock.unlock() }
        return pushes
    }
}

extension Authentication {
    var ringForTests: KeyRing? {
        if case .keys(let ring) = self { return ring }
        return nil
    }
}
