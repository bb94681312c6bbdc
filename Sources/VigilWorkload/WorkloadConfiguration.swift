import VigilCore

/// What traffic to generate. Every default is a plausible mid-size tenant; the same configuration and
/// seed always give the same bytes.
public struct WorkloadConfiguration: Sendable {
    /// Same seed and configuration, same events.
    public var seed: UInt64 = 1
    /// Distinct users, all created up front.
    public var users = 100_000
    /// Event time of the first event; time never goes backwards after it.
    public var start = Timestamp(seconds: 1_772_409_600)  // 2026-03-02T00:00:00Z, a Monday
    /// Mean event-time gap between two steps of normal traffic. 50 ms is ~1.7 M events a day, about
    /// 17 per user with the default user count.
    public var meanGap = EventDuration(microseconds: 50_000)
    /// Stamped on every event; nil leaves `tenant` out.
    public var tenant: String? = "acme"
    /// The wire format of `GeneratedEvent.bytes`: Vigil's contract, or an identity provider's records
    /// (`Draft.keycloakJSON`: events without a Keycloak form come out as records Vigil skips).
    public var format: InputFormat = .vigil
    /// Shares of normal events by kind. MFA counts challenges and results; resets count requests and
    /// completions.
    public var mix = EventMix()
    /// Probability that a step starts an attack sequence instead of a normal event. Sequences are
    /// 10–40 events long, so 0.001 makes roughly 2% of events hostile.
    public var attackRate = 0.001
    /// Relative weights of the attack kinds.
    public var attackWeights: [AttackKind: Double] = [
        .pushBombing: 1, .impossibleTravel: 1, .passwordResetWave: 1, .credentialStuffing: 1,
    ]
    /// Probability that a step emits a malformed message (for demos of the dead-letter path).
    public var malformedRate = 0.0
    /// Probability that a user's successful login comes from another city (business travel), when the
    /// time since their last event allows the trip.
    public var travelRate = 0.01
    /// Share of users who sometimes log in through their VPN provider's exit (`IPPool.vpnExits`).
    public var vpnUserShare = 0.05
    /// How often a VPN user's login goes through the VPN.
    public var vpnUseRate = 0.3
    /// Share of failed logins among normal ones (typos).
    public var loginFailureRate = 0.03
    /// Share of a person's successful logins that come from a new phone, which replaces their old one
    /// (0 draws nothing, so streams without it are those of earlier versions).
    public var newPhoneRate = 0.0
    /// Share of a person's successful logins followed by an MFA success with their factor (5–40 s
    /// later): the step-up they pass, which Vigil's verified learning waits for. The rest abandon it.
    public var stepUpCompletionRate = 0.97

    /// A plausible mid-size tenant.
    public init() {}
}

/// Shares of normal events by kind; they need not add up to one.
public struct EventMix: Sendable, Equatable {
    /// Logins, successful or failed.
    public var login = 0.70
    /// MFA challenges and their results.
    public var mfa = 0.20
    var passwordReset = 0.05
    /// Sensitive actions.
    public var sensitiveAction = 0.05

    /// Mostly logins, then MFA, a little of the rest.
    public init() {}

    /// Shares as given.
    public init(login: Double, mfa: Double, passwordReset: Double, sensitiveAction: Double) {
        self.login = login
        self.mfa = mfa
        self.passwordReset = passwordReset
        self.sensitiveAction = sensitiveAction
    }
}

/// The hostile sequences mixed into normal traffic, each named after what it does. The first four
/// are in the default mix; the others (attackers who adapt) only where `attackWeights` names them.
public enum AttackKind: String, Sendable, CaseIterable, Hashable {
    /// 10–15 push challenges a few seconds apart, mostly denied or unanswered; one in three ends with
    /// the victim approving, followed by the attacker's login.
    case pushBombing = "push_bombing"
    /// The victim's own login from home (legitimate, unlabelled), then the attacker's from a city
    /// thousands of kilometres away within the hour.
    case impossibleTravel = "impossible_travel"
    /// Reset requests for 12–25 accounts from one address within half an hour.
    case passwordResetWave = "password_reset_wave"
    /// Failed logins for 20–40 accounts from one address within ten minutes, one of them succeeding.
    case credentialStuffing = "credential_stuffing"
    /// An attacker with the password logs in three times over a few hours from one place and device
    /// and never passes the step-up: the second and third logins must stay as unknown as the first.
    case passwordOnlyRepeat = "password_only_repeat"
    /// One login from another city (the victim's country where the pool has one), a new device, another
    /// browser and system, in the middle of the victim's night: small novelties that add up.
    case adaptiveLogin = "adaptive_login"
    /// A denied or unanswered push every 2–4 minutes for two hours, then, after a 20-minute pause, an
    /// approval and the attacker's login.
    case slowPushFatigue = "slow_push_fatigue"
    /// The victim's own device id (a copied cookie) presented by another browser from far away.
    case cookieReplay = "cookie_replay"
    /// A reset of the victim's password requested and completed from the attacker's address (a hijacked
    /// mailbox), then the attacker's login from there on a new device.
    case resetTakeover = "reset_takeover"
    /// Failed logins spread over the addresses of one hosting network (`IPPool.hostingNetwork`), one each,
    /// 200–350 in about 45 minutes, six in ten for names that match no account; one in two succeeds once.
    /// No address, account or domain window sees more than a few: only the network's and the tenant's
    /// campaign windows do.
    case distributedStuffing = "distributed_stuffing"
    /// Reset requests for 45–70 accounts, each from another address of one hosting network, in about half
    /// an hour.
    case distributedResetWave = "distributed_reset_wave"

    /// The alert this sequence is expected to raise with the default engine settings; nil for the
    /// single logins that only a decision catches.
    public var expectedAlert: AlertKind? {
        switch self {
        case .pushBombing, .slowPushFatigue: .pushBombing
        case .impossibleTravel: .impossibleTravel
        case .passwordResetWave, .distributedResetWave: .resetAbuse
        case .credentialStuffing, .distributedStuffing: .credentialStuffing
        case .resetTakeover: .takeoverAfterReset
        case .passwordOnlyRepeat, .adaptiveLogin, .cookieReplay: nil
        }
    }
}

/// Legitimate traffic that looks unusual, labelled so an evaluation can count what it costs users.
public enum NoiseKind: String, Sendable, CaseIterable, Hashable {
    /// A successful login from the city a user travelled to.
    case businessTravel = "business_travel"
    /// A login through the user's VPN provider's exit.
    case vpn
    /// A person's failed login (a mistyped password).
    case typo
    /// The first login from a user's new phone (new device id, another browser and system), from home.
    case newPhone = "new_phone"
}
