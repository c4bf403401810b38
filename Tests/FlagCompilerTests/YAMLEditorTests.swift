import FlagModel
import Testing

@testable import FlagCompiler

/// Edits `text` and returns the result, after checking that `YAMLReader` reads it as `expected`.
private func edit(
    _ text: String, reading expected: Value? = nil, _ change: (inout YAMLEditor) throws(YAMLEditError) -> Void
) throws -> String {
    var editor = try YAMLEditor(text)
    try change(&editor)
    let read = try YAMLReader.parse(editor.bytes, file: "edited.yaml")?.value
    #expect(read == editor.value)
    if let expected { #expect(read == expected) }
    return editor.text
}

/// The error an edit throws, and whether the editor kept its bytes.
private func failure(
    _ text: String, _ change: (inout YAMLEditor) throws(YAMLEditError) -> Void
) throws -> YAMLEditError? {
    var editor = try YAMLEditor(text)
    do {
        try change(&editor)
    } catch {
        #expect(editor.text == text, "a refused edit leaves the bytes alone")
        return error
    }
    return nil
}

private func openingError(_ text: String) -> YAMLEditError? {
    do {
        _ = try YAMLEditor(text)
        return nil
    } catch {
        return error
    }
}

@Suite struct YAMLEditorTests {
    // MARK: Positions

    @Test func libyamlIndexCountsUnicodeScalarsNotBytes() throws {
        // "é" is 2 bytes and "😀" 4: the key `a` is the 6th scalar but starts at byte 9.
        let parser = try YAMLEventParser(bytes: Array("# é😀\na: 1\n".utf8), file: "t.yaml")
        var starts: [Int] = []
        while true {
            let event = try parser.nextSpanned()
            if case .scalar = event.event { starts.append(event.start) }
            if case .streamEnd = event.event { break }
        }
        #expect(starts == [5, 8])
    }

    @Test func nonASCIIBeforeTheEditedLineKeepsEveryOtherByte() throws {
        let text = """
            # Owner: José 🚀 (équipe paiements)
            description: Café ☕ checkout, déjà vu 🎉
            # flips the banner
            enabled: true
            owner: team-web

            """
        let result = try edit(text) { (e) throws(YAMLEditError) in
            try e.set(["enabled"], to: false)
            try e.set(["description"], to: "Nouveau café")
        }
        #expect(
            result == """
                # Owner: José 🚀 (équipe paiements)
                description: Nouveau café
                # flips the banner
                enabled: false
                owner: team-web

                """)
    }

    @Test func aByteOrderMarkIsNotCountedByLibyamlButKept() throws {
        let text = "\u{FEFF}name: Crème brûlée\nenabled: true\n"
        let result = try edit(text) { (e) throws(YAMLEditError) in try e.set(["enabled"], to: false) }
        #expect(result == "\u{FEFF}name: Crème brûlée\nenabled: false\n")
    }

    // MARK: Replacing values

    @Test func commentTwoLinesAboveTheChangedLineSurvives() throws {
        let text = "name: Checkout\n# the kill switch\n\nenabled: true\nowner: team-payments\n"
        let result = try edit(text) { (e) throws(YAMLEditError) in try e.set(["enabled"], to: false) }
        #expect(result == "name: Checkout\n# the kill switch\n\nenabled: false\nowner: team-payments\n")
    }

    @Test func trailingCommentOnTheChangedLineSurvives() throws {
        let text = "enabled: true    # kill switch, see runbook\nowner: x\n"
        let result = try edit(text) { (e) throws(YAMLEditError) in try e.set(["enabled"], to: false) }
        #expect(result == "enabled: false    # kill switch, see runbook\nowner: x\n")
    }

    @Test func quotedValuesAreReplacedWithTheirQuotes() throws {
        let text = "owner: 'team-web'  # was\ntype: \"string\"\n"
        let result = try edit(text) { (e) throws(YAMLEditError) in try e.set(["owner"], to: "team-payments") }
        #expect(result == "owner: team-payments  # was\ntype: \"string\"\n")
    }

    @Test func aBlockCollectionIsReplacedInBlockStyleByACollection() throws {
        let text = "variants:\n  on: true   # shown\n  off: false\ntags:\n  - a\n  - b\nowner: x\n"
        let result = try edit(text) { (e) throws(YAMLEditError) in
            try e.set(["variants"], to: ["blue": "#00f", "red": 1.0])
            try e.set(["tags"], to: ["checkout", "a: b"])
        }
        #expect(result == "variants:\n  blue: \"#00f\"\n  red: 1.0\ntags:\n  - checkout\n  - \"a: b\"\nowner: x\n")
    }

    @Test func aBlockCollectionReplacedByAScalarKeepsTheKeyLineComment() throws {
        let text = "tags: # none yet\n  - a\n  - b\nowner: x\n"
        let result = try edit(text) { (e) throws(YAMLEditError) in try e.set(["tags"], to: []) }
        #expect(result == "tags: [] # none yet\nowner: x\n")
    }

    @Test func flowCollectionsAndBlockScalarsAreReplacedInPlace() throws {
        let text = "tags: [a, b] # t\ndescription: |\n  line one\n  line two\n\nowner: x\n"
        let result = try edit(text) { (e) throws(YAMLEditError) in
            try e.set(["tags"], to: ["c"])
            try e.set(["description"], to: "short")
        }
        #expect(result == "tags: [c] # t\ndescription: short\n\nowner: x\n")
    }

    @Test func anEmptyValueGetsOne() throws {
        let text = "owner:   # who?\nname: x\n"
        let result = try edit(text) { (e) throws(YAMLEditError) in try e.set(["owner"], to: "team-web") }
        #expect(result == "owner: team-web   # who?\nname: x\n")
    }

    // MARK: Overlays

    @Test func flowOverlayGetsAnEnvironmentAndAnEditInPlace() throws {
        let text = """
            name: Checkout
            environments: { staging: { enabled: true, default: on } }  # overlays
            tests: []

            """
        let result = try edit(
            text,
            reading: [
                "name": "Checkout", "tests": [],
                "environments": [
                    "staging": ["enabled": false, "default": "on"], "production": ["enabled": false],
                ],
            ]
        ) { (e) throws(YAMLEditError) in
            try e.set(["environments", "production", "enabled"], to: false)
            try e.set(["environments", "staging", "enabled"], to: false)
        }
        #expect(
            result == """
                name: Checkout
                environments: { staging: { enabled: false, default: on }, production: { enabled: false } }  # overlays
                tests: []

                """)
    }

    @Test func blockOverlayGetsANewLineAfterTheLastEnvironment() throws {
        let text = """
            environments:
              staging:
                enabled: true
                default: on   # try it
            # the golden tests
            tests: []

            """
        let result = try edit(text) { (e) throws(YAMLEditError) in
            try e.set(["environments", "production", "enabled"], to: false)
            try e.set(["environments", "staging", "default"], to: "off")
        }
        #expect(
            result == """
                environments:
                  staging:
                    enabled: true
                    default: off   # try it
                  production: { enabled: false }
                # the golden tests
                tests: []

                """)
    }

    @Test func missingMappingsAreCreatedInBlockStyle() throws {
        let text = "name: Checkout\nenabled: true\n"
        let result = try edit(
            text, reading: ["name": "Checkout", "enabled": true, "environments": ["production": ["enabled": false]]]
        ) {
            (e) throws(YAMLEditError) in try e.set(["environments", "production", "enabled"], to: false)
        }
        #expect(result == "name: Checkout\nenabled: true\nenvironments:\n  production: { enabled: false }\n")
    }

    @Test func newMappingsUseTheFilesIndentationStep() throws {
        let text = "projects:\n    storefront:\n        name: Storefront\nversion: 1\n"
        let result = try edit(text) { (e) throws(YAMLEditError) in
            try e.set(["environments", "production", "branch", "name"], to: "main")
        }
        #expect(
            result
                == "projects:\n    storefront:\n        name: Storefront\nversion: 1\n"
                + "environments:\n    production:\n        branch: { name: main }\n")
    }

    @Test func aNullOnThePathBecomesAMapping() throws {
        let text = "environments:  # none yet\nname: x\n"
        let result = try edit(text) { (e) throws(YAMLEditError) in
            try e.set(["environments", "production", "enabled"], to: false)
        }
        #expect(result == "environments:  # none yet\n  production: { enabled: false }\nname: x\n")
    }

    // MARK: Inserting and removing keys

    @Test func topLevelInsertAndRemovalRestoreTheOriginalBytes() throws {
        let text = "---\n# A flag\nname: Checkout\nrules:\n  - name: staff\n    serve: on\n\n# trailing note\n"
        var editor = try YAMLEditor(text)
        try editor.set(["archived"], to: true)
        #expect(
            editor.text
                == "---\n# A flag\nname: Checkout\nrules:\n  - name: staff\n    serve: on\narchived: true\n\n# trailing note\n"
        )
        #expect(try YAMLReader.parse(editor.bytes, file: "f.yaml")?.value["archived"] == true)
        try editor.remove(["archived"])
        #expect(editor.text == text)
    }

    @Test func aFileWithoutAFinalLineBreakKeepsHavingNone() throws {
        var editor = try YAMLEditor("name: x\nenabled: true")
        try editor.set(["archived"], to: true)
        #expect(editor.text == "name: x\nenabled: true\narchived: true")
        try editor.set(["enabled"], to: false)
        #expect(editor.text == "name: x\nenabled: false\narchived: true")
        try editor.remove(["archived"])
        #expect(editor.text == "name: x\nenabled: false")
    }

    @Test func crlfFilesGetCRLFLines() throws {
        let text = "name: x\r\nenabled: true # on\r\n"
        var editor = try YAMLEditor(text)
        try editor.set(["enabled"], to: false)
        try editor.set(["environments", "production", "enabled"], to: false)
        #expect(
            editor.text == "name: x\r\nenabled: false # on\r\nenvironments:\r\n  production: { enabled: false }\r\n")
        try editor.remove(["environments"])
        #expect(editor.text == "name: x\r\nenabled: false # on\r\n")
    }

    @Test func insertingIntoFlowMappings() throws {
        let text = "variants: {}\nenvironments: { staging: { enabled: true } }\n"
        let result = try edit(text) { (e) throws(YAMLEditError) in
            try e.set(["variants", "on"], to: true)
            try e.set(["environments", "staging", "default"], to: "on")
        }
        #expect(result == "variants: { on: true }\nenvironments: { staging: { enabled: true, default: on } }\n")
    }

    @Test func removingFromFlowMappings() throws {
        let text = "a: { x: 1, y: 2, z: 3 }\nb: { only: 1 }\n"
        let result = try edit(text, reading: ["a": ["y": 2], "b": [:]]) { (e) throws(YAMLEditError) in
            try e.remove(["a", "x"])
            try e.remove(["a", "z"])
            try e.remove(["b", "only"])
        }
        #expect(result == "a: { y: 2 }\nb: {}\n")
    }

    @Test func removingABlockEntryTakesItsNestedLines() throws {
        let text =
            "environments:\n  staging:\n    enabled: true\n  # production is locked\n  production:\n    enabled: false\nname: x\n"
        let result = try edit(text) { (e) throws(YAMLEditError) in try e.remove(["environments", "staging"]) }
        #expect(result == "environments:\n  # production is locked\n  production:\n    enabled: false\nname: x\n")
    }

    @Test func removingTheLastKeyOfABlockMappingLeavesBraces() throws {
        let text = "environments:\n  staging:\n    enabled: true   # on\nname: x\n"
        let result = try edit(text) { (e) throws(YAMLEditError) in try e.remove(["environments", "staging", "enabled"])
        }
        #expect(result == "environments:\n  staging: {}\nname: x\n")
    }

    @Test func removingWhatIsNotThereChangesNothing() throws {
        let text = "name: x\nenvironments:\n"
        let result = try edit(text) { (e) throws(YAMLEditError) in
            try e.remove(["archived"])
            try e.remove(["environments", "production", "enabled"])
            try e.remove(["rules", "x"])
        }
        #expect(result == text)
    }

    // MARK: Quoting

    /// `yes`, `on`, `off` stay plain: the YAML 1.2 core schema reads them as strings, as
    /// `YAMLReader` does, and flag files write variants `on` and `off` that way.
    @Test(
        "strings that would read as something else are double-quoted",
        arguments: [
            ("yes", "yes"), ("off", "off"), ("1.0", "\"1.0\""), ("a: b", "\"a: b\""), ("#x", "\"#x\""), ("", "\"\""),
            ("true", "\"true\""), ("null", "\"null\""), ("12", "\"12\""), ("say \"hi\"\n", "\"say \\\"hi\\\"\\n\""),
            ("New checkout flow", "New checkout flow"), ("team-web", "team-web"),
        ])
    func quoting(text: String, written: String) throws {
        let result = try edit(
            "description: old # d\nowner: x\n", reading: ["description": .string(text), "owner": "x"]
        ) {
            (e) throws(YAMLEditError) in try e.set(["description"], to: .string(text))
        }
        #expect(result == "description: \(written) # d\nowner: x\n")
    }

    @Test func flowContextQuotesWhatBlockContextMayLeavePlain() throws {
        let result = try edit("environments: { staging: { name: old } }\n") { (e) throws(YAMLEditError) in
            try e.set(["environments", "staging", "name"], to: "Staging, EU")
        }
        #expect(result == "environments: { staging: { name: \"Staging, EU\" } }\n")
    }

    @Test func numbersKeepIntegerOrFloat() {
        #expect(YAMLRendering.scalar(.int(3)) == "3")
        #expect(YAMLRendering.scalar(.double(3)) == "3.0")
        #expect(YAMLRendering.flow(["b": [1, 2.5], "a": .null]) == "{ a: null, b: [1, 2.5] }")
    }

    @Test func documentsRenderInBlockStyle() throws {
        let text = YAMLRendering.document([
            ("name", "New checkout"), ("enabled", false), ("tags", ["checkout"]),
            ("environments", ["staging": ["enabled": true]]),
        ])
        #expect(
            text
                == "name: New checkout\nenabled: false\ntags: [checkout]\nenvironments: { staging: { enabled: true } }\n"
        )
        #expect(
            try YAMLReader.parse(text, file: "f.yaml")?.value
                == [
                    "name": "New checkout", "enabled": false, "tags": ["checkout"],
                    "environments": ["staging": ["enabled": true]],
                ])
    }

    // MARK: Refusals

    @Test func anchorsAndAliasesOnThePathAreRefused() throws {
        let text = "base: &b { enabled: true }\nenvironments: { staging: *b }\n"
        let throughAlias = try failure(text) { (e) throws(YAMLEditError) in
            try e.set(["environments", "staging", "enabled"], to: false)
        }
        #expect(throughAlias?.code == .anchorOrAlias)
        let intoAnchor = try failure(text) { (e) throws(YAMLEditError) in try e.set(["base", "enabled"], to: false) }
        #expect(intoAnchor?.code == .anchorOrAlias)
        let replacingAnchor = try failure(text) { (e) throws(YAMLEditError) in try e.remove(["base"]) }
        #expect(replacingAnchor?.code == .anchorOrAlias)
    }

    @Test func aPathThroughAListOrScalarIsRefused() throws {
        let text = "environments:\n  production: [a, b]\nname: x\n"
        let list = try failure(text) { (e) throws(YAMLEditError) in
            try e.set(["environments", "production", "enabled"], to: false)
        }
        #expect(list?.code == .notAMapping)
        #expect(list?.description == "environments.production is a list, not a mapping")
        let scalar = try failure(text) { (e) throws(YAMLEditError) in try e.set(["name", "first"], to: "y") }
        #expect(scalar?.description == "name is a string, not a mapping")
        let empty = try failure(text) { (e) throws(YAMLEditError) in try e.set([], to: "y") }
        #expect(empty?.code == .emptyPath)
    }

    @Test func documentsTheEditorCannotEditAreRefused() {
        #expect(openingError("- a\n- b\n")?.description == "the document is a list, not a mapping")
        #expect(openingError("just text\n")?.code == .notAMapping)
        #expect(openingError("# only a comment\n")?.code == .notAMapping)
        let twoDocuments = openingError("a: 1\n---\nb: 2\n")
        #expect(twoDocuments?.code == .unreadable)
        #expect(twoDocuments?.cause?.code == .unsupportedYAML)
        let duplicate = openingError("a: 1\nb: 2\na: 3\n")
        #expect(duplicate?.code == .unreadable)
        #expect(duplicate?.cause?.code == .duplicateKey)
        #expect(openingError("a: [1\n")?.cause?.code == .yamlSyntax)
    }

    @Test func explicitKeysAreRefusedRatherThanGuessed() throws {
        let error = try failure("? enabled\n: true\nname: x\n") { (e) throws(YAMLEditError) in
            try e.set(["enabled"], to: false)
        }
        #expect(error?.code == .unsupportedLayout)
    }
}
