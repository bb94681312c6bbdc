import Testing

@testable import _VigilMachinery

@Suite struct PositionIndexTests {
    /// Keys spread like keyed hashes, plus a run of small sequential ones.
    static let keys: [UInt64] =
        (0..<3000).map { UInt64($0) &* 0xD6E8_FEB8_6659_FD93 ^ 0x5555 } + (1...200).map { UInt64($0) }

    static func filled() -> PositionIndex {
        var index = PositionIndex()
        for position in keys.indices { index.insert(keys[position], at: position, keys: keys) }
        return index
    }

    @Test func findsEveryInsertedKey() {
        let index = Self.filled()
        #expect(index.count == Self.keys.count)
        for position in Self.keys.indices {
            #expect(index.position(of: Self.keys[position], keys: Self.keys) == position)
        }
        #expect(index.position(of: 0xFFFF_FFFF_FFFF_FFFF, keys: Self.keys) == nil)
        #expect(index.slotCount * 3 >= Self.keys.count * 4)
    }

    @Test func removalKeepsTheOthersReachable() {
        var index = Self.filled()
        for position in Self.keys.indices where position % 3 == 0 {
            #expect(index.remove(Self.keys[position], keys: Self.keys) == position)
        }
        for position in Self.keys.indices {
            #expect(index.position(of: Self.keys[position], keys: Self.keys) == (position % 3 == 0 ? nil : position))
        }
        #expect(index.remove(Self.keys[0], keys: Self.keys) == nil)
    }

    @Test func moveRepointsAKey() {
        var index = PositionIndex()
        var keys: [UInt64] = [11, 22, 33]
        for position in keys.indices { index.insert(keys[position], at: position, keys: keys) }
        _ = index.remove(11, keys: keys)
        index.move(33, to: 0, keys: keys)
        keys.swapAt(0, 2)
        keys.removeLast()
        #expect(index.position(of: 33, keys: keys) == 0)
        #expect(index.position(of: 22, keys: keys) == 1)
        #expect(index.position(of: 11, keys: keys) == nil)
    }

    @Test func shrinksWhenMostlyEmpty() {
        var index = Self.filled()
        let before = index.slotCount
        var keys = Self.keys
        // Keep the first 100; the rest are gone from the index and the key array.
        for key in keys[100...] { _ = index.remove(key, keys: keys) }
        keys.removeLast(keys.count - 100)
        index.shrinkIfSparse(keys: keys)
        #expect(index.slotCount < before)
        for position in keys.indices { #expect(index.position(of: keys[position], keys: keys) == position) }
    }
}
