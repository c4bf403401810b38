import Foundation
import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// sd_notify(3) without libsystemd: datagrams to `$NOTIFY_SOCKET` (a path, or `@` for the
/// abstract namespace). Does nothing when not started by systemd.
public enum SystemdNotifier {
    public static var isEnabled: Bool { socketPath != nil }

    static var socketPath: String? {
        guard let path = ProcessInfo.processInfo.environment["NOTIFY_SOCKET"], !path.isEmpty else { return nil }
        return path
    }

    /// Sends `state` (e.g. `READY=1`, `STATUS=…`, `WATCHDOG=1`, `STOPPING=1`).
    @discardableResult
    public static func notify(_ state: String) -> Bool {
        guard let path = socketPath else { return false }
        #if canImport(Glibc)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
        let message = Array(state.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                sendto(fd, message, message.count, Int32(MSG_NOSIGNAL), socketAddress, length)
            }
        }
        return sent == message.count
        #else
        return false
        #endif
    }

    /// Half of `$WATCHDOG_USEC`, when systemd asked for watchdog pings to this process.
    public static var watchdogInterval: Duration? {
        let environment = ProcessInfo.processInfo.environment
        guard let text = environment["WATCHDOG_USEC"], let usec = UInt64(text), usec > 0 else { return nil }
        if let pid = environment["WATCHDOG_PID"], let owner = Int32(pid), owner != getpid() { return nil }
        return .microseconds(Int64(usec / 2))
    }
}

/// Pings the systemd watchdog while the sync loop is alive: a loop stuck for longer than
/// the watchdog allows gets the daemon restarted.
struct WatchdogService: Service {
    let interval: Duration
    let heartbeat: Heartbeat
    /// A pass may legitimately take this long (a slow fetch, a big compile).
    let tolerance: TimeInterval
    let logger: Logger

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                if heartbeat.age < tolerance {
                    SystemdNotifier.notify("WATCHDOG=1")
                } else {
                    logger.error("the sync loop has not moved for \(Int(heartbeat.age)) s; not pinging the watchdog")
                }
                try await Task.sleep(for: interval)
            }
        }
    }
}
