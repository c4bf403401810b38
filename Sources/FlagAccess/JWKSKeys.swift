import Foundation
import JWTKit

/// Why a JWKS could not be used: unreadable, unreachable, not JSON, or without a usable signing key.
public struct JWKSError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, naming the file or URL.
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// The signature algorithms Flagstaff verifies. All asymmetric: a JWKS is public, so a symmetric
/// (`kty: oct`, `HS*`) key in it would let anyone who reads the JWKS mint tokens; `none` is no signature.
let acceptedAlgorithms: Set<String> = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
]

/// One public key from a JWKS and the algorithms it may verify.
struct VerificationKey: Sendable {
    enum Material: Sendable {
        case rsa(Insecure.RSA.PublicKey)
        case es256(ES256PublicKey)
        case es384(ES384PublicKey)
        case es512(ES512PublicKey)
        case eddsa(EdDSA.PublicKey)
    }

    var kid: String?
    /// The key's own `alg` when the JWKS declares one, else every accepted algorithm its type allows:
    /// a token's `alg` header must be among them, so an RSA key never checks an `ES256` token.
    var algorithms: Set<String>
    var material: Material

    /// Checks `token`'s signature with this key under `alg`, then decodes its claims. The claims are
    /// not judged here (``JWTVerifier`` does that with its clock and leeway).
    func verify(_ token: String, alg: String) async throws -> TokenClaims {
        // A collection holding only this key, so jwt-kit cannot fall back to another key or take the
        // algorithm from the token.
        let collection = JWTKeyCollection()
        switch material {
        case .rsa(let key):
            let digest: DigestAlgorithm =
                switch alg.suffix(3) {
                case "384": .sha384
                case "512": .sha512
                default: .sha256
                }
            if alg.hasPrefix("PS") {
                await collection.add(pss: key, digestAlgorithm: digest)
            } else {
                await collection.add(rsa: key, digestAlgorithm: digest)
            }
        case .es256(let key): await collection.add(ecdsa: key)
        case .es384(let key): await collection.add(ecdsa: key)
        case .es512(let key): await collection.add(ecdsa: key)
        case .eddsa(let key): await collection.add(eddsa: key)
        }
        return try await collection.verify(token, as: TokenClaims.self)
    }
}

/// The usable keys of one JWKS document.
struct KeySet: Sendable {
    var keys: [VerificationKey]

    /// The keys a token's `kid` header selects: those with that `kid`, or, for a token without one,
    /// the only key when there is exactly one.
    func candidates(kid: String?) -> [VerificationKey] {
        guard let kid else { return keys.count == 1 ? keys : [] }
        return keys.filter { $0.kid == kid }
    }

    /// Reads a JWKS document. Keys that cannot verify a token (symmetric, encryption-only, unknown type
    /// or algorithm, broken material) are skipped and listed in `skipped`, so one odd key from an
    /// identity provider does not take the others down; a document with no usable key is an error.
    static func parse(_ data: Data, source: String) throws(JWKSError) -> (keys: KeySet, skipped: [String]) {
        let document: Document
        do {
            document = try JSONDecoder().decode(Document.self, from: data)
        } catch {
            throw JWKSError("JWKS \(source) is not a JSON object with a \"keys\" array of keys: \(error)")
        }
        var keys: [VerificationKey] = []
        var skipped: [String] = []
        for (index, entry) in document.keys.enumerated() {
            do throws(JWKSError) {
                keys.append(try entry.verificationKey())
            } catch {
                skipped.append("key \(entry.kid.map { "\"\($0)\"" } ?? "#\(index)"): \(error.message)")
            }
        }
        guard !keys.isEmpty else {
            let why = skipped.isEmpty ? "it is empty" : skipped.joined(separator: "; ")
            throw JWKSError("JWKS \(source) holds no usable signing key: \(why)")
        }
        return (KeySet(keys: keys), skipped)
    }

    private struct Document: Decodable {
        var keys: [Entry]
    }

    /// The JWK members Flagstaff reads; the others (`x5c`, `key_ops`, a private `d`) are ignored.
    private struct Entry: Decodable {
        var kty: String?
        var kid: String?
        var alg: String?
        var use: String?
        var crv: String?
        var n: String?
        var e: String?
        var x: String?
        var y: String?

        func verificationKey() throws(JWKSError) -> VerificationKey {
            if let use, use != "sig" { throw JWKSError("its use is \"\(use)\", not \"sig\"") }
            if let alg, !acceptedAlgorithms.contains(alg) { throw JWKSError("its alg \"\(alg)\" is not accepted") }
            let family: Set<String>
            let material: VerificationKey.Material
            do {
                switch (kty ?? "", crv ?? "") {
                case ("RSA", _):
                    guard let n, let e else { throw JWKSError("an RSA key needs n and e") }
                    material = .rsa(try Insecure.RSA.PublicKey(modulus: n, exponent: e))
                    family = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]
                case ("EC", "P-256"):
                    material = .es256(try ES256PublicKey(parameters: try coordinates()))
                    family = ["ES256"]
                case ("EC", "P-384"):
                    material = .es384(try ES384PublicKey(parameters: try coordinates()))
                    family = ["ES384"]
                case ("EC", "P-521"):
                    material = .es512(try ES512PublicKey(parameters: try coordinates()))
                    family = ["ES512"]
                case ("OKP", "Ed25519"):
                    guard let x else { throw JWKSError("an Ed25519 key needs x") }
                    material = .eddsa(try EdDSA.PublicKey(x: x, curve: .ed25519))
                    family = ["EdDSA"]
                case ("oct", _):
                    throw JWKSError("symmetric (kty \"oct\") keys are never used to verify tokens")
                default:
                    throw JWKSError("kty \"\(kty ?? "")\" with crv \"\(crv ?? "")\" is not supported")
                }
            } catch let error as JWKSError {
                throw error
            } catch {
                throw JWKSError("its key material is invalid: \(error)")
            }
            if let alg {
                guard family.contains(alg) else {
                    throw JWKSError("its alg \"\(alg)\" does not fit kty \"\(kty ?? "")\"")
                }
                return VerificationKey(kid: kid, algorithms: [alg], material: material)
            }
            return VerificationKey(kid: kid, algorithms: family, material: material)
        }

        private func coordinates() throws(JWKSError) -> ECDSAParameters {
            guard let x, let y else { throw JWKSError("an EC key needs x and y") }
            return (x, y)
        }
    }
}
