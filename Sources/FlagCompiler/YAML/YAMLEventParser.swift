import CYAML

/// A position as libyaml marks it, made 1-based.
struct YAMLMark: Sendable, Hashable {
    var line: Int
    var column: Int

    init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    /// libyaml counts lines and columns from 0.
    init(_ mark: yaml_mark_t) {
        self.init(line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }
}

/// One libyaml event, copied out of libyaml's memory as soon as it is parsed.
enum YAMLEvent: Sendable {
    case streamStart
    case streamEnd
    case documentStart(at: YAMLMark)
    case documentEnd
    case alias(anchor: String, at: YAMLMark)
    case scalar(text: String, style: YAMLScalar.Style, anchor: String?, tag: String?, at: YAMLMark)
    case sequenceStart(anchor: String?, tag: String?, at: YAMLMark)
    case sequenceEnd
    case mappingStart(anchor: String?, tag: String?, at: YAMLMark)
    case mappingEnd
}

/// An event with where libyaml says it starts and ends, for the editor, which rewrites bytes.
struct YAMLSpannedEvent {
    var event: YAMLEvent
    /// libyaml's `mark.index` of the start and the end: counted in Unicode scalars from the
    /// start of the input (a UTF-8 byte-order mark not counted), CR LF counting as two.
    var start: Int
    var end: Int
    /// For a mapping or sequence start: written in flow style (`{`, `[`).
    var isFlow: Bool
}

/// Owns one libyaml parser and the copy of the input it reads, and frees both in `deinit`.
///
/// libyaml keeps a pointer to its input for as long as it parses, so the parser owns a copy
/// rather than borrowing the caller's array. Errors become E001 diagnostics with 1-based marks.
final class YAMLEventParser {
    private let parser: UnsafeMutablePointer<yaml_parser_t>
    private let input: UnsafeMutableBufferPointer<UInt8>
    private let inputCount: Int
    private let file: String

    /// `ranges` are byte ranges in which libyaml gets spaces for tabs: the blank lines that
    /// `YAMLInputCheck` allows and libyaml would stumble on. Positions do not move.
    init(bytes: [UInt8], file: String, spacingOut ranges: [Range<Int>] = []) throws(Diagnostic) {
        parser = .allocate(capacity: 1)
        // libyaml asserts a non-null input, which an empty allocation need not give.
        input = .allocate(capacity: max(1, bytes.count))
        _ = input.initialize(fromContentsOf: bytes)
        for range in ranges {
            for i in range where input[i] == UInt8(ascii: "\t") { input[i] = UInt8(ascii: " ") }
        }
        inputCount = bytes.count
        self.file = file
        // On failure yaml_parser_initialize leaves the parser zeroed, which deinit may delete.
        guard yaml_parser_initialize(parser) == 1 else {
            throw Diagnostic(.yamlSyntax, "libyaml could not allocate a parser", at: SourceLocation(file: file))
        }
        yaml_parser_set_input_string(parser, input.baseAddress, bytes.count)
    }

    deinit {
        yaml_parser_delete(parser)
        parser.deallocate()
        input.deallocate()
    }

    /// The next event; E001 when the YAML does not parse.
    func next() throws(Diagnostic) -> YAMLEvent {
        try nextSpanned().event
    }

    /// The next event with its span; E001 when the YAML does not parse.
    func nextSpanned() throws(Diagnostic) -> YAMLSpannedEvent {
        var event = yaml_event_t()
        guard yaml_parser_parse(parser, &event) == 1 else { throw syntaxError() }
        defer { yaml_event_delete(&event) }
        let isFlow =
            switch event.type {
            case YAML_MAPPING_START_EVENT: event.data.mapping_start.style == YAML_FLOW_MAPPING_STYLE
            case YAML_SEQUENCE_START_EVENT: event.data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE
            default: false
            }
        return YAMLSpannedEvent(
            event: try Self.copy(event, file: file), start: Int(event.start_mark.index),
            end: Int(event.end_mark.index), isFlow: isFlow)
    }

