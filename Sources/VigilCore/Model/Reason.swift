import _VigilMachinery

/// The named risk signals. Declaration order is the order reasons appear in a decision, so the
/// output is stable and the weightiest evidence comes first.
public enum SignalName: String, Sendable, CaseIterable, Comparable {
    case compromisedCredential = "compromised_credential"
    case idpRisk = "idp_risk"
    case impossibleTravel = "impossible_travel"
    case anonymousIP = "anonymous_ip"
    case ipReputation = "ip_reputation"
    case asnReputation = "asn_reputation"
    case trustedNetwork = "trusted_network"
    case newDevice = "new_device"
    case deviceBrowserChanged = "device_browser_changed"
    case newCountry = "new_country"
    case newASN = "new_asn"
    case unusualLogin = "unusual_login"
    case firstLogin = "first_login"
    case failedAttempts = "failed_attempts"
    case sourceIPSpraying = "source_ip_spraying"
    case campaignActive = "campaign_active"
    case pushBurst = "push_burst"
    case recentPasswordReset = "recent_password_reset"
    case unknownSensitiveAction = "unknown_sensitive_action"
    /// Last: its points raise the score to the unverified login's, so they depend on the others'.
    case unverifiedSession = "unverified_session"

    private var order: Int { Self.allCases.firstIndex(of: self)! }

    /// Declaration order, the order reasons appear in a decision.
    public static func < (lhs: SignalName, rhs: SignalName) -> Bool { lhs.order < rhs.order }
}

/// One fired signal with the points it added and a human explanation.
public struct Reason: Sendable, Equatable {
    /// The signal that fired.
    public var signal: SignalName
    /// What it added to the score (its configured weight).
    public var points: Int
    /// The numbers and names behind the explanation. They are formatted only where the text leaves the
    /// process (the decision encoder writes them straight into the message), so a signal that fires
    /// builds no String.
    public var details: ReasonDetail

    /// A reason whose explanation is built from `details` when it is encoded.
    public init(signal: SignalName, points: Int, details: ReasonDetail) {
        self.signal = signal
        self.points = points
        self.details = details
    }

    /// A reason with a fixed explanation (tests, rare signals).
    public init(signal: SignalName, points: Int, detail: String) {
        self.init(signal: signal, points: points, details: .text(detail))
    }

    /// The human explanation, exactly as decisions carry it in `risk.reasons[].detail`.
    public var detail: String {
        var text = ""
        details.write(to: &text)
        return text
    }
}

/// What a reason says, as values. `write(to:)` is the only place the text is made, for both
/// `Reason.detail` and the encoder, so the two can never differ.
public enum ReasonDetail: Sendable, Equatable {
    /// Ready-made text (reasons not built by the engine's signals).
    case text(String)
    case compromisedCredential
    /// The identity provider's own rating of the sign-in.
    case idpRisk(IdPRiskLevel)
    /// `from → to: N km after accuracy radii in T, S km/h`. Indirect: rare and the largest payload.
    indirect case impossibleTravel(
        from: GeoLocation?, to: GeoLocation?, adjustedDistanceKm: Int, elapsedSeconds: Double, speedKmh: Int)
    /// Travel not assessed because the previous login came through an anonymising service.
    indirect case travelNotAssessed(from: GeoLocation?, previousAnonymity: AnonymityFlags)
    case anonymousSource(AnonymityFlags)
    case addressListed(categories: [String])
    case networkListed(number: UInt32, categories: [String])
    /// The source is listed as a trusted network, by address (`asn` nil) or by its network.
    case trustedNetwork(asn: UInt32?)
    case firstLogin(seen: UInt32, required: Int)
    case noDeviceID
    case deviceNotSeen(within: EventDuration)
    /// The device id is known from another browser family: a copied cookie or device token.
    case deviceBrowserChanged(known: BrowserFamily, now: BrowserFamily)
    case newCountry(String)
    case newNetwork(number: UInt32, organization: String?)
    /// The login model found the login unlike the user's. Indirect: rare, and its findings are a list.
    indirect case unusualLogin(UnusualLogin)
    case failedAttempts(count: Int, windowSeconds: Double)
    case sourceSpraying(users: Int, windowSeconds: Double)
    /// A campaign of `kind` (credential stuffing or reset abuse) detected on the event's autonomous system
    /// or tenant is under way: `subject` is `AS<number>` or the tenant's name.
    case campaignActive(kind: AlertKind, scope: AlertScope, subject: String, secondsAgo: Double)
    case pushBurst(pushes: Int, failures: Int, windowSeconds: Double)
    case recentPasswordReset(secondsAgo: Double)
    /// The action's wire name; at most 64 characters of it are shown.
    case unknownSensitiveAction(String)
    /// The session's login scored `loginScore`, asked for a step-up, and no MFA success verified it yet.
    case unverifiedSession(loginScore: Int, secondsAgo: Double)

