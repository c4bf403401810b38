import FlagAccess
import Foundation
import JWTKit
import Testing

/// One RSA key for the whole suite: generating 2048-bit keys is slow.
let rsaKey = try! SigningKey.newRSA()

/// A verifier over a JWKS file holding `keys`, with issuer and audience configured.
func fileVerifier(_ keys: [[String: String]], issuer: String? = "https://id.example.com") throws -> JWTVerifier {
    let configuration = JWTConfiguration(
        jwks: try temporaryJWKSFile(try jwksJSON(keys)), issuer: issuer, audience: "flagstaff")
    return try JWTVerifier(configuration: configuration, logger: testLogger)
}

func hs256Token(secret: String, kid: String) async throws -> String {
    let keys = JWTKeyCollection()
    await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
    var header = JWTHeader()
    header.kid = kid
    return try await keys.sign(TestClaims(), header: header)
}

@Suite struct SignatureTests {
    @Test func acceptsAnRS256TokenAndReadsItsIdentity() async throws {
        let verifier = try fileVerifier([try rsaKey.jwk(kid: "rsa-1")])
        let token = try await rsaKey.sign(TestClaims(flagstaff_project: "storefront"), kid: "rsa-1")
        let verified = try await verifier.verify(token, now: now).get()
        #expect(
            verified
                == VerifiedToken(
                    subject: "alice", name: "Alice Example", email: "alice@example.com", role: "editor",
                    project: "storefront", expiresAt: now.addingTimeInterval(3600)))
    }

    @Test func acceptsAnES256TokenAmongSeveralKeys() async throws {
        let es = SigningKey.newES256()
        let verifier = try fileVerifier([try rsaKey.jwk(kid: "rsa-1"), try es.jwk(kid: "ec-1", alg: "ES256")])
        let token = try await es.sign(TestClaims(name: nil, email: nil, flagstaff_role: nil), kid: "ec-1")
        let verified = try await verifier.verify(token, now: now).get()
        #expect(verified.subject == "alice")
        #expect(verified.name == nil && verified.email == nil && verified.role == nil && verified.project == nil)
    }

    @Test func readsTheRoleFromTheConfiguredClaim() async throws {
        let configuration = JWTConfiguration(
            jwks: try temporaryJWKSFile(try jwksJSON([try rsaKey.jwk(kid: "rsa-1")])), roleClaim: "email")
        let verifier = try JWTVerifier(configuration: configuration, logger: testLogger)
        let token = try await rsaKey.sign(TestClaims(), kid: "rsa-1")
        #expect(try await verifier.verify(token, now: now).get().role == "alice@example.com")
    }

    @Test func refusesASignatureByAnotherKeyWithTheSameKid() async throws {
        let verifier = try fileVerifier([try SigningKey.newES256().jwk(kid: "ec-1")])
        let token = try await SigningKey.newES256().sign(TestClaims(), kid: "ec-1")
        #expect(await verifier.verify(token, now: now) == .failure(.badSignature))
    }

    @Test func refusesATamperedPayload() async throws {
        let verifier = try fileVerifier([try rsaKey.jwk(kid: "rsa-1")])
        let token = try await rsaKey.sign(TestClaims(), kid: "rsa-1")
        let parts = token.split(separator: ".")
        let owner = base64URL(try JSONEncoder().encode(TestClaims(flagstaff_role: "owner")))
        #expect(await verifier.verify("\(parts[0]).\(owner).\(parts[2])", now: now) == .failure(.badSignature))
    }

    @Test func refusesAlgNone() async throws {
        let verifier = try fileVerifier([try rsaKey.jwk(kid: "rsa-1")])
        let header = base64URL(Data(#"{"alg":"none","kid":"rsa-1","typ":"JWT"}"#.utf8))
        let payload = base64URL(try JSONEncoder().encode(TestClaims()))
        let result = await verifier.verify("\(header).\(payload).", now: now)
        #expect(result == .failure(.unsupportedAlgorithm("none")))
        #expect(verifier.looksLikeJWT("\(header).\(payload)."))
    }

    @Test func refusesHS256EvenWhenTheJWKSPublishesTheSecret() async throws {
        let secret = "a-shared-secret-that-anyone-reading-the-jwks-knows"
        let oct = ["kty": "oct", "kid": "hmac", "alg": "HS256", "k": base64URL(Data(secret.utf8))]
        let verifier = try fileVerifier([oct, try rsaKey.jwk(kid: "rsa-1")])
        let token = try await hs256Token(secret: secret, kid: "hmac")
        #expect(await verifier.verify(token, now: now) == .failure(.unsupportedAlgorithm("HS256")))
    }

    @Test func refusesAnAlgThatDoesNotFitTheSelectedKey() async throws {
        // An ES256 header naming an RSA key: the RSA key must not be tried under another algorithm.
        let verifier = try fileVerifier([try rsaKey.jwk(kid: "shared")])
        let token = try await SigningKey.newES256().sign(TestClaims(), kid: "shared")
        #expect(await verifier.verify(token, now: now) == .failure(.unsupportedAlgorithm("ES256")))
    }

    @Test func refusesMalformedStrings() async throws {
        let verifier = try fileVerifier([try rsaKey.jwk(kid: "rsa-1")])
        let claims = base64URL(try JSONEncoder().encode(TestClaims()))
        let noAlg = base64URL(Data(#"{"kid":"rsa-1"}"#.utf8))
        let notJSON = base64URL(Data("hello".utf8))
        for token in [
            "", "abc", "a.b", "a.b.c.d", "fs_live_0123456789", "a b.c d.e", "..", "a..c", "!!.??.**",
            "\(notJSON).\(claims).sig", "\(noAlg).\(claims).sig", "\(noAlg).\(notJSON).sig",
        ] {
            #expect(await verifier.verify(token, now: now) == .failure(.malformed), "\(token)")
        }
    }

    @Test func tellsJWTsFromAPIKeys() async throws {
        let verifier = try fileVerifier([try rsaKey.jwk(kid: "rsa-1")])
        let token = try await rsaKey.sign(TestClaims(), kid: "rsa-1")
        #expect(verifier.looksLikeJWT(token[...]))
        #expect(!verifier.looksLikeJWT("fs_manage_4f2a9c0d1e"))
        #expect(!verifier.looksLikeJWT("a.b.c.d"))
        #expect(!verifier.looksLikeJWT(".b.c"))
        #expect(!verifier.looksLikeJWT("a+b.c/d.e=="))
    }
}

@Suite struct KeySelectionTests {
    @Test func acceptsATokenWithoutKidWhenTheJWKSHoldsOneKey() async throws {
        let verifier = try fileVerifier([try rsaKey.jwk(kid: "rsa-1")])
        let token = try await rsaKey.sign(TestClaims(), kid: nil)
        #expect(try await verifier.verify(token, now: now).get().subject == "alice")
    }

    @Test func refusesATokenWithoutKidWhenTheJWKSHoldsSeveralKeys() async throws {
        let verifier = try fileVerifier([try rsaKey.jwk(kid: "rsa-1"), try SigningKey.newES256().jwk(kid: "ec-1")])
        let token = try await rsaKey.sign(TestClaims(), kid: nil)
        #expect(await verifier.verify(token, now: now) == .failure(.unknownKey))
    }

    @Test func refusesAnUnknownKid() async throws {
        let verifier = try fileVerifier([try rsaKey.jwk(kid: "rsa-1")])
        let token = try await rsaKey.sign(TestClaims(), kid: "rsa-2")
        #expect(await verifier.verify(token, now: now) == .failure(.unknownKey))
    }
}

@Suite struct ClaimTests {
    func verify(_ claims: TestClaims, issuer: String? = "https://id.example.com") async throws -> Result<
        VerifiedToken, TokenRefusal
    > {
        let verifier = try fileVerifier([try rsaKey.jwk(kid: "rsa-1")], issuer: issuer)
        return await verifier.verify(try await rsaKey.sign(claims, kid: "rsa-1"), now: now)
    }

    @Test func refusesAnExpiredToken() async throws {
        #expect(try await verify(TestClaims(exp: now.addingTimeInterval(-61))) == .failure(.expired))
    }

    @Test func allowsClockSkewWithinTheLeeway() async throws {
        let skewed = TestClaims(exp: now.addingTimeInterval(-30), nbf: now.addingTimeInterval(30))
        #expect(try await verify(skewed).get().subject == "alice")
    }

    @Test func requiresExp() async throws {
        #expect(try await verify(TestClaims(exp: nil)) == .failure(.missingClaim("exp")))
    }

    @Test func refusesATokenNotYetValid() async throws {
        #expect(try await verify(TestClaims(nbf: now.addingTimeInterval(120))) == .failure(.notYetValid))
        #expect(try await verify(TestClaims(iat: now.addingTimeInterval(120))) == .failure(.notYetValid))
    }

    @Test func refusesAnotherIssuer() async throws {
        #expect(try await verify(TestClaims(iss: "https://evil.example.com")) == .failure(.wrongIssuer))
        #expect(try await verify(TestClaims(iss: nil)) == .failure(.missingClaim("iss")))
        #expect(try await verify(TestClaims(iss: "https://anyone.example.com"), issuer: nil).get().subject == "alice")
    }

    @Test func refusesAnotherAudience() async throws {
        #expect(try await verify(TestClaims(aud: "billing")) == .failure(.wrongAudience))
        let elsewhere = AudienceClaim(value: ["billing", "reports"])
        #expect(try await verify(TestClaims(aud: elsewhere)) == .failure(.wrongAudience))
        #expect(try await verify(TestClaims(aud: nil)) == .failure(.missingClaim("aud")))
    }

    @Test func acceptsAnAudienceArrayContainingTheAudience() async throws {
        let several = AudienceClaim(value: ["billing", "flagstaff"])
        #expect(try await verify(TestClaims(aud: several)).get().subject == "alice")
    }

    @Test func requiresSub() async throws {
        #expect(try await verify(TestClaims(sub: nil)) == .failure(.missingClaim("sub")))
        #expect(try await verify(TestClaims(sub: "")) == .failure(.missingClaim("sub")))
    }

    @Test func messagesNameTheClaimAndNeverTheToken() async throws {
        let token = try await rsaKey.sign(TestClaims(exp: nil), kid: "rsa-1")
        let verifier = try fileVerifier([try rsaKey.jwk(kid: "rsa-1")])
        let refusal = try #require(await verifier.verify(token, now: now).failure)
        #expect(refusal.message.contains("`exp`"))
        for part in token.split(separator: ".") { #expect(!refusal.message.contains(part)) }
    }
}

@Suite struct JWKSFileTests {
    @Test func refusesToStartWithAMissingFile() throws {
        let error = #expect(throws: JWKSError.self) {
            try JWTVerifier(configuration: .init(jwks: "/nonexistent/jwks.json"), logger: testLogger)
        }
        #expect(error?.message.contains("/nonexistent/jwks.json") == true)
    }

    @Test func refusesToStartWithAnInvalidFile() throws {
        for document in ["not json", #"{"keys": []}"#, #"{"keys": [{"kty": "oct", "kid": "h", "k": "c2VjcmV0"}]}"#] {
            let path = try temporaryJWKSFile(document)
            #expect(throws: JWKSError.self) {
                try JWTVerifier(configuration: .init(jwks: path), logger: testLogger)
            }
        }
    }

    @Test func skipsKeysItCannotUseAndKeepsTheOthers() async throws {
        let encryption = ["kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"]
        let unknown = ["kty": "XYZ", "kid": "odd"]
        let verifier = try fileVerifier([encryption, unknown, try rsaKey.jwk(kid: "rsa-1")])
        let token = try await rsaKey.sign(TestClaims(), kid: "rsa-1")
        #expect(try await verifier.verify(token, now: now).get().subject == "alice")
    }
}

@Suite(.serialized) struct JWKSURLTests {
    @Test func fetchesTheJWKSOverHTTP() async throws {
        let server = JWKSServer(try jwksJSON([try rsaKey.jwk(kid: "rsa-1")]))
        let token = try await rsaKey.sign(TestClaims(), kid: "rsa-1")
        try await server.serve { url in
            let verifier = try JWTVerifier(configuration: .init(jwks: url), logger: testLogger)
            #expect(try await verifier.verify(token, now: now).get().subject == "alice")
            #expect(try await verifier.verify(token, now: now.addingTimeInterval(60)).get().subject == "alice")
            #expect(server.reads.withLock { $0 } == 1)
            // Due again after `refresh`: read while the held keys go on checking tokens.
            #expect(try await verifier.verify(token, now: now.addingTimeInterval(301)).get().subject == "alice")
            #expect(await eventually { server.reads.withLock { $0 } == 2 })
        }
    }

    @Test func refetchesOnAnUnknownKidToFindARotatedKey() async throws {
        let rotated = SigningKey.newES256()
        let server = JWKSServer(try jwksJSON([try rsaKey.jwk(kid: "rsa-1")]))
        let oldToken = try await rsaKey.sign(TestClaims(), kid: "rsa-1")
        let newToken = try await rotated.sign(TestClaims(), kid: "ec-2")
        try await server.serve { url in
            let verifier = try JWTVerifier(configuration: .init(jwks: url), logger: testLogger)
            #expect(try await verifier.verify(oldToken, now: now).get().subject == "alice")
            let rotatedJWKS = try jwksJSON([try rsaKey.jwk(kid: "rsa-1"), try rotated.jwk(kid: "ec-2")])
            server.document.withLock { $0 = rotatedJWKS }
            // Within 30 s of the last read an unknown kid does not cause another one.
            #expect(await verifier.verify(newToken, now: now.addingTimeInterval(10)) == .failure(.unknownKey))
            #expect(server.reads.withLock { $0 } == 1)
            #expect(try await verifier.verify(newToken, now: now.addingTimeInterval(31)).get().subject == "alice")
            #expect(server.reads.withLock { $0 } == 2)
            #expect(try await verifier.verify(oldToken, now: now.addingTimeInterval(32)).get().subject == "alice")
            #expect(server.reads.withLock { $0 } == 2)
        }
    }

    @Test func keepsTheCachedKeysWhenTheServerIsDown() async throws {
        let server = JWKSServer(try jwksJSON([try rsaKey.jwk(kid: "rsa-1")]))
        let token = try await rsaKey.sign(TestClaims(exp: now.addingTimeInterval(7200)), kid: "rsa-1")
        let verifier = try await server.serve { url in
            let verifier = try JWTVerifier(configuration: .init(jwks: url), logger: testLogger)
            #expect(try await verifier.verify(token, now: now).get().subject == "alice")
            return verifier
        }
        // The server is gone: the refresh due at +301 s fails (the token is checked without waiting for
        // it), and so does the refetch for an unknown kid.
        let clock = ContinuousClock()
        let start = clock.now
        #expect(try await verifier.verify(token, now: now.addingTimeInterval(301)).get().subject == "alice")
        #expect(clock.now - start < .seconds(1))
        let unknown = try await rsaKey.sign(TestClaims(), kid: "rsa-9")
        #expect(await verifier.verify(unknown, now: now.addingTimeInterval(400)) == .failure(.unknownKey))
        #expect(try await verifier.verify(token, now: now.addingTimeInterval(401)).get().subject == "alice")
    }

    @Test func refusesWithKeysUnavailableWhenNoJWKSWasEverFetched() async throws {
        // A port that was just free: nothing listens on it any more.
        let url = try await JWKSServer("{}").serve { $0 }
        let verifier = try JWTVerifier(configuration: .init(jwks: url), logger: testLogger)
        let token = try await rsaKey.sign(TestClaims(), kid: "rsa-1")
        let result = await verifier.verify(token, now: now)
        guard case .failure(.keysUnavailable(let reason)) = result else {
            Issue.record("expected keysUnavailable, got \(result)")
            return
        }
        #expect(reason.contains(url))
        #expect(!reason.contains(token))
    }

    @Test func refusesAnURLThatIsNotOne() {
        #expect(throws: JWKSError.self) {
            try JWTVerifier(configuration: .init(jwks: "https://"), logger: testLogger)
        }
    }
}

/// Whether `condition` holds within five seconds.
func eventually(_ condition: () -> Bool) async -> Bool {
    for _ in 0..<500 {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

extension Result {
    var failure: Failure? {
        if case .failure(let failure) = self { failure } else { nil }
    }
}
