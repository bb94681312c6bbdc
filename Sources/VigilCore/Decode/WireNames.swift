import _VigilMachinery

/// An enum's wire names laid out once as bytes, so matching a decoded value is a byte comparison:
/// no String is built and no `allCases` array is made per message. A class, so using a table costs
/// one reference, not a copy of its arrays.
final class WireNames<Value: CaseIterable & RawRepresentable & Sendable>: Sendable where Value.RawValue == String {
    private let names: [UInt8]
    private let entries: [(start: Int, count: Int, value: Value)]
    /// The accepted names, for failure details.
    let list: String

    init() {
        var names: [UInt8] = []
        var entries: [(start: Int, count: Int, value: Value)] = []
        for value in Value.allCases {
            entries.append((names.count, value.rawValue.utf8.count, value))
            names.append(contentsOf: value.rawValue.utf8)
        }
        self.names = names
        self.entries = entries
        list = Value.allCases.map(\.rawValue).joined(separator: ", ")
    }

    func match(_ text: UnsafeRawBufferPointer) -> Value? {
        names.withUnsafeBytes { names in
            for entry in entries
            where entry.count == text.count
                && text.equals(UnsafeRawBufferPointer(rebasing: names[entry.start..<entry.start + entry.count]))
            {
                return entry.value
            }
            return nil
        }
    }
}

/// One table per enum in the contract, built on first use.
enum WireTables {
    static let eventType = WireNames<EventType>()
    static let userRole = WireNames<UserRole>()
    static let outcome = WireNames<Outcome>()
    static let mfaFactor = WireNames<MFAFactor>()
    static let mfaResult = WireNames<MFAResult>()
    static let idpRisk = WireNames<IdPRiskLevel>()
    static let failureKind = WireNames<FailureKind>()
}
