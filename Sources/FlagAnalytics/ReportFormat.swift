import FlagModel
import Foundation

/// Every report reads three ways: a table for a terminal, a GitHub table for a pull request or
/// an issue, and JSON for tools.
public protocol AnalyticsReport: Sendable {
    /// The report as data; encode it with `CanonicalJSON`.
    var json: Value { get }
    /// Aligned plain-text tables, for a terminal.
    var text: String { get }
    /// GitHub-flavoured Markdown tables.
    var markdown: String { get }
}

/// How a command prints a report.
public enum ReportFormat: String, Sendable, CaseIterable {
    case text, json, markdown
}

extension AnalyticsReport {
    /// The report in `format`, ending with a newline.
    public func rendered(_ format: ReportFormat) -> String {
        switch format {
        case .text: text
        case .markdown: markdown
        case .json: CanonicalJSON.encodePretty(json) + "\n"
        }
    }
}

/// Rows and columns, rendered aligned for a terminal or as a GitHub table.
struct Table {
    var header: [String]
    var rows: [[String]] = []
    /// Columns holding numbers: right-aligned.
    var numeric: Set<Int> = []

    init(_ header: [String], numeric: Set<Int> = []) {
        self.header = header
        self.numeric = numeric
    }

    mutating func append(_ row: [String]) { rows.append(row) }

    var text: String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        var out = ""
        for row in all {
            var line = ""
            for (column, cell) in row.enumerated() {
                if column > 0 { line += "  " }
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                line += numeric.contains(column) ? padding + cell : cell + padding
            }
            while line.last == " " { line.removeLast() }
            out += line + "\n"
        }
        return out
    }

    var markdown: String {
        func cells(_ row: [String]) -> String {
            "| " + row.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |\n"
        }
        var out = cells(header)
        out += "|" + header.indices.map { numeric.contains($0) ? "---:|" : "---|" }.joined() + "\n"
        for row in rows { out += cells(row) }
        return out
    }
}

/// Times and numbers as the reports print them: UTC, and no locale.
enum Format {
    /// `2026-11-30T09:00:00Z`.
    static func time(_ date: Date) -> String {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let second = seconds - days * 86_400
        return day(days: days) + "T" + pad(second / 3600, 2) + ":" + pad(second / 60 % 60, 2) + ":"
            + pad(second % 60, 2) + "Z"
    }

    /// `2026-11-30`, the UTC day holding `date`.
    static func day(_ date: Date) -> String {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        return day(days: seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400)
    }

    /// The hour (`2026-11-30 09:00`) or the day (`2026-11-30`) a usage bucket starts.
    static func bucket(_ date: Date, _ granularity: String) -> String {
        granularity == "day" ? day(date) : String(time(date).prefix(16)).replacingOccurrences(of: "T", with: " ")
    }

    /// The proleptic Gregorian date of a count of days since 1970-01-01 (Howard Hinnant's
    /// civil_from_days).
    private static func day(days: Int64) -> String {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        return pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2)
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    /// `12.34 %` for 0.1234.
    static func percent(_ fraction: Double?, digits: Int = 2) -> String {
        guard let fraction, fraction.isFinite else { return "-" }
        return String(format: "%.\(digits)f %%", fraction * 100)
    }

    /// `+20.0 %` for 0.2: a lift reads with its sign.
    static func signedPercent(_ fraction: Double?) -> String {
        guard let fraction, fraction.isFinite else { return "-" }
        return String(format: "%+.1f %%", fraction * 100)
    }

    /// `[+13.5 %, +26.9 %]`.
    static func interval(_ interval: Statistics.Interval?) -> String {
        guard let interval else { return "-" }
        return "[\(signedPercent(interval.lower)), \(signedPercent(interval.upper))]"
    }

    /// Four significant digits; below 0.0001, `< 0.0001` (further digits mean nothing to a reader).
    static func pValue(_ p: Double?) -> String {
        guard let p, p.isFinite else { return "-" }
        if p < 0.0001 { return "< 0.0001" }
        return String(format: "%.4g", p)
    }

    static func number(_ value: Double, digits: Int = 2) -> String {
        String(format: "%.\(digits)f", value)
    }

    /// A variant as reports show it; "" is an evaluation that served none.
    static func variant(_ name: String) -> String { name.isEmpty ? "(none)" : name }

    /// A JSON number, or null for what is not finite or absent.
    static func json(_ value: Double?) -> Value {
        guard let value, value.isFinite else { return .null }
        return .double(value)
    }

    static func json(_ interval: Statistics.Interval?) -> Value {
        guard let interval else { return .null }
        return .object(["lower": json(interval.lower), "upper": json(interval.upper)])
    }
}
