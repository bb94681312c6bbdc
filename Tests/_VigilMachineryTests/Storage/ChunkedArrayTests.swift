import Testing

@testable import _VigilMachinery

@Suite struct ChunkedArrayTests {
    @Test func chunkedArrayGrowsTheFirstChunkThenAddsFullChunks() {
        var array = ChunkedArray<Int>(chunkShift: 6)
        for value in 0..<64 { array.append(value) }
        #expect(array.chunkCount == 1)
        #expect(array.capacity >= 64 && array.capacity < 128)
        for value in 64..<200 { array.append(value) }
        #expect(array.chunkCount == 4)
        #expect(array.elements == Array(0..<200))
        array[130] = -1
        #expect(array[130] == -1)
        let removed = array.swapRemove(at: 130)
        #expect(removed == -1)
        #expect(array[130] == 199)
        let last = array.swapRemove(at: array.count - 1)
        #expect(last == 198)
        #expect(array.count == 198)
    }
}
