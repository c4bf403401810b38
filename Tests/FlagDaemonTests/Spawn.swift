import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Child processes through posix_spawn and waitpid: Foundation's Process can wait forever
/// for a child whose own child daemonises (redis-server, pg_ctl), so these tests avoid it.
enum Spawn {
    /// Runs `arguments` to completion, standard output and error together.
    static func run(_ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, output: String) {
        var pipeFDs: [Int32] = [0, 0]
        // Close-on-exec, or a daemonising grandchild keeps the pipe open and the read never ends.
        guard pipe(&pipeFDs) == 0 else { throw TestFailure("pipe failed") }
        _ = fcntl(pipeFDs[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(pipeFDs[1], F_SETFD, FD_CLOEXEC)
        let pid = try start(arguments, environment: environment, stdout: pipeFDs[1], stderr: pipeFDs[1])
        close(pipeFDs[1])
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(pipeFDs[0], &buffer, buffer.count)
            if n <= 0 { break }
            output += buffer[0..<n]
        }
        close(pipeFDs[0])
        return (wait(pid), String(decoding: output, as: UTF8.self))
    }

    /// Starts `arguments` with the given descriptors as standard output and error.
    static func start(
        _ arguments: [String], environment: [String: String]?, stdout: Int32, stderr: Int32
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = env.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        let result = posix_spawnp(&pid, arguments[0], &actions, nil, argv, envp)
        guard result == 0 else { throw TestFailure("cannot start \(arguments[0]): \(String(cString: strerror(result)))") }
        return pid
    }

    /// Waits for `pid`; a signal shows as 128 + its number.
    static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}
