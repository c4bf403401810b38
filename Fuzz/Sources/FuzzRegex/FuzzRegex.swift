// The `matches` operator's regular expressions: compiling a pattern and matching it against a text.
// Input: one byte of options (bit 0: case-insensitive), the pattern, a NUL byte, the text.
import FlagEngine

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let bytes = UnsafeBufferPointer(start: data + 1, count: size - 1)
    let split = bytes.firstIndex(of: 0) ?? bytes.count
    let pattern = String(decoding: UnsafeBufferPointer(rebasing: bytes[..<split]), as: UTF8.self)
    let text = split < bytes.count ? String(decoding: UnsafeBufferPointer(rebasing: bytes[(split + 1)...]), as: UTF8.self) : ""
    guard let matcher = try? RegexMatcher(pattern: pattern, caseInsensitive: data[0] & 1 == 1) else { return 0 }
    _ = matcher.matches(text)
    _ = matcher.matches("")
    return 0
}