    private static func copy(_ event: yaml_event_t, file: String) throws(Diagnostic) -> YAMLEvent {
        let mark = YAMLMark(event.start_mark)
        switch event.type {
        case YAML_STREAM_START_EVENT:
            return .streamStart
        case YAML_STREAM_END_EVENT:
            return .streamEnd
        case YAML_DOCUMENT_START_EVENT:
            return .documentStart(at: mark)
        case YAML_DOCUMENT_END_EVENT:
            return .documentEnd
        case YAML_ALIAS_EVENT:
            return .alias(anchor: Self.string(event.data.alias.anchor) ?? "", at: mark)
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            let text = String(
                decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
            return .scalar(
                text: text, style: Self.style(scalar.style), anchor: Self.string(scalar.anchor),
                tag: Self.string(scalar.tag), at: mark)
        case YAML_SEQUENCE_START_EVENT:
            let start = event.data.sequence_start
            return .sequenceStart(anchor: Self.string(start.anchor), tag: Self.string(start.tag), at: mark)
        case YAML_SEQUENCE_END_EVENT:
            return .sequenceEnd
        case YAML_MAPPING_START_EVENT:
            let start = event.data.mapping_start
            return .mappingStart(anchor: Self.string(start.anchor), tag: Self.string(start.tag), at: mark)
        case YAML_MAPPING_END_EVENT:
            return .mappingEnd
        default:
            throw Diagnostic(
                .yamlSyntax, "libyaml produced an unknown event (\(event.type.rawValue))",
                at: SourceLocation(file: file))
        }
    }

    // MARK: - Copying out of libyaml

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let pointer else { return nil }
        return String(cString: pointer)
    }

    private static func style(_ style: yaml_scalar_style_t) -> YAMLScalar.Style {
        switch style {
        case YAML_SINGLE_QUOTED_SCALAR_STYLE: .singleQuoted
        case YAML_DOUBLE_QUOTED_SCALAR_STYLE: .doubleQuoted
        case YAML_LITERAL_SCALAR_STYLE: .literal
        case YAML_FOLDED_SCALAR_STYLE: .folded
        default: .plain
        }
    }

    // MARK: - Errors

    /// Reads libyaml's error fields right after the failing call, into a sentence such as
    /// "did not find expected key while parsing a block mapping that started at line 3, column 1".
    private func syntaxError() -> Diagnostic {
        let state = parser.pointee
        let problem = state.problem.map { String(cString: $0) } ?? "the YAML does not parse"
        switch state.error {
        case YAML_MEMORY_ERROR:
            return Diagnostic(.yamlSyntax, "libyaml ran out of memory", at: SourceLocation(file: file))
        case YAML_READER_ERROR:
            // Reader errors carry a byte offset, not a mark. The input is valid UTF-8 by now, so
            // what remains is a character YAML forbids, such as a control character.
            let (line, column) = YAMLInputCheck.position(
                ofByteOffset: Int(state.problem_offset),
                in: UnsafeBufferPointer(start: input.baseAddress, count: inputCount))
            var message = problem
            if state.problem_value >= 0 { message += " (U+\(Self.hex(state.problem_value)))" }
            return Diagnostic(
                .yamlSyntax, message, at: SourceLocation(file: file, line: line, column: column),
                hint: "remove the character, or write it as an escape in a double-quoted string")
        default:
            let problemMark = YAMLMark(state.problem_mark)
            var message = problem
            if let context = state.context.map({ String(cString: $0) }) {
                message += " \(context)"
                let contextMark = YAMLMark(state.context_mark)
                if contextMark != problemMark {
                    message += " that started at line \(contextMark.line), column \(contextMark.column)"
                }
            }
            return Diagnostic(
                .yamlSyntax, message,
                at: SourceLocation(file: file, line: problemMark.line, column: problemMark.column),
                hint: Self.hint(forProblem: problem))
        }
    }

    /// The likely fix for libyaml's most frequent complaints.
    private static func hint(forProblem problem: String) -> String? {
        if problem.hasPrefix("did not find expected key") || problem.hasPrefix("did not find expected '-'") {
            return "check the indentation of this line against the lines above it"
        }
        if problem.hasPrefix("mapping values are not allowed") {
            return "quote a value that contains \": \""
        }
        if problem.hasPrefix("found character that cannot start any token") {
            return "quote a value that starts with a character YAML reserves, such as @ or `"
        }
        if problem.hasPrefix("found undefined tag handle") {
            return "remove the tag; Flagstaff reads untagged YAML"
        }
        if problem.hasPrefix("found unexpected end of stream") {
            return "close the quote or bracket that is still open"
        }
        return nil
    }

    private static func hex(_ value: Int32) -> String {
        let digits = String(UInt32(bitPattern: value), radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
