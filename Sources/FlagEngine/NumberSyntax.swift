/// Numbers as Unleash reads them from context text: an optional sign, digits, an optional
/// fraction and exponent; no whitespace, no `inf`, no `nan`, no hexadecimal.
public enum NumberSyntax {
    public static func parse(_ text: String) -> Double? {
        var sawDigit = false
        for c in text.utf8 {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): sawDigit = true
            case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"): break
            default: return nil
            }
        }
        guard sawDigit, let d = Double(text), d.isFinite else { return nil }
        return d
    }
}
