import FlagModel
import Testing

@testable import FlagCompiler

private let file = "flags/checkout.yaml"

/// Swift Testing has a `SourceLocation` of its own.
private typealias Location = FlagCompiler.SourceLocation

private func parse(_ text: String, limits: YAMLReader.Limits = .init()) throws(Diagnostic) -> YAMLNode? {
    try YAMLReader.parse(Array(text.utf8), file: file, limits: limits)
}

/// The diagnostic that reading `bytes` throws, or nil when it reads.
private func diagnostic(_ bytes: [UInt8], limits: YAMLReader.Limits = .init()) -> Diagnostic? {
    do {
        _ = try YAMLReader.parse(bytes, file: file, limits: limits)
        return nil
    } catch {
        return error
    }
}

private func diagnostic(_ text: String, limits: YAMLReader.Limits = .init()) -> Diagnostic? {
    diagnostic(Array(text.utf8), limits: limits)
}

private func at(_ line: Int, _ column: Int) -> Location {
    Location(file: file, line: line, column: column)
}

/// The value under `key` of a mapping node.
private func lookup(_ node: YAMLNode?, _ key: String) -> YAMLNode? {
    node?.pairs?.first { $0.key.scalar?.text == key }?.value
}

// MARK: - Core schema

@Suite struct YAMLCoreSchemaTests {
    @Test(
        "plain scalars are typed with the YAML 1.2 core schema",
        arguments: [
            ("on", Value.string("on")), ("off", "off"), ("yes", "yes"), ("no", "no"), ("NO", "NO"), ("y", "y"),
            ("Yes", "Yes"), ("true", true), ("True", true), ("TRUE", true), ("false", false), ("FALSE", false),
            ("tRUE", "tRUE"), ("null", .null), ("Null", .null), ("NULL", .null), ("~", .null), ("", .null), ("nULL", "nULL"),
            ("1", 1), ("-7", -7), ("+3", 3), ("007", 7), ("0o17", 15), ("0x1F", 31), ("0xff", 255),
            ("-0x1F", "-0x1F"), ("0x", "0x"), ("0o8", "0o8"), ("1.0", .double(1.0)), ("1.", .double(1.0)),
            (".5", .double(0.5)), ("-2.5e3", .double(-2500)), ("1E2", .double(100)), ("1e", "1e"), (".", "."),
            ("1_000", "1_000"), ("9223372036854775807", .int(Int64.max)),
            ("9223372036854775808", .double(9_223_372_036_854_775_808)), ("0x8000000000000000", "0x8000000000000000"),
            ("1e400", "1e400"), (".inf", ".inf"), ("-.Inf", "-.Inf"), (".nan", ".nan"),
            ("2027-03-31", "2027-03-31"), ("1.2.3", "1.2.3"), ("10.0.0.0/8", "10.0.0.0/8"), ("beta", "beta"),
        ] as [(String, Value)])
    func plainScalarTyping(text: String, expected: Value) {
        #expect(YAMLScalar.resolve(plain: text) == expected)
    }

    @Test func documentValuesFollowTheCoreSchema() throws {
        let yaml = """
            a: on
            b: off
            c: yes
            d: no
            e: NO
            f: true
            g: false
            h: 1
            i: 1.0
            j: "1"
            k: ~
            l: 0x1F
            m:
            n: 'true'
            o: |
              line
            p: >-
              folded
              text
            """
        let node = try #require(try parse(yaml))
        #expect(
            node.value
                == [
                    "a": "on", "b": "off", "c": "yes", "d": "no", "e": "NO", "f": true, "g": false, "h": 1,
                    "i": .double(1.0), "j": "1", "k": .null, "l": 31, "m": .null, "n": "true", "o": "line\n",
                    "p": "folded text",
                ])
        // 1 and 1.0 must not collapse into one kind of number.
        #expect(lookup(node, "h")?.value == .int(1))
        #expect(lookup(node, "i")?.value == .double(1.0))
        #expect(lookup(node, "j")?.scalar?.style == .doubleQuoted)
        #expect(lookup(node, "n")?.scalar?.style == .singleQuoted)
        #expect(lookup(node, "o")?.scalar?.style == .literal)
        #expect(lookup(node, "p")?.scalar?.style == .folded)
    }

    @Test func mappingOrderIsKeptAsWritten() throws {
        let node = try #require(try parse("zeta: 1\nalpha: 2\nmid: 3\n"))
        #expect(node.pairs?.map { $0.key.scalar?.text } == ["zeta", "alpha", "mid"])
    }

    @Test func mergeKeysAreOrdinaryKeys() throws {
        let node = try #require(try parse("base: &b {x: 1}\nflag:\n  <<: *b\n  y: 2\n"))
        let flag = try #require(lookup(node, "flag"))
        #expect(flag.pairs?.map { $0.key.scalar?.text } == ["<<", "y"])
        #expect(flag.value == ["<<": ["x": 1], "y": 2])
    }
}

