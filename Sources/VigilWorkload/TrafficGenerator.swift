import VigilCore

/// One generated message.
public struct GeneratedEvent: Sendable {
    /// The message as an IdP would publish it: JSON per `schemas/event.schema.json`, or deliberately
    /// broken when `type` is nil.
    public var bytes: [UInt8]
    /// Event time; for a malformed message, the time it was sent.
    public var time: Timestamp
    /// nil for a malformed message.
    public var type: EventType?
    /// The user the event is about, as the Kafka key (events of one user share a partition).
    public var key: String?
    /// The id the event carries (`event_id` in Vigil's format).
    public var eventID: String = ""
    /// Set when the event belongs to an attack sequence.
    public var attack: AttackKind?
    /// The attack sequence (numbered from 1 in the order they start), for attack events.
    public var campaign: Int? = nil
    /// Set when the event is legitimate traffic that looks unusual.
    public var noise: NoiseKind? = nil

    /// The event's label for `vigil evaluate`: `attack:<kind>`, `noise:<kind>` or `legit`.
    public var label: String {
        if let attack { return "attack:\(attack.rawValue)" }
        if let noise { return "noise:\(noise.rawValue)" }
        return "legit"
    }
}

/// Seeded, realistic identity-provider traffic: a population of users with homes, roles, devices, a
/// working-day rhythm, business travel and VPN use, with attack sequences and (optionally) malformed
/// messages mixed in. Events come out in non-decreasing event time and every `event_id` is unique.
///
/// ```swift
/// var traffic = TrafficGenerator(configuration: WorkloadConfiguration(), pool: .maxMindTestCity)
/// for _ in 0..<1_000 { let event = traffic.nextEvent(); send(event.bytes, key: event.key) }
/// ```
/// As a `Sequence` it is a value: `traffic.prefix(n)` iterates a copy and leaves `traffic` where it was.
///
/// Normal traffic is a sequence of steps at exponentially distributed gaps (`meanGap`); a step picks a
/// user (favouring those in their local working hours) and an event kind from the mix. Multi-event
/// stories (an MFA challenge and its result, a reset request and its completion, attacks) are
/// scheduled ahead and merged in time order.
public struct TrafficGenerator: Sendable, Sequence, IteratorProtocol {
    /// What it generates.
    public let configuration: WorkloadConfiguration
    /// Where events come from.
    public let pool: IPPool
    private var random: WorkloadRandom
    private var users: [SimulatedUser]
    private var clock: Timestamp
    private var nextStep: Timestamp?
    /// Scheduled events, latest first, so the next one is `removeLast()`.
    private var pending: [Draft] = []
    private var scheduled = 0
    private var emitted = 0
    private var attacks = 0
    private let stepWeights: [Double]
    private let attackKinds: [AttackKind]
    private let attackWeights: [Double]

    /// A generator at `configuration.start` with its users created; needs at least one user.
    public init(configuration: WorkloadConfiguration, pool: IPPool) {
        precondition(configuration.users > 0, "at least one user")
        self.configuration = configuration
        self.pool = pool
        random = WorkloadRandom(seed: configuration.seed)
        clock = configuration.start
        let mix = configuration.mix
        // An MFA step emits two events and a reset step 1 + completion share, so steps are weighted
        // to make the *event* shares match the mix.
        stepWeights = [
            mix.login, mix.mfa / 2, mix.passwordReset / (1 + Self.resetCompletionShare), mix.sensitiveAction,
        ]
        attackKinds = AttackKind.allCases.filter { (configuration.attackWeights[$0] ?? 0) > 0 }
        attackWeights = attackKinds.map { configuration.attackWeights[$0]! }
        users = []
        users.reserveCapacity(configuration.users)
        for _ in 0..<configuration.users { users.append(makeUser()) }
    }

    /// Events emitted so far.
    public var count: Int { emitted }

    /// The next event in time order; the sequence never ends, so bound it with `prefix`.
    public mutating func next() -> GeneratedEvent? {
        nextEvent()
    }

