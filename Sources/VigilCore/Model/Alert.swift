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

/// What an alert is about: one account, one source address, one email domain, one autonomous system
/// (a campaign spread over its addresses) or one tenant (a campaign over the whole tenant).
public enum AlertScope: String, Sendable {
    case account
    case sourceIP = "source_ip"
    case emailDomain = "email_domain"
    case asn
    case tenant
}

/// OCSF severity ids used by Vigil.
public enum AlertSeverity: Int, Sendable, Comparable {
    case low = 2, medium = 3, high = 4, critical = 5

    /// The OCSF `severity` caption.
    public var name: String {
        switch self {
        case .low: "Low"
        case .medium: "Medium"
        case .high: "High"
        case .critical: "Critical"
        }
    }

    /// Orders by OCSF severity id: `critical` is the greatest.
    public static func < (lhs: AlertSeverity, rhs: AlertSeverity) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// An event that contributed to an alert.
public struct EvidenceEvent: Sendable, Equatable {
    /// The IdP's `event_id`.
    public var eventID: String
    /// Event time, not the time the alert was raised.
    public var time: Timestamp

    /// Evidence pointing at event `eventID` seen at `time`.
    public init(eventID: String, time: Timestamp) {
        self.eventID = eventID
        self.time = time
    }
}

/// A source endpoint as seen in an event, for alert evidence.
public struct ObservedSource: Sendable, Equatable {
    /// The address the event came from.
    public var ip: IPAddress
    /// What enrichment knew about it when the event was scored.
    public var intel: IPIntelligence

    /// A source as enrichment saw it when the event was scored.
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

/// One detection, before encoding. `windowStart` with kind, scope and subject makes the uid (plus
/// `triggerEventID` when set), so retries and replays of the same events give the same finding.
public struct Alert: Sendable, Equatable {
    /// Which detector raised it.
    public var kind: AlertKind
    /// Whether `subject` is an account, a source or an email domain.
    public var scope: AlertScope
    /// The user id, source key (IP or /64) or email domain.
    public var subject: String
    /// The IdP tenant of the triggering event, when it had one.
    public var tenant: String?
    var severity: AlertSeverity
    /// One line for the SIEM's list view.
    public var title: String
    /// What happened and why it matters, with the figures that triggered it.
    public var message: String
    /// Time of the event that triggered it.
    public var time: Timestamp
    var windowStart: Timestamp
    /// Set for kinds where each triggering event is a finding of its own although it shares the window
    /// start with others: impossible travel, where one anchor login can be followed by several
    /// impossible ones. It enters the uid, so a SIEM deduplicating on uid keeps each of them.
    var triggerEventID: String?
    /// Set for a kind looked for at several horizons when this one is not the shortest: push bombing over
    /// an hour may share its window start with one over ten minutes raised before. It enters the uid.
    var horizon: EventDuration?
    var evidence: [EvidenceEvent]
    /// The account concerned; nil for source- and domain-scoped alerts spanning many users.
    public var userID: String?
    /// Where the triggering event came from (and, for travel, where the previous one did).
    public var sources: [ObservedSource]
    /// Detector-specific facts for `evidences[].data`, in the order they are written.
    public var details: [(String, DetailValue)]

    /// An alert with every field explicit; detectors build them, tests compare them.
    public init(
        kind: AlertKind, scope: AlertScope, subject: String, tenant: String?, severity: AlertSeverity,
        title: String, message: String, time: Timestamp, windowStart: Timestamp, evidence: [EvidenceEvent],
        userID: String?, sources: [ObservedSource], details: [(String, DetailValue)], triggerEventID: String? = nil
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
        self.triggerEventID = triggerEventID
        self.evidence = evidence
        self.userID = userID
        self.sources = sources
        self.details = details
    }

    /// Identity of the finding (what its uid is made of, plus time and evidence), ignoring the presentation
    /// text, sources and details derived from it.
    public static func == (lhs: Alert, rhs: Alert) -> Bool {
        lhs.kind == rhs.kind && lhs.scope == rhs.scope && lhs.subject == rhs.subject && lhs.tenant == rhs.tenant
            && lhs.windowStart == rhs.windowStart && lhs.triggerEventID == rhs.triggerEventID
            && lhs.horizon == rhs.horizon && lhs.time == rhs.time
            && lhs.evidence == rhs.evidence
    }

    var firstSeen: Timestamp { evidence.map(\.time).min() ?? time }
    var lastSeen: Timestamp { evidence.map(\.time).max() ?? time }
}
