import FlagModel

/// Reads one YAML document into `YAMLNode`s, strictly and within limits, for files that
/// anyone with push access may have written.
///
/// What it accepts is a subset of YAML 1.2:
/// - one document per file; an empty file, or one of only comments, gives nil;
/// - plain scalars typed with the core schema (`YAMLScalar.resolve(plain:)`), so `yes`, `no`,
///   `on`, `off` stay strings; every other scalar style is a string;
/// - anchors and aliases, an alias standing for the anchored node (shared, not copied) while
///   the nodes it stands for count against `Limits.maxNodes` as if written out;
/// - mapping keys that are scalars, each key text once per mapping (`1` and `"1"` are the same
///   key, as they are once the mapping becomes a JSON object).
///
/// Lines of only whitespace may hold tabs; libyaml is handed spaces in their place, so in a
/// block scalar (`|`, `>`) such a line reads as spaces.
///
/// What it rejects: more than one document, any explicit tag (`!!str`, `!!int`, `!custom`: a
/// quoted value says "string" without them), non-scalar keys (all E008).
///
/// Merge keys (`<<: *base`) are not supported: `<<` is read as an ordinary key, which the
/// compiler then reports as a field it does not know.
public enum YAMLReader {
    public struct Limits: Sendable {
        /// Larger files are rejected (E003) before anything reads them.
        public var maxBytes: Int
        /// Mappings and sequences nested deeper than this are rejected (E004); a scalar inside
        /// the deepest allowed collection is fine.
        public var maxDepth: Int
        /// The most nodes (keys, values, items) a document may stand for, counting what aliases
        /// expand to. Passing it is E007 once an alias has been expanded, and E003 (the file is
        /// too large) in a document that has none.
        public var maxNodes: Int

        public init(maxBytes: Int = 1 << 20, maxDepth: Int = 64, maxNodes: Int = 100_000) {
            self.maxBytes = maxBytes
            self.maxDepth = maxDepth
            self.maxNodes = maxNodes
        }
    }

    /// Parses one YAML document. An empty document (or only comments) returns nil.
    ///
    /// Checks in this order: size (E003), byte-order mark and UTF-8 (E005) and tab
    /// indentation (E006) in one pass, then libyaml's syntax (E001) and, as the document is
    /// built, duplicate keys (E002), depth (E004), alias expansion (E007) and unsupported
    /// features (E008). The first problem found is thrown.
    public static func parse(_ bytes: [UInt8], file: String, limits: Limits = .init()) throws(Diagnostic) -> YAMLNode? {
        try YAMLInputCheck.checkSize(bytes.count, limit: limits.maxBytes, file: file)
        let blankLinesWithTabs = try bytes.withUnsafeBufferPointer { (buffer) throws(Diagnostic) in
            try YAMLInputCheck.checkEncodingAndIndentation(buffer, file: file)
        }
        if bytes.isEmpty { return nil }
        let events = try YAMLEventParser(bytes: bytes, file: file, spacingOut: blankLinesWithTabs)
        var composer = Composer(events: events, file: file, limits: limits)
        return try composer.document()
    }

    /// Parses YAML text; see `parse(_:file:limits:)`.
    public static func parse(_ text: String, file: String, limits: Limits = .init()) throws(Diagnostic) -> YAMLNode? {
        try parse(Array(text.utf8), file: file, limits: limits)
    }
}

// MARK: - Building nodes from events

/// Builds the tree from libyaml's events, one node per event, counting as it goes.
private struct Composer {
    /// What an anchor stands for: the node, the nodes it holds once its own aliases are
    /// expanded, and how many levels of collections it holds (0 for a scalar).
    struct Anchored {
        var node: YAMLNode
        var size: Int
        var height: Int
    }

    struct Composed {
        var node: YAMLNode
        /// Levels of collections in the node, aliases expanded: 0 for a scalar.
        var height: Int
    }

    let events: YAMLEventParser
    let file: String
    let limits: YAMLReader.Limits
    /// A later anchor of the same name replaces an earlier one, as YAML says.
    var anchors: [String: Anchored] = [:]
    /// Nodes so far, each alias counting for every node it stands for.
    var nodeCount = 0
    var hasExpandedAlias = false

