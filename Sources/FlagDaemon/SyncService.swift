import FlagNotify
import FlagServer
import Foundation
import Logging
import NIOPosix
import ServiceLifecycle

/// The sync loop as a Service: a pass on a thread of its own (the work blocks), then a wait
/// for the poll interval or a webhook's ring, backing off after failures.
struct SyncService: Service {
    let engine: SyncEngine
    let doorbell: Wakeup
    let pool: NIOThreadPool
    let heartbeat: Heartbeat

    func run() async throws {
        let configuration = engine.configuration
        try await cancelWhenGracefulShutdown {
            var failures = 0
            while !Task.isCancelled {
                heartbeat.beat()
                let outcome = try await pool.runIfActive { engine.pass() }
                heartbeat.beat()
                let wait: Duration
                if outcome.failed {
                    failures += 1
                    // 0.5 s, 1 s, 2 s … up to 30 s: a database or Redis coming back is noticed soon.
                    wait = .milliseconds(min(30_000, 500 << min(failures - 1, 6)))
                } else {
                    failures = 0
                    wait = engine.isLeader ? configuration.pollInterval : configuration.refreshInterval
                }
                await doorbell.wait(timeout: wait)
            }
        }
    }
}

/// When the sync loop last showed it is alive, for the systemd watchdog.
final class Heartbeat: @unchecked Sendable {
    private let lock = NSLock()
    private var last = Date()

    func beat() {
        lock.lock()
        last = Date()
        lock.unlock()
    }

    var age: TimeInterval {
        lock.lock()
        defer { lock.unlock() }
        return Date().timeIntervalSince(last)
    }
}
