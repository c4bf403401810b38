import FlagModel

/// Changes values in one YAML document in memory and keeps every byte an edit is not about:
/// comments, blank lines, key order, quoting, flow or block style, CR LF line ends, a missing
/// final line break, a `---` marker.
///
/// How an edit is written:
/// - A value that is a scalar or a flow collection is replaced where it stands; a comment after
///   it on the line stays. A value in a flow collection is always written in flow style.
/// - A block mapping or block sequence replaced by a non-empty collection is written in block
///   style at the old value's indentation (its own entries in flow style); replaced by anything
///   else, it becomes a one-line value after the key. A comment on the key's line stays.
/// - A missing key of a block mapping becomes a new line at its siblings' indentation, right
///   after the last entry's line (after all of its nested block content). A missing key of a
///   flow mapping is appended: `{ a: 1 }` → `{ a: 1, b: 2 }`, `{}` → `{ b: 2 }`.
/// - Missing mappings on the path are created: in a block mapping, one block line per missing
///   key except the last two, which share a line in flow style
///   (`environments:` / `  production: { enabled: false }`), each level indented by the file's
///   own indentation step (2 when the file shows none). A `null` value on the path counts as
///   missing and is replaced.
/// - Removing a key of a block mapping removes its lines (and its trailing comment); removing
///   the only key of a block mapping leaves `{}` in its place. In a flow mapping the entry and
///   one comma go. Removing a key that is not there changes nothing.
/// - Inserted lines end as the file's first line does (LF, CR LF or CR).
///
/// What it refuses (`YAMLEditError`) rather than guess: a file `YAMLReader` rejects (syntax,
/// duplicate keys, several documents, tags, …); an empty document or one that is not a mapping;
/// a path through a sequence or a scalar; an anchor or alias on the path or anywhere in a value
/// it would replace or remove (an alias elsewhere could stand for it); layouts it cannot edit
/// line by line, such as explicit `? key` entries.
///
/// Every edit is checked before it is kept: the new bytes must read back with `YAMLReader` to
/// the old document with exactly that change. An edit that would not is refused, and the
/// editor keeps the bytes it had.
public struct YAMLEditor: Sendable {
    /// The document as it now stands.
    public private(set) var bytes: [UInt8]
    /// What the document reads as, as `YAMLReader` reads it: always an object.
    public private(set) var value: Value
    private var root: Node
    private var layout: Layout
    private let file: String

    /// Parses `bytes` with libyaml, keeping the byte span of every key and value. `file` names
    /// the document in the diagnostics of an error.
    public init(_ bytes: [UInt8], file: String = "") throws(YAMLEditError) {
        self.file = file
        (self.bytes, self.value, self.root, self.layout) = try Self.read(bytes, file: file)
    }

    /// Parses YAML text; see `init(_:file:)`.
    public init(_ text: String, file: String = "") throws(YAMLEditError) {
        try self.init(Array(text.utf8), file: file)
    }

    /// The document as text.
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    // MARK: - Edits

    /// Sets the value at a path of mapping keys (`["enabled"]`,
    /// `["environments", "production", "enabled"]`), creating missing mappings on the way.
    public mutating func set(_ path: [String], to newValue: Value) throws(YAMLEditError) {
        guard !path.isEmpty else {
            throw YAMLEditError(.emptyPath, "an edit needs a path of at least one key", path: path)
        }
        var mapping = root
        var i = 0
        while true {
            let key = path[i]
            let here = Array(path[...i])
            guard let entry = try entry(key, in: mapping, path: here) else {
                let edits = try insertion(
                    key: key, chain: Array(path[(i + 1)...]), value: newValue, into: mapping, path: here)
                return try apply(edits, expecting: value.editing(set: path[...], to: newValue), path: path)
            }
            if i == path.count - 1 {
                try refuseAnchors(in: entry.value, path: here)
                let edits = try replacement(of: entry, in: mapping, with: newValue, chain: [], path: here)
                return try apply(edits, expecting: value.editing(set: path[...], to: newValue), path: path)
            }
            switch entry.value.kind {
            case .mapping:
                mapping = entry.value
                i += 1
            case .scalar(let scalar) where scalar.value == .null:
                let edits = try replacement(
                    of: entry, in: mapping, with: newValue, chain: Array(path[(i + 1)...]), path: here)
                return try apply(edits, expecting: value.editing(set: path[...], to: newValue), path: path)
            default:
                throw notAMapping(entry.value, path: here)
            }
        }
    }

