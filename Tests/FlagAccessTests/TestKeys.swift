import CryptoExtras
import FlagAccess
import Foundation
import JWTKit
import Logging

// MARK: Signing keys made in the test

/// A key that signs test tokens, and its public half as a JWK for the JWKS under test.
enum SigningKey: Sendable {
    case rsa(JWTKit.Insecure.RSA.PrivateKey)
    case es256(ES256PrivateKey)

    static func newRSA() throws -> SigningKey {
        .rsa(try JWTKit.Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048)))
    }

    static func newES256() -> SigningKey {
        .es256(ES256PrivateKey())
    }

    func jwk(kid: String?, alg: String? = nil) throws -> [String: String] {
        var jwk: [String: String]
        switch self {
        case .rsa(let key):
            let (n, e) = try key.publicKey.getKeyPrimitives()
            jwk = ["kty": "RSA", "n": base64URL(n), "e": base64URL(e)]
        case .es256(let key):
            let parameters = key.publicKey.parameters!
            jwk = ["kty": "EC", "crv": "P-256", "x": parameters.x, "y": parameters.y]
        }
        jwk["kid"] = kid
        jwk["alg"] = alg
        return jwk
    }

    /// A real token: `claims` signed by this key, with `kid` in the header when given.
    func sign(_ claims: TestClaims, kid: String?) async throws -> String {
        let keys = JWTKeyCollection()
        switch self {
        case .rsa(let key): await keys.add(rsa: key, digestAlgorithm: .sha256)
        case .es256(let key): await keys.add(ecdsa: key)
        }
        var header = JWTHeader()
        header.kid = kid
        return try await keys.sign(claims, header: header)
    }
}

/// The claims a test token carries; each test removes or bends the one it is about.
struct TestClaims: JWTPayload {
    var sub: String? = "alice"
    var exp: Date? = now.addingTimeInterval(3600)
    var nbf: Date?
    var iat: Date? = now.addingTimeInterval(-10)
    var iss: String? = "https://id.example.com"
    var aud: AudienceClaim? = "flagstaff"
    var name: String? = "Alice Example"
    var email: String? = "alice@example.com"
    var flagstaff_role: String? = "editor"
    var flagstaff_project: String?

    func verify(using _: some JWTAlgorithm) async throws {}
}

/// The fixed "now" every test verifies at, so refresh and refetch timing is exact.
let now = Date(timeIntervalSince1970: 1_800_000_000)

func base64URL(_ data: Data) -> String {
    data.base64EncodedString()
        .replacingOccurrences(of: "+", with: "-")
        .replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}

func jwksJSON(_ keys: [[String: String]]) throws -> String {
    String(decoding: try JSONSerialization.data(withJSONObject: ["keys": keys], options: [.sortedKeys]), as: UTF8.self)
}

/// Writes `json` to a fresh temporary file and returns its path.
func temporaryJWKSFile(_ json: String) throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("jwks-\(UUID().uuidString).json")
    try Data(json.utf8).write(to: url)
    return url.path
}

let testLogger = Logger(label: "FlagAccessTests")
