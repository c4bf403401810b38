import FlagBus
import Foundation
import Testing

/// The Redis that scripts/services.sh starts, and names of keys and channels no other test uses.
enum TestRedis {
    /// The server's URL; records an issue (so the test fails) when it is not set.
    static func url() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["FLAGSTAFF_TEST_REDIS_URL"] else {
            Issue.record("FLAGSTAFF_TEST_REDIS_URL is not set: start Redis with scripts/services.sh")
            throw RedisError("test setup", message: "no Redis")
        }
        return url
    }

    /// A prefix of its own for each test's keys and channels.
    static func prefix() -> String {
        "flagbus-test:\(UUID().uuidString.prefix(8)):"
    }
}

/// A loopback port nobody listens on right now.
func freePort() -> Int {
    let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            _ = bind(socket, pointer, length)
            _ = getsockname(socket, pointer, &length)
        }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A redis-server of a test's own, to stop and start again; `stop()` it when done.
final class ThrowawayRedis {
    let port = freePort()
    let password: String
    private let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("flagbus-redis-\(UUID().uuidString)")

    init(password: String) throws {
        self.password = password
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try start()
    }

    func url(database: Int = 0) -> String { "redis://:\(password)@127.0.0.1:\(port)/\(database)" }

    /// Starts the server and returns once it answers.
    func start() throws {
        try run(
            "redis-server", "--bind", "127.0.0.1", "--port", String(port), "--requirepass", password, "--save", "",
            "--appendonly", "no", "--daemonize", "yes", "--dir", directory.path,
            "--logfile", directory.appendingPathComponent("redis.log").path)
        for _ in 0..<100 {
            if (try? RedisConnection(url: url()).ping()) != nil { return }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw RedisError("test setup", message: "redis-server on port \(port) did not start")
    }

    /// Shuts the server down without saving; returns once it is gone.
    func stop() {
        try? run("redis-cli", "-p", String(port), "-a", password, "--no-auth-warning", "shutdown", "nosave")
    }

    func remove() {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Runs a program from PATH and waits for it. posix_spawn and waitpid rather than
    /// Foundation's Process, whose waitUntilExit was seen to hang here for good when two tests
    /// ran programs at once (the child stayed a zombie).
    private func run(_ arguments: String...) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for descriptor: Int32 in 0...2 {
            posix_spawn_file_actions_addopen(&actions, descriptor, "/dev/null", O_RDWR, 0)
        }
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let status = posix_spawnp(&pid, arguments[0], &actions, nil, &argv, environ)
        guard status == 0 else {
            throw RedisError("test setup", message: "cannot run \(arguments[0]): \(String(cString: strerror(status)))")
        }
        var exit: Int32 = 0
        while waitpid(pid, &exit, 0) < 0 && errno == EINTR {}
    }
}