    /// Removes the key at the path. A key that is not there, or a path through a missing key
    /// or a `null`, changes nothing.
    public mutating func remove(_ path: [String]) throws(YAMLEditError) {
        guard !path.isEmpty else {
            throw YAMLEditError(.emptyPath, "an edit needs a path of at least one key", path: path)
        }
        var mapping = root
        var parent: (mapping: Node, entry: Entry)?
        for (i, key) in path.enumerated() {
            let here = Array(path[...i])
            guard let entry = try entry(key, in: mapping, path: here) else { return }
            if i == path.count - 1 {
                try refuseAnchors(in: entry.value, path: here)
                let edits = try removal(of: entry, from: mapping, parent: parent, path: here)
                return try apply(edits, expecting: value.editing(remove: path[...]), path: path)
            }
            switch entry.value.kind {
            case .mapping:
                parent = (mapping, entry)
                mapping = entry.value
            case .scalar(let scalar) where scalar.value == .null:
                return
            default:
                throw notAMapping(entry.value, path: here)
            }
        }
    }

    // MARK: - Finding the path

    /// The entry for `key` in `mapping`, refusing anchors and aliases on the way.
    private func entry(_ key: String, in mapping: Node, path: [String]) throws(YAMLEditError) -> Entry? {
        guard case .mapping(let entries) = mapping.kind else {
            throw notAMapping(mapping, path: Array(path.dropLast()))
        }
        if let anchor = mapping.anchor {
            throw YAMLEditError(
                .anchorOrAlias,
                "\(Self.name(path.dropLast())) has the anchor &\(anchor); editing it would change "
                    + "every alias of it too", path: path)
        }
        for entry in entries {
            guard case .scalar(let scalar) = entry.key.kind else {
                throw YAMLEditError(
                    .anchorOrAlias, "\(Self.name(path.dropLast())) has a key written as an alias", path: path)
            }
            guard scalar.text == key else { continue }
            if let anchor = entry.key.anchor {
                throw YAMLEditError(
                    .anchorOrAlias, "the key \(Self.name(path[...])) has the anchor &\(anchor)", path: path)
            }
            if case .alias(let name) = entry.value.kind {
                throw YAMLEditError(
                    .anchorOrAlias, "\(Self.name(path[...])) is the alias *\(name); edit the anchored value instead",
                    path: path)
            }
            return entry
        }
        return nil
    }

    private func refuseAnchors(in node: Node, path: [String]) throws(YAMLEditError) {
        guard node.holdsAnchor else { return }
        throw YAMLEditError(
            .anchorOrAlias, "\(Self.name(path[...])) holds an anchor (&) that an alias elsewhere may stand for",
            path: path)
    }

    private func notAMapping(_ node: Node, path: [String]) -> YAMLEditError {
        let what: String
        switch node.kind {
        case .sequence: what = "a list"
        case .scalar(let scalar): what = scalar.value == .null ? "null" : "a \(scalar.value.kindName)"
        case .alias(let name): what = "the alias *\(name)"
        case .mapping: what = "a mapping"
        }
        return YAMLEditError(.notAMapping, "\(Self.name(path[...])) is \(what), not a mapping", path: path)
    }

    static func name(_ path: ArraySlice<String>) -> String {
        path.isEmpty ? "the document" : path.joined(separator: ".")
    }

    // MARK: - Writing edits

    /// Replaces `entry`'s value with `chain` (missing keys) leading to `newValue`.
    private func replacement(
        of entry: Entry, in mapping: Node, with newValue: Value, chain: [String], path: [String]
    ) throws(YAMLEditError) -> [Edit] {
        let old = entry.value
        let nested = Self.nest(chain[...], newValue)
        if mapping.isFlow {
            if old.isEmptyScalar { return [Edit(entry.key.end..<old.end, ": " + YAMLRendering.flow(nested))] }
            return [Edit(old.start..<old.end, YAMLRendering.flow(nested))]
        }
        let colon = try colonAfter(entry.key, path: path)
        let keyIndent = try indentation(of: entry.key, path: path)
        let oldIsBlockCollection = old.isBlockCollection
        // A block collection keeps its own indentation; anything else gets one step more.
        let childIndent = oldIsBlockCollection ? try indentation(of: old, path: path) : keyIndent + layout.step
        let text = valueText(newValue, chain: chain[...], childIndent: childIndent, block: oldIsBlockCollection)
        let multiline = text.hasPrefix(layout.newline)
        let onKeyLine = lineStart(old.start) == lineStart(entry.key.start)
        if onKeyLine {
            if old.isEmptyScalar {
                if multiline { return [Edit(lineEnd(colon)..<lineEnd(colon), text)] }
                return [Edit(entry.key.end..<old.end, ":" + text)]
            }
            if old.isBlockScalar { return [Edit(colon + 1..<entryLineEnd(old), text)] }
            if multiline {
                return [Edit(colon + 1..<old.end, ""), Edit(lineEnd(old.end)..<lineEnd(old.end), text)]
            }
            return [Edit(old.start..<old.end, String(text.dropFirst()))]
        }
        // The value starts on a later line: its lines go; a comment on the key's line stays.
        let lines = lineEnd(colon)..<entryLineEnd(old)
        if multiline { return [Edit(lines, text)] }
        return [Edit(colon + 1..<colon + 1, text), Edit(lines, "")]
    }