// MARK: - Positions

@Suite struct YAMLPositionTests {
    @Test func nestedNodesCarryOneBasedLinesAndColumns() throws {
        let yaml = """
            key: new-checkout
            rules:
              - name: beta
                when: [ {attribute: plan, op: in} ]
            """
        let root = try #require(try parse(yaml))
        #expect((root.line, root.column) == (1, 1))
        let key = try #require(root.pairs?.first)
        #expect((key.key.line, key.key.column) == (1, 1))
        #expect((key.value.line, key.value.column) == (1, 6))

        let rules = try #require(lookup(root, "rules"))
        #expect((rules.line, rules.column) == (3, 3))
        let rule = try #require(rules.items?.first)
        #expect((rule.line, rule.column) == (3, 5))
        let name = try #require(lookup(rule, "name"))
        #expect((name.line, name.column) == (3, 11))
        let when = try #require(lookup(rule, "when"))
        #expect((when.line, when.column) == (4, 11))
        let condition = try #require(when.items?.first)
        #expect((condition.line, condition.column) == (4, 13))
        let op = try #require(lookup(condition, "op"))
        #expect((op.line, op.column) == (4, 35))
        #expect(op.location(file: file) == at(4, 35))
    }

    @Test func columnsCountCharactersNotBytes() throws {
        // "é" and "ü" are two bytes each; columns count them once, as libyaml does.
        let root = try #require(try parse("café: [über, x]\n"))
        let list = try #require(lookup(root, "café"))
        #expect((list.line, list.column) == (1, 7))
        #expect(list.items?.map(\.column) == [8, 14])
    }

    @Test func aUTF8ByteOrderMarkIsAcceptedAndNotCounted() throws {
        let root = try #require(try YAMLReader.parse([0xEF, 0xBB, 0xBF] + Array("a: 1\n".utf8), file: file))
        #expect(root.value == ["a": 1])
        #expect(lookup(root, "a")?.column == 4)
        // libyaml reports some errors as a byte offset, which must skip the mark too.
        let d = try #require(diagnostic([0xEF, 0xBB, 0xBF] + Array("a: \u{07}\n".utf8)))
        #expect(d.code == .yamlSyntax)
        #expect(d.location == at(1, 4))
    }
}

// MARK: - Anchors and aliases

@Suite struct YAMLAliasTests {
    @Test func aliasesResolveToTheAnchoredNode() throws {
        let yaml = """
            base: &base
              owner: team-a
              tags: [x, y]
            name: &n checkout
            copy: *base
            title: *n
            """
        let root = try #require(try parse(yaml))
        let base = try #require(lookup(root, "base"))
        let copy = try #require(lookup(root, "copy"))
        #expect(base.anchor == "base")
        #expect(copy.value == ["owner": "team-a", "tags": ["x", "y"]])
        #expect(copy.value == base.value)
        #expect(lookup(root, "title")?.value == "checkout")
        // The alias node stands where the alias is written; what it holds keeps its own marks.
        #expect((copy.line, copy.column) == (5, 7))
        #expect(copy.anchor == "base")
        #expect(lookup(copy, "owner")?.line == 2)
    }

    @Test func anUndefinedAliasIsASyntaxError() throws {
        let d = try #require(diagnostic("a: 1\nb: *missing\n"))
        #expect(d.code == .yamlSyntax)
        #expect(d.location == at(2, 4))
        #expect(d.message.contains("missing"))
    }

    @Test func billionLaughsIsRejectedWithoutExpanding() throws {
        let yaml = """
            a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
            b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
            c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
            d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
            e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
            f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
            g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
            h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
            i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
            """
        let clock = ContinuousClock()
        var d: Diagnostic?
        let elapsed = clock.measure { d = diagnostic(yaml) }
        let rejection = try #require(d)
        #expect(rejection.code == .aliasExpansion)
        #expect(rejection.message.contains("100000"))
        // Line 5 ends at 74,738 nodes; the first *e on line 6 passes 100,000.
        #expect(rejection.location.line == 6)
        #expect(elapsed < .seconds(1))
    }

