import Testing

@testable import _VigilMachinery

@Suite struct DistinctSketchTests {
    /// SipHash outputs stand in for user keys, as in the engine.
    private func keys(_ range: Range<Int>) -> [UInt64] {
        range.map { SipHashKey.publicDefault.hash(UInt64($0), tweak: 7) }
    }

    @Test func emptyIsZeroAndRepeatsCountOnce() {
        var sketch = DistinctSketch()
        #expect(sketch.isEmpty)
        #expect(sketch.estimate == 0)
        for key in keys(0..<5) + keys(0..<5) { sketch.insert(key) }
        #expect(sketch.estimate == 5)
    }

    @Test(arguments: [10, 100, 1_000, 20_000])
    func estimateIsWithinTenPercent(_ count: Int) {
        var sketch = DistinctSketch()
        for key in keys(0..<count) { sketch.insert(key) }
        let error = abs(Double(sketch.estimate - count)) / Double(count)
        #expect(error < 0.10, "estimate \(sketch.estimate) for \(count)")
    }

    @Test func unionCountsTheOverlapOnce() {
        var a = DistinctSketch()
        var b = DistinctSketch()
        for key in keys(0..<300) { a.insert(key) }
        for key in keys(200..<500) { b.insert(key) }
        a.formUnion(b)
        #expect(abs(a.estimate - 500) < 50)
        var empty = DistinctSketch()
        empty.formUnion(b)
        #expect(empty == b)
    }
}