    /// Adds `key` (and `chain`, the missing keys below it) to `mapping`.
    private func insertion(
        key: String, chain: [String], value newValue: Value, into mapping: Node, path: [String]
    ) throws(YAMLEditError) -> [Edit] {
        guard case .mapping(let entries) = mapping.kind else { throw notAMapping(mapping, path: path) }
        let nested = Self.nest(chain[...], newValue)
        let pair = YAMLRendering.string(key) + ": " + YAMLRendering.flow(nested)
        if mapping.isFlow {
            guard let last = entries.last else {
                let inner = mapping.start + 1..<mapping.end - 1
                if bytes[inner].allSatisfy({ $0 == UInt8(ascii: " ") }) { return [Edit(inner, " " + pair + " ")] }
                return [Edit(inner.lowerBound..<inner.lowerBound, " " + pair + ",")]
            }
            let end = max(last.key.end, last.value.end)
            return [Edit(end..<end, ", " + pair)]
        }
        guard let first = entries.first, let last = entries.last else { throw notAMapping(mapping, path: path) }
        let indent = try indentation(of: first.key, path: path)
        let text =
            layout.newline + indent + YAMLRendering.string(key) + ":"
            + valueText(newValue, chain: chain[...], childIndent: indent + layout.step, block: false)
        let at = entryLineEnd(last.value)
        return [Edit(at..<at, text)]
    }

    /// Removes `entry` from `mapping`; `parent` is the entry whose value `mapping` is.
    private func removal(
        of entry: Entry, from mapping: Node, parent: (mapping: Node, entry: Entry)?, path: [String]
    ) throws(YAMLEditError) -> [Edit] {
        guard case .mapping(let entries) = mapping.kind,
            let index = entries.firstIndex(where: { $0.key.start == entry.key.start })
        else { throw notAMapping(mapping, path: path) }
        if mapping.isFlow {
            if entries.count == 1 { return [Edit(mapping.start + 1..<mapping.end - 1, "")] }
            if index + 1 < entries.count { return [Edit(entry.key.start..<entries[index + 1].key.start, "")] }
            let previous = entries[index - 1]
            return [Edit(max(previous.key.end, previous.value.end)..<max(entry.key.end, entry.value.end), "")]
        }
        if entries.count == 1 {
            // A block mapping cannot be empty: it becomes `{}`.
            if let parent {
                return try replacement(
                    of: parent.entry, in: parent.mapping, with: .object([:]), chain: [], path: Array(path.dropLast()))
            }
            return [Edit(mapping.start..<entryLineEnd(entry.value), "{}")]
        }
        _ = try indentation(of: entry.key, path: path)
        var start = lineStart(entry.key.start)
        var end = entryLineEnd(entry.value)
        if end < bytes.count {
            end += breakLength(at: end)
        } else if start > 0 {
            // The last line has no line break: the one before it goes instead.
            start -=
                bytes[start - 1] == UInt8(ascii: "\n") && start >= 2 && bytes[start - 2] == UInt8(ascii: "\r") ? 2 : 1
        }
        return [Edit(start..<end, "")]
    }

