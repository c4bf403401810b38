import FlagModel
import Foundation
import JWTKit
import Testing

/// JWT callers of the management API against a daemon: real ES256 tokens signed here, the
/// JWKS in a file the daemon reads.
@Suite(.serialized)
struct ManagementTokenTests {
    struct Claims: JWTPayload {
        var sub: SubjectClaim
        var exp: ExpirationClaim
        var iss: IssuerClaim
        var aud: AudienceClaim
        var name: String?
        var email: String?
        var flagstaff_role: String?
        /// A list where a string belongs: must refuse the token, not lift the project limit.
        var flagstaff_project: [String]?

        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    static func token(
        _ key: ES256PrivateKey, kid: String = "k1", role: String? = "editor", audience: String = "flagstaff",
        expires: Date = Date().addingTimeInterval(600), projects: [String]? = nil
    ) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(ecdsa: key, kid: JWKIdentifier(string: kid))
        return try await keys.sign(
            Claims(
                sub: "grace", exp: ExpirationClaim(value: expires), iss: "https://id.acme.test",
                aud: AudienceClaim(value: [audience]), name: "Grace Hopper", email: "grace@acme.com",
                flagstaff_role: role, flagstaff_project: projects),
            kid: JWKIdentifier(string: kid))
    }

    @Test func aTokenCallerIsTheCommitAuthorAndBadTokensAre401() async throws {
        let setup = try ManagementTests.Setup()
        let key = ES256PrivateKey()
        let parameters = try #require(key.publicKey.parameters)
        let jwks = FileManager.default.temporaryDirectory.appendingPathComponent("jwks-\(UUID().uuidString).json")
        try #"{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","use":"sig","x":"\#(parameters.x)","y":"\#(parameters.y)"}]}"#
            .write(to: jwks, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: jwks) }
        let daemon = try await setup.daemon(
            ["--jwt-jwks", jwks.path, "--jwt-issuer", "https://id.acme.test", "--jwt-audience", "flagstaff"])
        defer { daemon.terminate() }
        let toggle = "/api/v1/flags/shop:checkout/environments/staging/toggle"

        let good = try await Self.token(key)
        let response = try setup.call(daemon, good, "PATCH", toggle, body: #"{"enabled": false}"#)
        #expect(response.status == 200, "\(response.body)")
        let author = try setup.repo.git("log", "-1", "--format=%an <%ae>", "staging")
        #expect(author.trimmingCharacters(in: .whitespacesAndNewlines) == "Grace Hopper <grace@acme.com>")
        #expect(try setup.repo.git("log", "-1", "--format=%B", "staging").contains("Flagstaff-Actor: token:grace"))

        let cases: [(String, String, Int)] = [
            ("wrong audience", try await Self.token(key, audience: "other"), 401),
            ("expired", try await Self.token(key, expires: Date().addingTimeInterval(-3600)), 401),
            ("other key, same kid", try await Self.token(ES256PrivateKey()), 401),
            ("unknown kid", try await Self.token(key, kid: "k2"), 401),
            ("no role", try await Self.token(key, role: nil), 403),
            ("viewer writes", try await Self.token(key, role: "viewer"), 403),
            ("project claim as a list", try await Self.token(key, projects: ["shop"]), 401),
        ]
        for (name, token, status) in cases {
            let refused = try setup.call(daemon, token, "PATCH", toggle, body: #"{"enabled": true}"#)
            #expect(refused.status == status, "\(name): \(refused.body)")
            #expect(!refused.body.contains(token), "\(name) echoes the token")
        }
        // alg: none, hand-made.
        func base64URL(_ text: String) -> String {
            Data(text.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        }
        let none = base64URL(#"{"alg":"none","typ":"JWT"}"#) + "."
            + base64URL(#"{"sub":"mallory","exp":4102444800,"iss":"https://id.acme.test","aud":"flagstaff","flagstaff_role":"owner"}"#)
            + "."
        #expect(try setup.call(daemon, none, "PATCH", toggle, body: #"{"enabled": true}"#).status == 401)
        // Tokens never reach the log.
        #expect(!daemon.logText.contains(good))
    }
}
