import CLibPQ
import Foundation

/// A failed PostgreSQL operation, with what libpq or the server said.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var message: String
    /// The SQLSTATE code when the server gave one.
    public var sqlState: String?

    public init(_ operation: String, message: String, sqlState: String? = nil) {
        self.operation = operation
        self.message = message
        self.sqlState = sqlState
    }

    public var description: String { "\(operation): \(message)" }
}

/// One libpq connection. Not for concurrent use: one caller at a time (the daemon confines
/// each connection to one task); every call here is blocking.
public final class PostgresConnection: @unchecked Sendable {
    private let handle: OpaquePointer
    private let lock = NSLock()

    /// Connects to `url` (`postgresql://user@host:port/database`).
    public init(url: String) throws(StoreError) {
        guard let conn = PQconnectdb(url) else { throw StoreError("connect", message: "out of memory") }
        guard PQstatus(conn) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(conn)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(conn)
            throw StoreError("connect to PostgreSQL", message: message)
        }
        handle = conn
    }

    deinit {
        PQfinish(handle)
    }

    /// Runs one statement with `$1…` parameters (text), returning its rows as text (nil: NULL).
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = []) throws(StoreError) -> [[String?]] {
        lock.lock()
        defer { lock.unlock() }
        let result = Self.withCStrings(parameters) { values in
            PQexecParams(handle, sql, Int32(parameters.count), nil, values, nil, nil, 0)
        }
        guard let result else { throw StoreError("query", message: lastError()) }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK:
            var rows: [[String?]] = []
            let columns = PQnfields(result)
            for r in 0..<PQntuples(result) {
                var row: [String?] = []
                for c in 0..<columns {
                    row.append(PQgetisnull(result, r, c) == 1 ? nil : String(cString: PQgetvalue(result, r, c)))
                }
                rows.append(row)
            }
            return rows
        default:
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let message = String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
            throw StoreError("query", message: message, sqlState: state)
        }
    }

    /// Runs a script of several statements (no parameters), as a migration file is.
    public func execute(script sql: String) throws(StoreError) {
        lock.lock()
        defer { lock.unlock() }
        guard let result = PQexec(handle, sql) else { throw StoreError("execute", message: lastError()) }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY else {
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let message = String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
            throw StoreError("execute", message: message, sqlState: state)
        }
    }

    /// Runs `COPY … FROM STDIN` with `data` in its text format, in one round of writes.
    public func copyIn(_ sql: String, data: [UInt8]) throws(StoreError) {
        lock.lock()
        defer { lock.unlock() }
        guard let start = PQexec(handle, sql) else { throw StoreError("copy", message: lastError()) }
        let started = PQresultStatus(start)
        if started != PGRES_COPY_IN {
            defer { PQclear(start) }
            throw Self.failure(start, "copy")
        }
        PQclear(start)
        let sent = data.withUnsafeBytes { bytes in
            PQputCopyData(handle, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(bytes.count))
        }
        let ended = PQputCopyEnd(handle, sent == 1 ? nil : "the data could not be sent")
        var failure: StoreError?
        while let result = PQgetResult(handle) {
            if failure == nil, PQresultStatus(result) != PGRES_COMMAND_OK { failure = Self.failure(result, "copy") }
            PQclear(result)
        }
        if let failure { throw failure }
        guard sent == 1, ended == 1 else { throw StoreError("copy", message: lastError()) }
    }

    private static func failure(_ result: OpaquePointer, _ operation: String) -> StoreError {
        let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
        let message = String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
        return StoreError(operation, message: message, sqlState: state)
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    /// Transactions do not nest: `body` must not call `transaction` again.
    @discardableResult
    public func transaction<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try query("BEGIN")
        do {
            let value = try body()
            try query("COMMIT")
            return value
        } catch {
            _ = try? query("ROLLBACK")
            throw error
        }
    }

    /// Whether a transaction block is open, so that code needing one (transaction-scoped
    /// advisory locks) can refuse to run outside it.
    var isInTransaction: Bool {
        lock.lock()
        defer { lock.unlock() }
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR
    }

    private func lastError() -> String {
        String(cString: PQerrorMessage(handle)).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func withCStrings<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        let copies: [UnsafeMutablePointer<CChar>?] = strings.map { $0.map { strdup($0) } ?? nil }
        defer { copies.forEach { free($0) } }
        return body(copies.map { $0.map { UnsafePointer($0) } })
    }
}
