import Foundation

/// Who a verified token speaks for: what the management API needs to authorise the call and to
/// name the caller as a commit's author.
public struct VerifiedToken: Sendable, Hashable {
    /// The `sub` claim: the caller's stable identity.
    public var subject: String
    /// The `name` claim, when the issuer sends one.
    public var name: String?
    /// The `email` claim, when the issuer sends one.
    public var email: String?
    /// The role claim (``JWTConfiguration/roleClaim``), when present as a string.
    public var role: String?
    /// The project claim (``JWTConfiguration/projectClaim``), when present as a string.
    public var project: String?
    /// The `exp` claim.
    public var expiresAt: Date

    public init(
        subject: String, name: String? = nil, email: String? = nil, role: String? = nil, project: String? = nil,
        expiresAt: Date
    ) {
        self.subject = subject
        self.name = name
        self.email = email
        self.role = role
        self.project = project
        self.expiresAt = expiresAt
    }
}
