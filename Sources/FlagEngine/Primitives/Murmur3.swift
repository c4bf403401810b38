// MurmurHash3_x86_32 and Unleash-compatible bucketing (SPEC §5).
//
// Pure standard library: the bucketing helpers hash `group + ":" + value` by streaming both strings' UTF-8
// through the hasher, so a rollout decision never builds a string.

/// MurmurHash3, x86 32-bit variant, as used by Unleash to place a context in a bucket.
public enum Murmur3 {
    /// The seed Unleash uses for rollout percentages.
    public static let rolloutSeed: UInt32 = 0
    /// The seed Unleash uses to choose a variant in a weighted split.
    public static let variantSeed: UInt32 = 86_028_157

    /// MurmurHash3_x86_32 of `bytes` with `seed`.
    @inlinable
    public static func hash32<S: Sequence>(_ bytes: S, seed: UInt32) -> UInt32 where S.Element == UInt8 {
        var hasher = Hasher(seed: seed)
        let handled: Void? = bytes.withContiguousStorageIfAvailable { hasher.combine($0) }
        if handled == nil {
            for byte in bytes { hasher.combine(byte) }
        }
        return hasher.finalize()
    }

    /// MurmurHash3_x86_32 of the UTF-8 encoding of `string`.
    @inlinable
    public static func hash32(_ string: String, seed: UInt32) -> UInt32 {
        var hasher = Hasher(seed: seed)
        hasher.combine(string)
        return hasher.finalize()
    }

    /// MurmurHash3_x86_32 of the UTF-8 bytes of `group + ":" + value`, without building that string.
    @inlinable
    public static func hashBucket(group: String, value: String, seed: UInt32) -> UInt32 {
        var hasher = Hasher(seed: seed)
        hasher.combine(group)
        hasher.combine(UInt8(ascii: ":"))
        hasher.combine(value)
        return hasher.finalize()
    }

    /// Unleash's rollout bucket, `hash(group:value, seed 0) % 100 + 1`, in `1...100`.
    ///
    /// A rollout of `p` percent admits the context when `rolloutBucket(...) <= p`.
    @inlinable
    public static func rolloutBucket(group: String, value: String) -> Int {
        Int(hashBucket(group: group, value: value, seed: rolloutSeed) % 100) + 1
    }

    /// Unleash's variant target, `hash(group:value, seed 86028157) % total + 1`, in `1...total`.
    ///
    /// The first variant whose running weight total is `>=` the target is chosen. `total` must be positive.
    @inlinable
    public static func splitTarget(group: String, value: String, total: Int) -> Int {
        precondition(total > 0, "a split needs a positive total weight")
        let hash = hashBucket(group: group, value: value, seed: variantSeed)
        return Int(UInt64(hash) % UInt64(total)) + 1
    }

    // MARK: - Streaming hasher

    /// An incremental MurmurHash3_x86_32: feed bytes in any number of pieces, then `finalize()`.
    ///
    /// Bytes that do not yet fill a 4-byte block wait in a carry word, so the pieces need not be aligned.
    public struct Hasher: Sendable {
        @usableFromInline var h: UInt32
        @usableFromInline var carry: UInt32 = 0
        @usableFromInline var carryCount: Int = 0
        @usableFromInline var length: Int = 0

        @usableFromInline static let c1: UInt32 = 0xcc9e_2d51
        @usableFromInline static let c2: UInt32 = 0x1b87_3593

        /// A hasher starting from `seed`.
        @inlinable
        public init(seed: UInt32) { h = seed }

        @inlinable
        static func rotl(_ x: UInt32, _ r: UInt32) -> UInt32 { (x << r) | (x >> (32 - r)) }

        @inlinable
        static func scramble(_ k: UInt32) -> UInt32 {
            var k = k &* c1
            k = rotl(k, 15)
            return k &* c2
        }

        @inlinable
        mutating func mixBlock(_ k: UInt32) {
            h ^= Self.scramble(k)
            h = Self.rotl(h, 13)
            h = h &* 5 &+ 0xe654_6b64
        }

        /// Feeds one byte.
        @inlinable
        public mutating func combine(_ byte: UInt8) {
            carry |= UInt32(byte) << UInt32(carryCount * 8)
            carryCount += 1
            length += 1
            if carryCount == 4 {
                mixBlock(carry)
                carry = 0
                carryCount = 0
            }
        }

        /// Feeds a buffer of bytes, taking whole little-endian blocks directly when the carry is empty.
        @inlinable
        public mutating func combine(_ bytes: UnsafeBufferPointer<UInt8>) {
            var i = 0
            let n = bytes.count
            while carryCount != 0 && i < n {
                combine(bytes[i])
                i += 1
            }
            while n - i >= 4 {
                let k = UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16
                    | UInt32(bytes[i + 3]) << 24
                mixBlock(k)
                length += 4
                i += 4
            }
            while i < n {
                combine(bytes[i])
                i += 1
            }
        }

        /// Feeds the UTF-8 encoding of `string`.
        @inlinable
        public mutating func combine(_ string: String) {
            let handled: Void? = string.utf8.withContiguousStorageIfAvailable { combine($0) }
            if handled == nil {
                for byte in string.utf8 { combine(byte) }
            }
        }

        /// The hash of everything fed so far.
        @inlinable
        public func finalize() -> UInt32 {
            var h = self.h
            if carryCount > 0 {
                h ^= Self.scramble(carry)
            }
            h ^= UInt32(truncatingIfNeeded: length)
            h ^= h >> 16
            h = h &* 0x85eb_ca6b
            h ^= h >> 13
            h = h &* 0xc2b2_ae35
            h ^= h >> 16
            return h
        }
    }
}
