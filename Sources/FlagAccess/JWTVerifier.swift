import Foundation
import JWTKit
import Logging
import Synchronization

/// Checks management bearer tokens against a JWKS (SPEC §14).
///
/// A token is accepted when its `alg` header is an accepted asymmetric algorithm, its `kid` header
/// selects a JWKS key of that algorithm's type (without `kid`, only when the JWKS holds one key), the
/// signature verifies, `exp` is present and not past, `nbf` and `iat` are not in the future (both with
/// ``JWTConfiguration/leeway``), `iss` and `aud` match when configured, and `sub` is present.
///
/// Keys are read at start from a file, or on first use from a URL, and read again every
/// ``JWTConfiguration/refresh``; a token naming an unknown `kid` triggers an early read (key rotation),
/// at most once per ``refetchInterval``. A due refresh runs while tokens go on being checked with the
/// keys held, and when it fails those keys stay in use. All scheduling follows the `now` handed to
/// ``verify(_:now:)``. Tokens are never logged.
public final class JWTVerifier: Sendable {
    /// The shortest time between two reads of the JWKS, so that tokens naming made-up `kid`s cannot make
    /// Flagstaff hammer the identity provider.
    public static let refetchInterval: TimeInterval = 30

    public let configuration: JWTConfiguration
    private let source: JWKSSource
    private let logger: Logger
    private let state: Mutex<State>

    private struct State {
        var keys: KeySet?
        var loadedAt: Date?
        var lastAttempt: Date?
        var lastFailure: String?
        /// The read under way, which concurrent callers share instead of starting their own.
        var loading: Task<Void, Never>?
    }

    /// Reads a JWKS file at once, so that a missing or broken file stops the start with a clear
    /// ``JWKSError``; a URL is only checked to be one, and fetched on first use.
    public init(configuration: JWTConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.source = JWKSSource(configuration.jwks)
        var logger = logger
        logger[metadataKey: "jwks"] = "\(source)"
        self.logger = logger
        var state = State()
        switch source {
        case .file(let path):
            let data = try source.readFile(path)
            let (keys, skipped) = try KeySet.parse(data, source: source.description)
            Self.logLoaded(keys, skipped: skipped, logger: logger)
            state.keys = keys
            state.loadedAt = Date()
        case .url(let url):
            guard let parsed = URL(string: url), parsed.host != nil else {
                throw JWKSError("--jwt-jwks \(url) is not a valid URL")
            }
        }
        self.state = Mutex(state)
    }

    /// Whether `token` has the shape of a JWT (two non-empty base64url segments and a third, possibly
    /// empty, separated by dots), to tell a JWT bearer from an API key before looking either up.
    public func looksLikeJWT(_ token: Substring) -> Bool {
        Self.hasJWTShape(token)
    }

    /// Verifies `token` as of `now`, loading keys first when they are due.
    public func verify(_ token: String, now: Date = Date()) async -> Result<VerifiedToken, TokenRefusal> {
        guard Self.hasJWTShape(token[...]) else { return .failure(.malformed) }
        let segments = token.split(separator: ".", omittingEmptySubsequences: false)
        guard let header = Header.decode(segments[0]), Self.isJSONObject(segments[1]) else {
            return .failure(.malformed)
        }
        guard let alg = header.alg else { return .failure(.malformed) }
        guard acceptedAlgorithms.contains(alg) else {
            return .failure(.unsupportedAlgorithm(Self.sanitised(alg)))
        }

        guard var keys = await currentKeys(now: now, rotated: false) else {
            let reason = state.withLock { $0.lastFailure } ?? "the JWKS has not been loaded yet"
            return .failure(.keysUnavailable(reason))
        }
        var candidates = keys.candidates(kid: header.kid)
        if candidates.isEmpty, header.kid != nil, let reread = await currentKeys(now: now, rotated: true) {
            keys = reread
            candidates = keys.candidates(kid: header.kid)
        }
        guard !candidates.isEmpty else { return .failure(.unknownKey) }
        let fitting = candidates.filter { $0.algorithms.contains(alg) }
        guard !fitting.isEmpty else { return .failure(.unsupportedAlgorithm(alg)) }

        var refusal = TokenRefusal.badSignature
        for key in fitting {
            do {
                return judge(try await key.verify(token, alg: alg), now: now)
            } catch let error as JWTError where error.errorType == .malformedToken {
                refusal = .malformed
            } catch {
                continue
            }
        }
        return .failure(refusal)
    }

    // MARK: Claims

