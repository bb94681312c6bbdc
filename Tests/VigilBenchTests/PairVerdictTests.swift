import Testing

@testable import vigil_bench

/// The changelog pairs' verdict at and around its rules: at least three pairs that count, all at or
/// above the target for met, a median below it for missed, unreliable otherwise.
@Suite struct PairVerdictTests {
    @Test func threePairsAllAtOrAboveTheTargetAreMet() {
        let verdict = PairVerdict(ratios: [92.3, 90, 96.2], target: 90)
        #expect(verdict.unreliable == nil)
        #expect(verdict.met == true)
        #expect(verdict.median == 92.3)
        #expect(verdict.listed == "92.3, 90.0, 96.2%")
    }

    @Test func aMedianBelowTheTargetIsMissedEvenWithOnePairAbove() {
        let verdict = PairVerdict(ratios: [84.3, 95.9, 74.9], target: 90)
        #expect(verdict.unreliable == nil)
        #expect(verdict.met == false)
        #expect(verdict.median == 84.3)
    }

    @Test func pairsOnBothSidesOfTheTargetWithAMedianAboveItAreUnreliable() {
        let verdict = PairVerdict(ratios: [89.9, 92, 95], target: 90)
        #expect(verdict.unreliable == "1 of 3 pairs below 90.0%: the noise between runs exceeds the margin")
        #expect(verdict.met == nil)
    }

    @Test func aPairWhoseOnRunWasClearlyTheFasterDoesNotCount() {
        let counting = PairVerdict(ratios: [92.3, 94.9, 96.2, 102], target: 90)
        #expect(counting.met == true)
        let notCounting = PairVerdict(ratios: [92.3, 94.9, 102.1], target: 90)
        #expect(notCounting.counted == [92.3, 94.9])
        #expect(notCounting.met == nil)
        #expect(notCounting.unreliable?.hasPrefix("2 of 3 pairs count (at least 3 needed)") == true)
        #expect(notCounting.median == 94.9)
    }

    @Test func onePairSupportsNoVerdict() {
        #expect(PairVerdict(ratios: [99], target: 90).met == nil)
        #expect(PairVerdict(ratios: [], target: 90).median == nil)
        #expect(PairVerdict(ratios: [80, 82], target: 90).unreliable != nil)
    }
}
