import Foundation

/// Token buckets per key: `rate` requests a second on average, up to `burst` at once.
///
/// The buckets live in one dictionary under a lock; a request costs a lookup and a little
/// arithmetic. Buckets that have refilled completely are forgotten now and then, so
/// the table stays as small as the set of keys actually in use.
public final class RateLimiter: @unchecked Sendable {
    public struct Configuration: Sendable, Hashable {
        /// Requests per second; 0 turns limiting off.
        public var rate: Double
        public var burst: Double

        public init(rate: Double, burst: Double? = nil) {
            self.rate = rate
            self.burst = max(1, burst ?? rate)
        }

        public static let off = Configuration(rate: 0, burst: 1)
    }

    /// The outcome of asking for one request.
    public enum Decision: Sendable, Hashable {
        case allowed
        /// Refused; the whole seconds after which one token will be back (at least 1).
        case limited(retryAfter: Int)
    }

    private struct Bucket {
        var tokens: Double
        var updated: UInt64
    }

    public let configuration: Configuration
    private let lock = NSLock()
    private var buckets: [String: Bucket] = [:]
    private var decisionsSinceSweep = 0

    public init(_ configuration: Configuration) {
        self.configuration = configuration
    }

    public var isEnabled: Bool { configuration.rate > 0 }

    /// Takes one token from `key`'s bucket. `now` is in nanoseconds of a monotonic clock.
    public func acquire(_ key: String, now: UInt64 = DispatchTime.now().uptimeNanoseconds) -> Decision {
        guard isEnabled else { return .allowed }
        let rate = configuration.rate
        let burst = configuration.burst
        lock.lock()
        defer { lock.unlock() }
        var bucket = buckets[key] ?? Bucket(tokens: burst, updated: now)
        let elapsed = Double(now &- bucket.updated) / 1e9
        if now > bucket.updated { bucket.tokens = min(burst, bucket.tokens + elapsed * rate) }
        bucket.updated = max(bucket.updated, now)
        let decision: Decision
        if bucket.tokens >= 1 {
            bucket.tokens -= 1
            decision = .allowed
        } else {
            decision = .limited(retryAfter: max(1, Int(((1 - bucket.tokens) / rate).rounded(.up))))
        }
        buckets[key] = bucket
        decisionsSinceSweep += 1
        if decisionsSinceSweep >= 10_000 { sweep(now: now) }
        return decision
    }

    private func sweep(now: UInt64) {
        decisionsSinceSweep = 0
        let rate = configuration.rate
        let burst = configuration.burst
        buckets = buckets.filter { _, bucket in
            bucket.tokens + Double(now &- bucket.updated) / 1e9 * rate < burst
        }
    }
}
