/// Orders strings by their UTF-8 bytes: the order canonical JSON sorts keys in, the same
/// for every platform and locale. Compares contiguous storage with `memcmp`-like speed
/// (the generic `utf8.lexicographicallyPrecedes` walks iterators and dominated sorts of
/// thousands of keys).
public enum UTF8Order {
    @inlinable
    public static func precedes(_ a: String, _ b: String) -> Bool {
        if let r = a.utf8.withContiguousStorageIfAvailable({ x in
            b.utf8.withContiguousStorageIfAvailable { y in compare(x, y) }
        }), let r {
            return r
        }
        return a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    @inlinable
    static func compare(_ x: UnsafeBufferPointer<UInt8>, _ y: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = min(x.count, y.count)
        var i = 0
        while i < n {
            let a = x[i]
            let b = y[i]
            if a != b { return a < b }
            i += 1
        }
        return x.count < y.count
    }
}
