/// Byte-wise substring tests over UTF-8, as Unleash compares strings: no Unicode
/// normalisation, no allocation for native strings.
enum UTF8Search {
    @inline(__always)
    static func withBytes<R>(_ s: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let r = s.utf8.withContiguousStorageIfAvailable(body) { return r }
        return Array(s.utf8).withUnsafeBufferPointer(body)
    }

    static func hasPrefix(_ text: String, _ prefix: String) -> Bool {
        withBytes(text) { t in
            withBytes(prefix) { p in
                p.count <= t.count && (p.isEmpty || memcmpEqual(t.baseAddress!, p.baseAddress!, p.count))
            }
        }
    }

    static func hasSuffix(_ text: String, _ suffix: String) -> Bool {
        withBytes(text) { t in
            withBytes(suffix) { s in
                s.count <= t.count
                    && (s.isEmpty || memcmpEqual(t.baseAddress! + (t.count - s.count), s.baseAddress!, s.count))
            }
        }
    }

    static func contains(_ text: String, _ needle: String) -> Bool {
        withBytes(text) { t in
            withBytes(needle) { n in
                if n.isEmpty { return true }
                guard n.count <= t.count else { return false }
                let first = n[0]
                var i = 0
                while i <= t.count - n.count {
                    if t[i] == first, memcmpEqual(t.baseAddress! + i, n.baseAddress!, n.count) { return true }
                    i += 1
                }
                return false
            }
        }
    }

    @inline(__always)
    private static func memcmpEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ count: Int) -> Bool {
        for i in 0..<count where a[i] != b[i] { return false }
        return true
    }
}
