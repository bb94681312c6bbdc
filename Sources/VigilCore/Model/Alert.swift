/// The detections Vigil reports to a SIEM. Wire names are the first entry of OCSF `finding_info.types`.
public enum AlertKind: String, Sendable, CaseIterable {
    case pushBombing = "push_bombing"
    case mfaFatigueAccepted = "mfa_fatigue_accepted"
    case impossibleTravel = "impossible_travel"
    case resetAbuse = "reset_abuse"
    case takeoverAfterReset = "takeover_after_reset"
    case credentialStuffing = "credential_stuffing"
    /// A service account (which cannot answer MFA) logged in at high risk and was denied.
    case serviceAccountHighRisk = "service_account_high_risk"
}

/// What an alert is about: one account, one source address, or one email domain.
public enum AlertScope: String, Sendable {
    case account
    case sourceIP = "source_ip"
    case emailDomain = "email_domain"
}

/// OCSF severity ids used by Vigil.
public enum AlertSeverity: Int, Sendable, Comparable {
    case low = 2, medium = 3, high = 4, critical = 5

    public var name: String {
        switch self {
        case .low: "Low"
        case .medium: "Medium"
        case .high: "High"
        case .critical: "Critical"
        }
    }

    public static func < (lhs: AlertSeverity, rhs: AlertSeverity) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// An event that contributed to an alert.
public struct EvidenceEvent: Sendable, Equatable {
    public var eventID: String
    public var time: Timestamp

    public init(eventID: String, time: Timestamp) {
        self.eventID = eventID
        self.time = time
    }
}

/// A source endpoint as seen in an event, for alert evidence.
public struct ObservedSource: Sendable, Equatable {
    public var ip: IPAddress
    public var intel: IPIntelligence

    public init(ip: IPAddress, intel: IPIntelligence) {
        self.ip = ip
        self.intel = intel
    }
}

/// A typed detail value for alert evidence (`evidences[].data`).
public enum DetailValue: Sendable, Equatable {
    case int(Int64)
    case double(Double)
    case string(String)
    case bool(Bool)
}

/// One detection, before encoding. `windowStart` with kind, scope and subject makes the uid, so
/// retries and replays of the same events give the same finding.
public struct Alert: Sendable, Equatable {
    public var kind: AlertKind
    public var scope: AlertScope
    /// The user id, source key (IP or /64) or email domain.
    public var subject: String
    public var tenant: String?
    public var severity: AlertSeverity
    public var title: String
    public var message: String
    /// Time of the event that triggered it.
    public var time: Timestamp
    public var windowStart: Timestamp
    public var evidence: [EvidenceEvent]
    public var userID: String?
    /// Where the triggering event came from (and, for travel, where the previous one did).
    public var sources: [ObservedSource]
    public var details: [(String, DetailValue)]

    public init(
        kind: AlertKind, scope: AlertScope, subject: String, tenant: String?, severity: AlertSeverity,
        title: String, message: String, time: Timestamp, windowStart: Timestamp, evidence: [EvidenceEvent],
        userID: String?, sources: [ObservedSource], details: [(String, DetailValue)]
    ) {
        self.kind = kind
        self.scope = scope
        self.subject = subject
        self.tenant = tenant
        self.severity = severity
        self.title = title
        self.message = message
        self.time = time
        self.windowStart = windowStart
        self.evidence = evidence
        self.userID = userID
        self.sources = sources
        self.details = details
    }

    public static func == (lhs: Alert, rhs: Alert) -> Bool {
        lhs.kind == rhs.kind && lhs.scope == rhs.scope && lhs.subject == rhs.subject && lhs.tenant == rhs.tenant
            && lhs.windowStart == rhs.windowStart && lhs.time == rhs.time && lhs.evidence == rhs.evidence
    }

    public var firstSeen: Timestamp { evidence.map(\.time).min() ?? time }
    public var lastSeen: Timestamp { evidence.map(\.time).max() ?? time }
}