    /// The next event in time order. The stream never ends.
    public mutating func nextEvent() -> GeneratedEvent {
        while true {
            // Whole milliseconds: the wire format carries no more, and decoded times must equal `time`.
            let gap = Int64(random.exponential(mean: Double(configuration.meanGap.microseconds) / 1000)) * 1000
            let step = nextStep ?? clock + EventDuration(microseconds: gap)
            nextStep = step
            if let draft = pending.last, draft.time <= step {
                pending.removeLast()
                clock = Swift.max(clock, draft.time)
                return emit(draft)
            }
            clock = step
            nextStep = nil
            if random.chance(configuration.malformedRate) { return emitMalformed() }
            if !attackKinds.isEmpty, random.chance(configuration.attackRate) {
                startAttack(attackKinds[random.pick(weights: attackWeights)])
                continue
            }
            if let draft = normalStep() { return emit(draft) }
        }
    }

    /// Schedules one attack sequence starting now, whatever `attackRate` says: for demos and tests
    /// that need a specific story.
    public mutating func inject(_ attack: AttackKind) {
        startAttack(attack)
    }

    // MARK: - Users

    private static let roleWeights: [(UserRole, Double)] = [
        (.standard, 0.85), (.admin, 0.03), (.finance, 0.05), (.contractor, 0.05), (.service, 0.02),
    ]
    private static let employeeDomains = ["example.com", "example.org", "eu.example.com"]
    private static let contractorDomains = ["contractor.example.net", "partners.example.net"]
    private static let factors: [(MFAFactor, Double)] = [
        (.push, 0.65), (.pushNumberMatch, 0.1), (.totp, 0.1), (.webauthn, 0.1), (.sms, 0.05),
    ]
    private static let resetCompletionShare = 0.6

    private mutating func makeUser() -> SimulatedUser {
        let role = Self.roleWeights[random.pick(weights: Self.roleWeights.map(\.1))].0
        // Homes are drawn per address, so bigger cities get more users.
        let (home, address) = randomAddress()
        let domains = role == .contractor ? Self.contractorDomains : Self.employeeDomains
        return SimulatedUser(
            role: role,
            domain: domains[random.below(domains.count)],
            deviceCount: role == .service ? 0 : UInt8(random.int(in: 1...3)),
            factor: Self.factors[random.pick(weights: Self.factors.map(\.1))].0,
            home: home, homeAddress: address, current: home,
            vpnExit: !pool.vpnExits.isEmpty && random.chance(configuration.vpnUserShare)
                ? random.below(pool.vpnExits.count) : nil)
    }

    private mutating func randomAddress() -> (location: Int, address: IPAddress) {
        var index = random.below(pool.addressCount)
        for (location, entry) in pool.locations.enumerated() {
            if index < entry.addresses.count { return (location, entry.addresses[index]) }
            index -= entry.addresses.count
        }
        preconditionFailure("index within addressCount")
    }

    private mutating func address(in location: Int) -> IPAddress {
        let addresses = pool.locations[location].addresses
        return addresses[random.below(addresses.count)]
    }

    /// A user, favouring those in their working hours (service accounts work around the clock).
    private mutating func pickUser(excludingService: Bool = false) -> Int {
        let hourUTC = Int((clock.microseconds / 3_600_000_000) % 24)
        for _ in 0..<20 {
            let index = random.below(users.count)
            let user = users[index]
            if user.role == .service {
                if excludingService { continue }
                return index
            }
            let local = ((hourUTC + pool.locations[user.current].utcOffsetHours) % 24 + 24) % 24
            let activity: Double =
                switch local {
                case 9..<17: 1
                case 7..<9, 17..<20: 0.4
                default: 0.05
                }
            if random.chance(activity) { return index }
        }
        return random.below(users.count)
    }

    private static func userID(_ index: Int) -> String { "user-\(index)" }

    private func identity(_ index: Int) -> Draft.Identity {
        Draft.Identity(index: index, role: users[index].role, domain: users[index].domain)
    }

