import FlagModel
import FlagstaffC
import Foundation
import Testing

/// The functions of include/flagstaff.h, called from Swift as C calls them (Tests/clib/ runs
/// them from C, through libflagstaff.so).
struct ExportsTests {
    static let vectors = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Vectors")

    /// An engine for the snapshot with this vector id, freed after `body`.
    static func withEngine<T>(_ id: String, _ body: (OpaquePointer) throws -> T) throws -> T {
        let json = try Data(contentsOf: vectors.appendingPathComponent("snapshots/\(id).json"))
        var error: UnsafeMutablePointer<CChar>?
        let engine = json.withUnsafeBytes { flagstaff_engine_new($0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count, &error) }
        defer { flagstaff_engine_free(engine) }
        #expect(error == nil)
        return try body(try #require(engine))
    }

    static func evaluate(_ engine: OpaquePointer, _ key: String, _ context: String) -> String {
        let pointer = context.utf8CString.withUnsafeBufferPointer { context in
            flagstaff_evaluate_alloc(engine, key, context.baseAddress, context.count - 1)
        }
        defer { flagstaff_string_free(pointer) }
        return pointer.map { String(cString: $0) } ?? "(NULL)"
    }

    @Test func theVersionIsTheRelease() {
        #expect(String(cString: flagstaff_version()) == "0.1.0")
    }

    @Test func everySingleFlagVectorGivesItsBytes() throws {
        let lines = try String(contentsOf: Self.vectors.appendingPathComponent("cases.jsonl"), encoding: .utf8)
            .split(separator: "\n")
        var engines: [String: OpaquePointer] = [:]
        defer { engines.values.forEach(flagstaff_engine_free) }
        for line in lines {
            let vector = try JSONParser.parse(String(line))
            let id = vector["snapshot"]?.stringValue ?? ""
            if engines[id] == nil {
                let json = try Data(contentsOf: Self.vectors.appendingPathComponent("snapshots/\(id).json"))
                engines[id] = json.withUnsafeBytes {
                    flagstaff_engine_new($0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count, nil)
                }
            }
            let engine = try #require(engines[id])
            let got = Self.evaluate(engine, vector["flag"]?.stringValue ?? "", CanonicalJSON.encode(vector["context"] ?? [:]))
            #expect(got == vector["expected"]?.stringValue, "\(line)")
        }
    }

    @Test func aBufferTooSmallIsLeftAloneAndTheSizeNeededReturned() throws {
        try Self.withEngine("flags-storefront-production") { engine in
            let expected = Self.evaluate(engine, "new-checkout", #"{"targetingKey":"u-1"}"#)
            let need = expected.utf8.count + 1
            var buffer = [CChar](repeating: 90, count: need)
            let context = #"{"targetingKey":"u-1"}"#
            #expect(flagstaff_evaluate(engine, "new-checkout", context, context.utf8.count, &buffer, need - 1) == -Int64(need))
            #expect(buffer.allSatisfy { $0 == 90 })
            #expect(flagstaff_evaluate(engine, "new-checkout", context, context.utf8.count, nil, 0) == -Int64(need))
            #expect(flagstaff_evaluate(engine, "new-checkout", context, context.utf8.count, &buffer, need) == Int64(need - 1))
            #expect(String(decoding: buffer.prefix(need - 1).map { UInt8(bitPattern: $0) }, as: UTF8.self) == expected)
        }
    }

    @Test(arguments: [
        ("{\"a\":", "PARSE_ERROR", "the context is not valid JSON"),
        ("[]", "INVALID_CONTEXT", "the context must be a JSON object, found array"),
        ("{\"targetingKey\":{}}", "INVALID_CONTEXT", "'targetingKey' must be a string"),
        (String(repeating: "[", count: 40) + String(repeating: "]", count: 40), "PARSE_ERROR", "nesting deeper than 32 levels"),
    ])
    func aMalformedContextIsAnErrorResult(context: String, code: String, words: String) throws {
        try Self.withEngine("flags-storefront-production") { engine in
            let result = try JSONParser.parse(Self.evaluate(engine, "new-checkout", context))
            #expect(result["errorCode"] == .string(code))
            #expect(result["errorDetails"]?.stringValue?.contains(words) == true, "\(result)")
            #expect(result["key"] == "new-checkout")
            #expect(result["reason"] == "ERROR")
        }
    }

    @Test func aBadSnapshotSaysWhatIsWrong() {
        var error: UnsafeMutablePointer<CChar>?
        #expect(flagstaff_engine_new("{\"format\":1,\"flags\":{}}", 23, &error) == nil)
        let message = error.map { String(cString: $0) } ?? ""
        flagstaff_string_free(error)
        #expect(message.hasPrefix("not a Flagstaff snapshot: snapshot JSON at"), "\(message)")
    }

    /// A snapshot whose flags record events, with an analytics policy and a key no version
    /// knows yet, loads and answers exactly as the same snapshot without them.
    @Test func eventsThePolicyAndUnknownKeysChangeNoAnswer() throws {
        let url = Self.vectors.appendingPathComponent("snapshots/flags-storefront-production.json")
        let original = try JSONParser.parse(String(decoding: try Data(contentsOf: url), as: UTF8.self))
        guard case .object(var top) = original, case .object(var flags) = top["flags"] else {
            Issue.record("not a snapshot")
            return
        }
        for (key, flag) in flags {
            guard case .object(var f) = flag else { continue }
            f["events"] = .double(0.25)
            f["aFutureField"] = true
            flags[key] = .object(f)
        }
        top["flags"] = .object(flags)
        top["analytics"] = ["keep": ["plan"], "targetingKey": "plain"]
        top["aFutureSection"] = [:]
        let extended = CanonicalJSON.encode(.object(top))
        var error: UnsafeMutablePointer<CChar>?
        let engine = extended.utf8CString.withUnsafeBufferPointer {
            flagstaff_engine_new($0.baseAddress, $0.count - 1, &error)
        }
        defer { flagstaff_engine_free(engine) }
        #expect(error == nil, "\(error.map { String(cString: $0) } ?? "")")
        let loaded = try #require(engine)
        try Self.withEngine("flags-storefront-production") { plain in
            for key in flags.keys {
                for context in [#"{"targetingKey":"u-1"}"#, #"{"targetingKey":"u-2","plan":"pro"}"#] {
                    #expect(Self.evaluate(loaded, key, context) == Self.evaluate(plain, key, context))
                }
            }
        }
    }
}
