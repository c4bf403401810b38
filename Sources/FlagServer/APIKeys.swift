import Crypto
import Foundation

/// What a key may be used for (SPEC §12): `server` keys evaluate and read snapshots,
/// `client` keys only evaluate (they end up in browsers and apps, so they never see
/// targeting rules), `admin` keys may do everything, including `/api/v1/status`.
/// `manage` keys call the management API only (SPEC §14), with a role.
public enum APIKeyType: String, Sendable, Hashable, CaseIterable {
    case server, client, admin, manage
}

/// What a management caller may do (SPEC §14): viewers read; editors also write flags and
/// segments; owners also manage projects, environments and keys, and may pull the kill
/// switch directly where changes otherwise go through review.
public enum ManagementRole: String, Sendable, Hashable, CaseIterable, Comparable {
    case viewer, editor, owner

    var rank: Int {
        switch self {
        case .viewer: 0
        case .editor: 1
        case .owner: 2
        }
    }

    public static func < (a: ManagementRole, b: ManagementRole) -> Bool { a.rank < b.rank }
}

/// The format of an API key: `fsk_` + a 12-character public id + `_` + a 32-character
/// secret. The fixed `fsk_` start lets secret scanners find leaked keys; the id (the
/// `prefix` column, `fsk_` + id) finds the row without revealing the secret; only the
/// SHA-256 of the whole key is stored.
public enum APIKeyFormat {
    public static let scheme = "fsk_"
    static let idLength = 12
    static let secretLength = 32
    private static let idAlphabet = Array("abcdefghijkmnopqrstuvwxyz23456789".utf8)
    private static let secretAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)

    /// A new key and its prefix, from the system's secure random generator.
    public static func generate() -> (key: String, prefix: String) {
        var rng = SystemRandomNumberGenerator()
        let id = String(decoding: (0..<idLength).map { _ in idAlphabet.randomElement(using: &rng)! }, as: UTF8.self)
        let secret = String(
            decoding: (0..<secretLength).map { _ in secretAlphabet.randomElement(using: &rng)! }, as: UTF8.self)
        return (scheme + id + "_" + secret, scheme + id)
    }

    /// The prefix of a presented key, or nil when it does not have the shape of one.
    public static func prefix(of key: Substring) -> Substring? {
        let utf8 = key.utf8
        guard utf8.count == scheme.utf8.count + idLength + 1 + secretLength, key.hasPrefix(scheme) else { return nil }
        let end = key.utf8.index(key.utf8.startIndex, offsetBy: scheme.utf8.count + idLength)
        guard key.utf8[end] == UInt8(ascii: "_") else { return nil }
        return key[key.startIndex..<end]
    }

    public static func hash(_ key: some StringProtocol) -> [UInt8] {
        Array(SHA256.hash(data: Array(key.utf8)))
    }
}

/// A key as the server knows it: never the secret, only its hash.
public struct APIKey: Sendable, Hashable {
    public var id: String
    public var name: String
    public var project: String
    public var environment: String
    public var type: APIKeyType
    public var prefix: String
    public var secretHash: [UInt8]
    public var expiresAt: Date?
    public var revoked: Bool
    /// A management key's role; nil for the other types.
    public var role: ManagementRole?

    public init(
        id: String, name: String, project: String, environment: String, type: APIKeyType, prefix: String,
        secretHash: [UInt8], expiresAt: Date? = nil, revoked: Bool = false, role: ManagementRole? = nil
    ) {
        self.role = role
        self.id = id
        self.name = name
        self.project = project
        self.environment = environment
        self.type = type
        self.prefix = prefix
        self.secretHash = secretHash
        self.expiresAt = expiresAt
        self.revoked = revoked
    }
}

/// Why a presented key was refused.
public enum KeyRefusal: Error, Sendable, Hashable {
    case missing, unknown, revoked, expired

    public var message: String {
        switch self {
        case .missing: "an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
        case .unknown: "the API key is not valid"
        case .revoked: "the API key has been revoked"
        case .expired: "the API key has expired"
        }
    }
}

/// The keys a server accepts, replaced whole when they are reloaded (from PostgreSQL or a
/// keys file), and the last time each was used, collected for a batched write.
public final class KeyRing: @unchecked Sendable {
    private let lock = NSLock()
    private var byPrefix: [Substring: APIKey] = [:]
    private var lastUsed: [String: Date] = [:]

    public init(keys: [APIKey] = []) {
        replace(with: keys)
    }

    public func replace(with keys: [APIKey]) {
        var table: [Substring: APIKey] = [:]
        for key in keys { table[Substring(key.prefix)] = key }
        lock.lock()
        byPrefix = table
        lock.unlock()
    }

    /// Adds (or replaces) one key at once, before the next reload brings it anyway.
    public func add(_ key: APIKey) {
        lock.lock()
        byPrefix[Substring(key.prefix)] = key
        lock.unlock()
    }

    /// Marks a key revoked at once.
    public func revoke(prefix: String) {
        lock.lock()
        byPrefix[Substring(prefix)]?.revoked = true
        lock.unlock()
    }

