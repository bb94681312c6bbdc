/// A case's position in `allCases`: the slot of per-case counters and lookup tables.
extension CaseIterable where Self: Equatable, AllCases.Index == Int {
    var index: Int { Self.allCases.firstIndex(of: self)! }
}
