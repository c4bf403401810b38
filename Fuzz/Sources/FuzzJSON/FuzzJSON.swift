// JSONParser on arbitrary bytes, with the limits the server puts on a request body.
// Whatever parses must encode canonically, and the encoding must parse back to the same encoding.
import FlagModel

let limits = JSONParser.Limits(maxDepth: 32, maxMembers: 10_000)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let value = try? JSONParser.parse(bytes: UnsafeBufferPointer(start: data, count: size), limits: limits) else {
        return 0
    }
    let encoded = CanonicalJSON.encodeBytes(value)
    guard let again = try? JSONParser.parse(bytes: encoded, limits: JSONParser.Limits(maxDepth: 33, maxMembers: 10_000))
    else {
        fatalError("the canonical encoding does not parse: \(String(decoding: encoded, as: UTF8.self))")
    }
    let reencoded = CanonicalJSON.encodeBytes(again)
    if reencoded != encoded {
        fatalError(
            "the canonical encoding is not stable: \(String(decoding: encoded, as: UTF8.self)) "
                + "became \(String(decoding: reencoded, as: UTF8.self))")
    }
    return 0
}