    public var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return byPrefix.count
    }

    /// Checks a presented key. The hash comparison takes the same time whatever it finds.
    public func authenticate(_ presented: Substring, now: Date) -> Result<APIKey, KeyRefusal> {
        guard let prefix = APIKeyFormat.prefix(of: presented) else { return .failure(.unknown) }
        lock.lock()
        let found = byPrefix[prefix]
        lock.unlock()
        guard let key = found else { return .failure(.unknown) }
        guard Self.constantTimeEqual(APIKeyFormat.hash(presented), key.secretHash) else { return .failure(.unknown) }
        if key.revoked { return .failure(.revoked) }
        if let expiresAt = key.expiresAt, expiresAt <= now { return .failure(.expired) }
        lock.lock()
        lastUsed[key.id] = now
        lock.unlock()
        return .success(key)
    }

    /// The last-used times gathered since the previous call.
    public func drainLastUsed() -> [String: Date] {
        lock.lock()
        defer { lock.unlock() }
        let drained = lastUsed
        lastUsed.removeAll(keepingCapacity: true)
        return drained
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<a.count { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}

// MARK: Keys file

/// Keys for a server without PostgreSQL: one per line,
/// `PREFIX SHA256-HEX TYPE PROJECT ENVIRONMENT [EXPIRES] [# name]`, `#` starting a comment.
/// `flagstaff keys create --keys-file` appends such lines.
public enum KeysFile {
    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "keys file line \(line): \(message)" }
    }

    public static func parse(_ text: String) throws(ParseError) -> [APIKey] {
        var keys: [APIKey] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            var content = Substring(raw)
            var name = ""
            if let hash = content.firstIndex(of: "#") {
                name = content[content.index(after: hash)...].trimmingCharacters(in: .whitespaces)
                content = content[..<hash]
            }
            let fields = content.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.isEmpty { continue }
            guard fields.count == 5 || fields.count == 6 else {
                throw ParseError(line: lineNumber, message: "expected PREFIX HASH TYPE PROJECT ENVIRONMENT [EXPIRES]")
            }
            guard fields[0].hasPrefix(APIKeyFormat.scheme), fields[0].count == 4 + APIKeyFormat.idLength else {
                throw ParseError(line: lineNumber, message: "'\(fields[0])' is not a key prefix (fsk_ and 12 characters)")
            }
            guard let hash = hexBytes(fields[1]), hash.count == 32 else {
                throw ParseError(line: lineNumber, message: "the hash must be 64 hexadecimal digits (SHA-256)")
            }
            var role: ManagementRole?
            let typeField = fields[2].split(separator: ":", maxSplits: 1)
            guard let type = APIKeyType(rawValue: String(typeField[0])) else {
                throw ParseError(
                    line: lineNumber, message: "type '\(fields[2])' must be server, client, admin or manage:ROLE")
            }
            if type == .manage {
                guard typeField.count == 2, let parsed = ManagementRole(rawValue: String(typeField[1])) else {
                    throw ParseError(
                        line: lineNumber, message: "a manage key is written manage:viewer, manage:editor or manage:owner")
                }
                role = parsed
            }
            var expires: Date?
            if fields.count == 6 {
                guard let date = parseExpiry(String(fields[5])) else {
                    throw ParseError(line: lineNumber, message: "'\(fields[5])' is not a date (YYYY-MM-DD or RFC 3339)")
                }
                expires = date
            }
            keys.append(
                APIKey(
                    id: String(fields[0]), name: name, project: fields[3] == "*" ? "" : String(fields[3]),
                    environment: type == .manage ? "" : String(fields[4]), type: type, prefix: String(fields[0]),
                    secretHash: hash, expiresAt: expires, role: role))
        }
        return keys
    }

    /// One line of a keys file.
    /// A management key is written with type `manage:ROLE`, project `*` for every project and
    /// environment `-`.
    public static func line(
        prefix: String, hash: [UInt8], type: APIKeyType, project: String, environment: String, expires: Date?,
        name: String, role: ManagementRole? = nil
    ) -> String {
        var fields = [
            prefix, hexString(hash), role.map { "\(type.rawValue):\($0.rawValue)" } ?? type.rawValue,
            project.isEmpty ? "*" : project, environment.isEmpty ? "-" : environment,
        ]
        if let expires { fields.append(ISO8601DateFormatter().string(from: expires)) }
        return fields.joined(separator: " ") + (name.isEmpty ? "" : " # " + name)
    }

    /// `YYYY-MM-DD` (midnight UTC) or an RFC 3339 time.
    public static func parseExpiry(_ text: String) -> Date? {
        if let date = ISO8601DateFormatter().date(from: text) { return date }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        return formatter.date(from: text)
    }

    static func hexBytes(_ text: Substring) -> [UInt8]? {
        guard text.utf8.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        var high: UInt8?
        for c in text.utf8 {
            let nibble: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = c - UInt8(ascii: "A") + 10
            default: return nil
            }
            if let h = high {
                bytes.append(h << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        return bytes
    }

    public static func hexString(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
