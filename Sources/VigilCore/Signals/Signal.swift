/// The named risk signals. Declaration order is the order reasons appear in a decision, so the
/// output is stable and the weightiest evidence comes first.
public enum SignalName: String, Sendable, CaseIterable, Comparable {
    case compromisedCredential = "compromised_credential"
    case impossibleTravel = "impossible_travel"
    case anonymousIP = "anonymous_ip"
    case ipReputation = "ip_reputation"
    case asnReputation = "asn_reputation"
    case newDevice = "new_device"
    case newCountry = "new_country"
    case newASN = "new_asn"
    case firstLogin = "first_login"
    case failedAttempts = "failed_attempts"
    case sourceIPSpraying = "source_ip_spraying"
    case pushBurst = "push_burst"
    case recentPasswordReset = "recent_password_reset"
    case unknownSensitiveAction = "unknown_sensitive_action"

    private var order: Int { Self.allCases.firstIndex(of: self)! }

    public static func < (lhs: SignalName, rhs: SignalName) -> Bool { lhs.order < rhs.order }
}

/// One fired signal with the points it added and a human explanation.
public struct Reason: Sendable, Equatable {
    public var signal: SignalName
    public var points: Int
    public var detail: String

    public init(signal: SignalName, points: Int, detail: String) {
        self.signal = signal
        self.points = points
        self.detail = detail
    }
}
