import FlagModel

/// Writes exactly `CanonicalJSON.encodeBytes(result.ofrepJSON)` without building the JSON
/// value first: the members in their canonical (sorted) order, known in advance. For the
/// answers `EncodedAnswers` has no fragments for (errors); the shared vectors hold it to the
/// same bytes.
enum ResultJSON {
    static func encode(_ result: EvaluationResult) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(result, to: &out)
        return out
    }

    static func write(_ result: EvaluationResult, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        if let code = result.errorCode {
            raw("\"errorCode\":", &out)
            CanonicalJSON.writeString(code.rawValue, to: &out)
            if let details = result.errorMessage {
                raw(",\"errorDetails\":", &out)
                CanonicalJSON.writeString(details, to: &out)
            }
            out.append(UInt8(ascii: ","))
        }
        raw("\"key\":", &out)
        CanonicalJSON.writeString(result.key, to: &out)
        raw(",\"metadata\":{\"reason\":", &out)
        CanonicalJSON.writeString(result.reason.rawValue, to: &out)
        if let index = result.ruleIndex {
            raw(",\"ruleIndex\":", &out)
            writeInteger(index, to: &out)
        }
        if let name = result.ruleName {
            raw(",\"ruleName\":", &out)
            CanonicalJSON.writeString(name, to: &out)
        }
        raw(",\"version\":", &out)
        CanonicalJSON.writeString(result.version, to: &out)
        raw("},\"reason\":", &out)
        CanonicalJSON.writeString(result.reason.openFeatureReason, to: &out)
        if result.errorCode == nil {
            raw(",\"value\":", &out)
            CanonicalJSON.write(result.value ?? .null, to: &out)
            raw(",\"variant\":", &out)
            CanonicalJSON.writeString(result.variant ?? "", to: &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    @inline(__always)
    private static func raw(_ text: StaticString, _ out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    private static func writeInteger(_ value: Int, to out: inout [UInt8]) {
        if value < 0 {
            out.append(UInt8(ascii: "-"))
            writeInteger(-value, to: &out)
            return
        }
        if value >= 10 { writeInteger(value / 10, to: &out) }
        out.append(UInt8(ascii: "0") + UInt8(value % 10))
    }
}
