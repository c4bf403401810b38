import Foundation

/// Wakes the sync loop early: a webhook rings, the loop waits for a ring or a timeout.
/// Rings while nobody waits are remembered (once), so none is lost between two waits.
final class Doorbell: @unchecked Sendable {
    private let lock = NSLock()
    private var pending = false
    private var waiter: CheckedContinuation<Void, Never>?
    private var generation: UInt64 = 0

    func ring() {
        lock.lock()
        if let waiter {
            self.waiter = nil
            generation &+= 1
            lock.unlock()
            waiter.resume()
        } else {
            pending = true
            lock.unlock()
        }
    }

    /// Returns after a ring or `timeout`, whichever comes first (or at once on cancellation).
    func wait(timeout: Duration) async {
        guard let myGeneration = takePendingOrGeneration() else { return }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            self?.expire(myGeneration)
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                park(continuation, generation: myGeneration)
            }
        } onCancel: {
            self.expire(myGeneration)
        }
        timer.cancel()
    }

    /// nil when a ring is pending (consumed here), else the generation to wait on.
    private func takePendingOrGeneration() -> UInt64? {
        lock.lock()
        defer { lock.unlock() }
        if pending {
            pending = false
            return nil
        }
        return generation
    }

    private func park(_ continuation: CheckedContinuation<Void, Never>, generation expected: UInt64) {
        lock.lock()
        if pending || generation != expected || Task.isCancelled {
            pending = false
            lock.unlock()
            continuation.resume()
        } else {
            waiter = continuation
            lock.unlock()
        }
    }

    private func expire(_ expected: UInt64) {
        lock.lock()
        guard generation == expected else {
            lock.unlock()
            return
        }
        // Moving the generation on also releases a wait that has not parked yet.
        generation &+= 1
        let parked = waiter
        waiter = nil
        lock.unlock()
        parked?.resume()
    }
}
