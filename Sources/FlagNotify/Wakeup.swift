import Foundation

/// Wakes one waiting task early: `ring()` from anywhere, `wait(timeout:)` from the one task
/// that waits. A ring while nobody waits is kept (once), so none falls between two waits.
/// Each notification deliverer waits on one; so do the daemon's sync loop (a webhook rings)
/// and its schedule clock (a new snapshot rings).
public final class Wakeup: @unchecked Sendable {
    private let lock = NSLock()
    private var rung = false
    private var waiter: CheckedContinuation<Void, Never>?

    public init() {}

    public func ring() {
        lock.lock()
        let parked = waiter
        waiter = nil
        if parked == nil { rung = true }
        lock.unlock()
        parked?.resume()
    }

    /// Returns after a ring, after `timeout`, or at once when cancelled.
    public func wait(timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.park() }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    private func park() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                lock.lock()
                if rung || Task.isCancelled {
                    rung = false
                    lock.unlock()
                    continuation.resume()
                } else {
                    waiter = continuation
                    lock.unlock()
                }
            }
        } onCancel: {
            lock.lock()
            let parked = waiter
            waiter = nil
            lock.unlock()
            parked?.resume()
        }
    }
}