    /// What follows `key:` in a block mapping: ` value` on the key's line, or a line break and
    /// indented lines. `block` writes a non-empty collection in block style.
    private func valueText(_ value: Value, chain: ArraySlice<String>, childIndent: String, block: Bool) -> String {
        if chain.count >= 2 {
            return layout.newline + childIndent + YAMLRendering.string(chain.first!) + ":"
                + valueText(value, chain: chain.dropFirst(), childIndent: childIndent + layout.step, block: false)
        }
        if chain.count == 1 { return " " + YAMLRendering.flow(Self.nest(chain, value)) }
        switch value {
        case .object(let object) where block && !object.isEmpty:
            return object.keys.sorted(by: UTF8Order.precedes).map {
                layout.newline + childIndent + YAMLRendering.string($0) + ": " + YAMLRendering.blockValue(object[$0]!)
            }.joined()
        case .array(let items) where block && !items.isEmpty:
            return items.map { layout.newline + childIndent + "- " + YAMLRendering.blockValue($0) }.joined()
        default:
            return " " + YAMLRendering.blockValue(value)
        }
    }

    private static func nest(_ chain: ArraySlice<String>, _ value: Value) -> Value {
        guard let first = chain.first else { return value }
        return .object([first: nest(chain.dropFirst(), value)])
    }

    /// Applies `edits`, reads the result back, and keeps it only if it reads as `expected`.
    private mutating func apply(_ edits: [Edit], expecting expected: Value, path: [String]) throws(YAMLEditError) {
        var new = bytes
        // From the end, so that earlier offsets stay valid; of two at one place, the longer first.
        for edit in edits.sorted(by: {
            ($0.range.lowerBound, $0.range.upperBound) > ($1.range.lowerBound, $1.range.upperBound)
        }) {
            new.replaceSubrange(edit.range, with: Array(edit.text.utf8))
        }
        let read: (bytes: [UInt8], value: Value, root: Node, layout: Layout)
        do {
            read = try Self.read(new, file: file)
        } catch {
            throw YAMLEditError(
                .editDidNotReadBack, "the edit of \(Self.name(path[...])) would not read back: \(error.message)",
                path: path, cause: error.cause)
        }
        guard read.value == expected else {
            throw YAMLEditError(
                .editDidNotReadBack,
                "the edit of \(Self.name(path[...])) would change more than that value; the file's layout is one the "
                    + "editor cannot change in place", path: path)
        }
        (bytes, value, root, layout) = read
    }

    // MARK: - Lines

    private func lineStart(_ p: Int) -> Int {
        var i = p
        while i > 0, !Self.isBreak(bytes[i - 1]) { i -= 1 }
        return i
    }

    /// Where the line holding `p` ends: its line break, or the end of the file.
    private func lineEnd(_ p: Int) -> Int {
        var i = p
        while i < bytes.count, !Self.isBreak(bytes[i]) { i += 1 }
        return i
    }

    private func breakLength(at i: Int) -> Int {
        guard i < bytes.count, Self.isBreak(bytes[i]) else { return 0 }
        return bytes[i] == UInt8(ascii: "\r") && i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\n") ? 2 : 1
    }

    /// The line break after a value's last line of content, with the comment on that line: a
    /// block scalar's span also holds the blank lines after it, which stay.
    private func entryLineEnd(_ node: Node) -> Int {
        var end = node.end
        while end > node.start, [UInt8(ascii: " "), UInt8(ascii: "\t"), 10, 13].contains(bytes[end - 1]) { end -= 1 }
        return lineEnd(end)
    }

    private static func isBreak(_ b: UInt8) -> Bool { b == 10 || b == 13 }

    /// The spaces before a block mapping key or block collection on its line.
    private func indentation(of node: Node, path: [String]) throws(YAMLEditError) -> String {
        let start = lineStart(node.start)
        guard bytes[start..<node.start].allSatisfy({ $0 == UInt8(ascii: " ") }) else {
            throw YAMLEditError(
                .unsupportedLayout,
                "\(Self.name(path[...])) does not start its own line; the editor edits block "
                    + "mappings line by line", path: path)
        }
        return String(repeating: " ", count: node.start - start)
    }

    /// The `:` after a block mapping key, on the key's line.
    private func colonAfter(_ key: Node, path: [String]) throws(YAMLEditError) -> Int {
        var i = key.end
        while i < bytes.count, bytes[i] == UInt8(ascii: " ") { i += 1 }
        guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else {
            throw YAMLEditError(
                .unsupportedLayout, "\(Self.name(path[...])) is not written as `key: value` on one line", path: path)
        }
        return i
    }
}

// MARK: - Errors

