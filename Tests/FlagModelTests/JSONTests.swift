import FlagModel
import Testing

@Suite("Canonical JSON and the JSON parser")
struct JSONTests {
    @Test func canonicalFormSortsKeysAndKeepsNumberKinds() {
        let value: Value = ["b": 1, "a": [3.0, 0.5, "x"], "é": .null, "Z": true]
        #expect(CanonicalJSON.encode(value) == #"{"Z":true,"a":[3.0,0.5,"x"],"b":1,"é":null}"#)
    }

    @Test func stringsAreEscapedMinimally() {
        #expect(CanonicalJSON.encode("a\"b\\c\nd\u{01}é/") == #""a\"b\\c\nd\u0001é/""#)
    }

    @Test func everyByteThatNeedsItIsEscapedAndRunsBetweenAreKept() throws {
        var text = ""
        var expected = "\""
        for scalar in (0..<0x80).map({ Unicode.Scalar(UInt8($0)) }) + ["é", "→", "😀"] {
            text.unicodeScalars.append(scalar)
            text += "ab"
            switch scalar {
            case "\"": expected += "\\\""
            case "\\": expected += "\\\\"
            case "\n": expected += "\\n"
            case "\r": expected += "\\r"
            case "\t": expected += "\\t"
            case "\u{08}": expected += "\\b"
            case "\u{0C}": expected += "\\f"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16)
                expected += "\\u00" + (hex.count == 1 ? "0" + hex : hex)
            default: expected.unicodeScalars.append(scalar)
            }
            expected += "ab"
        }
        expected += "\""
        #expect(CanonicalJSON.encode(.string(text)) == expected)
        #expect(try JSONParser.parse(CanonicalJSON.encode(.string(text))) == .string(text))
    }

    @Test func parserKeepsIntegersAndFloatsApart() throws {
        #expect(try JSONParser.parse("3") == .int(3))
        #expect(try JSONParser.parse("3.0") == .double(3))
        #expect(try JSONParser.parse("1e2") == .double(100))
        #expect(try JSONParser.parse("-0") == .int(0))
        #expect(try JSONParser.parse("9223372036854775808") == .double(9_223_372_036_854_775_808))
        #expect(try JSONParser.parse(#""\u00e9\ud83d\ude00""#) == .string("é😀"))
    }

    @Test func parserRejectsBadInput() {
        for bad in ["", "{", "[1,]", "{\"a\":1,\"a\":2}", "01", "1.", "\"\u{01}\"", "tru", "[1] x", "\"\\ud800\""] {
            #expect(throws: JSONParser.Error.self, "\(bad)") { try JSONParser.parse(bad) }
        }
    }

    @Test func parserBoundsNestingAndSize() {
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse(deep) }
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(throws: Never.self) { try JSONParser.parse(ok) }
        let many = "[" + Array(repeating: "1", count: 20).joined(separator: ",") + "]"
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse(many, limits: .init(maxDepth: 64, maxMembers: 10)) }
    }

    @Test func roundTripThroughCanonicalForm() throws {
        let text = #"{"flags":[{"k":"a","v":1.5,"n":null,"t":[true,false]}],"z":-12}"#
        let value = try JSONParser.parse(text)
        #expect(try JSONParser.parse(CanonicalJSON.encode(value)) == value)
        #expect(CanonicalJSON.encode(value) == #"{"flags":[{"k":"a","n":null,"t":[true,false],"v":1.5}],"z":-12}"#)
    }
}
