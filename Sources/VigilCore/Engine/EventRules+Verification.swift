/// Verified learning (`engine.verification`): the baseline learns a login only when its decision was
/// `allow` or an MFA success verifies it. A password is what an attacker steals first; learning every
/// login that had one would make the attacker's own device, country and network "known" after a login
/// or two, and every later login of theirs would score as the user's.
extension EventRules {
    /// Learns a successful login at once (allowed, verification off, its sign-in's MFA success already
    /// seen, or a service account's: it has no second factor to verify with, and
    /// `service_account_high_risk` watches it instead) or keeps it apart until an MFA success verifies
    /// it. A denied login is never learned.
    func settle(
        _ context: EventContext, assessment: Assessment, action: DecisionAction, user: inout UserState,
        names: inout NameTable
    ) -> BaselineLearning {
        guard action != .deny else { return .denied }
        let event = context.event
        let engine = config.engine
        let verification = engine.verification
        let origin = StepOrigin(context)
        let login = PendingLogin(
            time: event.time, links: context.links, origin: origin, score: UInt8(clamping: assessment.score),
            device: assessment.deviceFoundUnder ?? context.deviceKey,
            replacedDevice: context.browser == .unknown ? nil : context.deviceIDKey, country: assessment.countryKey,
            network: assessment.networkKey,
            anchor: event.ip.map {
                CompactAnchor(
                    time: event.time, eventID: event.eventID, ip: $0,
                    location: context.intel.travelLocation(mobileToleranceKm: engine.signals.mobileToleranceKm),
                    network: context.intel.network, anonymity: assessment.anonymity, names: &names)
            },
            features: context.features ?? LoginFeatures(hourOfWeek: LoginFeatures.hourOfWeek(event.time)))
        if action == .allow || !verification.required || event.user.role == .service
            || user.verifiedLinks.verifies(context.links, origin: origin, at: event.time, window: verification.window)
        {
            learn(login, user: &user)
            return .learned
        }
        let kept = max(verification.window, verification.sessionHold)
        user.pendingLogins.removeAll { event.time.since($0.time) > ($0.links.isEmpty ? verification.window : kept) }
        user.pendingLogins.add(login, window: verification.window)
        return .pending
    }

    /// An MFA success verifies the logins of its sign-in (see `Array.verified(by:origin:at:window:)`) and
    /// closes the sessions of unverified logins past the window that it shares an id with;
    /// one that found none is remembered for a login of its sign-in still to come, unless it answered the
    /// user's last login, already learned. An approval during push bombing or after repeated denials
    /// (MFA fatigue, whether or not those alerts are on) verifies nothing, and the logins it would have
    /// verified never will: it is the attacker's way in. Returns how many logins it verified.
    func verify(_ context: EventContext, user: inout UserState) -> Int {
        // Off, logins are learned as they come: nothing waits, nothing is remembered.
        guard config.engine.verification.required else { return 0 }
        let time = context.event.time
        let window = config.engine.verification.window
        let origin = StepOrigin(context)
        let verified =
            user.hasRareState
            ? user.pendingLogins.verified(by: context.links, origin: origin, at: time, window: window) : []
        if detectors.isFatigued(user, at: time) {
            for index in verified.sorted(by: >) { user.pendingLogins.remove(at: index) }
            return 0
        }
        for index in verified.sorted(by: { user.pendingLogins[$0].time < user.pendingLogins[$1].time }) {
            learn(user.pendingLogins[index], user: &user)
        }
        for index in verified.sorted(by: >) { user.pendingLogins.remove(at: index) }
        let closed = user.hasRareState ? user.pendingLogins.closed(by: context.links, at: time, window: window) : []
        for index in closed.sorted(by: >) { user.pendingLogins.remove(at: index) }
        if verified.isEmpty, !answersLearnedLogin(origin, at: time, user: user) {
            user.verifiedLinks.remember(VerifiedLink(time: time, links: context.links, origin: origin), window: window)
        }
        if !verified.isEmpty || !closed.isEmpty { user.dropRareIfEmpty() }
        return verified.count
    }

    /// True when the user's last learned login lies within the window before `time` and shares `origin`'s
    /// address or network: the MFA success answered it (an allowed login on an MFA-every-login tenant),
    /// and remembering it would cost the user a rare part for nothing.
    private func answersLearnedLogin(_ origin: StepOrigin, at time: Timestamp, user: UserState) -> Bool {
        guard let last = user.lastLogin, last.time <= time, time.since(last.time) <= config.engine.verification.window
        else { return false }
        let learned = StepOrigin(
            source: keys.sourceStateKey(last.ip.sourceKey), network: UInt64(last.asn), device: 0)
        return learned.matches(origin)
    }

    /// A sensitive action in a session whose login still waits for its MFA success scores at least what
    /// that login scored (`unverified_session`): otherwise an attacker past the password would act
    /// through a session Vigil itself had asked to step up, scored as if nothing were wrong.
    func scoreUnverifiedSession(_ context: EventContext, user: UserState, assessment: inout Assessment) {
        let verification = config.engine.verification
        guard verification.required, user.hasRareState else { return }
        let time = context.event.time
        guard
            let login = user.pendingLogins.session(
                of: context.links, at: time, window: verification.window, hold: verification.sessionHold)
        else { return }
        let points = Int(login.score) - assessment.reasons.reduce(0) { $0 + $1.points }
        guard points > 0 else { return }
        assessment.reasons.append(
            Reason(
                signal: .unverifiedSession, points: points,
                details: .unverifiedSession(loginScore: Int(login.score), secondsAgo: time.since(login.time).seconds)))
    }

    /// Adds a verified login to the baseline.
    func learn(_ login: PendingLogin, user: inout UserState) {
        let engine = config.engine
        user.successfulLogins &+= 1
        if let device = login.device {
            if let bare = login.replacedDevice, bare != device { user.seen.forget(.device, bare) }
            user.seen.record(.device, device, at: login.time, capacity: engine.maxDevicesPerUser)
        }
        if let country = login.country {
            user.seen.record(.country, country, at: login.time, capacity: engine.maxCountriesPerUser)
        }
        if let network = login.network {
            user.seen.record(.network, network, at: login.time, capacity: engine.maxASNsPerUser)
        }
        user.profile.record(login.features)
        if let anchor = login.anchor, user.lastLogin.map({ $0.time <= login.time }) ?? true {
            user.lastLogin = anchor
        }
    }
}
