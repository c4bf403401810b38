import FlagModel

/// Renders diagnostics for people (`text`), programs (`json`), GitHub Actions annotations
/// (`github`) and code-scanning tools (`sarif`).
public enum DiagnosticFormat: String, Sendable, CaseIterable {
    case text, json, github, sarif
}

public struct DiagnosticFormatter: Sendable {
    public var format: DiagnosticFormat
    /// Prefix for paths in the output (the root relative to where the command runs).
    public var pathPrefix: String
    /// Source lines, to show the offending line and a caret under the column.
    public var source: @Sendable (String) -> [Substring]?

    public init(format: DiagnosticFormat, pathPrefix: String = "", source: @escaping @Sendable (String) -> [Substring]?) {
        self.format = format
        self.pathPrefix = pathPrefix
        self.source = source
    }

    func path(_ d: Diagnostic) -> String { pathPrefix + d.location.file }

    public func render(_ diagnostics: [Diagnostic]) -> String {
        switch format {
        case .text: return diagnostics.map(text).joined()
        case .github: return diagnostics.map(github).joined()
        case .json: return CanonicalJSON.encodePretty(.array(diagnostics.map(json))) + "\n"
        case .sarif: return CanonicalJSON.encodePretty(sarif(diagnostics)) + "\n"
        }
    }

    /// `file:line:col: error[CODE]: message`, the source line, a caret, and the hint.
    public func text(_ d: Diagnostic) -> String {
        var out = "\(path(d)):\(d.location.line):\(d.location.column): \(d.severity.rawValue)[\(d.code.rawValue)]: \(d.message)\n"
        if d.location.line > 0, let lines = source(d.location.file), d.location.line <= lines.count {
            let line = lines[d.location.line - 1]
            let number = String(d.location.line)
            let gutter = String(repeating: " ", count: number.count)
            out += "\(gutter) |\n\(number) | \(line)\n"
            let column = max(1, d.location.column)
            let pad = String(line.prefix(column - 1).map { $0 == "\t" ? "\t" : " " })
            out += "\(gutter) | \(pad)^\n"
        }
        if let hint = d.hint { out += "  = hint: \(hint)\n" }
        return out
    }

    /// One diagnostic as `--format json` writes it.
    public func json(_ d: Diagnostic) -> Value {
        var o: [String: Value] = [
            "file": .string(path(d)), "line": .int(Int64(d.location.line)), "column": .int(Int64(d.location.column)),
            "severity": .string(d.severity.rawValue), "code": .string(d.code.rawValue), "message": .string(d.message),
        ]
        if let hint = d.hint { o["hint"] = .string(hint) }
        return .object(o)
    }

    func github(_ d: Diagnostic) -> String {
        func escape(_ s: String) -> String {
            s.replacingAll("%", "%25").replacingAll("\r", "%0D").replacingAll("\n", "%0A")
        }
        func escapeProperty(_ s: String) -> String { escape(s).replacingAll(":", "%3A").replacingAll(",", "%2C") }
        let level = d.severity == .error ? "error" : "warning"
        var props = "file=\(escapeProperty(path(d)))"
        if d.location.line > 0 { props += ",line=\(d.location.line),col=\(max(1, d.location.column))" }
        props += ",title=\(escapeProperty("\(d.code.rawValue)"))"
        let message = d.message + (d.hint.map { " (hint: \($0))" } ?? "")
        return "::\(level) \(props)::\(escape(message))\n"
    }

    func sarif(_ diagnostics: [Diagnostic]) -> Value {
        let codes = Array(Set(diagnostics.map(\.code))).sorted { $0.rawValue < $1.rawValue }
        let rules: [Value] = codes.map { code in
            .object([
                "id": .string(code.rawValue), "name": .string(code.name),
                "helpUri": .string("docs/diagnostics.md#\(code.rawValue.lowercased())"),
            ])
        }
        let results: [Value] = diagnostics.map { d in
            var region: [String: Value] = [:]
            if d.location.line > 0 {
                region["startLine"] = .int(Int64(d.location.line))
                region["startColumn"] = .int(Int64(max(1, d.location.column)))
            }
            var physical: [String: Value] = ["artifactLocation": .object(["uri": .string(path(d))])]
            if !region.isEmpty { physical["region"] = .object(region) }
            return .object([
                "ruleId": .string(d.code.rawValue),
                "level": .string(d.severity == .error ? "error" : "warning"),
                "message": .object(["text": .string(d.message + (d.hint.map { " Hint: \($0)" } ?? ""))]),
                "locations": .array([.object(["physicalLocation": .object(physical)])]),
            ])
        }
        return .object([
            "version": "2.1.0",
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "runs": .array([
                .object([
                    "tool": .object([
                        "driver": .object([
                            "name": "flagstaff", "informationUri": "https://flagstaff.dev", "rules": .array(rules),
                        ])
                    ]),
                    "results": .array(results),
                ])
            ]),
        ])
    }
}

extension DiagnosticCode {
    /// The case name, as a readable rule name (`unknownSegment`).
    public var name: String { String(describing: self) }
}

extension String {
    func replacingAll(_ target: String, _ replacement: String) -> String {
        guard !target.isEmpty, contains(target) else { return self }
        var out = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            out += rest[..<range.lowerBound]
            out += replacement
            rest = rest[range.upperBound...]
        }
        out += rest
        return out
    }
}