    @Test func aliasExpansionCountsAgainstTheNodeLimit() throws {
        // 1 mapping + 2 keys + 1 sequence + 3 items = 7 nodes; the alias stands for 4 more.
        let yaml = "a: &x [1, 2, 3]\nb: *x\n"
        #expect(try parse(yaml, limits: .init(maxNodes: 11)) != nil)
        let d = try #require(diagnostic(yaml, limits: .init(maxNodes: 10)))
        #expect(d.code == .aliasExpansion)
        #expect(d.location == at(2, 4))
    }

    @Test func aliasesCannotNestBeyondTheDepthLimit() throws {
        // Three levels inside the anchor, under three more (the root mapping, two sequences): six.
        let yaml = "a: &x [[[1]]]\nb: [[*x]]\n"
        #expect(try parse(yaml, limits: .init(maxDepth: 6)) != nil)
        let d = try #require(diagnostic(yaml, limits: .init(maxDepth: 5)))
        #expect(d.code == .nestingTooDeep)
        #expect(d.location == at(2, 6))
    }
}

// MARK: - Rejections

@Suite struct YAMLRejectionTests {
    @Test func duplicateKeysAreRejectedAtTheSecondOne() throws {
        let d = try #require(diagnostic("name: a\nowner: b\nname: c\n"))
        #expect(d.code == .duplicateKey)
        #expect(d.location == at(3, 1))
        #expect(d.message.contains("\"name\""))
        #expect(d.message.contains("line 1"))
    }

    @Test func duplicateKeysAreFoundInNestedAndFlowMappings() throws {
        let d = try #require(diagnostic("flag:\n  variants: {on: 1, off: 2, on: 3}\n"))
        #expect(d.code == .duplicateKey)
        #expect(d.location == at(2, 29))
        // The same text quoted or not is the same key once the mapping is a JSON object.
        #expect(diagnostic("1: a\n\"1\": b\n")?.code == .duplicateKey)
        // The same key in two different mappings is fine.
        #expect(diagnostic("a: {x: 1}\nb: {x: 2}\n") == nil)
    }

    @Test func filesOverTheSizeLimitAreRejected() throws {
        let limit = 1 << 20
        // A comment exactly at the limit reads, as nothing.
        let atLimit = Array("#".utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: limit - 1)
        #expect(try YAMLReader.parse(atLimit, file: file) == nil)
        let d = try #require(diagnostic(atLimit + [UInt8(ascii: "x")]))
        #expect(d.code == .fileTooLarge)
        #expect(d.location == Location(file: file, line: 0, column: 0))
        #expect(d.message.contains("1048577"))
        #expect(d.message.contains("1048576"))
    }

    @Test func sizeIsCheckedBeforeEncoding() throws {
        #expect(diagnostic([0xFF, 0xFF, 0xFF], limits: .init(maxBytes: 2))?.code == .fileTooLarge)
    }

    @Test func nestingDeeperThan64IsRejected() throws {
        func nested(_ n: Int) -> String { String(repeating: "[", count: n) + String(repeating: "]", count: n) }
        #expect(try parse(nested(64)) != nil)
        let d = try #require(diagnostic(nested(65)))
        #expect(d.code == .nestingTooDeep)
        #expect(d.location == at(1, 65))
    }

    @Test func blockNestingDeeperThan64IsRejected() throws {
        func nested(_ n: Int) -> String {
            (0..<n).map { String(repeating: "  ", count: $0) + "k:" }.joined(separator: "\n") + " leaf\n"
        }
        #expect(try parse(nested(64)) != nil)
        let d = try #require(diagnostic(nested(65)))
        #expect(d.code == .nestingTooDeep)
        #expect(d.location == at(65, 129))
    }

    @Test func invalidUTF8IsRejectedWithItsPosition() throws {
        // Line 2 is "key: café" and then a lone 0xFF: column 10 in characters (11 in bytes).
        let bytes = Array("a: b\nkey: café".utf8) + [0xFF] + Array("\n".utf8)
        let d = try #require(diagnostic(bytes))
        #expect(d.code == .invalidUTF8)
        #expect(d.location == at(2, 10))
    }

