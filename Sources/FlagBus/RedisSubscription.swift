import Foundation

/// A message received on a subscription.
public struct RedisMessage: Sendable, Hashable {
    /// The channel it was published on.
    public var channel: String
    /// The pattern that matched `channel`, for a pattern subscription; nil for a channel one.
    public var pattern: String?
    public var payload: [UInt8]

    public init(channel: String, pattern: String? = nil, payload: [UInt8]) {
        self.channel = channel
        self.pattern = pattern
        self.payload = payload
    }

    /// Reads `message` and `pmessage` pushes; nil for anything else.
    init?(_ reply: RedisReply) {
        switch reply.array {
        case let parts? where parts.count == 3 && parts[0].string == "message":
            guard let channel = parts[1].bytes, let payload = parts[2].bytes else { return nil }
            self.init(channel: String(decoding: channel, as: UTF8.self), payload: payload)
        case let parts? where parts.count == 4 && parts[0].string == "pmessage":
            guard let pattern = parts[1].bytes, let channel = parts[2].bytes, let payload = parts[3].bytes else {
                return nil
            }
            self.init(
                channel: String(decoding: channel, as: UTF8.self), pattern: String(decoding: pattern, as: UTF8.self),
                payload: payload)
        default:
            return nil
        }
    }
}

/// A dedicated connection in subscribe mode (SUBSCRIBE and/or PSUBSCRIBE), read with `next`.
///
/// When `next` throws a connection error the subscription is finished (messages published
/// meanwhile are lost): open a new one, then catch up from the data itself.
public final class RedisSubscription: @unchecked Sendable {
    private let context: RedisContext
    private let lock = NSLock()
    /// Messages that arrived while the subscriptions were being confirmed.
    private var early: [RedisMessage] = []

    /// Connects and subscribes; returns once the server confirmed every channel and pattern, so
    /// that every message published afterwards is received.
    public convenience init(
        url: String, channels: [String] = [], patterns: [String] = [], timeout: Duration = .seconds(2)
    ) throws(RedisError) {
        try self.init(url: RedisURL(url), channels: channels, patterns: patterns, timeout: timeout)
    }

    public init(
        url: RedisURL, channels: [String] = [], patterns: [String] = [], timeout: Duration = .seconds(2)
    ) throws(RedisError) {
        guard !channels.isEmpty || !patterns.isEmpty else {
            throw RedisError("SUBSCRIBE", message: "no channel or pattern to subscribe to")
        }
        context = try RedisContext(url: url, timeout: timeout)
        var commands: [[[UInt8]]] = []
        if !channels.isEmpty { commands.append([Array("SUBSCRIBE".utf8)] + channels.map { Array($0.utf8) }) }
        if !patterns.isEmpty { commands.append([Array("PSUBSCRIBE".utf8)] + patterns.map { Array($0.utf8) }) }
        for command in commands {
            try context.append(command)
        }
        // The server confirms each name on its own; a message on a channel confirmed first may
        // come before the later confirmations, and is kept for `next`.
        var confirmations = channels.count + patterns.count
        while confirmations > 0 {
            let reply = try context.reply(to: commands[0])
            if let message = RedisMessage(reply) {
                early.append(message)
            } else if let kind = reply.array?.first?.string, kind == "subscribe" || kind == "psubscribe" {
                confirmations -= 1
            } else if case .error(let message) = reply {
                throw RedisError("SUBSCRIBE", message: message)
            } else {
                throw RedisError("SUBSCRIBE", message: "unexpected reply \(reply)", isConnectionError: true)
            }
        }
    }

    /// Waits up to `wait` for the next message; nil when none arrived in that time, so that a
    /// caller can check for shutdown and call again. Throws a connection error when the
    /// connection is lost.
    public func next(wait: Duration) throws(RedisError) -> RedisMessage? {
        lock.lock()
        defer { lock.unlock() }
        if !early.isEmpty { return early.removeFirst() }
        let deadline = ContinuousClock.now + wait
        // Other pushes (a PONG, say) are skipped.
        while let reply = try context.nextReply(until: deadline) {
            if let message = RedisMessage(reply) { return message }
        }
        return nil
    }
}
