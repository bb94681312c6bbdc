import _VigilMachinery

/// Keys derived from the operator's secret, one per purpose.
struct EngineKeys: Sendable {
    let user: SipHashKey
    let device: SipHashKey
    let domain: SipHashKey
    /// Keys the per-source state (the address or /64), so addresses never key state or enter a snapshot.
    let source: SipHashKey
    /// Enciphers the address a user's last login came from in snapshots and changelog records (see
    /// `AddressCipher`).
    let stateAddress: SipHashKey
    let identifier: SipHashKey
    /// Keys the address blocks and cities of the login model's profile (`LoginProfile`).
    let profile: SipHashKey
    /// Keys the session, correlation and challenge ids that link a login to the MFA result verifying it.
    let link: SipHashKey
    /// Keys the campaign state of autonomous systems and tenants, and their facts.
    let campaign: CampaignKeys
    /// Identifies the operator's secret in snapshots without revealing it: state written under another
    /// secret holds hashes that would never match, so it is refused.
    let fingerprint: UInt64

    init(secret: SipHashKey) {
        user = secret.derived(1)
        device = secret.derived(2)
        domain = secret.derived(3)
        source = secret.derived(5)
        stateAddress = secret.derived(6)
        link = secret.derived(8)
        profile = secret.derived(9)
        campaign = CampaignKeys(key: secret.derived(10))
        fingerprint = secret.derived(7).hash("vigil state key fingerprint")
        // Public ids (decision ids, finding uids) must not depend on the secret: the same input
        // gives the same ids on every deployment, so downstream deduplication works across replays.
        identifier = SipHashKey.publicDefault.derived(4)
    }

    /// The key of the per-source state of an address already aggregated (`IPAddress.sourceKey`).
    func sourceStateKey(_ address: IPAddress) -> UInt64 { source.hash(address.high, tweak: address.low) }

    /// The key of a user's state: the user id (as `UserIdentity` compares ids) within its tenant.
    func userKey(tenant: String?, userID: String) -> UInt64 {
        var hasher = SipHashState(key: user)
        hasher.append(tenant ?? "")
        UserIdentity.appendKey(of: userID, to: &hasher)
        return hasher.finalize()
    }

    /// The key of an event id within its tenant, for the duplicate tables (`RecentEventIDs`): ids are the
    /// input's to choose, so they are kept only as keyed hashes.
    func eventKey(tenant: String?, eventID: String) -> UInt64 {
        var hasher = SipHashState(key: device)
        hasher.append("event")
        hasher.append(tenant ?? "")
        hasher.append(eventID)
        return hasher.finalize()
    }

    /// The key of an email domain's state within its tenant.
    func domainStateKey(tenant: String?, domain emailDomain: String) -> UInt64 {
        var hasher = SipHashState(key: domain)
        hasher.append(tenant ?? "")
        hasher.append(emailDomain)
        return hasher.finalize()
    }
}

/// Keys the campaign state of autonomous systems and tenants: a value of its own, so the login signals
/// reading the campaigns table can key it from the event context.
struct CampaignKeys: Sendable {
    let key: SipHashKey

    /// An autonomous system's key (across tenants: a hosting network attacks them all).
    func key(asn: UInt32) -> UInt64 { key.hash(UInt64(asn), tweak: 1) }

    /// A tenant's key; events without a tenant share one (a single-tenant feed).
    func key(tenant: String?) -> UInt64 {
        var hasher = SipHashState(key: key)
        hasher.append("tenant")
        hasher.append(tenant ?? "")
        return hasher.finalize()
    }
}

/// Per-event values computed once and shared by the signals, detectors and policy.
struct EventContext {
    let event: AuthEvent
    let intel: IPIntelligence
    let userKey: UInt64
    /// The address aggregated for per-source state (IPv6 to /64).
    let sourceKey: IPAddress?
    /// Keyed hash of `sourceKey`: the key of the per-source state.
    let sourceStateKey: UInt64?
    /// Keyed hash of `device.id` bound to `browser`; the raw id never enters state.
    let deviceKey: UInt64?
    /// Keyed hash of `device.id` alone: the device whatever the browser (MFA results and other steps
    /// of a sign-in are matched by it, `StepOrigin`).
    let deviceIDKey: UInt64?
    /// The browser family of a device id that is a browser's own (a cookie or fingerprint), read from its
    /// user agent for successful logins and sensitive actions; `unknown` otherwise: without a user agent,
    /// for a managed device, and for ids that name something every browser shares (an identity provider's
    /// `client:` ids; Entra's registered device ids reach here without a user agent).
    let browser: BrowserFamily
    /// Keys the device id (`deviceKey(as:)`).
    private let deviceHashKey: SipHashKey
    /// Keys the campaign entities the event counts in or reads.
    let campaignKeys: CampaignKeys
    /// Keyed hashes of the ids that link a login, its MFA result and its session's actions; empty for
    /// the other event types.
    let links: LinkKeys
    /// What the login model compares with the user's profile; nil for events it does not score (all but
    /// successful logins and sensitive actions).
    let features: LoginFeatures?
    /// The autonomous system whose campaign windows the event counts in (or whose campaigns a login
    /// reads): the enrichment's, unless a campaign stage record names it (the decode stage looked it up,
    /// and a database reloaded since must not move the event to another key).
    var campaignASN: UInt32?
    /// False for a campaign stage record of the autonomous system: the event counts in its tenant's
    /// windows through a record of its own.
    var countsForTenant = true

