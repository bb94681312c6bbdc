/// What on / off pairs of `vigil run` runs, run alternately, can say against a ratio target. On a shared
/// machine the same run's rate moves by 10-25% from one run to the next (measured: 45-59 k events/s for
/// the changelog-off run of four consecutive pairs), more than the differences worth measuring, so one
/// pair supports no verdict. The verdict:
/// - a pair whose "on" run was clearly the faster (above 102%) only shows the noise, and counts for
///   nothing;
/// - *met* needs at least `minimumPairs` pairs that count, all at or above the target;
/// - *missed* is a median below the target;
/// - anything else (too few pairs, or pairs on both sides of the target) is *unreliable*.
struct PairVerdict {
    /// Each pair's "on" rate over its "off" rate, in percent.
    let ratios: [Double]
    let target: Double
    var minimumPairs = 3

    /// The median of every pair's ratio (nil without pairs).
    var median: Double? {
        guard !ratios.isEmpty else { return nil }
        let sorted = ratios.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// The pairs that count: those whose "on" run was not clearly the faster.
    var counted: [Double] { ratios.filter { $0 <= 102 } }

    /// Nil when the pairs support a verdict (then `met` holds it).
    var unreliable: String? {
        let counted = counted
        if counted.count < minimumPairs {
            return "\(counted.count) of \(ratios.count) pairs count (at least \(minimumPairs) needed): "
                + "this machine's speed moves between runs by more than the difference"
        }
        if counted.allSatisfy({ $0 >= target }) { return nil }
        if let median, median < target { return nil }
        let below = counted.filter { $0 < target }.count
        return "\(below) of \(counted.count) pairs below \(format(target))%: the noise between runs exceeds the margin"
    }

    /// Met or missed, when `unreliable` is nil.
    var met: Bool? {
        guard unreliable == nil else { return nil }
        return counted.allSatisfy { $0 >= target }
    }

    /// The ratios, for a note: "92.3, 94.9, 96.2%".
    var listed: String { ratios.map(format).joined(separator: ", ") + "%" }

    private func format(_ value: Double) -> String { String(format: "%.1f", value) }
}
