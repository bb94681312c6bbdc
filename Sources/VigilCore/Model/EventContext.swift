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
    /// Identifies the operator's secret in snapshots without revealing it: state written under another
    /// secret holds hashes that would never match, so it is refused.
    let fingerprint: UInt64

    init(secret: SipHashKey) {
        user = secret.derived(1)
        device = secret.derived(2)
        domain = secret.derived(3)
        source = secret.derived(5)
        stateAddress = secret.derived(6)
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

/// Per-event values computed once and shared by the signals, detectors and policy.
struct EventContext {
    let event: AuthEvent
    let intel: IPIntelligence
    let userKey: UInt64
    /// The address aggregated for per-source state (IPv6 to /64).
    let sourceKey: IPAddress?
    /// Keyed hash of `sourceKey`: the key of the per-source state.
    let sourceStateKey: UInt64?
    /// Keyed hash of `device.id`; the raw id never enters state.
    let deviceKey: UInt64?

    init(event: AuthEvent, intel: IPIntelligence, keys: EngineKeys) {
        self.init(
            event: event, intel: intel, userKey: keys.userKey(tenant: event.tenant, userID: event.user.id), keys: keys)
    }

    /// The context of an event whose user is known by its keyed hash only (a source or domain stage
    /// record, which carries no user id).
    init(event: AuthEvent, intel: IPIntelligence, userKey: UInt64, keys: EngineKeys) {
        self.userKey = userKey
        let sourceKey = event.ip?.sourceKey
        self.sourceKey = sourceKey
        self.sourceStateKey = sourceKey.map(keys.sourceStateKey)
        if let id = event.device?.id, !id.isEmpty {
            self.deviceKey = keys.device.hash(id)
        } else {
            self.deviceKey = nil
        }
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
}
