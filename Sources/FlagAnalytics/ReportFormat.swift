import FlagEngine
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
    /// `2026-11-30T09:00:00Z` (FlagEngine's `Timestamp.format`, whole seconds).
    static func time(_ date: Date) -> String {
        Timestamp.format(Instant(seconds: Int64(date.timeIntervalSince1970.rounded(.down))))
    }

    /// `2026-11-30`, the UTC day holding `date`.
    static func day(_ date: Date) -> String { String(time(date).prefix(10)) }

    /// The hour (`2026-11-30 09:00`) or the day (`2026-11-30`) a usage bucket starts.
    static func bucket(_ date: Date, _ granularity: String) -> String {
        granularity == "day" ? day(date) : String(time(date).prefix(16)).replacingOccurrences(of: "T", with: " ")
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
