import FlagModel
import FlagServer
import Foundation
import Testing

/// A registry serving the demo snapshots (revision 1), and a server without keys.
func openServer(_ configuration: FlagServer.Configuration = .init(port: 0)) throws -> FlagServer {
    let registry = SnapshotRegistry()
    for snapshot in try demoSnapshots() { registry.swap(ActiveSnapshot(snapshot: snapshot, revision: 1)) }
    return FlagServer(configuration: configuration, registry: registry, authentication: .none)
}

@Suite("OFREP evaluation over HTTP")
struct OFREPTests {
    @Test func singleEvaluationsKeepTheJSONKindAndAlwaysCarryAVariant() async throws {
        try await withServer(try openServer()) { port throws in
            let ctx = #"{"context":{"targetingKey":"u-1","email":"kim@acme.com"}}"#
            let dark = try await request(port, "POST", "/ofrep/v1/evaluate/flags/dark-mode", body: ctx)
            #expect(dark.status == 200)
            let d = object(try dark.json())
            #expect(d["value"] == .bool(true))
            #expect(d["variant"] == .string("on"))
            #expect(d["reason"] == .string("TARGETING_MATCH"))
            #expect(d["key"] == .string("dark-mode"))

            let size = try await request(port, "POST", "/ofrep/v1/evaluate/flags/page-size", body: ctx)
            #expect(size.text.contains(#""value":3"#) && !size.text.contains(#""value":3.0"#), "\(size.text)")
            let ratio = try await request(port, "POST", "/ofrep/v1/evaluate/flags/ratio", body: ctx)
            #expect(ratio.text.contains(#""value":3.0"#), "a float flag answers 3.0: \(ratio.text)")
            let theme = try await request(port, "POST", "/ofrep/v1/evaluate/flags/theme", body: ctx)
            #expect(object(try theme.json())["value"] == .object(["color": .string("blue"), "size": .int(2)]))
            #expect(object(try theme.json())["reason"] == .string("STATIC"))
        }
    }

