import FlagModel

/// A value with the place it was written.
struct Located<T: Sendable & Hashable>: Sendable, Hashable {
    var value: T
    var location: SourceLocation
}

/// Reads YAML nodes into the language's shapes, collecting diagnostics instead of
/// stopping at the first one.
struct NodeReader {
    let file: String
    var diagnostics: [Diagnostic] = []

    init(file: String) {
        self.file = file
    }

    func location(_ node: YAMLNode) -> SourceLocation {
        SourceLocation(file: file, line: node.line, column: node.column)
    }

    mutating func report(_ code: DiagnosticCode, _ message: String, at node: YAMLNode, hint: String? = nil) {
        diagnostics.append(Diagnostic(code, message, at: location(node), hint: hint))
    }

    mutating func report(_ code: DiagnosticCode, _ message: String, at location: SourceLocation, hint: String? = nil) {
        diagnostics.append(Diagnostic(code, message, at: location, hint: hint))
    }

    static func describe(_ node: YAMLNode) -> String {
        switch node.kind {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .scalar(let s):
            switch s.value {
            case .null: "null"
            case .bool(let b): "the boolean \(b)"
            case .int(let i): "the integer \(i)"
            case .double(let d): "the number \(CanonicalJSON.format(d))"
            case .string(let t): "the string \"\(t)\""
            default: "a value"
            }
        }
    }

    // MARK: Mappings

    /// The fields of a mapping by name, reporting unknown ones (with a suggestion) and
    /// a non-mapping node. `what` names the thing in messages ("a flag", "a rule").
    mutating func fields(_ node: YAMLNode, allowed: [String], what: String) -> Fields? {
        guard case .mapping(let pairs) = node.kind else {
            report(.wrongType, "\(what) must be a mapping, found \(Self.describe(node))", at: node)
            return nil
        }
        var fields = Fields(node: node)
        for pair in pairs {
            guard case .scalar(let keyScalar) = pair.key.kind else {
                report(.unsupportedYAML, "mapping keys must be plain names", at: pair.key)
                continue
            }
            let name = keyScalar.text
            if allowed.contains(name) {
                fields.values[name] = pair.value
                fields.keys[name] = pair.key
            } else if name == "<<" {
                report(
                    .unknownField, "merge keys (`<<`) are not supported", at: pair.key,
                    hint: "write the fields out, or use an environment overlay")
            } else {
                report(.unknownField, "unknown field '\(name)' in \(what)", at: pair.key, hint: Self.hint(name, allowed))
            }
        }
        return fields
    }

    /// Where each field of the language belongs, for a field written in the wrong place.
    static let fieldHomes: [String: String] = [
        "rollout": "a rule", "serve": "a rule", "when": "a rule or a segment", "split": "a serve mapping",
        "by": "a split or a rollout", "group": "a split or a rollout", "attribute": "a condition",
        "op": "a condition", "values": "a condition", "value": "a condition", "segment": "a condition",
        "negate": "a condition", "case_insensitive": "a condition", "branch": "an environment of the manifest",
        "production": "an environment of the manifest", "include": "a segment", "exclude": "a segment",
        "expect": "a test", "context": "a test or the manifest", "variants": "a flag or a prerequisite",
        "off_variant": "a flag", "default": "a flag", "requires": "a flag", "rules": "a flag", "events": "a flag",
        "keep": "the manifest's `analytics`", "targeting_key": "the manifest's `analytics`",
        "analytics": "the manifest",
    ]

    /// "did you mean …?" among the allowed fields, else the field this one was probably
    /// meant to be, wherever it belongs.
    static func hint(_ name: String, _ allowed: [String]) -> String? {
        if let match = Suggestions.closest(to: name, in: allowed) { return "did you mean '\(match)'?" }
        if let other = Suggestions.closest(to: name, in: fieldHomes.keys), let home = fieldHomes[other] {
            return allowed.contains(other)
                ? "did you mean '\(other)'?" : "did you mean '\(other)'? It belongs in \(home)"
        }
        return Suggestions.hint(for: name, in: allowed)
    }

