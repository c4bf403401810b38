/// A failed Redis operation: the connection broke, the server answered with an error, or the
/// input (a URL, a command) was wrong.
public struct RedisError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was being done, such as `connect to 127.0.0.1:6379`, `GET` or `parse Redis URL`.
    public var operation: String
    /// What hiredis, the server or the parser said.
    public var message: String
    /// True when the connection is unusable and must be reopened (refused, closed by the server,
    /// timed out, out of step); false when the server answered with an error reply or the input
    /// was wrong, and the connection (if any) still works.
    public var isConnectionError: Bool

    public init(_ operation: String, message: String, isConnectionError: Bool = false) {
        self.operation = operation
        self.message = message
        self.isConnectionError = isConnectionError
    }

    public var description: String { "\(operation): \(message)" }
}