    private func judge(_ claims: TokenClaims, now: Date) -> Result<VerifiedToken, TokenRefusal> {
        let leeway = TimeInterval(configuration.leeway)
        guard let exp = claims.exp?.value else { return .failure(.missingClaim("exp")) }
        guard now < exp.addingTimeInterval(leeway) else { return .failure(.expired) }
        if let nbf = claims.nbf?.value, now.addingTimeInterval(leeway) < nbf { return .failure(.notYetValid) }
        if let iat = claims.iat?.value, now.addingTimeInterval(leeway) < iat { return .failure(.notYetValid) }
        if let issuer = configuration.issuer {
            guard let iss = claims.iss?.value else { return .failure(.missingClaim("iss")) }
            guard iss == issuer else { return .failure(.wrongIssuer) }
        }
        if let audience = configuration.audience {
            guard let aud = claims.aud?.value else { return .failure(.missingClaim("aud")) }
            guard aud.contains(audience) else { return .failure(.wrongAudience) }
        }
        guard let subject = claims.sub?.value, !subject.isEmpty else { return .failure(.missingClaim("sub")) }
        // A project limit that is not one string (a list, say) must not read as "every project".
        for claim in [configuration.roleClaim, configuration.projectClaim]
        where claims.present.contains(claim) && claims.strings[claim] == nil {
            return .failure(.missingClaim(claim))
        }
        return .success(
            VerifiedToken(
                subject: subject,
                name: claims.strings["name"],
                email: claims.strings["email"],
                role: claims.strings[configuration.roleClaim],
                project: claims.strings[configuration.projectClaim],
                expiresAt: exp
            )
        )
    }

    // MARK: Keys

    /// The keys to verify with at `now`. A read starts when the keys are due (or `rotated`: a token named
    /// an unknown `kid`) and the last read started at least ``refetchInterval`` ago. Only a caller without
    /// keys, or looking for a rotated one, waits for the read: the others go on with the keys they have,
    /// so a slow or unreachable JWKS server does not stall them. The read runs in a task the verifier
    /// holds rather than in one caller's, so that a cancelled request does not cancel what others await.
    private func currentKeys(now: Date, rotated: Bool) async -> KeySet? {
        let refresh = configuration.refresh
        let refreshSeconds = Double(refresh.components.seconds) + Double(refresh.components.attoseconds) * 1e-18
        let (keys, reading): (KeySet?, Task<Void, Never>?) = state.withLock { state in
            let due =
                rotated || state.keys == nil
                || state.loadedAt.map { now.timeIntervalSince($0) >= refreshSeconds } ?? true
            let allowed = state.lastAttempt.map { abs(now.timeIntervalSince($0)) >= Self.refetchInterval } ?? true
            if state.loading == nil, due, allowed {
                state.lastAttempt = now
                state.loading = Task { await self.load(now: now) }
            }
            return (state.keys, state.keys == nil || rotated ? state.loading : nil)
        }
        guard let reading else { return keys }
        await reading.value
        return state.withLock { $0.keys }
    }

    /// Reads and parses the JWKS, and records the outcome: new keys, or the failure while the old keys
    /// stay in use.
    private func load(now: Date) async {
        let outcome: Result<(keys: KeySet, skipped: [String]), JWKSError>
        do throws(JWKSError) {
            outcome = .success(try KeySet.parse(try await source.load(), source: source.description))
        } catch {
            outcome = .failure(error)
        }
        let hadKeys = state.withLock { state in
            state.loading = nil
            switch outcome {
            case .success(let loaded):
                state.keys = loaded.keys
                state.loadedAt = now
                state.lastFailure = nil
            case .failure(let error):
                state.lastFailure = error.message
            }
            return state.keys != nil
        }
        switch outcome {
        case .success(let loaded):
            Self.logLoaded(loaded.keys, skipped: loaded.skipped, logger: logger)
        case .failure(let error):
            logger.warning(
                "JWKS not loaded; \(hadKeys ? "the keys loaded before stay in use" : "JWT callers are refused")",
                metadata: ["error": "\(error.message)"]
            )
        }
    }

    private static func logLoaded(_ keys: KeySet, skipped: [String], logger: Logger) {
        for reason in skipped {
            logger.warning("JWKS key skipped", metadata: ["reason": "\(reason)"])
        }
        logger.info("JWKS loaded", metadata: ["kids": "\(keys.keys.map { $0.kid ?? "-" })"])
    }

    // MARK: Token shape

    private struct Header: Decodable {
        var alg: String?
        var kid: String?

        static func decode(_ segment: Substring) -> Header? {
            guard let data = base64URLDecoded(segment) else { return nil }
            return try? JSONDecoder().decode(Header.self, from: data)
        }
    }

    private static func hasJWTShape(_ token: Substring) -> Bool {
        var dots = 0
        var segmentLengths = [0, 0, 0]
        for byte in token.utf8 {
            switch byte {
            case UInt8(ascii: "."):
                dots += 1
                guard dots < 3 else { return false }
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                segmentLengths[dots] += 1
            default:
                return false
            }
        }
        return dots == 2 && segmentLengths[0] > 0 && segmentLengths[1] > 0
    }

    private static func isJSONObject(_ segment: Substring) -> Bool {
        guard let data = base64URLDecoded(segment) else { return false }
        return (try? JSONSerialization.jsonObject(with: data)) is [String: Any]
    }

    private static func base64URLDecoded(_ segment: Substring) -> Data? {
        var base64 = segment.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }

    /// An `alg` value fit to repeat in a message: it comes from an untrusted token.
    private static func sanitised(_ alg: String) -> String {
        String(alg.filter { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }.prefix(16))
    }
}
