import FlagBus
import FlagModel
import FlagStore
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

enum Paths {
    static let packageRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static let binary: String = {
        if let explicit = ProcessInfo.processInfo.environment["FLAGSTAFF_BIN"] { return explicit }
        let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("flagstaff").path
        for candidate in [besideTests, packageRoot.appendingPathComponent(".build/debug/flagstaff").path]
        where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        return packageRoot.appendingPathComponent(".build/debug/flagstaff").path
    }()
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

// MARK: Services

enum Services {
    static var postgres: String? { ProcessInfo.processInfo.environment["FLAGSTAFF_TEST_POSTGRES_URL"] }
    static var redis: String? { ProcessInfo.processInfo.environment["FLAGSTAFF_TEST_REDIS_URL"] }

    /// A new empty database on the test PostgreSQL.
    static func database() throws -> String {
        guard let admin = postgres else {
            Issue.record("FLAGSTAFF_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh")
            throw TestFailure("no PostgreSQL")
        }
        let name = "daemon_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try PostgresConnection(url: admin).query("CREATE DATABASE \(name)")
        return admin[..<admin.lastIndex(of: "/")!] + "/" + name
    }

    static func redisURL() throws -> String {
        guard let redis else {
            Issue.record("FLAGSTAFF_TEST_REDIS_URL is not set: run the tests with scripts/test.sh")
            throw TestFailure("no Redis")
        }
        return redis
    }

    static func prefix() -> String { "t" + String(UUID().uuidString.prefix(8)).lowercased() }
}

/// Polls `condition` until it holds or 20 seconds pass.
func eventually(
    _ what: String, sourceLocation: Testing.SourceLocation = #_sourceLocation, _ condition: () throws -> Bool
) async throws {
    try await eventually(20, what, sourceLocation: sourceLocation, condition)
}

/// Polls `condition` until it holds or `seconds` pass.
func eventually(
    _ seconds: Double, _ what: String, sourceLocation: Testing.SourceLocation = #_sourceLocation,
    _ condition: () throws -> Bool
) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if (try? condition()) == true { return }
        try await Task.sleep(for: .milliseconds(100))
    }
    if try condition() { return }
    Issue.record("timed out after \(seconds) s waiting for: \(what)", sourceLocation: sourceLocation)
    throw TestFailure("timed out: \(what)")
}

// MARK: A flag repository

/// A Git work tree with one project (`shop`) and two environments (production on `main`,
/// staging on `staging`), made with the git command line.
final class FlagRepository: @unchecked Sendable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("flagstaff-daemon-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        try git("init", "-q", "-b", "main")
        try git("config", "user.email", "ana@acme.com")
        try git("config", "user.name", "Ana Silva")
        try write([
            "flagstaff.yaml": """
            version: 1
            organization: acme
            projects: { shop: {} }
            environments:
              production: { branch: main, production: true }
              staging: { branch: staging }
            """,
            "shop/segments/staff.yaml": """
            include: [u-1]
            """,
        ])
        try setFlag("checkout", rollout: 10)
        try setFlag("banner", rollout: 0)
        try commit("first flags")
        try git("branch", "staging")
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func write(_ files: [String: String]) throws {
        for (path, text) in files {
            let file = url.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: file, atomically: true, encoding: .utf8)
        }
    }

    /// A boolean flag on for `rollout` percent, with a golden test that staff get it.
    func setFlag(_ key: String, rollout: Int) throws {
        try write([
            "shop/flags/\(key).yaml": """
            rules:
              - name: staff
                when: [ { segment: staff } ]
                serve: on
              - name: everyone
                rollout: \(rollout)
                serve: on
            default: off
            tests:
              - context: { targetingKey: u-1 }
                expect: on
            """
        ])
    }

    func commit(_ message: String) throws {
        try git("add", "-A")
        try git("commit", "-q", "-m", message)
    }

    func tip(_ branch: String = "main") throws -> String {
        try git("rev-parse", branch).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @discardableResult
    func git(_ arguments: String...) throws -> String {
        let result = try Spawn.run(["git", "-C", url.path] + arguments)
        guard result.status == 0 else {
            throw TestFailure("git \(arguments.joined(separator: " ")) failed: \(result.output)")
        }
        return result.output
    }
}

// MARK: A daemon process

/// `flagstaff daemon` (or `replica`) as a child process, its JSON log in a file.
final class DaemonProcess: @unchecked Sendable {
    let pid: pid_t
    let log: URL
    private(set) var port = 0
    private var exitStatus: Int32?

