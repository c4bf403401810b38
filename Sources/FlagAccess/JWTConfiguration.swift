// How management callers with JWT bearer tokens are checked (SPEC §14: --jwt-jwks, --jwt-issuer, --jwt-audience).

/// Where the keys come from and which claims a management token must carry.
public struct JWTConfiguration: Sendable {
    /// A JWKS file path, or an `http://` / `https://` URL serving one.
    public var jwks: String
    /// When set, a token's `iss` claim must equal it.
    public var issuer: String?
    /// When set, a token's `aud` claim (a string or an array) must contain it.
    public var audience: String?
    /// The claim naming the caller's role (`viewer`, `editor`, `owner`).
    public var roleClaim: String = "flagstaff_role"
    /// The claim naming the one project the caller is limited to, if any.
    public var projectClaim: String = "flagstaff_project"
    /// How long loaded keys are used before the JWKS is read again.
    public var refresh: Duration = .seconds(300)
    /// Clock skew, in seconds, allowed when checking `exp`, `nbf` and `iat`.
    public var leeway: Int = 60

    public init(
        jwks: String,
        issuer: String? = nil,
        audience: String? = nil,
        roleClaim: String = "flagstaff_role",
        projectClaim: String = "flagstaff_project",
        refresh: Duration = .seconds(300),
        leeway: Int = 60
    ) {
        self.jwks = jwks
        self.issuer = issuer
        self.audience = audience
        self.roleClaim = roleClaim
        self.projectClaim = projectClaim
        self.refresh = refresh
        self.leeway = leeway
    }
}