    init(events: YAMLEventParser, file: String, limits: YAMLReader.Limits) {
        self.events = events
        self.file = file
        self.limits = limits
    }

    mutating func document() throws(Diagnostic) -> YAMLNode? {
        let start = try events.next()
        guard case .streamStart = start else { throw unexpected(start) }
        switch try events.next() {
        case .streamEnd: return nil
        case .documentStart: break
        case let other: throw unexpected(other)
        }
        let root = try compose(try events.next(), depth: 0)
        let end = try events.next()
        guard case .documentEnd = end else { throw unexpected(end) }
        switch try events.next() {
        case .streamEnd: break
        case .documentStart(let mark):
            throw Diagnostic(
                .unsupportedYAML, "a second YAML document; a Flagstaff file holds exactly one",
                at: location(mark), hint: "remove this `---` line, or move what follows it to a file of its own")
        case let other: throw unexpected(other)
        }
        // `---` with nothing after it is as empty as an empty file.
        if case .scalar(let scalar) = root.node.kind, scalar.style == .plain, scalar.text.isEmpty,
            root.node.anchor == nil
        {
            return nil
        }
        return root.node
    }

    /// `depth` is the number of collections around the node.
    mutating func compose(_ event: YAMLEvent, depth: Int) throws(Diagnostic) -> Composed {
        switch event {
        case .scalar(let text, let style, let anchor, let tag, let mark):
            try reject(tag: tag, at: mark)
            try countNode(at: mark)
            let node = YAMLNode(
                kind: .scalar(YAMLScalar(text: text, style: style)), line: mark.line, column: mark.column,
                anchor: anchor)
            if let anchor { anchors[anchor] = Anchored(node: node, size: 1, height: 0) }
            return Composed(node: node, height: 0)

        case .alias(let name, let mark):
            return try expand(alias: name, at: mark, depth: depth)

        case .sequenceStart(let anchor, let tag, let mark):
            try reject(tag: tag, at: mark)
            try checkDepth(depth + 1, at: mark)
            let countBefore = nodeCount
            try countNode(at: mark)
            var items: [YAMLNode] = []
            var height = 1
            while true {
                let next = try events.next()
                if case .sequenceEnd = next { break }
                let item = try compose(next, depth: depth + 1)
                items.append(item.node)
                height = max(height, item.height + 1)
            }
            let node = YAMLNode(kind: .sequence(items), line: mark.line, column: mark.column, anchor: anchor)
            if let anchor { anchors[anchor] = Anchored(node: node, size: nodeCount - countBefore, height: height) }
            return Composed(node: node, height: height)

        case .mappingStart(let anchor, let tag, let mark):
            try reject(tag: tag, at: mark)
            try checkDepth(depth + 1, at: mark)
            let countBefore = nodeCount
            try countNode(at: mark)
            var pairs: [YAMLPair] = []
            var firstLineOfKey: [String: Int] = [:]
            var height = 1
            while true {
                let next = try events.next()
                if case .mappingEnd = next { break }
                let key = try composeKey(next, depth: depth + 1)
                if let firstLine = firstLineOfKey.updateValue(key.line, forKey: key.text) {
                    let quoted = CanonicalJSON.encode(.string(key.text))
                    throw Diagnostic(
                        .duplicateKey, "duplicate key \(quoted); it first appears at line \(firstLine)",
                        at: location(key.node), hint: "keep one of the two; other YAML tools silently keep the last")
                }
                let value = try compose(try events.next(), depth: depth + 1)
                pairs.append(YAMLPair(key: key.node, value: value.node))
                height = max(height, value.height + 1)
            }
            let node = YAMLNode(kind: .mapping(pairs), line: mark.line, column: mark.column, anchor: anchor)
            if let anchor { anchors[anchor] = Anchored(node: node, size: nodeCount - countBefore, height: height) }
            return Composed(node: node, height: height)

        default:
            throw unexpected(event)
        }
    }

