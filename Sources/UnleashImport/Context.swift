import FlagModel

extension UnleashImport {
    /// The fields of Unleash's context that are not `properties`.
    public static let standardContextFields: Set<String> = [
        "userId", "sessionId", "remoteAddress", "environment", "appName", "currentTime",
    ]

    /// An Unleash context as the context of an imported flag repository.
    ///
    /// Unleash reads its context this way, and imported flags expect the result:
    /// - the standard fields (`userId`, `sessionId`, `remoteAddress`, `environment`, `appName`,
    ///   `currentTime`) keep their names;
    /// - each entry of `properties` becomes a top-level attribute; a standard name found in
    ///   `properties` moves up unless the top level already has that field;
    /// - other top-level keys stay top-level attributes (Unleash moves them into `properties`);
    /// - numbers and booleans become strings as Unleash writes them (`123`, `12.5`, `true`);
    ///   `null`, objects and lists are dropped, which means "missing";
    /// - `targetingKey` is set to `userId` when the context does not name one.
    public static func nativeContext(_ unleash: [String: Value]) -> [String: Value] {
        var out: [String: Value] = [:]
        for (key, value) in unleash where key != "properties" {
            if let text = contextText(value) { out[key] = .string(text) }
        }
        if case .object(let properties)? = unleash["properties"] {
            for (key, value) in properties {
                guard let text = contextText(value) else { continue }
                if standardContextFields.contains(key) {
                    if out[key] == nil { out[key] = .string(text) }
                } else {
                    // An explicit property wins over a stray top-level key of the same name.
                    out[key] = .string(text)
                }
            }
        }
        if out["targetingKey"] == nil, let userId = out["userId"] { out["targetingKey"] = userId }
        return out
    }

    /// A context value as the text Unleash compares: strings as they are, integers in
    /// decimal, floats as Rust's `serde_json` writes them, booleans as `true`/`false`.
    static func contextText(_ value: Value) -> String? {
        switch value {
        case .string(let s): s
        case .int(let i): String(i)
        case .double(let d): rustFloatText(d)
        case .bool(let b): b ? "true" : "false"
        case .null, .array, .object: nil
        }
    }

    /// `d` as Rust's `ryu` prints an `f64` (what `serde_json` uses): the shortest digits that
    /// read back as `d`, in decimal notation from 1e-5 up to 1e16 (`1.0`, `0.0001`,
    /// `1234.5`), in scientific notation outside it (`1e16`, `1.5e-7`).
    static func rustFloatText(_ d: Double) -> String {
        guard d.isFinite else { return d.isNaN ? "NaN" : (d < 0 ? "-inf" : "inf") }
        if d == 0 { return d.sign == .minus ? "-0.0" : "0.0" }
        // Swift's description also prints the shortest round-trip digits; take them apart.
        var text = abs(d).description
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...]) ?? 0
            text = String(text[..<e])
        }
        var digits = ""
        var pointOffset = 0  // digits before the decimal point
        var seenPoint = false
        for c in text {
            if c == "." {
                seenPoint = true
                continue
            }
            digits.append(c)
            if !seenPoint { pointOffset += 1 }
        }
        // Strip leading zeros (moving the point) and trailing zeros.
        while digits.count > 1, digits.first == "0" {
            digits.removeFirst()
            pointOffset -= 1
        }
        while digits.count > 1, digits.last == "0" { digits.removeLast() }
        // value = 0.digits × 10^kk
        let kk = pointOffset + exponent
        let length = digits.count
        let sign = d < 0 ? "-" : ""
        if kk >= length && kk <= 16 {
            return sign + digits + String(repeating: "0", count: kk - length) + ".0"
        }
        if kk > 0 && kk <= 16 {
            let i = digits.index(digits.startIndex, offsetBy: kk)
            return sign + digits[..<i] + "." + digits[i...]
        }
        if kk > -5 && kk <= 0 {
            return sign + "0." + String(repeating: "0", count: -kk) + digits
        }
        let e = kk - 1
        if length == 1 { return sign + digits + "e" + String(e) }
        return sign + String(digits.first!) + "." + digits.dropFirst() + "e" + String(e)
    }
}
