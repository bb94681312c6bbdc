@testable import VigilCore

/// A small driver for engine tests: builds events tersely, feeds them, and collects what came out.
struct EngineHarness {
    var engine: RiskEngine
    let geo: [IPAddress: IPIntelligence]
    private var counter = 0
    static let base = Timestamp(seconds: 1_790_000_000)  // 2026-09-21T...

    init(config: VigilConfig = VigilConfig(), geo: [String: IPIntelligence] = Places.table) {
        engine = RiskEngine(config: config, policyVersion: "test", deviceKey: .publicDefault)
        var table: [IPAddress: IPIntelligence] = [:]
        for (ip, intel) in geo { table[IPAddress(ip)!] = intel }
        self.geo = table
    }

    static func at(_ minutes: Double) -> Timestamp {
        base + EventDuration(microseconds: Int64(minutes * 60_000_000))
    }

    mutating func nextID() -> String {
        counter += 1
        return "e\(counter)"
    }

    @discardableResult
    mutating func send(_ event: AuthEvent) -> RiskEngine.Verdict {
        engine.process(event, intel: event.ip.flatMap { geo[$0] } ?? (event.ip == nil ? nil : .unknown))
    }

    @discardableResult
    mutating func login(
        _ user: String, at minutes: Double, ip: String = Places.london, device: String? = "d1",
        outcome: Outcome = .success, role: UserRole = .standard, compromised: Bool = false, domain: String? = nil,
        id: String? = nil, idpRisk: IdPRiskLevel? = nil, verified: Bool = true, agent: String? = nil,
        managed: Bool? = nil
    ) -> RiskEngine.Verdict {
        let eventID = id ?? nextID()
        let verdict = send(
            AuthEvent(
                eventID: eventID, type: .login, time: Self.at(minutes),
                user: User(id: user, role: role, emailDomain: domain),
                ip: IPAddress(ip),
                device: device.map { Device(id: $0, managed: managed, userAgent: agent.map { InputText($0) }) },
                outcome: outcome, credentialCompromised: compromised, idpRisk: idpRisk))
        if verified, let action = verdict.decision?.action, action == .stepUpSoft || action == .stepUpHard {
            passStepUp(user, at: minutes, loginID: eventID, ip: ip)
        }
        return verdict
    }

    /// The user answers a step-up: a TOTP success at the login's time, which verifies it
    /// (`engine.verification`). Its id derives from the login's, so the harness's ids stay as they were.
    @discardableResult
    mutating func passStepUp(
        _ user: String, at minutes: Double, loginID: String, ip: String = Places.london
    )
        -> RiskEngine.Verdict
    {
        send(
            AuthEvent(
                eventID: "\(loginID).mfa", type: .mfaResult, time: Self.at(minutes), user: User(id: user),
                ip: IPAddress(ip), mfa: MFA(factor: .totp, result: .approved)))
    }

    @discardableResult
    mutating func push(
        _ user: String, at minutes: Double, result: MFAResult?, ip: String = Places.london
    ) -> RiskEngine.Verdict {
        let eventID = nextID()
        return send(
            AuthEvent(
                eventID: eventID, type: result == nil ? .mfaChallenge : .mfaResult, time: Self.at(minutes),
                user: User(id: user),
                ip: IPAddress(ip), mfa: MFA(factor: .push, result: result)))
    }

    @discardableResult
    mutating func resetRequest(
        _ user: String, at minutes: Double, ip: String = Places.london, domain: String? = nil
    ) -> RiskEngine.Verdict {
        let eventID = nextID()
        return send(
            AuthEvent(
                eventID: eventID, type: .passwordResetRequest, time: Self.at(minutes),
                user: User(id: user, emailDomain: domain),
                ip: IPAddress(ip)))
    }

    @discardableResult
    mutating func resetComplete(_ user: String, at minutes: Double, ip: String = Places.london) -> RiskEngine.Verdict {
        let eventID = nextID()
        return send(
            AuthEvent(
                eventID: eventID, type: .passwordResetComplete, time: Self.at(minutes), user: User(id: user),
                ip: IPAddress(ip),
                outcome: .success))
    }

    @discardableResult
    mutating func sensitive(
        _ user: String, at minutes: Double, action: SensitiveAction, role: UserRole = .standard,
        ip: String? = Places.london
    ) -> RiskEngine.Verdict {
        let eventID = nextID()
        return send(
            AuthEvent(
                eventID: eventID, type: .sensitiveAction, time: Self.at(minutes), user: User(id: user, role: role),
                ip: ip.flatMap { IPAddress($0) }, device: Device(id: "d1"), action: action))
    }

    /// Logs the user in enough times from London on d1 to finish the learning period, passing each
    /// login's step-up.
    mutating func establish(_ user: String, role: UserRole = .standard, at minutes: Double = 0) {
        for i in 0..<engine.config.engine.learningLogins {
            login(user, at: minutes + Double(i) * 0.01, role: role)
        }
    }
}

/// Locations taken from MaxMind's City test database, so unit tests and scenario streams agree.
enum Places {
    static let london = "81.2.69.142"
    static let boxford = "2.125.160.216"
    static let changchun = "175.16.199.10"
    static let milton = "216.160.83.58"
    static let torExit = "1.124.213.1"
    static let vpn = "1.2.0.1"

    static let table: [String: IPIntelligence] = [
        london: IPIntelligence(
            location: GeoLocation(
                countryCode: "GB", city: "London", latitude: 51.5142, longitude: -0.0931, accuracyRadiusKm: 10),
            network: AutonomousSystem(number: 20712, organization: "Andrews & Arnold Ltd")),
        boxford: IPIntelligence(
            location: GeoLocation(
                countryCode: "GB", city: "Boxford", latitude: 51.75, longitude: -1.25, accuracyRadiusKm: 100),
            network: AutonomousSystem(number: 20712)),
        changchun: IPIntelligence(
            location: GeoLocation(
                countryCode: "CN", city: "Changchun", latitude: 43.88, longitude: 125.3228, accuracyRadiusKm: 100),
            network: AutonomousSystem(number: 4837)),
        milton: IPIntelligence(
            location: GeoLocation(
                countryCode: "US", city: "Milton", latitude: 47.2513, longitude: -122.3149, accuracyRadiusKm: 22),
            network: AutonomousSystem(number: 209)),
        torExit: IPIntelligence(
            location: GeoLocation(countryCode: "AU", latitude: -33.494, longitude: 143.2104, accuracyRadiusKm: 1000),
            anonymity: [.anonymous, .vpn, .torExit]),
        vpn: IPIntelligence(anonymity: [.anonymous, .vpn]),
    ]
}

extension RiskEngine.Verdict {
    var alertKinds: [AlertKind] { alerts.map(\.kind) }
    var signals: [SignalName] { decision?.reasons.map(\.signal) ?? [] }
}