    /// A mapping key: a scalar, or an alias of one.
    private mutating func composeKey(_ event: YAMLEvent, depth: Int) throws(Diagnostic) -> (
        node: YAMLNode, text: String, line: Int
    ) {
        switch event {
        case .mappingStart(_, _, let mark): throw complexKey("a mapping", at: location(mark))
        case .sequenceStart(_, _, let mark): throw complexKey("a sequence", at: location(mark))
        default: break
        }
        let key = try compose(event, depth: depth).node
        guard case .scalar(let scalar) = key.kind else {
            throw complexKey("an alias of a \(key.kindName)", at: location(key))
        }
        return (key, scalar.text, key.line)
    }

    /// An alias is the anchored node itself, moved to where the alias stands; the count goes up
    /// by everything the node holds, so a "billion laughs" file stops here at once.
    private mutating func expand(alias name: String, at mark: YAMLMark, depth: Int) throws(Diagnostic) -> Composed {
        guard let anchored = anchors[name] else {
            throw Diagnostic(
                .yamlSyntax, "the alias *\(name) refers to no anchor before it", at: location(mark),
                hint: "define the anchor first with &\(name), above the alias")
        }
        if anchored.height > 0 { try checkDepth(depth + anchored.height, at: mark) }
        nodeCount += anchored.size
        hasExpandedAlias = true
        if nodeCount > limits.maxNodes {
            throw Diagnostic(
                .aliasExpansion,
                "aliases expand to more than \(limits.maxNodes) nodes (a \"billion laughs\" document?)",
                at: location(mark), hint: "use fewer aliases, or write the values out")
        }
        var node = anchored.node
        node.line = mark.line
        node.column = mark.column
        node.anchor = name
        return Composed(node: node, height: anchored.height)
    }

    // MARK: Checks

    private mutating func countNode(at mark: YAMLMark) throws(Diagnostic) {
        nodeCount += 1
        guard nodeCount > limits.maxNodes else { return }
        if hasExpandedAlias {
            throw Diagnostic(
                .aliasExpansion,
                "aliases expand to more than \(limits.maxNodes) nodes (a \"billion laughs\" document?)",
                at: location(mark), hint: "use fewer aliases, or write the values out")
        }
        // No alias involved: the file itself is too big, though within the byte limit.
        throw Diagnostic(
            .fileTooLarge, "the file holds more than \(limits.maxNodes) YAML nodes", at: location(mark),
            hint: "split it into smaller files")
    }

    /// `level` is the collection's own level: 1 for a top-level mapping.
    private func checkDepth(_ level: Int, at mark: YAMLMark) throws(Diagnostic) {
        guard level > limits.maxDepth else { return }
        throw Diagnostic(
            .nestingTooDeep, "mappings and sequences nest deeper than \(limits.maxDepth) levels here",
            at: location(mark), hint: "flatten the structure")
    }

    private func reject(tag: String?, at mark: YAMLMark) throws(Diagnostic) {
        guard let tag else { return }
        let core = "tag:yaml.org,2002:"
        let written = tag.hasPrefix(core) ? "!!" + tag.dropFirst(core.count) : tag
        throw Diagnostic(
            .unsupportedYAML, "the tag \(written) is not supported; Flagstaff reads untagged YAML", at: location(mark),
            hint: "remove the tag; quote the value if it must be a string")
    }

    private func complexKey(_ what: String, at location: SourceLocation) -> Diagnostic {
        Diagnostic(
            .unsupportedYAML, "a mapping key must be a scalar, not \(what)", at: location,
            hint: "write the key as a plain string")
    }

    private func unexpected(_ event: YAMLEvent) -> Diagnostic {
        Diagnostic(.yamlSyntax, "unexpected YAML event \(event)", at: SourceLocation(file: file))
    }

    private func location(_ mark: YAMLMark) -> SourceLocation {
        SourceLocation(file: file, line: mark.line, column: mark.column)
    }

    private func location(_ node: YAMLNode) -> SourceLocation {
        node.location(file: file)
    }
}

