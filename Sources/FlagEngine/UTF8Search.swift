/// Byte-wise substring tests over UTF-8, as Unleash compares strings: no Unicode
/// normalisation, no allocation.
enum UTF8Search {
    static func hasPrefix(_ text: String, _ prefix: String) -> Bool {
        var t = text.utf8.makeIterator()
        for b in prefix.utf8 {
            guard let c = t.next(), c == b else { return false }
        }
        return true
    }

    static func hasSuffix(_ text: String, _ suffix: String) -> Bool {
        let tv = text.utf8
        let sv = suffix.utf8
        guard sv.count <= tv.count else { return false }
        return tv.reversed().starts(with: sv.reversed())
    }

    static func contains(_ text: String, _ needle: String) -> Bool {
        let nv = needle.utf8
        if nv.isEmpty { return true }
        let tv = text.utf8
        guard nv.count <= tv.count else { return false }
        var start = tv.startIndex
        let first = nv.first!
        while let i = tv[start...].firstIndex(of: first) {
            if tv[i...].starts(with: nv) { return true }
            start = tv.index(after: i)
        }
        return false
    }
}