    @Test(
        "malformed UTF-8 sequences are rejected",
        arguments: [
            [0xC0, 0x80],  // overlong NUL
            [0xE0, 0x80, 0x80],  // overlong
            [0xED, 0xA0, 0x80],  // a UTF-16 surrogate
            [0xF4, 0x90, 0x80, 0x80],  // past U+10FFFF
            [0xE2, 0x82],  // cut short
            [0x80],  // a lone continuation byte
        ] as [[UInt8]])
    func malformedSequences(sequence: [UInt8]) throws {
        let d = try #require(diagnostic(Array("a: x".utf8) + sequence + Array(" y\n".utf8)))
        #expect(d.code == .invalidUTF8)
        #expect(d.location == at(1, 5))
    }

    @Test func utf16AndUTF32ByteOrderMarksAreRejected() throws {
        for bom: [UInt8] in [[0xFF, 0xFE], [0xFE, 0xFF], [0x00, 0x00, 0xFE, 0xFF], [0xFF, 0xFE, 0x00, 0x00]] {
            let d = try #require(diagnostic(bom + [0x61, 0x00]))
            #expect(d.code == .invalidUTF8)
            #expect(d.location == at(1, 1))
        }
    }

    @Test func tabIndentationIsRejectedAtTheTab() throws {
        let d = try #require(diagnostic("flag:\n  name: x\n  \tenabled: true\n"))
        #expect(d.code == .tabIndentation)
        #expect(d.location == at(3, 3))
        #expect(d.hint == "indent with spaces; YAML does not allow tabs for indentation")
        #expect(diagnostic("a:\n\tb: 1\n")?.location == at(2, 1))
    }

    @Test func tabsAfterContentAndOnBlankLinesAreFine() throws {
        let root = try #require(try parse("a: x\ty\nb: 1\t# comment\n\t\nc: \"\t\"\n"))
        #expect(root.value == ["a": "x\ty", "b": 1, "c": "\t"])
    }

    @Test func syntaxErrorsCarryLibyamlsPosition() throws {
        let d = try #require(diagnostic("flag:\n  name: x\n   owner: y\n"))
        #expect(d.code == .yamlSyntax)
        #expect(d.location == at(3, 9))
        #expect(d.message == "mapping values are not allowed in this context")

        let unclosed = try #require(diagnostic("a: 1\nb: [1, 2\nc: 3\n"))
        #expect(unclosed.code == .yamlSyntax)
        #expect(unclosed.message.contains("that started at line 2, column 4"))
    }

    @Test func forbiddenCharactersAreSyntaxErrorsAtTheirPosition() throws {
        let d = try #require(diagnostic("a: 1\nb: x\u{07}y\n"))
        #expect(d.code == .yamlSyntax)
        #expect(d.location == at(2, 5))
        #expect(d.message.contains("U+0007"))
    }

    @Test func aSecondDocumentIsUnsupported() throws {
        let d = try #require(diagnostic("a: 1\n---\nb: 2\n"))
        #expect(d.code == .unsupportedYAML)
        #expect(d.location == at(2, 1))
        #expect(try parse("---\na: 1\n...\n")?.value == ["a": 1])
    }

    @Test func tagsAreUnsupported() throws {
        for yaml in ["a: !!str 1\n", "a: !custom x\n", "a: !!map {b: 1}\n", "a: !!seq [1]\n", "!!map\nb: 1\n"] {
            #expect(diagnostic(yaml)?.code == .unsupportedYAML, "\(yaml)")
        }
        #expect(diagnostic("a: !!str 1\n")?.location == at(1, 4))
    }

    @Test func complexKeysAreUnsupported() throws {
        let d = try #require(diagnostic("? [a, b]\n: 1\n"))
        #expect(d.code == .unsupportedYAML)
        #expect(d.location == at(1, 3))
        #expect(diagnostic("{a: 1}: x\n")?.code == .unsupportedYAML)
        #expect(diagnostic("k: &m {a: 1}\n*m : x\n")?.code == .unsupportedYAML)
    }

    @Test func emptyDocumentsAreNil() throws {
        for yaml in ["", "\n\n", "# only a comment\n", "   # indented comment", "---\n", "--- # comment\n...\n"] {
            #expect(try parse(yaml) == nil, "\(yaml)")
        }
        #expect(try parse("~\n")?.value == .null)
        #expect(try parse("''\n")?.value == "")
    }
}
