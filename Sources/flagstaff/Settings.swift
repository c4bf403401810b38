import ArgumentParser
import FlagServer
import Foundation

/// Option values as SPEC §13 orders them: the command line, then `FLAGSTAFF_<NAME>` in the
/// environment, then the config file (`--config FILE`: `name: value` or `name = value`
/// lines with the option names, `#` comments). A repeatable option (`notify`) may have
/// several lines; its environment variable holds one value a line.
struct Settings {
    private var file: [String: String] = [:]
    private var fileLists: [String: [String]] = [:]
    private let environment = ProcessInfo.processInfo.environment

    init(configFile: String?) throws {
        guard let path = configFile ?? ProcessInfo.processInfo.environment["FLAGSTAFF_CONFIG"] else { return }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ValidationError("cannot read the config file '\(path)'")
        }
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") || line.isEmpty { continue }
            if let comment = line.range(of: " #") { line = String(line[..<comment.lowerBound]) }
            guard let separator = line.firstIndex(where: { $0 == ":" || $0 == "=" }) else {
                throw ValidationError("\(path):\(index + 1): expected 'name: value'")
            }
            let name = line[..<separator].trimmingCharacters(in: .whitespaces)
            var value = line[line.index(after: separator)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            let known = Self.names
            guard known.contains(name) else {
                throw ValidationError("\(path):\(index + 1): unknown option '\(name)' (known: \(known.sorted().joined(separator: ", ")))")
            }
            file[name] = value
            fileLists[name, default: []].append(value)
        }
    }

    static let names: Set<String> = [
        "repo", "root", "control-branch", "postgres", "redis", "redis-prefix", "listen", "poll-interval",
        "webhook-secret", "no-auth", "keys-file", "rate-limit", "rate-burst", "mirror", "migrations", "project",
        "environment", "tls-cert", "tls-key", "idle-timeout", "notify", "notify-secret", "notify-format",
        "notify-max-age",
    ]

    /// `--tls-cert` and `--tls-key`, both or neither.
    static func tls(_ settings: Settings, _ cert: String?, _ key: String?) throws -> TLSFiles? {
        switch (settings.value("tls-cert", cert), settings.value("tls-key", key)) {
        case (nil, nil): return nil
        case (let cert?, let key?): return TLSFiles(certificate: cert, key: key)
        case (nil, _): throw ValidationError("--tls-key needs --tls-cert (the certificate chain it belongs to)")
        case (_, nil): throw ValidationError("--tls-cert needs --tls-key (its private key)")
        }
    }

    /// `FLAGSTAFF_POLL_INTERVAL` for `poll-interval`.
    static func environmentName(_ name: String) -> String {
        "FLAGSTAFF_" + name.uppercased().replacingOccurrences(of: "-", with: "_")
    }

    func value(_ name: String, _ flag: String?) -> String? {
        if let flag { return flag }
        if let fromEnvironment = environment[Self.environmentName(name)], !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        return file[name]
    }

    /// A repeatable option: the command line's values, else the environment's lines, else
    /// every line of the file.
    func values(_ name: String, _ flags: [String]) -> [String] {
        if !flags.isEmpty { return flags }
        if let fromEnvironment = environment[Self.environmentName(name)], !fromEnvironment.isEmpty {
            return fromEnvironment.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }
        }
        return fileLists[name] ?? []
    }

    func flag(_ name: String, _ flag: Bool) -> Bool {
        if flag { return true }
        guard let text = value(name, nil)?.lowercased() else { return false }
        return ["1", "true", "yes", "on"].contains(text)
    }

    /// `HOST:PORT`, `[IPV6]:PORT` or `:PORT`.
    static func listen(_ text: String) throws -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else {
            throw ValidationError("--listen '\(text)' is not HOST:PORT")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }

    /// `--idle-timeout`: seconds, or `0` (or `off`) to never close idle connections.
    static func idleTimeout(_ settings: Settings, _ flag: String?) throws -> Duration? {
        guard let text = settings.value("idle-timeout", flag) else {
            return FlagServer.Configuration.defaultIdleTimeout
        }
        if text == "0" || text == "off" { return nil }
        return try seconds(text, option: "idle-timeout")
    }

    /// A duration with a unit (`90s`, `30m`, `24h`, `7d`) or plain seconds, at most a year.
    static func duration(_ text: String, option: String) throws -> Duration {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        var number = Substring(text)
        var unit = 1.0
        if let last = text.last, let factor = units[last] {
            number = text.dropLast()
            unit = factor
        }
        guard let value = Double(number), value > 0, value * unit <= 366 * 86_400 else {
            throw ValidationError("--\(option) '\(text)' is not a duration (e.g. 90s, 30m, 24h, 7d)")
        }
        return .milliseconds(Int64(value * unit * 1000))
    }

    /// Seconds, possibly fractional (`5`, `0.5`, `5s`).
    static func seconds(_ text: String, option: String) throws -> Duration {
        let trimmed = text.hasSuffix("s") ? String(text.dropLast()) : text
        guard let value = Double(trimmed), value > 0, value < 86_400 else {
            throw ValidationError("--\(option) '\(text)' is not a number of seconds")
        }
        return .milliseconds(Int64(value * 1000))
    }
}
