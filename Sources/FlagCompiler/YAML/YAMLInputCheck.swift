/// The checks made on the raw bytes before libyaml sees them: size, encoding, tabs.
///
/// Lines and columns are counted as libyaml counts them, so that every diagnostic of a file
/// agrees: a line ends at LF, CR LF, CR, NEL, LS or PS; a column counts Unicode scalars; a
/// UTF-8 byte-order mark at the start is not counted.
enum YAMLInputCheck {
    /// E003 when the file is larger than `maxBytes`. Made before anything else reads it.
    static func checkSize(_ count: Int, limit: Int, file: String) throws(Diagnostic) {
        guard count > limit else { return }
        throw Diagnostic(
            .fileTooLarge, "the file is \(count) bytes; the limit is \(describeSize(limit))",
            at: SourceLocation(file: file), hint: "split it into smaller files")
    }

    /// E005 for a UTF-16 or UTF-32 byte-order mark or bytes that are not UTF-8, and E006 for a
    /// tab in the indentation of a line, whichever comes first in the file.
    ///
    /// A tab counts as indentation when only spaces and tabs stand before it and something
    /// other than whitespace follows it on the line, a comment included. That is stricter than
    /// YAML inside block scalars and multi-line quoted strings, where such a tab is content:
    /// flag files have no need of it, and one rule is easier to explain than YAML's.
    ///
    /// Returns the byte ranges of the lines that hold only whitespace, tabs among it. Those are
    /// fine, but libyaml stumbles on most of them ("found character that cannot start any
    /// token"), so the reader hands libyaml spaces in their place.
    static func checkEncodingAndIndentation(
        _ bytes: UnsafeBufferPointer<UInt8>, file: String
    ) throws(Diagnostic) -> [Range<Int>] {
        if let bom = foreignByteOrderMark(bytes) {
            throw Diagnostic(
                .invalidUTF8, "the file starts with a \(bom) byte-order mark; Flagstaff reads UTF-8 only",
                at: SourceLocation(file: file, line: 1, column: 1), hint: "save the file as UTF-8")
        }
        let n = bytes.count
        var i = hasUTF8ByteOrderMark(bytes) ? 3 : 0
        var line = 1
        var column = 1
        var lineStart = i
        var inIndentation = true
        var tabColumn: Int?
        var blankLinesWithTabs: [Range<Int>] = []
        while i < n {
            let b = bytes[i]
            if b < 0x80 {
                switch b {
                case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                    if inIndentation, tabColumn != nil { blankLinesWithTabs.append(lineStart..<i) }
                    i += (b == UInt8(ascii: "\r") && i + 1 < n && bytes[i + 1] == UInt8(ascii: "\n")) ? 2 : 1
                    line += 1
                    column = 1
                    lineStart = i
                    inIndentation = true
                    tabColumn = nil
                    continue
                case UInt8(ascii: " "):
                    break
                case UInt8(ascii: "\t"):
                    if inIndentation, tabColumn == nil { tabColumn = column }
                default:
                    if inIndentation {
                        if let tabColumn { throw tabDiagnostic(file: file, line: line, column: tabColumn) }
                        inIndentation = false
                    }
                }
                i += 1
                column += 1
                continue
            }
            guard let (scalar, width) = decodeMultiByte(bytes, at: i) else {
                // The lead byte and the continuation bytes that follow it, as far as it wanted them.
                var end = i + 1
                while end < min(n, i + expectedWidth(of: b)), bytes[end] & 0xC0 == 0x80 { end += 1 }
                let shown = bytes[i..<end].map { "0x" + hex($0) }.joined(separator: " ")
                throw Diagnostic(
                    .invalidUTF8, "the file is not valid UTF-8: invalid byte sequence \(shown)",
                    at: SourceLocation(file: file, line: line, column: column), hint: "save the file as UTF-8")
            }
            if isLineBreak(scalar) {
                if inIndentation, tabColumn != nil { blankLinesWithTabs.append(lineStart..<i) }
                i += width
                line += 1
                column = 1
                lineStart = i
                inIndentation = true
                tabColumn = nil
                continue
            }
            i += width
            if inIndentation {
                // A non-ASCII character is never whitespace YAML indents with.
                if let tabColumn { throw tabDiagnostic(file: file, line: line, column: tabColumn) }
                inIndentation = false
            }
            column += 1
        }
        if inIndentation, tabColumn != nil { blankLinesWithTabs.append(lineStart..<n) }
        return blankLinesWithTabs
    }

