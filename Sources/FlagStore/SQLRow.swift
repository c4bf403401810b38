import FlagModel
import Foundation

/// One result row as libpq returns it (text, nil for NULL), read column by column into
/// Swift types; a value of the wrong shape is a `StoreError` naming the column.
struct SQLRow {
    let values: [String?]

    func optionalString(_ column: Int) -> String? { values[column] }

    func string(_ column: Int) throws(StoreError) -> String {
        guard let value = values[column] else { throw Self.bad(column, "NULL") }
        return value
    }

    func int64(_ column: Int) throws(StoreError) -> Int64 {
        guard let value = try optionalInt64(column) else { throw Self.bad(column, "NULL") }
        return value
    }

    func optionalInt64(_ column: Int) throws(StoreError) -> Int64? {
        guard let text = values[column] else { return nil }
        guard let value = Int64(text) else { throw Self.bad(column, text) }
        return value
    }

    func bool(_ column: Int) throws(StoreError) -> Bool {
        switch values[column] {
        case "t": true
        case "f": false
        case let other: throw Self.bad(column, other ?? "NULL")
        }
    }

    /// A timestamp selected as `extract(epoch FROM …)` (seconds, microseconds exact).
    func optionalDate(_ column: Int) throws(StoreError) -> Date? {
        guard let text = values[column] else { return nil }
        guard let seconds = Double(text) else { throw Self.bad(column, text) }
        return Date(timeIntervalSince1970: seconds)
    }

    func date(_ column: Int) throws(StoreError) -> Date {
        guard let value = try optionalDate(column) else { throw Self.bad(column, "NULL") }
        return value
    }

    /// Bytes selected as `encode(…, 'hex')`.
    func hexBytes(_ column: Int) throws(StoreError) -> [UInt8] {
        let text = try string(column)
        guard let bytes = Hex.decode(text) else { throw Self.bad(column, text) }
        return bytes
    }

    private static func bad(_ column: Int, _ value: String) -> StoreError {
        StoreError("read result", message: "unexpected value in column \(column + 1): \(value.prefix(80))")
    }
}

extension PostgresConnection {
    /// `query`, its rows wrapped for typed reading.
    func rows(_ sql: String, _ parameters: [String?] = []) throws(StoreError) -> [SQLRow] {
        try query(sql, parameters).map(SQLRow.init(values:))
    }
}

extension StoreError {
    /// Runs `body`, naming a failure by what the caller was doing rather than by the
    /// statement that failed.
    @discardableResult
    static func during<T>(_ operation: String, _ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        do {
            return try body()
        } catch {
            let generic = ["query", "execute"].contains(error.operation)
            throw StoreError(
                operation, message: generic ? error.message : error.description, sqlState: error.sqlState)
        }
    }
}

/// Parameter encodings for the few non-text types the stores send.
enum SQLParameter {
    static func bool(_ value: Bool) -> String { value ? "true" : "false" }

    /// Seconds since 1970, for `to_timestamp($n::double precision)`.
    static func epoch(_ date: Date) -> String { String(date.timeIntervalSince1970) }

    /// A JSON document (canonical), for `$n::jsonb` and `jsonb_to_recordset($n::jsonb)`.
    static func json(_ value: Value) -> String { CanonicalJSON.encode(value) }

    static func jsonStrings(_ strings: [String]) -> String { json(.array(strings.map(Value.string))) }
}

/// Lower-case hexadecimal, for digests and `bytea` through `encode`/`decode`.
enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count / 2)
        var i = 0
        while i < utf8.count {
            guard let high = nibble(utf8[i]), let low = nibble(utf8[i + 1]) else { return nil }
            out.append(high << 4 | low)
            i += 2
        }
        return out
    }
}

/// JSON read back from `jsonb` columns. PostgreSQL normalises what it stores (key order,
/// whitespace, number spelling), so anything compared or hashed is re-encoded canonically.
enum StoredJSON {
    /// Snapshots hold many thousands of values; these come from our own database.
    static let limits = JSONParser.Limits(maxDepth: 1024, maxMembers: Int.max)

    static func parse(_ text: String) throws(StoreError) -> Value {
        do {
            return try JSONParser.parse(text, limits: limits)
        } catch {
            throw StoreError("read JSON", message: error.description)
        }
    }

    static func canonical(_ text: String) throws(StoreError) -> String {
        CanonicalJSON.encode(try parse(text))
    }
}

extension PostgresConnection {
    /// The one row a statement returns (`INSERT … RETURNING`, an aggregate).
    func row(_ sql: String, _ parameters: [String?] = []) throws(StoreError) -> SQLRow {
        let rows = try rows(sql, parameters)
        guard rows.count == 1 else {
            throw StoreError("query", message: "expected one row, got \(rows.count)")
        }
        return rows[0]
    }
}
