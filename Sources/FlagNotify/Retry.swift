import Foundation

/// How one attempt ended, as far as retrying goes.
enum AttemptOutcome: Sendable, Equatable {
    /// 2xx.
    case delivered(status: Int)
    /// Not worth trying again: a 4xx other than 408 and 429, or a redirect.
    case refused(status: Int, reason: String)
    /// The receiver is down, slow, or said to come back (5xx, 408, 429): try again later,
    /// after `retryAfter` seconds when it said so.
    case retry(status: Int?, reason: String, retryAfter: Double?)

    static func classify(status: Int, retryAfter: String?, now: Date = Date()) -> AttemptOutcome {
        switch status {
        case 200..<300: return .delivered(status: status)
        case 408, 429, 500..<600:
            return .retry(status: status, reason: "HTTP \(status)", retryAfter: retryAfter.flatMap { parseRetryAfter($0, now: now) })
        default: return .refused(status: status, reason: "HTTP \(status)")
        }
    }

    /// `Retry-After`: whole seconds, or an HTTP date.
    static func parseRetryAfter(_ text: String, now: Date) -> Double? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let seconds = Double(trimmed) { return max(0, seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: trimmed).map { max(0, $0.timeIntervalSince(now)) }
    }
}

/// When to try a failing message again: exponential backoff from `first`, capped, or later
/// when the receiver named a later time; never past the moment the message is to be given up, so
/// that give-up is recorded on time.
struct RetryPolicy: Sendable {
    var first: Double
    var cap: Double
    var maxAge: Double

    /// The longest `Retry-After` honoured as given; longer ones wait this long.
    static let longestRetryAfter = 3600.0

    /// The backoff, or the receiver's `Retry-After` when that is longer: a receiver may ask
    /// for more time, not for a faster retry.
    func delay(failures: Int, retryAfter: Double?) -> Double {
        let backoff = min(cap, first * pow(2, Double(max(0, failures - 1))))
        guard let retryAfter else { return backoff }
        return max(backoff, min(retryAfter, max(cap, Self.longestRetryAfter)))
    }

    func nextAttempt(failures: Int, retryAfter: Double?, now: Date, occurredAt: Date) -> Date {
        let wanted = now.addingTimeInterval(delay(failures: failures, retryAfter: retryAfter))
        return min(wanted, giveUpAt(occurredAt))
    }

    func giveUpAt(_ occurredAt: Date) -> Date { occurredAt.addingTimeInterval(maxAge) }

    func isExpired(_ occurredAt: Date, now: Date) -> Bool { now >= giveUpAt(occurredAt) }
}

/// The head message of one environment for one receiver while it fails: later messages of
/// that environment wait behind it.
struct RetryState: Sendable {
    var notification: Int64
    var failures: Int
    var nextAttempt: Date
    var lastError: String
}