    private static func tabDiagnostic(file: String, line: Int, column: Int) -> Diagnostic {
        Diagnostic(
            .tabIndentation, "a tab in the indentation of this line",
            at: SourceLocation(file: file, line: line, column: column),
            hint: "indent with spaces; YAML does not allow tabs for indentation")
    }

    /// The 1-based line and column of a byte offset into valid UTF-8, counted as libyaml counts
    /// them. libyaml gives reader errors as an offset only.
    static func position(ofByteOffset offset: Int, in bytes: UnsafeBufferPointer<UInt8>) -> (line: Int, column: Int) {
        let end = min(offset, bytes.count)
        var i = hasUTF8ByteOrderMark(bytes) ? 3 : 0
        var line = 1
        var column = 1
        while i < end {
            let b = bytes[i]
            if b == UInt8(ascii: "\n") || b == UInt8(ascii: "\r") {
                i += (b == UInt8(ascii: "\r") && i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\n")) ? 2 : 1
                line += 1
                column = 1
            } else if b < 0x80 {
                i += 1
                column += 1
            } else if let (scalar, width) = decodeMultiByte(bytes, at: i) {
                i += width
                if isLineBreak(scalar) {
                    line += 1
                    column = 1
                } else {
                    column += 1
                }
            } else {
                i += 1
                column += 1
            }
        }
        return (line, column)
    }

    // MARK: - UTF-8

    static func hasUTF8ByteOrderMark(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF
    }

    /// libyaml would read these files as UTF-16; we want one encoding for every file.
    private static func foreignByteOrderMark(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        let n = bytes.count
        if n >= 4, bytes[0] == 0x00, bytes[1] == 0x00, bytes[2] == 0xFE, bytes[3] == 0xFF { return "UTF-32" }
        if n >= 4, bytes[0] == 0xFF, bytes[1] == 0xFE, bytes[2] == 0x00, bytes[3] == 0x00 { return "UTF-32" }
        if n >= 2, bytes[0] == 0xFE, bytes[1] == 0xFF { return "UTF-16" }
        if n >= 2, bytes[0] == 0xFF, bytes[1] == 0xFE { return "UTF-16" }
        return nil
    }

    /// NEL, LS and PS end a line for libyaml as LF does.
    private static func isLineBreak(_ scalar: UInt32) -> Bool {
        scalar == 0x85 || scalar == 0x2028 || scalar == 0x2029
    }

    private static func expectedWidth(of lead: UInt8) -> Int {
        switch lead {
        case 0xC2...0xDF: 2
        case 0xE0...0xEF: 3
        case 0xF0...0xF4: 4
        default: 1
        }
    }

    /// Decodes the sequence of two to four bytes at `i` (Unicode table 3-7: no overlong forms,
    /// no surrogates, nothing past U+10FFFF), or nil when it is not well-formed.
    private static func decodeMultiByte(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> (UInt32, Int)? {
        let lead = bytes[i]
        let width = expectedWidth(of: lead)
        guard width > 1, i + width <= bytes.count else { return nil }
        let second = bytes[i + 1]
        let secondRange: ClosedRange<UInt8> =
            switch lead {
            case 0xE0: 0xA0...0xBF
            case 0xED: 0x80...0x9F
            case 0xF0: 0x90...0xBF
            case 0xF4: 0x80...0x8F
            default: 0x80...0xBF
            }
        guard secondRange.contains(second) else { return nil }
        var scalar = UInt32(lead) & (0xFF >> (width + 1))
        scalar = scalar << 6 | UInt32(second & 0x3F)
        for k in 2..<width {
            let next = bytes[i + k]
            guard next & 0xC0 == 0x80 else { return nil }
            scalar = scalar << 6 | UInt32(next & 0x3F)
        }
        return (scalar, width)
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
    }

    static func describeSize(_ bytes: Int) -> String {
        if bytes >= 1 << 20, bytes % (1 << 20) == 0 { return "\(bytes) bytes (\(bytes >> 20) MiB)" }
        if bytes >= 1 << 10, bytes % (1 << 10) == 0 { return "\(bytes) bytes (\(bytes >> 10) KiB)" }
        return "\(bytes) bytes"
    }
}
