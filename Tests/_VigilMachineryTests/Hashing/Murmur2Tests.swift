import Testing

@testable import _VigilMachinery

/// Kafka's Java client is the reference: these are the values its own unit tests expect of
/// `Utils.murmur2`, so a producer on any client with the default partitioner agrees with Vigil.
@Suite struct Murmur2Tests {
    @Test(arguments: [
        ("21", -973_932_308), ("foobar", -790_332_482), ("a-little-bit-long-string", -985_981_536),
        ("a-little-bit-longer-string", -1_486_304_829),
        ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971), ("abc", 479_470_107),
        ("1", -1_993_445_489), ("12", 126_087_238), ("123", -267_702_483), ("1234", -1_614_185_708),
        ("12345", -1_188_365_604),
    ])
    func matchesKafkasReferenceValues(key: String, expected: Int32) {
        #expect(Murmur2.hash(Array(key.utf8)) == expected)
    }

    @Test func hashOfNoBytesIsTheSeedMixed() {
        // Zero length: only the final mix of `seed ^ 0` runs; computed by hand from the definition.
        var hash: UInt32 = 0x9747_b28c
        hash ^= hash >> 13
        hash &*= 0x5bd1_e995
        hash ^= hash >> 15
        #expect(Murmur2.hash([UInt8]()) == Int32(bitPattern: hash))
    }

    @Test func partitionClearsTheSignBitInsteadOfTakingTheAbsoluteValue() {
        // murmur2("21") = -973932308: toPositive gives 1173551340, abs would give 973932308.
        let key = Array("21".utf8)
        #expect(Murmur2.partition(forKey: key, partitionCount: 16) == 1_173_551_340 % 16)
        #expect(Murmur2.partition(forKey: key, partitionCount: 7) == 1_173_551_340 % 7)
        #expect(Murmur2.partition(forKey: key, partitionCount: 1) == 0)
    }

    @Test func aSliceHashesLikeItsBytes() {
        let bytes = Array("xxfoobar".utf8)
        #expect(Murmur2.hash(bytes[2...]) == -790_332_482)
    }
}
