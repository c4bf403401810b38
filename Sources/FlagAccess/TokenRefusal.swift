/// Why a bearer token was not accepted. Each case's ``message`` is fit for a 401 body: it names the
/// header or claim at fault and never repeats the token.
public enum TokenRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not three base64url segments with a JSON header (string `alg`) and a JSON payload.
    case malformed
    /// The `alg` header is not an accepted asymmetric algorithm (`none` and `HS*` never are), or does
    /// not fit the key the `kid` header selects. Carries the `alg` value, cut to a few safe characters.
    case unsupportedAlgorithm(String)
    /// The signature does not verify with the selected key.
    case badSignature
    /// No key in the JWKS matches the `kid` header, even after a refetch.
    case unknownKey
    /// `exp` is past, beyond the leeway.
    case expired
    /// `nbf` or `iat` is in the future, beyond the leeway.
    case notYetValid
    /// `iss` is not the configured issuer.
    case wrongIssuer
    /// `aud` does not contain the configured audience.
    case wrongAudience
    /// A required claim is absent or of the wrong type. Carries the claim's name.
    case missingClaim(String)
    /// There are no keys to verify with: the JWKS has not been loaded. Carries why.
    case keysUnavailable(String)

    /// A human sentence for the caller and the log.
    public var message: String {
        switch self {
        case .malformed:
            "the bearer token is not a well-formed JWT (three base64url segments: a JSON header with a string "
                + "`alg`, a JSON payload, a signature)"
        case .unsupportedAlgorithm(let alg):
            "the token's `alg` header \"\(alg)\" is not accepted: only RS256/384/512, PS256/384/512, ES256/384/512 "
                + "and EdDSA signatures by a key of the matching type in the JWKS are"
        case .badSignature:
            "the token's signature does not verify with the JWKS key its `kid` header selects"
        case .unknownKey:
            "no key in the JWKS matches the token's `kid` header (a token without `kid` is accepted only while the "
                + "JWKS holds exactly one signing key)"
        case .expired:
            "the token has expired (`exp` claim)"
        case .notYetValid:
            "the token is not valid yet (`nbf` or `iat` claim in the future)"
        case .wrongIssuer:
            "the token's `iss` claim is not the configured issuer"
        case .wrongAudience:
            "the token's `aud` claim does not include the configured audience"
        case .missingClaim(let claim):
            "the token has no valid `\(claim)` claim"
        case .keysUnavailable(let reason):
            "no JWKS keys to verify the token with: \(reason)"
        }
    }

    public var description: String { message }
}