/// Why `YAMLEditor` refused a document or an edit. The editor is unchanged after one.
public struct YAMLEditError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// `YAMLReader` rejects the document; `cause` says why.
        case unreadable
        /// The document, or a value on the path, is not a mapping.
        case notAMapping
        /// An anchor or alias on the path or in the value to replace or remove.
        case anchorOrAlias
        /// A layout the editor does not edit in place, such as an explicit `? key`.
        case unsupportedLayout
        /// An edit with no key.
        case emptyPath
        /// The edited bytes would not read back as the intended change; nothing was changed.
        case editDidNotReadBack
    }

    public var code: Code
    public var message: String
    /// The keys of the edit, up to where the problem is; empty for the document itself.
    public var path: [String]
    public var cause: Diagnostic?

    public init(_ code: Code, _ message: String, path: [String] = [], cause: Diagnostic? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.cause = cause
    }

    public var description: String {
        message + (cause.map { " (\($0.description))" } ?? "")
    }
}

// MARK: - The document with byte spans

extension YAMLEditor {
    /// A node with the bytes it spans. A block collection ends where its last entry's value does.
    fileprivate struct Node: Sendable {
        enum Kind: Sendable {
            case scalar(YAMLScalar)
            case mapping([Entry])
            case sequence([Node])
            case alias(String)
        }

        var kind: Kind
        var start: Int
        var end: Int
        var isFlow: Bool
        var anchor: String?
        /// The node or one inside it has an anchor.
        var holdsAnchor: Bool

        var isEmptyScalar: Bool {
            if case .scalar = kind { return start == end }
            return false
        }

        var isBlockScalar: Bool {
            if case .scalar(let scalar) = kind { return scalar.style == .literal || scalar.style == .folded }
            return false
        }

        var isBlockCollection: Bool {
            switch kind {
            case .mapping, .sequence: !isFlow
            default: false
            }
        }
    }

    fileprivate struct Entry: Sendable {
        var key: Node
        var value: Node
    }

    fileprivate struct Layout: Sendable {
        /// The file's first line break, for the lines the editor adds.
        var newline: String
        /// The indentation of a block mapping under its key, the smallest the file shows.
        var step: String
    }

    fileprivate struct Edit {
        var range: Range<Int>
        var text: String
        init(_ range: Range<Int>, _ text: String) {
            self.range = range
            self.text = text
        }
    }

    /// Reads `bytes` twice: with `YAMLReader`, which checks everything it checks for the compiler
    /// and gives the value, then event by event for the spans.
    fileprivate static func read(
        _ bytes: [UInt8], file: String
    ) throws(YAMLEditError) -> (bytes: [UInt8], value: Value, root: Node, layout: Layout) {
        let document: YAMLNode?
        let tabbedBlankLines: [Range<Int>]
        let events: YAMLEventParser
        do {
            document = try YAMLReader.parse(bytes, file: file)
            tabbedBlankLines = try bytes.withUnsafeBufferPointer { (buffer) throws(Diagnostic) in
                try YAMLInputCheck.checkEncodingAndIndentation(buffer, file: file)
            }
            events = try YAMLEventParser(bytes: bytes, file: file, spacingOut: tabbedBlankLines)
        } catch {
            throw YAMLEditError(.unreadable, "the document does not read: \(error.message)", cause: error)
        }
        guard let document else { throw YAMLEditError(.notAMapping, "the document is empty, not a mapping") }
        guard case .mapping = document.kind else {
            let what = document.items != nil ? "a list" : "a \(document.kindName)"
            throw YAMLEditError(.notAMapping, "the document is \(what), not a mapping")
        }
        var builder = SpanBuilder(events: events, offsets: ByteOffsets(bytes))
        let root: Node
        do {
            root = try builder.document()
        } catch {
            throw YAMLEditError(.unreadable, "the document does not read: \(error.message)", cause: error)
        }
        return (bytes, document.value, root, Layout(newline: newline(in: bytes), step: step(in: root, bytes: bytes)))
    }

    private static func newline(in bytes: [UInt8]) -> String {
        guard let i = bytes.firstIndex(where: isBreak) else { return "\n" }
        if bytes[i] == 10 { return "\n" }
        return i + 1 < bytes.count && bytes[i + 1] == 10 ? "\r\n" : "\r"
    }

    /// The smallest indentation of a block mapping under a block mapping key; 2 when none.
    private static func step(in root: Node, bytes: [UInt8]) -> String {
        func column(_ p: Int) -> Int {
            var i = p
            while i > 0, !isBreak(bytes[i - 1]) { i -= 1 }
            return p - i
        }
        var smallest = Int.max
        func visit(_ node: Node) {
            guard case .mapping(let entries) = node.kind else { return }
            for entry in entries {
                if case .mapping = entry.value.kind, !node.isFlow, !entry.value.isFlow, entry.value.anchor == nil {
                    let step = column(entry.value.start) - column(entry.key.start)
                    if step > 0 { smallest = min(smallest, step) }
                }
                visit(entry.value)
            }
        }
        visit(root)
        return String(repeating: " ", count: smallest == Int.max ? 2 : smallest)
    }
}

