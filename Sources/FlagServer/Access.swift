import FlagModel
import Foundation
import HTTPTypes
import Hummingbird

/// What a route needs from the caller's key.
enum Permission {
    /// OFREP evaluation: any key type.
    case evaluate
    /// The whole snapshot and its stream: server and admin keys (client keys never see rules).
    case readSnapshot
    /// `/api/v1/status`: admin keys.
    case administer

    func allows(_ type: APIKeyType) -> Bool {
        switch self {
        case .evaluate: type != .manage
        case .readSnapshot: type == .server || type == .admin
        case .administer: type == .admin
        }
    }
}

/// How requests are authenticated.
public enum Authentication: Sendable {
    /// `--no-auth`: anyone may call; headers choose the project and environment.
    case none
    case keys(KeyRing)
}

/// The outcome of checking a request: the caller's key (if keys are on) or a response to send.
enum AccessCheck {
    case granted(APIKey?)
    case refused(Response)
}

extension FlagServer {
    /// Checks the key a request presents against what the route needs.
    func authorize(_ request: Request, _ permission: Permission) -> AccessCheck {
        guard case .keys(let ring) = authentication else { return .granted(nil) }
        guard let presented = Self.presentedKey(request) else {
            return .refused(Responses.error(.unauthorized, code: nil, details: KeyRefusal.missing.message))
        }
        switch ring.authenticate(presented, now: Date()) {
        case .failure(let refusal):
            return .refused(Responses.error(.unauthorized, code: nil, details: refusal.message))
        case .success(let key):
            guard permission.allows(key.type) else {
                return .refused(
                    Responses.error(
                        .forbidden, code: nil, details: "a \(key.type.rawValue) key may not use \(request.uri.path)"))
            }
            if limiter.isEnabled, case .limited(let seconds) = limiter.acquire(key.prefix) {
                return .refused(
                    Responses.error(
                        .tooManyRequests, code: nil,
                        details: "rate limit of \(Self.format(limiter.configuration.rate)) requests per second exceeded",
                        headers: [.retryAfter: String(seconds)]))
            }
            return .granted(key)
        }
    }

    static let projectHeader = HTTPField.Name("X-Flagstaff-Project")!
    static let environmentHeader = HTTPField.Name("X-Flagstaff-Environment")!
    static let apiKeyHeader = HTTPField.Name("X-API-Key")!

    static func presentedKey(_ request: Request) -> Substring? {
        if let value = request.headers[.authorization] {
            let trimmed = value.drop(while: { $0 == " " })
            if trimmed.count > 7, trimmed.prefix(7).lowercased() == "bearer " {
                return trimmed.dropFirst(7).drop(while: { $0 == " " })
            }
        }
        if let value = request.headers[apiKeyHeader] { return Substring(value) }
        return nil
    }

    /// The snapshot a request is about: the key's environment, or with `--no-auth` the
    /// `X-Flagstaff-Project`/`X-Flagstaff-Environment` headers, defaulting to the only
    /// project and its production environment.
    func target(_ request: Request, key: APIKey?) -> Result<ActiveSnapshot, TargetError> {
        let askedProject = request.headers[Self.projectHeader]
        let askedEnvironment = request.headers[Self.environmentHeader]
        if let key {
            if let askedProject, askedProject != key.project {
                return .failure(.forbidden("this key is for project '\(key.project)', not '\(askedProject)'"))
            }
            if let askedEnvironment, askedEnvironment != key.environment {
                return .failure(.forbidden("this key is for environment '\(key.environment)', not '\(askedEnvironment)'"))
            }
            guard let active = registry.snapshot(project: key.project, environment: key.environment) else {
                return .failure(.unavailable("no snapshot is served for \(key.project)/\(key.environment) yet"))
            }
            return .success(active)
        }
        if askedProject == nil, askedEnvironment == nil, let chosen = registry.defaultSnapshot {
            return .success(chosen)
        }
        let served = registry.all
        if served.isEmpty { return .failure(.unavailable("no snapshot is served yet")) }
        let project: String
        if let askedProject {
            project = askedProject
        } else {
            let projects = Set(served.map(\.project)).sorted()
            guard projects.count == 1 else {
                return .failure(
                    .badRequest(
                        "several projects are served (\(projects.joined(separator: ", "))): "
                            + "choose one with the X-Flagstaff-Project header"))
            }
            project = projects[0]
        }
        let inProject = served.filter { $0.project == project }
        guard !inProject.isEmpty else {
            return .failure(.notFound("no project '\(project)' is served"))
        }
        if let askedEnvironment {
            guard let active = inProject.first(where: { $0.environment == askedEnvironment }) else {
                return .failure(.notFound("project '\(project)' has no environment '\(askedEnvironment)'"))
            }
            return .success(active)
        }
        if let production = SnapshotRegistry.production(of: inProject) { return .success(production) }
        let servedNames = inProject.map(\.environment).sorted().joined(separator: ", ")
        return .failure(
            .badRequest(
                (inProject.contains { $0.snapshot.production }
                    ? "project '\(project)' has several production environments (\(servedNames))"
                    : "project '\(project)' serves no production environment (yet; it serves \(servedNames))")
                    + ": choose one with the X-Flagstaff-Environment header"))
    }

    static func format(_ rate: Double) -> String {
        rate == rate.rounded() ? String(Int(rate)) : String(rate)
    }
}

/// Why a request has no snapshot to work on.
enum TargetError: Error {
    case forbidden(String)
    case badRequest(String)
    case notFound(String)
    case unavailable(String)

    var response: Response {
        switch self {
        case .forbidden(let details): Responses.error(.forbidden, code: nil, details: details)
        case .badRequest(let details): Responses.error(.badRequest, code: "INVALID_CONTEXT", details: details)
        case .notFound(let details): Responses.error(.notFound, code: "GENERAL", details: details)
        case .unavailable(let details): Responses.error(.serviceUnavailable, code: nil, details: details)
        }
    }
}