    func write<Output: DetailTextOutput & ~Copyable>(to out: inout Output) {
        switch self {
        case .text(let text):
            out.put(text)
        case .compromisedCredential:
            out.put("credential flagged as compromised by the breach feed")
        case .idpRisk(let level):
            out.put("the identity provider rated this sign-in ")
            out.put(level.rawValue)
            out.put(" risk")
        case let .impossibleTravel(from, to, distance, elapsed, speed):
            writePlace(from, to: &out)
            out.put(" → ")
            writePlace(to, to: &out)
            out.put(": ")
            out.put(distance)
            out.put(" km after accuracy radii in ")
            writeDuration(elapsed, to: &out)
            out.put(", ")
            out.put(speed)
            out.put(" km/h")
        case let .travelNotAssessed(from, anonymity):
            out.put("travel from ")
            writePlace(from, to: &out)
            out.put(" not assessed: previous login via anonymous IP (")
            writeNames(anonymity, to: &out)
            out.put(")")
        case .anonymousSource(let anonymity):
            out.put("source is ")
            writeNames(anonymity, to: &out)
        case .addressListed(let categories):
            out.put("address listed as ")
            writeList(categories, to: &out)
        case let .networkListed(number, categories):
            out.put("AS")
            out.put(Int(number))
            out.put(" listed as ")
            writeList(categories, to: &out)
        case .trustedNetwork(let asn):
            if let asn {
                out.put("source network AS")
                out.put(Int(asn))
                out.put(" is listed as trusted")
            } else {
                out.put("source address is listed as trusted")
            }
        case let .firstLogin(seen, required):
            out.put("no baseline yet: ")
            out.put(Int(seen))
            out.put(" of ")
            out.put(required)
            out.put(" successful logins seen")
        case .noDeviceID:
            out.put("no device id supplied")
        case let .deviceBrowserChanged(known, now):
            out.put("device id known from ")
            out.put(known.displayName)
            out.put(", now presented by ")
            out.put(now.displayName)
        case .deviceNotSeen(let span):
            out.put("device not seen for this user in ")
            writeDays(span, to: &out)
        case .newCountry(let code):
            out.put("first login from ")
            out.put(code)
        case let .newNetwork(number, organization):
            out.put("first login from AS")
            out.put(Int(number))
            if let organization {
                out.put(" (")
                out.put(organization)
                out.put(")")
            }
        case .unusualLogin(let model):
            out.put("unlike this user's logins by ")
            let tenths = Int((model.bits * 10).rounded())
            out.put(tenths / 10)
            out.put(".")
            out.put(tenths % 10)
            out.put(" bits")
            for (index, finding) in model.findings.enumerated() {
                out.put(index == 0 ? ": " : "; ")
                finding.write(to: &out)
            }
        case let .failedAttempts(count, window):
            out.put(count)
            out.put(" failed attempts in ")
            writeDuration(window, to: &out)
        case let .sourceSpraying(users, window):
            out.put("source failed for ")
            out.put(users)
            out.put(" users in ")
            writeDuration(window, to: &out)
        case let .campaignActive(kind, scope, subject, secondsAgo):
            out.put(kind == .resetAbuse ? "password reset wave" : "credential stuffing campaign")
            out.put(" on ")
            out.put(scope == .tenant ? "tenant " : "")
            out.put(subject)
            out.put(", detected ")
            writeDuration(secondsAgo, to: &out)
            out.put(" ago")
        case let .pushBurst(pushes, failures, window):
            out.put(pushes)
            out.put(" pushes sent, ")
            out.put(failures)
            out.put(" denied or unanswered in ")
            writeDuration(window, to: &out)
        case .recentPasswordReset(let secondsAgo):
            out.put("password reset ")
            writeDuration(secondsAgo, to: &out)
            out.put(" ago")
        case .unknownSensitiveAction(let name):
            out.put("unrecognised sensitive action \"")
            out.put(String(name.prefix(64)))
            out.put("\"")
        case let .unverifiedSession(loginScore, secondsAgo):
            out.put("the session's login ")
            writeDuration(secondsAgo, to: &out)
            out.put(" ago scored ")
            out.put(loginScore)
            out.put(" and is not verified by MFA yet")
        }
    }

