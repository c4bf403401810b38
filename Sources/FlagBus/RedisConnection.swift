import Foundation

/// One connection to Redis over hiredis. Every call blocks until the reply or the timeout: keep
/// a connection on one thread or task (a lock guards it anyway).
///
/// When a call throws a `RedisError` with `isConnectionError`, the connection is finished and
/// every later call throws that error again; open a new one.
public final class RedisConnection: @unchecked Sendable {
    private let context: RedisContext
    private let lock = NSLock()

    /// Connects to `url` (`redis://[[user]:password@]host[:port][/db]`), logs in and selects the
    /// database when the URL has them. `timeout` bounds the connect and every later reply.
    public convenience init(url: String, timeout: Duration = .seconds(2)) throws(RedisError) {
        try self.init(url: RedisURL(url), timeout: timeout)
    }

    public init(url: RedisURL, timeout: Duration = .seconds(2)) throws(RedisError) {
        context = try RedisContext(url: url, timeout: timeout)
    }

    /// The server this connection was opened to.
    public var url: RedisURL { context.url }

    // MARK: Commands

    /// Runs one command, such as `["SET", key, value]`, and returns its reply. An error reply
    /// is thrown (not a connection error: the connection stays usable).
    @discardableResult
    public func command(_ arguments: [String]) throws(RedisError) -> RedisReply {
        try command(bytes: arguments.map { Array($0.utf8) })
    }

    /// Runs one command whose arguments are arbitrary bytes.
    @discardableResult
    public func command(bytes arguments: [[UInt8]]) throws(RedisError) -> RedisReply {
        lock.lock()
        defer { lock.unlock() }
        return try context.command(bytes: arguments)
    }

    /// Runs MULTI, the commands and EXEC in one round trip and returns EXEC's replies, one per
    /// command. Throws when a command is refused while queueing (then nothing runs), when EXEC
    /// is aborted, or when a command fails while running; Redis does not undo the commands of
    /// the transaction that did run in that last case.
    public func transaction(_ commands: [[String]]) throws(RedisError) -> [RedisReply] {
        try transaction(bytes: commands.map { $0.map { Array($0.utf8) } })
    }

    /// `transaction(_:)` with commands whose arguments are arbitrary bytes.
    @discardableResult
    public func transaction(bytes commands: [[[UInt8]]]) throws(RedisError) -> [RedisReply] {
        lock.lock()
        defer { lock.unlock() }
        // Checked before queueing anything: a half-queued transaction would be sent with the next command.
        guard !commands.contains(where: \.isEmpty) else { throw RedisError("MULTI", message: "an empty command") }
        let pipeline = [[Array("MULTI".utf8)]] + commands + [[Array("EXEC".utf8)]]
        for command in pipeline {
            try context.append(command)
        }
        // Every reply is read even after an error one, so the connection stays in step.
        var replies: [RedisReply] = []
        for command in pipeline {
            replies.append(try context.reply(to: command))
        }
        for (index, reply) in replies.enumerated().dropLast() {
            if case .error(let message) = reply {
                let name = String(decoding: pipeline[index].first ?? [], as: UTF8.self).uppercased()
                throw RedisError("MULTI", message: "\(name) (command \(index)) was refused: \(message)")
            }
        }
        switch replies.last {
        case .array(let results):
            if let failed = results.firstIndex(where: { if case .error = $0 { true } else { false } }),
                case .error(let message) = results[failed]
            {
                let name = String(decoding: commands[failed].first ?? [], as: UTF8.self).uppercased()
                throw RedisError("EXEC", message: "\(name) (command \(failed + 1)) failed: \(message)")
            }
            return results
        case .null:
            throw RedisError("EXEC", message: "aborted because a watched key changed")
        case .error(let message):
            throw RedisError("EXEC", message: message)
        default:
            throw RedisError("EXEC", message: "unexpected reply \(String(describing: replies.last))")
        }
    }

    // MARK: Shortcuts

    /// The value at `key`, or nil when there is none.
    public func get(_ key: String) throws(RedisError) -> [UInt8]? {
        switch try command(["GET", key]) {
        case .bulk(let bytes): return bytes
        case .null: return nil
        case let reply: throw RedisError("GET", message: "unexpected reply \(reply)")
        }
    }

    /// Publishes `message` on `channel` and returns how many subscribers received it.
    @discardableResult
    public func publish(channel: String, message: String) throws(RedisError) -> Int64 {
        try publish(channel: channel, message: Array(message.utf8))
    }

    /// `publish(channel:message:)` with a payload of arbitrary bytes.
    @discardableResult
    public func publish(channel: String, message: [UInt8]) throws(RedisError) -> Int64 {
        let reply = try command(bytes: [Array("PUBLISH".utf8), Array(channel.utf8), message])
        guard let receivers = reply.integer else { throw RedisError("PUBLISH", message: "unexpected reply \(reply)") }
        return receivers
    }

    /// Checks that the server answers.
    public func ping() throws(RedisError) {
        let reply = try command(["PING"])
        guard reply == .status("PONG") else { throw RedisError("PING", message: "unexpected reply \(reply)") }
    }
}
