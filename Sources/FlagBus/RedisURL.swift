import Foundation

/// Where a Redis server is and how to log in: `redis://[[user]:password@]host[:port][/db]`.
public struct RedisURL: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// An ACL user (Redis 6 and later); nil logs in as the default user.
    public var username: String?
    public var password: String?
    /// The database to SELECT; nil keeps the server's default (0).
    public var database: Int?

    public init(
        host: String, port: Int = 6379, username: String? = nil, password: String? = nil, database: Int? = nil
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
    }

    /// Parses `redis://[[user]:password@]host[:port][/db]`; the user and password may be
    /// percent-encoded, an IPv6 host goes in brackets. The error never repeats the password.
    public init(_ text: String) throws(RedisError) {
        func fail(_ message: String) -> RedisError { RedisError("parse Redis URL", message: message) }
        let form = "expected redis://[[user]:password@]host[:port][/db]"
        guard let schemeEnd = text.range(of: "://") else { throw fail(form) }
        switch text[..<schemeEnd.lowerBound].lowercased() {
        case "redis": break
        case "rediss": throw fail("TLS (rediss://) is not supported")
        case let scheme: throw fail("\(form), not \(scheme)://")
        }
        var rest = text[schemeEnd.upperBound...]
        guard !rest.contains("?"), !rest.contains("#") else { throw fail("query and fragment are not supported") }

        // The last '@' ends the user part, so a password may contain '@' and '/' even unencoded.
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            guard let colon = userInfo.firstIndex(of: ":") else {
                throw fail("put a ':' before the password (redis://:password@host or redis://user:password@host)")
            }
            guard let user = String(userInfo[..<colon]).removingPercentEncoding,
                let secret = String(userInfo[userInfo.index(after: colon)...]).removingPercentEncoding
            else { throw fail("bad percent-encoding in the user or password") }
            username = user.isEmpty ? nil : user
            password = secret.isEmpty ? nil : secret
        }

        var hostPort = rest
        var path: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            hostPort = rest[..<slash]
            path = rest[rest.index(after: slash)...]
        }
        var host = hostPort
        var portText: Substring?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw fail("an IPv6 host needs its closing ']'") }
            host = hostPort[hostPort.index(after: hostPort.startIndex)..<close]
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw fail("expected ':port' after ']'") }
                portText = after.dropFirst()
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = hostPort[..<colon]
            portText = hostPort[hostPort.index(after: colon)...]
        }
        guard !host.isEmpty else { throw fail("no host: \(form)") }

        var port = 6379
        if let portText {
            guard let number = Int(portText), (1...65535).contains(number) else {
                throw fail("port '\(portText)' is not a number from 1 to 65535")
            }
            port = number
        }
        var database: Int?
        if !path.isEmpty {
            guard let number = Int(path), number >= 0 else {
                throw fail("database '\(path)' is not a number from 0 up")
            }
            database = number
        }
        self.init(host: String(host), port: port, username: username, password: password, database: database)
    }

    /// The URL with the password masked, for logs and errors.
    public var description: String {
        var text = "redis://"
        if username != nil || password != nil {
            text += (username ?? "") + (password == nil ? ":" : ":***") + "@"
        }
        text += host.contains(":") ? "[\(host)]" : host
        text += ":\(port)"
        if let database { text += "/\(database)" }
        return text
    }
}
