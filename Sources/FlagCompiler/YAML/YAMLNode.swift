import FlagModel

/// One node of a YAML document, with the position where it starts.
///
/// Equality and hashing include the positions and the anchor, so two nodes that read the same
/// but sit in different places are different; compare `value` to compare content.
public struct YAMLNode: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case scalar(YAMLScalar)
        /// In the order written. `YAMLReader` guarantees scalar keys with distinct texts.
        case mapping([YAMLPair])
        case sequence([YAMLNode])
    }

    public var kind: Kind
    /// 1-based. A node reached through an alias stands where the alias (`*name`) is written;
    /// the nodes inside it keep the positions of the anchored original.
    public var line: Int
    /// 1-based, counted in Unicode scalars from the start of the line, as libyaml counts.
    public var column: Int
    /// The `&name` written on the node, or for a node reached through an alias the `*name`.
    /// Informational only: the tree never refers to it.
    public var anchor: String?

    public init(kind: Kind, line: Int, column: Int, anchor: String? = nil) {
        self.kind = kind
        self.line = line
        self.column = column
        self.anchor = anchor
    }
}

/// One `key: value` entry of a mapping.
public struct YAMLPair: Sendable, Hashable {
    public var key: YAMLNode
    public var value: YAMLNode

    public init(key: YAMLNode, value: YAMLNode) {
        self.key = key
        self.value = value
    }
}

/// A scalar: its text, how it was written, and what the YAML 1.2 core schema makes of it.
public struct YAMLScalar: Sendable, Hashable {
    public enum Style: Sendable, Hashable {
        case plain, singleQuoted, doubleQuoted, literal, folded
    }

    /// The text as libyaml delivers it: quotes removed, escapes and folding applied.
    public var text: String
    public var style: Style
    /// Only plain scalars are typed; every other style is a string. See `YAMLScalar.resolve(plain:)`.
    public var value: Value

    public init(text: String, style: Style, value: Value) {
        self.text = text
        self.style = style
        self.value = value
    }

    /// A scalar typed the way `YAMLReader` types it.
    public init(text: String, style: Style) {
        self.init(text: text, style: style, value: style == .plain ? Self.resolve(plain: text) : .string(text))
    }
}

extension YAMLNode {
    /// The node as a JSON value. Mapping keys become their scalar text (`1: x` gives the key
    /// `"1"`); a non-scalar key, which `YAMLReader` never produces, becomes its canonical JSON.
    public var value: Value {
        switch kind {
        case .scalar(let scalar):
            return scalar.value
        case .sequence(let items):
            var array: [Value] = []
            array.reserveCapacity(items.count)
            for item in items { array.append(item.value) }
            return .array(array)
        case .mapping(let pairs):
            var object: [String: Value] = [:]
            object.reserveCapacity(pairs.count)
            for pair in pairs {
                let key = pair.key.scalar?.text ?? CanonicalJSON.encode(pair.key.value)
                object[key] = pair.value.value
            }
            return .object(object)
        }
    }

    /// Where the node starts, in `file`.
    public func location(file: String) -> SourceLocation {
        SourceLocation(file: file, line: line, column: column)
    }

    /// The scalar, if the node is one.
    public var scalar: YAMLScalar? {
        if case .scalar(let scalar) = kind { return scalar }
        return nil
    }

    /// The entries, if the node is a mapping.
    public var pairs: [YAMLPair]? {
        if case .mapping(let pairs) = kind { return pairs }
        return nil
    }

    /// The items, if the node is a sequence.
    public var items: [YAMLNode]? {
        if case .sequence(let items) = kind { return items }
        return nil
    }

    /// What the node is, as a user reads it in a message: "mapping", "sequence", or the
    /// scalar's JSON kind ("string", "integer", "null", …).
    public var kindName: String {
        switch kind {
        case .scalar(let scalar): scalar.value.kindName
        case .mapping: "mapping"
        case .sequence: "sequence"
        }
    }
}