    private func writeNames<Output: DetailTextOutput & ~Copyable>(_ anonymity: AnonymityFlags, to out: inout Output) {
        writeList(anonymity.names, to: &out)
    }

    private func writeList<Output: DetailTextOutput & ~Copyable>(_ items: [String], to out: inout Output) {
        for (index, item) in items.enumerated() {
            if index > 0 { out.put(",") }
            out.put(item)
        }
    }
}

/// Where detail text goes: a String (`Reason.detail`, alert messages) or the inside of a JSON string
/// value being written (`JSONWriter`, which escapes each piece).
protocol DetailTextOutput: ~Copyable {
    mutating func put(_ text: StaticString)
    mutating func put(_ text: String)
    mutating func put(_ value: Int)
}

extension String: DetailTextOutput {
    mutating func put(_ text: StaticString) { self += text.description }
    mutating func put(_ text: String) { self += text }
    mutating func put(_ value: Int) { self += String(value) }
}

extension JSONWriter: DetailTextOutput {
    mutating func put(_ text: StaticString) { stringPart(text) }
    mutating func put(_ text: String) { stringPart(text) }
    mutating func put(_ value: Int) { stringPart(value) }
}

/// `City, CC`, whichever of the two is known, or `unknown location`.
func writePlace<Output: DetailTextOutput & ~Copyable>(_ location: GeoLocation?, to out: inout Output) {
    switch (location?.city, location?.countryCode) {
    case let (city?, country?):
        out.put(city)
        out.put(", ")
        out.put(country)
    case let (nil, country?): out.put(country)
    case let (city?, nil): out.put(city)
    default: out.put("unknown location")
    }
}

/// Compact human durations for details: `45s`, `30m`, `5h`, `2d`.
func writeDuration<Output: DetailTextOutput & ~Copyable>(_ seconds: Double, to out: inout Output) {
    let s = Int(seconds.rounded())
    if s < 120 {
        out.put(s)
        out.put("s")
    } else if s < 7200 {
        out.put(s / 60)
        out.put("m")
    } else if s < 172_800 {
        out.put(s / 3600)
        out.put("h")
    } else {
        out.put(s / 86_400)
        out.put("d")
    }
}

/// Whole days: `30 days`.
func writeDays<Output: DetailTextOutput & ~Copyable>(_ span: EventDuration, to out: inout Output) {
    out.put(Int(span.microseconds / 86_400_000_000))
    out.put(" days")
}

func place(_ location: GeoLocation?) -> String {
    var text = ""
    writePlace(location, to: &text)
    return text
}

func duration(_ seconds: Double) -> String {
    var text = ""
    writeDuration(seconds, to: &text)
    return text
}