    /// The keys of the campaign entities a failed login or reset request counts in: its autonomous
    /// system's when known, and its tenant's unless the record counts it for the system only.
    var countedCampaigns: (asn: UInt64?, tenant: UInt64?) {
        (
            campaignASN.map { campaignKeys.key(asn: $0) },
            countsForTenant ? campaignKeys.key(tenant: event.tenant) : nil
        )
    }

    /// `message` holds the bytes `event` was decoded from, when its texts are spans of them.
    init(event: AuthEvent, intel: IPIntelligence, keys: EngineKeys, message: UnsafeRawBufferPointer? = nil) {
        self.init(
            event: event, intel: intel, userKey: keys.userKey(tenant: event.tenant, userID: event.user.id), keys: keys,
            message: message)
    }

    /// The context of an event whose user is known by its keyed hash only (a source or domain stage
    /// record, which carries no user id). `scored` is false where no login is scored (the source and
    /// domain stages): the user agent, link ids and model features are then not read.
    init(
        event: AuthEvent, intel: IPIntelligence, userKey: UInt64, keys: EngineKeys,
        message: UnsafeRawBufferPointer? = nil, scored: Bool = true
    ) {
        self.userKey = userKey
        var browser = BrowserFamily.unknown
        switch event.type {
        case .login where scored && event.outcome == .success, .sensitiveAction where scored:
            self.links = LinkKeys(event, key: keys.link, message: message)
            var (agentBrowser, system) = (BrowserFamily.unknown, OSFamily.unknown)
            if let device = event.device, device.managed != true, let agent = device.userAgent {
                (agentBrowser, system) = Self.families(of: agent, message: message)
                // The device key is bound to the browser only for an id of the browser's own: a client id
                // is every browser's. The model reads the browser whatever the id.
                if device.id?.hasPrefix("client:") == false { browser = agentBrowser }
            }
            self.features = LoginFeatures(
                event, intel: intel, key: keys.profile, browser: agentBrowser, system: system)
        case .mfaResult:
            self.links = LinkKeys(event, key: keys.link, message: message)
            self.features = nil
        default:
            self.links = LinkKeys()
            self.features = nil
        }
        self.browser = browser
        self.deviceHashKey = keys.device
        self.campaignKeys = keys.campaign
        let sourceKey = event.ip?.sourceKey
        self.sourceKey = sourceKey
        self.sourceStateKey = sourceKey.map(keys.sourceStateKey)
        if let id = event.device?.id, !id.isEmpty {
            let idKey = keys.device.hash(id)
            self.deviceIDKey = idKey
            self.deviceKey = browser == .unknown ? idKey : keys.device.hash(id, tweak: UInt64(browser.rawValue))
        } else {
            self.deviceIDKey = nil
            self.deviceKey = nil
        }
        self.campaignASN = intel.network?.number
        self.intel = intel
        self.event = event
    }

    /// Anonymous by database flags or by a reputation category that means the same.
    var anonymity: AnonymityFlags {
        var flags = intel.anonymity
        for match in intel.reputation {
            switch match.category {
            case "vpn": flags.insert(.vpn)
            case "tor": flags.insert(.torExit)
            case "hosting": flags.insert(.hosting)
            case "proxy": flags.insert(.publicProxy)
            default: break
            }
        }
        return flags
    }

    var observedSource: ObservedSource? { event.ip.map { ObservedSource(ip: $0, intel: intel) } }

    /// The state key of this event's device id as presented by `family`: `unknown` gives the key of a
    /// device learned without a browser (managed, no user agent, or learned before browsers were told
    /// apart), which counts as known whatever the browser.
    func deviceKey(as family: BrowserFamily) -> UInt64? {
        guard let id = event.device?.id, !id.isEmpty else { return nil }
        return deviceHashKey.hash(id, tweak: UInt64(family.rawValue))
    }