/// libyaml's `mark.index` counts Unicode scalars (CR LF as two), not bytes, and does not count
/// a UTF-8 byte-order mark: this turns one into a byte offset.
private struct ByteOffsets {
    /// Byte offset of each scalar, and the end; nil when every byte is ASCII and there is no mark.
    private let table: [Int]?

    init(_ bytes: [UInt8]) {
        let start = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        guard start > 0 || bytes.contains(where: { $0 >= 0x80 }) else {
            table = nil
            return
        }
        var table: [Int] = []
        table.reserveCapacity(bytes.count + 1 - start)
        for i in start..<bytes.count where bytes[i] & 0xC0 != 0x80 { table.append(i) }
        table.append(bytes.count)
        self.table = table
    }

    func byte(_ index: Int) -> Int {
        guard let table else { return index }
        return table[min(index, table.count - 1)]
    }
}

/// Builds `YAMLEditor.Node`s from libyaml's events, in bytes.
private struct SpanBuilder {
    let events: YAMLEventParser
    let offsets: ByteOffsets

    mutating func document() throws(Diagnostic) -> YAMLEditor.Node {
        _ = try events.nextSpanned()  // stream start
        _ = try events.nextSpanned()  // document start; YAMLReader has checked there is one
        return try node(try events.nextSpanned())
    }

    mutating func node(_ event: YAMLSpannedEvent) throws(Diagnostic) -> YAMLEditor.Node {
        let start = offsets.byte(event.start)
        switch event.event {
        case .scalar(let text, let style, let anchor, _, _):
            return .init(
                kind: .scalar(YAMLScalar(text: text, style: style)), start: start, end: offsets.byte(event.end),
                isFlow: false, anchor: anchor, holdsAnchor: anchor != nil)
        case .alias(let name, _):
            return .init(
                kind: .alias(name), start: start, end: offsets.byte(event.end), isFlow: false, holdsAnchor: false)
        case .sequenceStart(let anchor, _, _):
            var items: [YAMLEditor.Node] = []
            while true {
                let next = try events.nextSpanned()
                if case .sequenceEnd = next.event {
                    let end = event.isFlow ? offsets.byte(next.end) : (items.last?.end ?? start)
                    return .init(
                        kind: .sequence(items), start: start, end: end, isFlow: event.isFlow, anchor: anchor,
                        holdsAnchor: anchor != nil || items.contains { $0.holdsAnchor })
                }
                items.append(try node(next))
            }
        case .mappingStart(let anchor, _, _):
            var entries: [YAMLEditor.Entry] = []
            while true {
                let next = try events.nextSpanned()
                if case .mappingEnd = next.event {
                    let end = event.isFlow ? offsets.byte(next.end) : (entries.last?.value.end ?? start)
                    return .init(
                        kind: .mapping(entries), start: start, end: end, isFlow: event.isFlow, anchor: anchor,
                        holdsAnchor: anchor != nil || entries.contains { $0.key.holdsAnchor || $0.value.holdsAnchor })
                }
                let key = try node(next)
                entries.append(YAMLEditor.Entry(key: key, value: try node(try events.nextSpanned())))
            }
        default:
            throw Diagnostic(.yamlSyntax, "unexpected YAML event \(event.event)", at: SourceLocation(file: ""))
        }
    }
}

// MARK: - The intended change, as a value

extension Value {
    /// The value with `path` set, objects created (or put in place of anything else) on the way.
    fileprivate func editing(set path: ArraySlice<String>, to newValue: Value) -> Value {
        guard let first = path.first else { return newValue }
        var object = objectValue ?? [:]
        object[first] = (object[first] ?? .null).editing(set: path.dropFirst(), to: newValue)
        return .object(object)
    }

    /// The value without the key at `path`; unchanged when it is not there.
    fileprivate func editing(remove path: ArraySlice<String>) -> Value {
        guard let first = path.first, var object = objectValue, let child = object[first] else { return self }
        object[first] = path.count == 1 ? nil : child.editing(remove: path.dropFirst())
        return .object(object)
    }
}