    struct Fields {
        var node: YAMLNode
        var values: [String: YAMLNode] = [:]
        var keys: [String: YAMLNode] = [:]
        subscript(name: String) -> YAMLNode? { values[name] }
    }

    /// The pairs of a mapping whose keys are names (variants, environments, projects).
    mutating func entries(_ node: YAMLNode, what: String) -> [(key: Located<String>, value: YAMLNode)] {
        guard case .mapping(let pairs) = node.kind else {
            report(.wrongType, "\(what) must be a mapping, found \(Self.describe(node))", at: node)
            return []
        }
        var out: [(key: Located<String>, value: YAMLNode)] = []
        for pair in pairs {
            guard case .scalar(let keyScalar) = pair.key.kind else {
                report(.unsupportedYAML, "mapping keys must be plain names", at: pair.key)
                continue
            }
            out.append((Located(value: keyScalar.text, location: location(pair.key)), pair.value))
        }
        return out
    }

    mutating func require(_ fields: Fields, _ name: String, what: String, hint: String? = nil) -> YAMLNode? {
        if let node = fields[name] { return node }
        let article = "aeiou".contains(name.first ?? "x") ? "an" : "a"
        report(.missingField, "\(what) needs \(article) '\(name)' field", at: fields.node, hint: hint)
        return nil
    }

    // MARK: Scalars

    mutating func string(_ node: YAMLNode, what: String) -> Located<String>? {
        if case .scalar(let s) = node.kind, case .string(let text) = s.value {
            return Located(value: text, location: location(node))
        }
        report(.wrongType, "\(what) must be a string, found \(Self.describe(node))", at: node)
        return nil
    }

    /// A name written as any scalar (`serve: 1` names the variant "1").
    mutating func name(_ node: YAMLNode, what: String) -> Located<String>? {
        if case .scalar(let s) = node.kind, s.value != .null {
            return Located(value: s.text, location: location(node))
        }
        report(.wrongType, "\(what) must be a name, found \(Self.describe(node))", at: node)
        return nil
    }

    mutating func bool(_ node: YAMLNode, what: String) -> Located<Bool>? {
        if case .scalar(let s) = node.kind, case .bool(let b) = s.value {
            return Located(value: b, location: location(node))
        }
        var hint: String?
        if case .scalar(let s) = node.kind, ["yes", "no", "on", "off", "y", "n"].contains(s.text.lowercased()) {
            hint = "YAML 1.2 reads '\(s.text)' as a string; write true or false"
        }
        report(.wrongType, "\(what) must be true or false, found \(Self.describe(node))", at: node, hint: hint)
        return nil
    }

    mutating func int(_ node: YAMLNode, what: String) -> Located<Int>? {
        if case .scalar(let s) = node.kind, case .int(let i) = s.value, let v = Int(exactly: i) {
            return Located(value: v, location: location(node))
        }
        report(.wrongType, "\(what) must be a whole number, found \(Self.describe(node))", at: node)
        return nil
    }

    mutating func list(_ node: YAMLNode, what: String) -> [YAMLNode]? {
        if case .sequence(let items) = node.kind { return items }
        report(.wrongType, "\(what) must be a list, found \(Self.describe(node))", at: node)
        return nil
    }

    mutating func strings(_ node: YAMLNode, what: String) -> [Located<String>]? {
        guard let items = list(node, what: what) else { return nil }
        return items.compactMap { string($0, what: "each of \(what)") }
    }

    /// A list of names, each written as any scalar.
    mutating func names(_ node: YAMLNode, what: String) -> [Located<String>]? {
        guard let items = list(node, what: what) else { return nil }
        return items.compactMap { name($0, what: "each of \(what)") }
    }
}