    /// The browser and system families of a user agent held as text or as a span of `message` (unknown
    /// without the message).
    private static func families(
        of agent: InputText, message: UnsafeRawBufferPointer?
    ) -> (BrowserFamily, OSFamily) {
        func read(_ bytes: UnsafeRawBufferPointer) -> (BrowserFamily, OSFamily) {
            (BrowserFamily.family(of: bytes), OSFamily.family(of: bytes))
        }
        switch agent {
        case .text(var text): return text.withUTF8 { read(UnsafeRawBufferPointer($0)) }
        case .span(let start, let count, let escaped):
            guard let message, start >= 0, count >= 0, start + count <= message.count else {
                return (.unknown, .unknown)
            }
            // Escapes (rare in a user agent) are read through the unescaped text.
            if escaped {
                var text = agent.string(in: message)
                return text.withUTF8 { read(UnsafeRawBufferPointer($0)) }
            }
            return read(UnsafeRawBufferPointer(rebasing: message[start..<(start + count)]))
        }
    }
}

/// Keyed hashes of the ids an identity provider gives the steps of one sign-in (0: absent): its session,
/// its correlation or transaction id, and an MFA result's challenge id. Only the hashes are kept, so raw
/// session ids never enter state.
struct LinkKeys: Sendable, Equatable {
    var session: UInt64 = 0
    var correlation: UInt64 = 0
    var challenge: UInt64 = 0

    init() {}

    init(session: UInt64, correlation: UInt64, challenge: UInt64 = 0) {
        (self.session, self.correlation, self.challenge) = (session, correlation, challenge)
    }

    /// A span needs the message it was decoded from; without one (never the case for the engine's
    /// callers, whose events hold spans only of the message they pass) the id counts as absent. An
    /// unescaped span (every ordinary id) is hashed where it lies, without making a String of it.
    init(_ event: AuthEvent, key: SipHashKey, message: UnsafeRawBufferPointer?) {
        func hash(_ text: InputText?) -> UInt64 {
            guard let text else { return 0 }
            switch text {
            case .span(let start, let count, escaped: false):
                guard let message, start >= 0, count >= 0, start + count <= message.count else { return 0 }
                return Self.key(of: UnsafeRawBufferPointer(rebasing: message[start..<(start + count)]), key: key)
            case .span(let start, let count, escaped: true):
                guard let message, start >= 0, count >= 0, start + count <= message.count else { return 0 }
                var value = text.string(in: message)
                return value.withUTF8 { Self.key(of: UnsafeRawBufferPointer($0), key: key) }
            case .text(var value):
                return value.withUTF8 { Self.key(of: UnsafeRawBufferPointer($0), key: key) }
            }
        }
        session = hash(event.sessionID)
        correlation = hash(event.correlationID)
        challenge = hash(event.mfa?.challengeID)
    }

    /// The keyed hash of an id's UTF-8, 0 for a placeholder; an id that hashes to 0 (absent) is moved off it.
    private static func key(of id: UnsafeRawBufferPointer, key: SipHashKey) -> UInt64 {
        isPlaceholder(id) ? 0 : max(1, key.hash(id))
    }

    /// Values identity providers write where they have no id (Okta's `externalSessionId` is often
    /// "unknown"): as ids they would link every sign-in that carries them, so they count as absent.
    /// Compared without regard to ASCII case.
    private static let placeholders: [[UInt8]] = [
        "", "unknown", "null", "none", "nil", "n/a", "na", "-", "0", "undefined",
        "00000000-0000-0000-0000-000000000000",
    ].map { Array($0.utf8) }

    private static func isPlaceholder(_ id: UnsafeRawBufferPointer) -> Bool {
        guard id.count <= 36 else { return false }
        return placeholders.contains { placeholder in
            placeholder.count == id.count
                && zip(placeholder, id).allSatisfy { expected, byte in
                    expected == (byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte)
                }
        }
    }

    var isEmpty: Bool { session == 0 && correlation == 0 && challenge == 0 }

    /// True when the two share an id. The kinds are compared across (`correlation` against
    /// `challenge` too): identity providers put one sign-in's transaction id in either.
    func shares(_ other: LinkKeys) -> Bool {
        other.holds(session) || other.holds(correlation) || other.holds(challenge)
    }

    private func holds(_ key: UInt64) -> Bool { key != 0 && (key == session || key == correlation || key == challenge) }
}