    /// `listen` defaults to a port the system picks (read from the log once listening).
    init(_ arguments: [String], environment extra: [String: String] = [:], listen: String = "127.0.0.1:0") throws {
        log = FileManager.default.temporaryDirectory.appendingPathComponent("flagstaff-log-\(UUID().uuidString).jsonl")
        var environment = ProcessInfo.processInfo.environment.filter {
            !$0.key.hasPrefix("FLAGSTAFF_") || $0.key.hasPrefix("FLAGSTAFF_TEST")
        }
        for (key, value) in extra { environment[key] = value }
        let logFD = open(log.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        let devNull = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer {
            close(logFD)
            close(devNull)
        }
        pid = try Spawn.start(
            [Paths.binary] + arguments + ["--listen", listen], environment: environment, stdout: devNull,
            stderr: logFD)
    }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            _ = Spawn.wait(pid)
        }
        try? FileManager.default.removeItem(at: log)
    }

    static func daemon(
        repo: FlagRepository, postgres: String? = nil, redis: String? = nil, prefix: String? = nil,
        extra: [String] = [], environment: [String: String] = [:], listen: String = "127.0.0.1:0"
    ) throws -> DaemonProcess {
        var arguments = ["daemon", "--repo", repo.url.path, "--poll-interval", "0.2", "--no-auth"]
        if let postgres { arguments += ["--postgres", postgres] }
        if let redis { arguments += ["--redis", redis] }
        if let prefix { arguments += ["--redis-prefix", prefix] }
        return try DaemonProcess(arguments + extra, environment: environment, listen: listen)
    }

    /// The log lines so far, parsed.
    var lines: [[String: Value]] {
        guard let data = FileManager.default.contents(atPath: log.path) else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
            guard case .object(let o)? = try? JSONParser.parse(String(line)) else { return nil }
            return o
        }
    }

    var logText: String {
        FileManager.default.contents(atPath: log.path).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    func logged(_ message: String) -> [[String: Value]] {
        lines.filter { $0["message"] == .string(message) }
    }

    /// Waits for the "listening" line and remembers the port.
    func waitUntilListening(_ seconds: Double = 30) async throws {
        try await eventually(seconds, "the daemon listens (log: \(logText.suffix(2000)))") {
            guard let line = logged("listening").first, case .string(let p)? = line["port"], let port = Int(p) else {
                return false
            }
            self.port = port
            return true
        }
    }

    func kill9() {
        kill(pid, SIGKILL)
        waitForExit()
    }

    /// SIGTERM, then the graceful stop.
    func terminate() {
        kill(pid, SIGTERM)
        waitForExit()
    }

    /// Waits for the process to end on its own; 128 + n when signal n ended it.
    @discardableResult
    func waitForExit() -> Int32 {
        if let exitStatus { return exitStatus }
        let status = Spawn.wait(pid)
        exitStatus = status
        return status
    }

    /// GET or POST on the daemon, with curl (always installed with git here).
    func http(_ method: String, _ path: String, body: String? = nil, headers: [String: String] = [:]) throws
        -> (status: Int, body: String)
    {
        try curl(port: port, method, path, body: body, headers: headers)
    }
}

func curl(port: Int, _ method: String, _ path: String, body: String? = nil, headers: [String: String] = [:]) throws
    -> (status: Int, body: String)
{
    var arguments = ["-s", "-m", "5", "-o", "-", "-w", "\n%{http_code}", "-X", method]
    for (name, value) in headers { arguments += ["-H", "\(name): \(value)"] }
    if let body { arguments += ["-H", "Content-Type: application/json", "--data-binary", body] }
    arguments.append("http://127.0.0.1:\(port)\(path)")
    let text = try Spawn.run(["curl"] + arguments).output
    guard let newline = text.lastIndex(of: "\n") else { throw TestFailure("curl gave nothing") }
    return (Int(text[text.index(after: newline)...]) ?? 0, String(text[..<newline]))
}

/// The value of one flag as the daemon serves it, for `environment`.
func servedValue(
    _ daemon: DaemonProcess, flag: String, environment: String = "production",
    context: String = #"{"targetingKey":"u-2"}"#, key: String? = nil
) throws -> String? {
    var headers = ["X-Flagstaff-Environment": environment]
    if let key { headers["Authorization"] = "Bearer \(key)" }
    let response = try daemon.http(
        "POST", "/ofrep/v1/evaluate/flags/\(flag)", body: #"{"context":"# + context + "}", headers: headers)
    guard response.status == 200 else { return nil }
    return response.body
}

/// The revision the daemon serves for shop/`environment`, from the snapshot route.
func servedRevision(_ port: Int, environment: String = "production", key: String? = nil) throws -> Int? {
    let headers = try Spawn.run(
        ["curl", "-s", "-m", "5", "-D", "-", "-o", "/dev/null", "-H", "X-Flagstaff-Environment: \(environment)"]
            + (key.map { ["-H", "Authorization: Bearer \($0)"] } ?? [])
            + ["http://127.0.0.1:\(port)/api/v1/snapshot"]).output
    for line in headers.split(separator: "\r\n") {
        let lower = line.lowercased()
        if lower.hasPrefix("x-flagstaff-revision:") {
            return Int(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces))
        }
    }
    return nil
}

// MARK: Database checks

func scalar(_ url: String, _ sql: String, _ parameters: [String?] = []) throws -> String? {
    try PostgresConnection(url: url).query(sql, parameters).first?.first ?? nil
}

func count(_ url: String, _ sql: String, _ parameters: [String?] = []) throws -> Int {
    Int(try scalar(url, sql, parameters) ?? "0") ?? 0
}