    private func device(_ user: Int, _ slot: Int) -> Draft.DeviceInfo {
        let kinds = [
            ("laptop", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36"),
            ("phone", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"),
            ("tablet", "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 Chrome/124.0 Safari/537.36"),
        ]
        var (kind, agent) = kinds[slot % kinds.count]
        // A replaced phone: another id, and every other one an Android phone.
        let generation = users[user].phoneGeneration
        if slot % kinds.count == 1, generation > 0 {
            kind += "-\(generation)"
            if generation % 2 == 1 {
                agent =
                    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 SamsungBrowser/26.0 Chrome/122.0 Mobile Safari/537.36"
            }
        }
        return Draft.DeviceInfo(
            id: "\(Self.userID(user))-\(kind)", managed: slot == 0 && users[user].role != .contractor, userAgent: agent)
    }

    private mutating func userDevice(_ user: Int) -> Draft.DeviceInfo? {
        let count = Int(users[user].deviceCount)
        return count == 0 ? nil : device(user, random.below(count))
    }

    // MARK: - Normal traffic

    private mutating func normalStep() -> Draft? {
        let user = pickUser()
        let isService = users[user].role == .service
        switch random.pick(weights: stepWeights) {
        case 0:
            return login(user)
        case 1 where !isService:
            let factor = users[user].factor
            var challenge = baseDraft(.mfaChallenge, user: user, ip: address(of: user))
            challenge.device = userDevice(user)
            challenge.factor = factor
            challenge.challengeID = "ch-\(scheduled)"
            var result = challenge
            result.type = .mfaResult
            result.time = clock + .seconds(Int64(random.int(in: 3...25)))
            result.result = random.chance(0.96) ? .approved : (random.chance(0.5) ? .denied : .timeout)
            schedule(result)
            return challenge
        case 2 where !isService:
            var request = baseDraft(.passwordResetRequest, user: user, ip: address(of: user))
            request.device = userDevice(user)
            if random.chance(Self.resetCompletionShare) {
                var complete = request
                complete.type = .passwordResetComplete
                complete.time = clock + .seconds(Int64(random.int(in: 60...900)))
                schedule(complete)
            }
            return request
        case 3:
            var action = baseDraft(.sensitiveAction, user: user, ip: address(of: user))
            action.device = userDevice(user)
            action.action = sensitiveAction(for: users[user].role)
            return action
        default:
            // A step of a kind the user does not do (service accounts have no MFA and no resets).
            return login(user)
        }
    }

    private mutating func login(_ user: Int) -> Draft {
        let success = !random.chance(configuration.loginFailureRate)
        let travelled = success && travelIfPossible(user)
        var ip = address(of: user)
        var viaVPN = false
        if let exit = users[user].vpnExit, random.chance(configuration.vpnUseRate) {
            ip = pool.vpnExits[exit]
            viaVPN = true
        }
        var draft = baseDraft(.login, user: user, ip: ip)
        var newPhone = false
        if success, configuration.newPhoneRate > 0, users[user].deviceCount >= 2,
            random.chance(configuration.newPhoneRate)
        {
            users[user].phoneGeneration &+= 1
            newPhone = true
            draft.device = device(user, 1)
        } else {
            draft.device = userDevice(user)
        }
        draft.outcome = success ? .success : .failure
        if !success {
            draft.failureReason = "invalid_password"
            draft.noise = .typo
        } else if newPhone {
            draft.noise = .newPhone
        } else if travelled {
            draft.noise = .businessTravel
        } else if viaVPN {
            draft.noise = .vpn
        }
        if success { answerStepUp(of: draft) }
        return draft
    }

    /// The person behind a successful login passes its step-up (`stepUpCompletionRate` of the time): an
    /// MFA success with their factor 5–40 s later. Service accounts have no second factor.
    private mutating func answerStepUp(of login: Draft) {
        let user = login.user.index
        guard users[user].role != .service, random.chance(configuration.stepUpCompletionRate) else { return }
        var answer = login
        answer.type = .mfaResult
        answer.outcome = nil
        answer.attack = nil
        answer.noise = nil
        answer.factor = users[user].factor
        answer.result = .approved
        answer.time = login.time + .seconds(Int64(random.int(in: 5...40)))
        schedule(answer)
    }

    /// Business travel and the trip home, only as fast as a plane (700 km/h since the last event); true
    /// when the user moved.
    private mutating func travelIfPossible(_ user: Int) -> Bool {
        let current = users[user].current
        let target: Int
        if current != users[user].home, random.chance(0.3) {
            target = users[user].home
        } else if random.chance(configuration.travelRate), pool.locations.count > 1 {
            target = (current + 1 + random.below(pool.locations.count - 1)) % pool.locations.count
        } else {
            return false
        }
        let distance = Geodesy.distanceKm(pool.locations[current].coordinates, pool.locations[target].coordinates)
        if let last = users[user].lastEvent, clock.since(last).hours * 700 < distance { return false }
        users[user].current = target
        return true
    }

    /// Home is sticky (one address); elsewhere any address of the city.
    private mutating func address(of user: Int) -> IPAddress {
        users[user].current == users[user].home ? users[user].homeAddress : address(in: users[user].current)
    }

    private mutating func sensitiveAction(for role: UserRole) -> String {
        let actions: [String] =
            switch role {
            case .admin: ["role_grant", "api_key_create", "mfa_reset"]
            case .finance: ["payment_change", "data_export"]
            case .service: ["api_key_create", "data_export"]
            case .standard, .contractor: ["data_export", "recovery_code_use", "mfa_reset", "profile_update"]
            }
        return actions[random.below(actions.count)]
    }

    private func baseDraft(_ type: EventType, user: Int, ip: IPAddress?, at time: Timestamp? = nil) -> Draft {
        Draft(type: type, time: time ?? clock, user: identity(user), ip: ip)
    }

    private mutating func schedule(_ draft: Draft) {
        var draft = draft
        if draft.attack != nil, draft.campaign == nil { draft.campaign = attacks }
        draft.order = scheduled
        scheduled += 1
        // Latest first; among equal times the first scheduled comes out first.
        let index = pending.firstIndex { ($0.time, $0.order) < (draft.time, draft.order) } ?? pending.endIndex
        pending.insert(draft, at: index)
    }

    // MARK: - Attacks

    private mutating func startAttack(_ kind: AttackKind) {
        attacks += 1
        let attacker = "atk-\(configuration.seed)-\(attacks)"
        switch kind {
        case .pushBombing: pushBombing(attacker)
        case .impossibleTravel: impossibleTravel(attacker)
        case .passwordResetWave: resetWave()
        case .credentialStuffing: credentialStuffing()
        case .passwordOnlyRepeat: passwordOnlyRepeat(attacker)
        case .adaptiveLogin: adaptiveLogin(attacker)
        case .slowPushFatigue: slowPushFatigue(attacker)
        case .cookieReplay: cookieReplay()
        case .resetTakeover: resetTakeover(attacker)
        case .distributedStuffing: distributedStuffing(attacker)
        case .distributedResetWave: distributedResetWave()
        }
    }

    /// An address of the hosting network distributed campaigns spread over; a pool address where the
    /// pool names no such network.
    private mutating func hostingAddress() -> IPAddress {
        guard !pool.hostingNetwork.isEmpty else { return address(in: random.below(pool.locations.count)) }
        return pool.hostingNetwork[random.below(pool.hostingNetwork.count)]
    }

    private mutating func distributedStuffing(_ attacker: String) {
        let attempts = random.int(in: 200...350)
        let lucky = random.chance(0.5) ? random.below(attempts) : nil
        var time = clock
        for attempt in 0..<attempts {
            var login = baseDraft(.login, user: random.below(users.count), ip: hostingAddress(), at: time)
            if attempt == lucky {
                login.outcome = .success
            } else {
                login.outcome = .failure
                if random.chance(0.6) {
                    login.accountName = "\(attacker)-guess-\(attempt)"
                    login.failureKind = .unknownUser
                } else {
                    login.failureKind = .invalidCredentials
                }
            }
            // A headless browser's agent: a client of a stuffing kit passes for a browser.
            login.device = Draft.DeviceInfo(id: nil, managed: nil, userAgent: Self.attackerAgent)
            login.attack = .distributedStuffing
            schedule(login)
            time = time + .seconds(Int64(random.int(in: 4...16)))
        }
    }

    private mutating func distributedResetWave() {
        var time = clock
        for _ in 0..<random.int(in: 45...70) {
            var request = baseDraft(
                .passwordResetRequest, user: pickUser(excludingService: true), ip: hostingAddress(), at: time)
            request.attack = .distributedResetWave
            schedule(request)
            time = time + .seconds(Int64(random.int(in: 15...45)))
        }
    }

    /// The attacker's browser: Firefox on Linux, unlike every simulated user's.
    private static let attackerAgent = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"

    /// A successful login of the attacker's at `time`, never followed by an MFA success.
    private func attackerLogin(
        _ victim: Int, ip: IPAddress, at time: Timestamp, device: String?, agent: String, kind: AttackKind
    ) -> Draft {
        var login = baseDraft(.login, user: victim, ip: ip, at: time)
        login.outcome = .success
        login.device = Draft.DeviceInfo(id: device, managed: false, userAgent: agent)
        login.attack = kind
        return login
    }

    private mutating func passwordOnlyRepeat(_ attacker: String) {
        let victim = pickUser(excludingService: true)
        let ip = address(in: farLocation(from: users[victim].current))
        var time = clock
        for _ in 0..<3 {
            schedule(
                attackerLogin(
                    victim, ip: ip, at: time, device: attacker, agent: Self.attackerAgent, kind: .passwordOnlyRepeat))
            time = time + .minutes(Int64(random.int(in: 30...120)))
        }
    }

    /// Another city, of the victim's country where the pool has one, else the nearest.
    private mutating func nearbyLocation(of location: Int) -> Int {
        let here = pool.locations[location]
        let others = pool.locations.indices.filter { $0 != location }
        guard !others.isEmpty else { return location }
        let sameCountry = others.filter { pool.locations[$0].countryCode == here.countryCode }
        if !sameCountry.isEmpty { return sameCountry[random.below(sameCountry.count)] }
        return others.min {
            Geodesy.distanceKm(here.coordinates, pool.locations[$0].coordinates)
                < Geodesy.distanceKm(here.coordinates, pool.locations[$1].coordinates)
        }!
    }

    private mutating func adaptiveLogin(_ attacker: String) {
        let victim = pickUser(excludingService: true)
        let place = nearbyLocation(of: users[victim].home)
        // 03:00 at the victim's home, within the next day.
        let offset = pool.locations[users[victim].home].utcOffsetHours
        let hourUTC = Int((clock.microseconds / 3_600_000_000) % 24)
        let wait = ((3 - offset - hourUTC) % 24 + 24) % 24
        let time = clock + .hours(Int64(wait)) + .minutes(Int64(random.int(in: 0...50)))
        schedule(
            attackerLogin(
                victim, ip: address(in: place), at: time, device: attacker, agent: Self.attackerAgent,
                kind: .adaptiveLogin))
    }

    private mutating func slowPushFatigue(_ attacker: String) {
        let victim = pickUser(excludingService: true)
        let ip = address(in: farLocation(from: users[victim].current))
        var time = clock
        var push = 0
        while time < clock + .hours(2) {
            schedulePush(
                victim, ip: ip, id: "\(attacker)-\(push)", at: time, answeredWithin: 10...60, approved: false,
                deniedShare: 0.5, kind: .slowPushFatigue)
            push += 1
            time = time + .seconds(Int64(random.int(in: 120...240)))
        }
        let approval = time + .minutes(20)
        schedulePush(
            victim, ip: ip, id: "\(attacker)-\(push)", at: approval, answeredWithin: 10...60, approved: true,
            deniedShare: 0, kind: .slowPushFatigue)
        schedule(
            attackerLogin(
                victim, ip: ip, at: approval + .seconds(90), device: attacker, agent: Self.attackerAgent,
                kind: .slowPushFatigue))
    }

    private mutating func resetTakeover(_ attacker: String) {
        let victim = pickUser(excludingService: true)
        let ip = address(in: farLocation(from: users[victim].current))
        var request = baseDraft(.passwordResetRequest, user: victim, ip: ip)
        request.attack = .resetTakeover
        schedule(request)
        var complete = request
        complete.type = .passwordResetComplete
        complete.outcome = .success
        complete.time = clock + .seconds(Int64(random.int(in: 60...300)))
        schedule(complete)
        schedule(
            attackerLogin(
                victim, ip: ip, at: complete.time + .seconds(Int64(random.int(in: 30...600))), device: attacker,
                agent: Self.attackerAgent, kind: .resetTakeover))
    }

    /// The victim's browser device id, presented by a script from far away. The victim is one with an
    /// unmanaged device (a managed one's id is the machine's, bound to no browser); without one in 50
    /// draws, nothing happens.
    private mutating func cookieReplay() {
        for _ in 0..<50 {
            let victim = pickUser(excludingService: true)
            let unmanaged = (0..<Int(users[victim].deviceCount)).map { device(victim, $0) }.filter {
                $0.managed != true
            }
            guard let stolen = unmanaged.last?.id else { continue }
            let ip = address(in: farLocation(from: users[victim].current))
            schedule(
                attackerLogin(
                    victim, ip: ip, at: clock, device: stolen, agent: "python-requests/2.31", kind: .cookieReplay))
            return
        }
    }

    /// A location far from `location` (over 2,500 km when the pool has one), for the attacker.
    private mutating func farLocation(from location: Int) -> Int {
        let here = pool.locations[location].coordinates
        let distances = pool.locations.map { Geodesy.distanceKm(here, $0.coordinates) }
        let far = distances.indices.filter { distances[$0] > 2_500 }
        return far.isEmpty ? distances.indices.max { distances[$0] < distances[$1] }! : far[random.below(far.count)]
    }

    /// A push challenge to `victim` at `time` and its answer, some seconds within `delay` later: approved,
    /// or denied (`deniedShare` of the time) or unanswered. Returns the answer's time.
    @discardableResult
    private mutating func schedulePush(
        _ victim: Int, ip: IPAddress, id: String, at time: Timestamp, answeredWithin delay: ClosedRange<Int>,
        approved: Bool, deniedShare: Double, kind: AttackKind
    ) -> Timestamp {
        var challenge = baseDraft(.mfaChallenge, user: victim, ip: ip, at: time)
        challenge.factor = .push
        challenge.challengeID = id
        challenge.attack = kind
        schedule(challenge)
        var answer = challenge
        answer.type = .mfaResult
        answer.time = time + .seconds(Int64(random.int(in: delay)))
        answer.result = approved ? .approved : (random.chance(deniedShare) ? .denied : .timeout)
        schedule(answer)
        return answer.time
    }

    private mutating func pushBombing(_ attacker: String) {
        let victim = pickUser(excludingService: true)
        let ip = address(in: farLocation(from: users[victim].current))
        let approves = random.chance(1.0 / 3)
        let pushes = random.int(in: 10...15)
        var time = clock
        for push in 0..<pushes {
            let last = push == pushes - 1
            let answered = schedulePush(
                victim, ip: ip, id: "\(attacker)-\(push)", at: time, answeredWithin: 5...25, approved: last && approves,
                deniedShare: 0.6, kind: .pushBombing)
            if last && approves {
                var login = baseDraft(.login, user: victim, ip: ip, at: answered + .seconds(2))
                login.outcome = .success
                login.device = Draft.DeviceInfo(id: attacker, managed: false, userAgent: "python-requests/2.31")
                login.attack = .pushBombing
                schedule(login)
            }
            time = time + .seconds(Int64(random.int(in: 15...40)))
        }
    }

    private mutating func impossibleTravel(_ attacker: String) {
        let victim = pickUser(excludingService: true)
        var home = baseDraft(.login, user: victim, ip: address(of: victim))
        home.device = userDevice(victim)
        home.outcome = .success
        // The victim's own login: legitimate, the trip's other end.
        schedule(home)
        answerStepUp(of: home)
        let elsewhere = farLocation(from: users[victim].current)
        var away = baseDraft(
            .login, user: victim, ip: address(in: elsewhere), at: clock + .minutes(Int64(random.int(in: 10...50))))
        away.outcome = .success
        away.device = Draft.DeviceInfo(id: attacker, managed: false, userAgent: "Mozilla/5.0 (X11; Linux x86_64)")
        away.attack = .impossibleTravel
        schedule(away)
    }

    private mutating func resetWave() {
        let ip = address(in: random.below(pool.locations.count))
        var time = clock
        for _ in 0..<random.int(in: 12...25) {
            var request = baseDraft(.passwordResetRequest, user: pickUser(excludingService: true), ip: ip, at: time)
            request.attack = .passwordResetWave
            schedule(request)
            time = time + .seconds(Int64(random.int(in: 20...120)))
        }
    }

    private mutating func credentialStuffing() {
        let ip = address(in: random.below(pool.locations.count))
        let attempts = random.int(in: 20...40)
        let lucky = random.chance(0.5) ? random.below(attempts) : nil
        var time = clock
        for attempt in 0..<attempts {
            var login = baseDraft(.login, user: random.below(users.count), ip: ip, at: time)
            login.outcome = attempt == lucky ? .success : .failure
            if attempt != lucky { login.failureReason = "invalid_password" }
            login.device = Draft.DeviceInfo(id: nil, managed: nil, userAgent: "python-requests/2.31")
            login.attack = .credentialStuffing
            schedule(login)
            time = time + .seconds(Int64(random.int(in: 3...20)))
        }
    }

    // MARK: - Output

    private mutating func emit(_ draft: Draft) -> GeneratedEvent {
        let user = draft.user.index
        if draft.attack == nil, users[user].lastEvent.map({ $0 < draft.time }) ?? true {
            users[user].lastEvent = draft.time
        }
        let id = nextEventID()
        let userID = draft.accountName ?? Self.userID(user)
        let bytes =
            switch configuration.format {
            case .vigil: draft.json(eventID: id, tenant: configuration.tenant, userID: userID)
            case .keycloak: draft.keycloakJSON(eventID: id, tenant: configuration.tenant, userID: userID)
            case .auth0: draft.auth0JSON(eventID: id, tenant: configuration.tenant, userID: userID)
            case .okta: draft.oktaJSON(eventID: id, userID: userID)
            case .entra: draft.entraJSON(eventID: id, tenant: configuration.tenant, userID: userID)
            // Not a traffic format (`InputFormat.trafficFormats`; `vigil demo` refuses it): Vigil's own stands in.
            case .ssf: draft.json(eventID: id, tenant: configuration.tenant, userID: userID)
            }
        return GeneratedEvent(
            bytes: bytes, time: draft.time, type: draft.type, key: userID, eventID: id,
            attack: draft.attack, campaign: draft.campaign, noise: draft.noise)
    }

    private mutating func nextEventID() -> String {
        emitted += 1
        return "ev-\(emitted)"
    }

    /// One of the ways real producers break messages, each with its own dead-letter reason.
    private mutating func emitMalformed() -> GeneratedEvent {
        let user = pickUser()
        var draft = baseDraft(.login, user: user, ip: address(of: user))
        draft.outcome = .success
        let id = nextEventID()
        var bytes = draft.json(eventID: id, tenant: configuration.tenant, userID: Self.userID(user))
        switch random.below(4) {
        case 0: bytes.removeLast(bytes.count / 2)  // truncated: invalid_json
        case 1: bytes = Array("[\"\(id)\"]".utf8)  // not_an_object
        case 2:  // invalid_time
            bytes = Array("{\"event_id\":\"\(id)\",\"type\":\"login\",\"time\":\"yesterday\"}".utf8)
        default: bytes = Array("{\"event_id\":\"\(id)\",\"type\":\"logon\"}".utf8)  // invalid_value:type
        }
        return GeneratedEvent(bytes: bytes, time: clock, type: nil, key: Self.userID(user), eventID: id, attack: nil)
    }
}

/// The simulated person behind a user id; a few bytes each, so 100 k users cost a few megabytes.
private struct SimulatedUser: Sendable {
    var role: UserRole
    var domain: String
    var deviceCount: UInt8
    var factor: MFAFactor
    var home: Int
    var homeAddress: IPAddress
    /// Where the user is now (home unless travelling).
    var current: Int
    /// The index of the user's VPN provider's exit in `pool.vpnExits`, for VPN users.
    var vpnExit: Int?
    var lastEvent: Timestamp?
    /// Phones replaced so far (`WorkloadConfiguration.newPhoneRate`): the phone's id and browser change.
    var phoneGeneration: UInt8 = 0
}
