/// MurmurHash2 (32-bit) as Kafka's Java client computes it for its default partitioner: seed
/// `0x9747b28c`, the tail read little endian, the result taken as a signed 32-bit integer. Vigil routes
/// repartition records with it so that a producer using any Kafka client's default (murmur2)
/// partitioner lands a key on the same partition Vigil would.
public enum Murmur2 {
    /// The hash of `bytes` as Kafka's `Utils.murmur2` returns it (a signed 32-bit value).
    @inlinable
    public static func hash<Bytes: Collection>(_ bytes: Bytes) -> Int32 where Bytes.Element == UInt8 {
        let multiplier: UInt32 = 0x5bd1_e995
        let shift: UInt32 = 24
        let length = bytes.count
        var hash: UInt32 = 0x9747_b28c ^ UInt32(truncatingIfNeeded: length)
        var index = bytes.startIndex
        var remaining = length
        while remaining >= 4 {
            var block = UInt32(bytes[index])
            block |= UInt32(bytes[bytes.index(index, offsetBy: 1)]) << 8
            block |= UInt32(bytes[bytes.index(index, offsetBy: 2)]) << 16
            block |= UInt32(bytes[bytes.index(index, offsetBy: 3)]) << 24
            block &*= multiplier
            block ^= block >> shift
            block &*= multiplier
            hash &*= multiplier
            hash ^= block
            index = bytes.index(index, offsetBy: 4)
            remaining -= 4
        }
        if remaining >= 3 { hash ^= UInt32(bytes[bytes.index(index, offsetBy: 2)]) << 16 }
        if remaining >= 2 { hash ^= UInt32(bytes[bytes.index(index, offsetBy: 1)]) << 8 }
        if remaining >= 1 {
            hash ^= UInt32(bytes[index])
            hash &*= multiplier
        }
        hash ^= hash >> 13
        hash &*= multiplier
        hash ^= hash >> 15
        return Int32(bitPattern: hash)
    }

    /// The partition Kafka's default partitioner picks for a record with key `bytes` among
    /// `partitionCount` partitions: `toPositive(murmur2(key)) % partitionCount`, where `toPositive`
    /// clears the sign bit (it is not the absolute value). `partitionCount` must be positive.
    @inlinable
    public static func partition<Bytes: Collection>(forKey bytes: Bytes, partitionCount: Int) -> Int
    where Bytes.Element == UInt8 {
        precondition(partitionCount > 0, "a topic has at least one partition")
        return Int(hash(bytes) & 0x7fff_ffff) % partitionCount
    }
}
