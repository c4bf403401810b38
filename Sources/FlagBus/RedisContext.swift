import CHiredis
import Foundation

/// A dead socket must come back as EPIPE from write, not as a signal that ends the process:
/// hiredis writes with plain write(2).
private let ignoreSIGPIPE: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

/// One blocking hiredis context. Not thread-safe: RedisConnection and RedisSubscription own
/// one each and call it under their lock.
///
/// Once hiredis reports an error the context is finished (its `err` stays set and a reply may
/// be half read), so the first such error is kept and thrown again by every later call.
final class RedisContext {
    private let handle: UnsafeMutablePointer<redisContext>
    let url: RedisURL
    let timeout: Duration
    private var failure: RedisError?

    /// Connects within `timeout`, uses it as the socket timeout for every later read and write,
    /// then logs in and selects the database when `url` asks to.
    init(url: RedisURL, timeout: Duration) throws(RedisError) {
        _ = ignoreSIGPIPE
        let operation = "connect to \(url.host):\(url.port)"
        let limit = timeval(timeout)
        guard let context = redisConnectWithTimeout(url.host, Int32(url.port), limit) else {
            throw RedisError(operation, message: "out of memory", isConnectionError: true)
        }
        guard context.pointee.err == 0 else {
            let message = Self.errorText(context)
            redisFree(context)
            throw RedisError(operation, message: message, isConnectionError: true)
        }
        handle = context
        self.url = url
        self.timeout = timeout
        // From here a throw runs deinit, which frees the context.

        // hiredis 0.14 uses the connect timeout for connecting only; without this a read would
        // wait forever on a server that stopped answering.
        guard redisSetTimeout(handle, limit) == REDIS_OK else { throw fail(operation) }
        // hiredis 0.14 leaves the socket inheritable: a program the process starts must not hold
        // the connection open after it is closed here.
        _ = fcntl(handle.pointee.fd, F_SETFD, FD_CLOEXEC)
        // Lets the kernel notice a peer that vanished without closing, which matters most for
        // a subscription that only ever reads.
        _ = redisEnableKeepAlive(handle)
        if let password = url.password {
            try command(["AUTH"] + (url.username.map { [$0] } ?? []) + [password])
        }
        if let database = url.database {
            try command(["SELECT", String(database)])
        }
    }

    deinit {
        redisFree(handle)
    }

    // MARK: Commands

    /// Sends one command and waits for its reply; an error reply is thrown.
    @discardableResult
    func command(_ arguments: [String]) throws(RedisError) -> RedisReply {
        try command(bytes: arguments.map { Array($0.utf8) })
    }

    @discardableResult
    func command(bytes arguments: [[UInt8]]) throws(RedisError) -> RedisReply {
        try append(arguments)
        let reply = try reply(to: arguments)
        if case .error(let message) = reply {
            throw RedisError(Self.name(of: arguments), message: message)
        }
        return reply
    }

    /// Queues a command in hiredis' output buffer; the next `reply` sends everything queued.
    func append(_ arguments: [[UInt8]]) throws(RedisError) {
        try checkAlive()
        guard !arguments.isEmpty else { throw RedisError("command", message: "no command given") }
        // One buffer holds every argument so that all of their addresses stay valid during the
        // call; lengths make it binary-safe. The extra byte keeps the buffer from being empty.
        var joined: [UInt8] = []
        joined.reserveCapacity(arguments.reduce(1) { $0 + $1.count })
        var offsets: [Int] = []
        for argument in arguments {
            offsets.append(joined.count)
            joined += argument
        }
        joined.append(0)
        let lengths = arguments.map(\.count)
        let status = joined.withUnsafeBytes { buffer in
            var argv: [UnsafePointer<CChar>?] = offsets.map {
                buffer.baseAddress!.advanced(by: $0).assumingMemoryBound(to: CChar.self)
            }
            return redisAppendCommandArgv(handle, Int32(arguments.count), &argv, lengths)
        }
        guard status == REDIS_OK else { throw fail(Self.name(of: arguments)) }
    }

    /// Sends what is queued, then blocks (up to the timeout) for the next reply, error replies
    /// included.
    func reply(to arguments: [[UInt8]]) throws(RedisError) -> RedisReply {
        try checkAlive()
        var raw: UnsafeMutableRawPointer?
        guard redisGetReply(handle, &raw) == REDIS_OK, let raw else { throw fail(Self.name(of: arguments)) }
        defer { freeReplyObject(raw) }
        return RedisReply(raw.assumingMemoryBound(to: redisReply.self))
    }

    // MARK: Waiting

    /// The next reply that arrives before `deadline`, or nil when none did; for subscriptions,
    /// where waiting without a message is normal.
    ///
    /// It waits with poll(2) instead of a socket timeout because hiredis 0.14 treats a timed-out
    /// read as an I/O error and fails the context for good. It only reads once the socket is
    /// readable, so redisBufferRead never blocks, and a half-received reply stays in hiredis'
    /// buffer for the next call.
    func nextReply(until deadline: ContinuousClock.Instant) throws(RedisError) -> RedisReply? {
        try checkAlive()
        while true {
            // Replies that arrived together with an earlier one are already in hiredis' buffer.
            var raw: UnsafeMutableRawPointer?
            guard redisGetReplyFromReader(handle, &raw) == REDIS_OK else { throw fail("read") }
            if let raw {
                defer { freeReplyObject(raw) }
                return RedisReply(raw.assumingMemoryBound(to: redisReply.self))
            }
            var descriptor = pollfd(fd: handle.pointee.fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, Self.milliseconds(deadline - .now))
            if ready < 0 {
                if errno == EINTR { continue }
                throw fail("wait for a message", message: String(cString: strerror(errno)))
            }
            if ready == 0 { return nil }
            // Readable, closed or failed: a read says which (EOF and errors fail the context).
            guard redisBufferRead(handle) == REDIS_OK else { throw fail("read") }
        }
    }

    // MARK: Failure

    private func checkAlive() throws(RedisError) {
        if let failure { throw failure }
    }

    /// Records the context's error (or `message`) as the connection's end and returns it.
    private func fail(_ operation: String, message: String? = nil) -> RedisError {
        var text = message ?? (handle.pointee.err == 0 ? "no reply" : Self.errorText(handle))
        // hiredis has no timeout error: a read that timed out is an I/O error whose text is
        // strerror(EAGAIN), which survives where errno may not.
        if message == nil && handle.pointee.err == REDIS_ERR_IO && text == String(cString: strerror(EAGAIN)) {
            text = "no reply within \(timeout)"
        }
        let error = RedisError(operation, message: text, isConnectionError: true)
        failure = error
        return error
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// The command's name for error messages; its arguments may be secrets or megabytes.
    private static func name(of arguments: [[UInt8]]) -> String {
        String(decoding: arguments.first ?? [], as: UTF8.self).uppercased()
    }

    /// Rounded up, so that poll does not wake just before the deadline and spin.
    private static func milliseconds(_ duration: Duration) -> Int32 {
        guard duration > .zero else { return 0 }
        let (seconds, attoseconds) = duration.components
        let whole = min(seconds, Int64(Int32.max)) * 1000
        let milliseconds = whole + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: milliseconds)
    }
}

extension timeval {
    /// hiredis reads a zero timeout as "wait forever", so the shortest passed on is 1 ms.
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        let microseconds = max(min(seconds, 1_000_000_000) * 1_000_000 + attoseconds / 1_000_000_000_000, 1000)
        self.init(tv_sec: Int(microseconds / 1_000_000), tv_usec: Int(microseconds % 1_000_000))
    }
}