    @Test func anUnknownFlagIs404FlagNotFound() async throws {
        try await withServer(try openServer()) { port throws in
            let response = try await request(port, "POST", "/ofrep/v1/evaluate/flags/nope", body: #"{"context":{}}"#)
            #expect(response.status == 404)
            let body = object(try response.json())
            #expect(body["errorCode"] == .string("FLAG_NOT_FOUND"))
            #expect(body["key"] == .string("nope"))
        }
    }

    @Test func badBodiesAre400WithOFREPErrorsAndOversizedOnes413() async throws {
        try await withServer(try openServer()) { port throws in
            let path = "/ofrep/v1/evaluate/flags/dark-mode"
            let broken = try await request(port, "POST", path, body: #"{"context": {"#)
            #expect(broken.status == 400)
            #expect(object(try broken.json())["errorCode"] == .string("PARSE_ERROR"))
            let notObject = try await request(port, "POST", path, body: #"{"context": [1, 2]}"#)
            #expect(notObject.status == 400)
            #expect(object(try notObject.json())["errorCode"] == .string("INVALID_CONTEXT"))
            let deep = try await request(
                port, "POST", path,
                body: #"{"context":{"a":"# + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}}")
            #expect(deep.status == 400)
            let many = (0..<1_500).map { "\"a\($0)\":1" }.joined(separator: ",")
            let wide = try await request(port, "POST", path, body: #"{"context":{"# + many + "}}")
            #expect(wide.status == 400)
            #expect(wide.text.contains("attributes"))

            let big = #"{"context":{"k":""# + String(repeating: "x", count: 70_000) + #""}}"#
            let tooLarge = try await request(port, "POST", path, body: big)
            #expect(tooLarge.status == 413)

            // A declared length over the limit is refused before any of the body is sent.
            let refused = try await onThread {
                let connection = try RawConnection(port: port)
                connection.send(
                    Array(
                        "POST \(path) HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\nConnection: close\r\n\r\n".utf8))
                return try parseResponse(connection.readAll())
            }
            #expect(refused.status == 413)
            // And the server still answers.
            #expect(try await request(port, "GET", "/healthz").status == 200)
        }
    }

    @Test func bulkEvaluationHasAnETagAnswers304AndPointsAtTheStream() async throws {
        try await withServer(try openServer()) { port throws in
            let response = try await request(
                port, "POST", "/ofrep/v1/evaluate/flags", body: #"{"context":{"targetingKey":"u-1"}}"#)
            #expect(response.status == 200)
            let etag = try #require(response.header("ETag"))
            #expect(etag.hasPrefix("\"sha256:"))
            let body = object(try response.json())
            guard case .array(let flags)? = body["flags"] else {
                Issue.record("no flags array")
                return
            }
            #expect(flags.count == 5)
            #expect(flags.allSatisfy { object($0)["variant"] != nil })
            guard case .array(let streams)? = body["eventStreams"] else {
                Issue.record("no eventStreams")
                return
            }
            #expect(object(streams[0])["type"] == .string("sse"))
            let again = try await request(
                port, "POST", "/ofrep/v1/evaluate/flags", headers: ["If-None-Match": etag],
                body: #"{"context":{"targetingKey":"u-1"}}"#)
            #expect(again.status == 304)
            #expect(again.body.isEmpty)
        }
    }

    /// Found by schemathesis: a current ETag used to win over a body that was not JSON.
    @Test func aMalformedBulkBodyIs400EvenWithACurrentETag() async throws {
        try await withServer(try openServer()) { port throws in
            let first = try await request(port, "POST", "/ofrep/v1/evaluate/flags", body: "{}")
            let etag = try #require(first.header("ETag"))
            for match in [etag, "*"] {
                let broken = try await request(
                    port, "POST", "/ofrep/v1/evaluate/flags", headers: ["If-None-Match": match], body: "\u{0}")
                #expect(broken.status == 400, "If-None-Match: \(match)")
                #expect(object(try broken.json())["errorCode"] == .string("PARSE_ERROR"))
            }
        }
    }

    /// Found by schemathesis: a list or an object as `targetingKey` used to be evaluated as if
    /// there were no key; scalars other than strings are still read as their text.
    @Test func aTargetingKeyThatIsAListOrAnObjectIs400InvalidContext() async throws {
        try await withServer(try openServer()) { port throws in
            for path in ["/ofrep/v1/evaluate/flags/dark-mode", "/ofrep/v1/evaluate/flags"] {
                for key in [#"["u-1"]"#, #"{"id":"u-1"}"#] {
                    let response = try await request(
                        port, "POST", path, body: #"{"context":{"targetingKey":"# + key + "}}")
                    #expect(response.status == 400, "\(path) with targetingKey \(key)")
                    #expect(object(try response.json())["errorCode"] == .string("INVALID_CONTEXT"))
                }
                for key in ["42", "true", "null", #""u-1""#] {
                    let response = try await request(
                        port, "POST", path, body: #"{"context":{"targetingKey":"# + key + "}}")
                    #expect(response.status == 200, "\(path) with targetingKey \(key)")
                }
            }
        }
    }

    @Test func unknownRoutesAre404AndWrongMethods405WithAllow() async throws {
        try await withServer(try openServer()) { port throws in
            #expect(try await request(port, "GET", "/nowhere").status == 404)
            let wrong = try await request(port, "GET", "/ofrep/v1/evaluate/flags/dark-mode")
            #expect(wrong.status == 405)
            #expect(wrong.header("Allow") == "POST")
            let delete = try await request(port, "DELETE", "/healthz")
            #expect(delete.status == 405)
            #expect(delete.header("Allow") == "GET, HEAD")
        }
    }

    @Test func headersChooseTheEnvironmentWithoutKeysAndProductionIsTheDefault() async throws {
        try await withServer(try openServer()) { port throws in
            let production = try await request(port, "POST", "/ofrep/v1/evaluate/flags", body: "{}")
            #expect(object(object(try production.json())["metadata"] ?? .null)["environment"] == .string("production"))
            let staging = try await request(
                port, "POST", "/ofrep/v1/evaluate/flags", headers: ["X-Flagstaff-Environment": "staging"], body: "{}")
            #expect(object(object(try staging.json())["metadata"] ?? .null)["environment"] == .string("staging"))
            let missing = try await request(
                port, "POST", "/ofrep/v1/evaluate/flags", headers: ["X-Flagstaff-Environment": "qa"], body: "{}")
            #expect(missing.status == 404)
        }
    }

    @Test func readinessWaitsForEveryEnvironmentTheManifestNames() async throws {
        let registry = SnapshotRegistry()
        let snapshots = try demoSnapshots()
        let production = try #require(snapshots.first { $0.environment == "production" })
        registry.expect([
            EnvironmentKey(project: "shop", environment: "production"),
            EnvironmentKey(project: "shop", environment: "staging"),
        ])
        registry.swap(ActiveSnapshot(snapshot: production, revision: 1))
        let server = FlagServer(configuration: .init(port: 0), registry: registry, authentication: .none)
        try await withServer(server) { port throws in
            let waiting = try await request(port, "GET", "/readyz")
            #expect(waiting.status == 503)
            #expect(waiting.text == "not ready: not served yet: shop/staging\n")
            // A branch that was read and rejected is dealt with: readiness does not wait for it forever.
            registry.updateState(EnvironmentKey(project: "shop", environment: "staging")) { $0.lastError = "rejected" }
            #expect(try await request(port, "GET", "/readyz").status == 200)
        }
        // Only staging served: a request naming no environment is told what is served.
        let stagingOnly = SnapshotRegistry()
        stagingOnly.swap(ActiveSnapshot(snapshot: try #require(snapshots.first { $0.environment == "staging" }), revision: 1))
        let other = FlagServer(configuration: .init(port: 0), registry: stagingOnly, authentication: .none)
        try await withServer(other) { port throws in
            let answer = try await request(port, "POST", "/ofrep/v1/evaluate/flags/dark-mode", body: #"{"context":{}}"#)
            #expect(answer.status == 400)
            #expect(answer.text.contains("serves no production environment (yet; it serves staging)"), "\(answer.text)")
        }
    }

    @Test func healthReadinessMetricsAndStatus() async throws {
        let empty = FlagServer(
            configuration: .init(port: 0), registry: SnapshotRegistry(), authentication: .none)
        try await withServer(empty) { port throws in
            #expect(try await request(port, "GET", "/healthz").status == 200)
            #expect(try await request(port, "GET", "/readyz").status == 503)
            #expect(try await request(port, "POST", "/ofrep/v1/evaluate/flags/x", body: "{}").status == 503)
        }
        try await withServer(try openServer()) { port throws in
            #expect(try await request(port, "GET", "/readyz").status == 200)
            _ = try await request(port, "POST", "/ofrep/v1/evaluate/flags/dark-mode", body: #"{"context":{}}"#)
            _ = try await request(port, "POST", "/ofrep/v1/evaluate/flags/made-up", body: #"{"context":{}}"#)
            let metrics = try await request(port, "GET", "/metrics")
            // Unknown keys are counted, but not by name: made-up keys cannot grow the metrics.
            #expect(metrics.text.contains(#"flagstaff_evaluations_not_found_total{project="shop",environment="production"} 1"#))
            #expect(!metrics.text.contains("made-up"))
            #expect(metrics.status == 200)
            #expect(metrics.text.contains(#"flagstaff_http_requests_total{route="/ofrep/v1/evaluate/flags/{key}",status="200"} 1"#))
            #expect(metrics.text.contains(#"flagstaff_evaluations_total{project="shop",environment="production",flag="dark-mode",variant="off",reason="DEFAULT"} 1"#))
            #expect(metrics.text.contains(#"flagstaff_snapshot_revision{project="shop",environment="production"} 1"#))
            #expect(metrics.text.contains("flagstaff_http_request_duration_seconds_bucket"))
            let status = try await request(port, "GET", "/api/v1/status")
            guard case .array(let environments)? = object(try status.json())["environments"] else {
                Issue.record("no environments in \(status.text)")
                return
            }
            #expect(environments.count == 2)
            #expect(object(environments[0])["revision"] == .int(1))
        }
    }
}
