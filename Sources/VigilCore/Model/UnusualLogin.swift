/// Why the login model (`unusual_login`) found a login unlike the user's: its log-likelihood ratio in
/// bits, the logins its profile holds, and the features that weighed most, as values.
public struct UnusualLogin: Sendable, Equatable {
    /// log2 of how much likelier the login is under an attacker than under the user's own history.
    public var bits: Double
    /// Logins behind the user's profile (its hour counts, which halve as they fill).
    public var observations: Int
    /// At most three features, the weightiest first.
    public var findings: [UnusualFeature]

    /// What the model found, as the signal reports it.
    public init(bits: Double, observations: Int, findings: [UnusualFeature]) {
        (self.bits, self.observations, self.findings) = (bits, observations, findings)
    }
}

/// One feature that made a login unusual, with what the explanation names.
public enum UnusualFeature: Sendable, Equatable {
    case device
    case country(String)
    case asn(UInt32)
    /// The /24 (IPv6 /64) the login came from.
    case network
    case city(String)
    /// `known`: the user has used the family, but seldom for how many they use.
    case browser(BrowserFamily, known: Bool, share: Double)
    case system(OSFamily, known: Bool, share: Double)
    /// Hour 0 (Monday 00h UTC) to 167; `near` of the user's `of` logins fell at that hour or next to it
    /// (counts that halve as they fill: weighted towards the recent).
    case hour(hourOfWeek: Int, near: Int, of: Int)

    func write<Output: DetailTextOutput & ~Copyable>(to out: inout Output) {
        switch self {
        case .device: out.put("device never seen for this user")
        case .country(let code):
            out.put("country ")
            out.put(code)
            out.put(" never seen for this user")
        case .asn(let number):
            out.put("network AS")
            out.put(Int(number))
            out.put(" never seen for this user")
        case .network: out.put("address block never seen for this user")
        case .city(let name):
            out.put("city ")
            out.put(name)
            out.put(" never seen for this user")
        case let .browser(family, known, share):
            Self.writeFamily("browser ", family.displayName, known: known, share: share, to: &out)
        case let .system(family, known, share):
            Self.writeFamily("system ", family.displayName, known: known, share: share, to: &out)
        case let .hour(hourOfWeek, near, of):
            let hourOfWeek = (hourOfWeek % 168 + 168) % 168
            out.put(Self.dayNames[hourOfWeek / 24])
            out.put(" ")
            let hour = hourOfWeek % 24
            if hour < 10 { out.put("0") }
            out.put(hour)
            out.put("h UTC: ")
            out.put(near)
            out.put(" of ")
            out.put(of)
            out.put(" weighted logins at or next to that hour")
        }
    }

    private static let dayNames: [StaticString] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]

    private static func writeFamily<Output: DetailTextOutput & ~Copyable>(
        _ kind: StaticString, _ name: String, known: Bool, share: Double, to out: inout Output
    ) {
        out.put(kind)
        out.put(name)
        out.put(known ? " seldom used by this user (" : " never seen for this user (")
        writeShare(share, to: &out)
        out.put(" of logins worldwide)")
    }

    /// A share as a percentage: one decimal below 10%, whole above.
    private static func writeShare<Output: DetailTextOutput & ~Copyable>(_ share: Double, to out: inout Output) {
        let tenths = Int((share * 1000).rounded())
        if tenths < 100 {
            out.put(tenths / 10)
            out.put(".")
            out.put(tenths % 10)
        } else {
            out.put(Int((share * 100).rounded()))
        }
        out.put("%")
    }
}
