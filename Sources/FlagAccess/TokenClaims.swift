import Foundation
import JWTKit

/// A token's payload as decoded after its signature checked out: the registered claims Flagstaff
/// judges, in jwt-kit's claim types (an `aud` string or array alike), and every other claim whose
/// value is a string, because the role and project claims are named by configuration.
struct TokenClaims: JWTPayload {
    var exp: ExpirationClaim?
    var nbf: NotBeforeClaim?
    var iat: IssuedAtClaim?
    var iss: IssuerClaim?
    var aud: AudienceClaim?
    var sub: SubjectClaim?
    var strings: [String: String] = [:]
    /// Every other claim's name, string or not: a role or project claim of another type
    /// (a list, a number) must refuse the token, not read as absent.
    var present: Set<String> = []

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue _: Int) { return nil }
    }

    private static let registered: Set<String> = ["exp", "nbf", "iat", "iss", "aud", "sub"]

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        exp = try container.decodeIfPresent(ExpirationClaim.self, forKey: Key("exp"))
        nbf = try container.decodeIfPresent(NotBeforeClaim.self, forKey: Key("nbf"))
        iat = try container.decodeIfPresent(IssuedAtClaim.self, forKey: Key("iat"))
        iss = try container.decodeIfPresent(IssuerClaim.self, forKey: Key("iss"))
        aud = try container.decodeIfPresent(AudienceClaim.self, forKey: Key("aud"))
        sub = try container.decodeIfPresent(SubjectClaim.self, forKey: Key("sub"))
        for key in container.allKeys where !Self.registered.contains(key.stringValue) {
            present.insert(key.stringValue)
            if let value = try? container.decode(String.self, forKey: key) {
                strings[key.stringValue] = value
            }
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encodeIfPresent(exp, forKey: Key("exp"))
        try container.encodeIfPresent(nbf, forKey: Key("nbf"))
        try container.encodeIfPresent(iat, forKey: Key("iat"))
        try container.encodeIfPresent(iss, forKey: Key("iss"))
        try container.encodeIfPresent(aud, forKey: Key("aud"))
        try container.encodeIfPresent(sub, forKey: Key("sub"))
        for (name, value) in strings {
            try container.encode(value, forKey: Key(name))
        }
    }

    /// Nothing: jwt-kit would check `exp` against the wall clock without leeway, and `JWTVerifier`
    /// checks every claim against the caller's clock with the configured leeway instead.
    func verify(using _: some JWTAlgorithm) async throws {}
}
