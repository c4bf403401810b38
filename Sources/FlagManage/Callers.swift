import FlagAccess
import FlagServer
import Foundation
import Hummingbird

/// Who is calling the management API, and what they may do (SPEC §14).
struct Caller: Sendable {
    enum Kind: String, Sendable {
        case key, token, anonymous
    }

    var kind: Kind
    /// The key's prefix, or the token's subject: what the rate limit counts.
    var id: String
    /// What commits name as author: the key's name or the token's `name`/subject.
    var name: String
    var email: String
    var role: ManagementRole
    /// The one project the caller may touch; nil for every project.
    var project: String?

    /// `Flagstaff-Actor:` in commits, and the audit trail's actor: `key:<prefix> (<name>)`,
    /// `token:<subject>`, or `anonymous` without authentication.
    var actor: String {
        switch kind {
        case .key: "key:\(id) (\(name))"
        case .token: "token:\(id)"
        case .anonymous: "anonymous"
        }
    }

    func may(_ needed: ManagementRole) -> Bool { role >= needed }

    func require(_ needed: ManagementRole, _ what: String) throws(ManageError) {
        guard may(needed) else {
            throw ManageError(
                .forbidden, "FORBIDDEN", "\(what) needs the \(needed.rawValue) role; this caller is a \(role.rawValue)")
        }
    }

    /// What touches every project (changes, environments) is for callers of every project.
    func requireEveryProject(_ what: String) throws(ManageError) {
        if let project {
            throw ManageError(
                .forbidden, "FORBIDDEN", "\(what) touches every project; this caller may manage '\(project)' only")
        }
    }

    func require(project key: String) throws(ManageError) {
        if let project, project != key {
            throw ManageError(.forbidden, "FORBIDDEN", "this caller may manage project '\(project)' only, not '\(key)'")
        }
    }
}

/// Turns a request's credential into a `Caller`: a management key from the key ring, or a
/// JWT checked against the JWKS. Anything else is 401; a key of another type is 403.
struct CallerCheck: Sendable {
    let jwt: JWTVerifier?

    func caller(_ request: Request, server: FlagServer) async throws(ManageError) -> Caller {
        guard let ring = server.keyRing else {
            // `--no-auth`: a trial on one machine. Documented: everyone is an owner.
            return Caller(
                kind: .anonymous, id: "anonymous", name: "anonymous", email: "anonymous@flagstaff.invalid",
                role: .owner, project: nil)
        }
        guard let presented = FlagServer.presentedCredential(request) else {
            throw ManageError(
                .unauthorized, "UNAUTHORIZED",
                "a management key or token is required: send 'Authorization: Bearer <key or JWT>'",
                field: "Authorization")
        }
        let caller: Caller
        if presented.hasPrefix(APIKeyFormat.scheme) {
            switch ring.authenticate(presented, now: Date()) {
            case .failure(let refusal):
                throw ManageError(.unauthorized, "UNAUTHORIZED", refusal.message, field: "Authorization")
            case .success(let key):
                guard key.type == .manage, let role = key.role else {
                    throw ManageError(
                        .forbidden, "FORBIDDEN",
                        "a \(key.type.rawValue) key may not use the management API: create one with "
                            + "`flagstaff keys create --type manage --role …`", field: "Authorization")
                }
                caller = Caller(
                    kind: .key, id: key.prefix, name: key.name.isEmpty ? key.prefix : key.name,
                    email: "\(key.prefix)@keys.flagstaff.invalid", role: role,
                    project: key.project.isEmpty ? nil : key.project)
            }
        } else if let jwt, jwt.looksLikeJWT(presented) {
            switch await jwt.verify(String(presented)) {
            case .failure(let refusal):
                throw ManageError(.unauthorized, "UNAUTHORIZED", refusal.message, field: "Authorization")
            case .success(let token):
                guard let claimed = token.role else {
                    throw ManageError(
                        .forbidden, "FORBIDDEN", "the token has no role claim ('\(jwt.configuration.roleClaim)')",
                        field: "Authorization")
                }
                guard let role = ManagementRole(rawValue: claimed) else {
                    throw ManageError(
                        .forbidden, "FORBIDDEN",
                        "the token's role '\(claimed)' is not viewer, editor or owner", field: "Authorization")
                }
                caller = Caller(
                    kind: .token, id: token.subject, name: token.name ?? token.subject,
                    email: token.email ?? "\(token.subject)@tokens.flagstaff.invalid", role: role,
                    project: token.project)
            }
        } else {
            throw ManageError(
                .unauthorized, "UNAUTHORIZED",
                jwt == nil ? KeyRefusal.unknown.message : "the credential is neither an API key nor a JWT",
                field: "Authorization")
        }
        if let limited = server.rateLimited(caller.id) {
            var error = ManageError(.tooManyRequests, "RATE_LIMITED", "rate limit exceeded", field: nil)
            error.headers = limited.headers
            throw error
        }
        return caller
    }
}
