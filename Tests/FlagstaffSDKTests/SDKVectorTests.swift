import FlagModel
import Foundation
import Testing

@testable import FlagstaffSDK

/// The shared vectors (`Tests/Vectors/`, see its README) through the SDK's public API: the
/// typed getters for every case, and evaluate-all byte for byte.
@Suite("The Swift SDK passes the shared vectors (SPEC §16)")
struct SDKVectorTests {
    static let folder = packageRoot.appendingPathComponent("Tests/Vectors")

    static func lines(_ name: String) throws -> [[String: Value]] {
        let text = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            guard case .object(let object) = try JSONParser.parse(String(line)) else { throw FlagstaffSDKError("not an object") }
            return object
        }
    }

    final class Clients {
        var byID: [String: FlagstaffClient] = [:]
        func client(_ id: String) throws -> FlagstaffClient {
            if let client = byID[id] { return client }
            let client = try FlagstaffClient(
                offlineSnapshot: SDKVectorTests.folder.appendingPathComponent("snapshots/\(id).json").path)
            byID[id] = client
            return client
        }
    }

    /// The answer of the typed getter that fits the flag's type, as the vector's fields.
    static func answer(_ client: FlagstaffClient, _ flag: String, _ context: FlagContext)
        -> (value: Value?, variant: String?, reason: String, errorCode: String?)
    {
        let type = client.loaded?.evaluator.flagType(flag) ?? .boolean
        func fields<T>(_ d: FlagDetails<T>, _ value: (T) -> Value) -> (Value?, String?, String, String?) {
            (d.errorCode == nil ? value(d.value) : nil, d.variant, d.reason.openFeatureReason, d.errorCode?.rawValue)
        }
        switch type {
        case .boolean: return fields(client.bool(flag, default: false, context: context)) { .bool($0) }
        case .string: return fields(client.string(flag, default: "", context: context)) { .string($0) }
        case .number: return fields(client.number(flag, default: 0, context: context)) { .double($0) }
        case .json: return fields(client.json(flag, default: .null, context: context)) { $0 }
        }
    }

    /// Numbers compare by value (the getter gives a Double); everything else exactly.
    static func same(_ a: Value?, _ b: Value?) -> Bool {
        switch (a, b) {
        case (.int(let x)?, .double(let y)?), (.double(let y)?, .int(let x)?): return Double(x) == y
        default: return a == b
        }
    }

    @Test(arguments: ["cases.jsonl", "unleash.jsonl"])
    func everyCaseThroughTheTypedGetters(file: String) throws {
        let clients = Clients()
        var checked = 0
        for case_ in try Self.lines(file) {
            guard case .string(let id)? = case_["snapshot"], case .string(let flag)? = case_["flag"],
                case .object(let attributes)? = case_["context"], case .string(let reason)? = case_["reason"]
            else { throw FlagstaffSDKError("a malformed case in \(file)") }
            let client = try clients.client(id)
            let got = Self.answer(client, flag, client.context(attributes))
            let where_ = "\(file): \(id) \(flag) \(attributes)"
            #expect(got.reason == reason, "\(where_)")
            #expect(got.errorCode == case_["errorCode"]?.stringValue, "\(where_)")
            #expect(got.variant == case_["variant"]?.stringValue, "\(where_)")
            #expect(Self.same(got.value, case_["value"]), "\(where_): \(String(describing: got.value))")
            checked += 1
        }
        #expect(checked > 200, "\(file) holds \(checked) cases")
    }

    @Test func evaluateAllMatchesByteForByte() throws {
        let clients = Clients()
        var checked = 0
        for case_ in try Self.lines("all.jsonl") {
            guard case .string(let id)? = case_["snapshot"], case .object(let attributes)? = case_["context"],
                case .string(let expected)? = case_["expected"]
            else { throw FlagstaffSDKError("a malformed line in all.jsonl") }
            let client = try clients.client(id)
            let results = client.evaluateAll(context: client.context(attributes))
            #expect(CanonicalJSON.encode(.object(["flags": .array(results.map(\.ofrepJSON))])) == expected, "\(id) \(attributes)")
            checked += 1
        }
        #expect(checked > 10)
    }
}
