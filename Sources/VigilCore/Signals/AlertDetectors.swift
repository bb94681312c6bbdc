import _VigilMachinery

/// The alert detectors. Each records the event into the windows it reads, checks its threshold and,
/// unless an alert of the same kind is still held for the subject, emits one alert and holds it for
/// one window. A value built once per configuration; the user's record and the shard's other state
/// are handed to each call.
struct AlertDetectors: Sendable {
    let settings: EngineSettings
    /// Key the hash of an email domain (with its tenant) for the per-domain windows.
    let keys: EngineKeys

    func detectOnSuccess(
        _ context: EventContext, assessment: Assessment, decision: Decision, user: inout UserState,
        state: ShardState, into alerts: inout [Alert]
    ) {
        let event = context.event
        let rules = settings.alerts
        if rules.impossibleTravel.enabled, assessment.travelIsImpossible, let anchor = state.lastLogin(of: user),
            let travel = assessment.travel
        {
            var sources = [
                ObservedSource(
                    ip: anchor.ip,
                    intel: IPIntelligence(
                        location: anchor.location, network: anchor.network, anonymity: anchor.anonymity))
            ]
            if let current = context.observedSource { sources.append(current) }
            alerts.append(
                makeAlert(
                    .impossibleTravel, scope: .account, subject: event.user.id, context: context, severity: .high,
                    title: "Impossible travel",
                    message: "\(event.user.id) logged in from \(place(anchor.location)) "
                        + "and \(place(context.intel.location)) "
                        + "\(duration(travel.elapsedSeconds)) apart (\(Int(travel.speedKmh.rounded())) km/h)",
                    windowStart: min(anchor.time, event.time),
                    evidence: [
                        EvidenceEvent(eventID: anchor.eventID, time: anchor.time),
                        EvidenceEvent(eventID: event.eventID, time: event.time),
                    ],
                    sources: sources,
                    details: [
                        ("distance_km", .double(rounded(travel.distanceKm))),
                        ("adjusted_distance_km", .double(rounded(travel.adjustedDistanceKm))),
                        ("previous_accuracy_radius_km", .double(travel.previousRadiusKm)),
                        ("current_accuracy_radius_km", .double(travel.currentRadiusKm)),
                        ("elapsed_seconds", .double(rounded(travel.elapsedSeconds))),
                        ("speed_kmh", .double(rounded(travel.speedKmh))),
                        ("max_speed_kmh", .double(settings.signals.maxSpeedKmh)),
                        ("min_distance_km", .double(settings.signals.minDistanceKm)),
                    ], triggerEventID: event.eventID))
        }

        // A new device alone is the user's own more often than not (a password reset is what people do
        // when they set up a new phone), and so is a known device abroad (a trip): it takes a new device in
        // a new country or away from the user's networks (neither a network, by AS number, nor an address
        // block they have used). A user still learning has no baseline to be new against.
        if rules.takeoverAfterReset.enabled, event.type == .login, assessment.withinPostResetWindow,
            !assessment.learning, assessment.isNewDevice,
            assessment.isNewCountry || !assessment.onUsersNetwork(context, user: user),
            let reset = user.lastResetCompleted, !user.holds.holds(.takeoverAfterReset, at: event.time)
        {
            var what: [String] = []
            if assessment.isNewDevice { what.append("a new device") }
            if assessment.isNewCountry { what.append("a new country (\(context.intel.location?.countryCode ?? "?"))") }
            alerts.append(
                makeAlert(
                    .takeoverAfterReset, scope: .account, subject: event.user.id, context: context, severity: .high,
                    title: "Login from new device or country after password reset",
                    message: "\(event.user.id) logged in from \(what.joined(separator: " and ")) "
                        + "\(duration(event.time.since(reset).seconds)) after a password reset",
                    windowStart: reset, evidence: [EvidenceEvent(eventID: event.eventID, time: event.time)],
                    sources: context.observedSource.map { [$0] } ?? [],
                    details: [
                        ("new_device", .bool(assessment.isNewDevice)), ("new_country", .bool(assessment.isNewCountry)),
                        ("reset_time_ms", .int(reset.milliseconds)),
                    ]))
            user.holds.hold(.takeoverAfterReset, until: reset + settings.postResetWindow)
        }

        if rules.serviceAccountHighRisk.enabled, decision.role == .service, decision.level == .high,
            decision.action == .deny, !user.holds.holds(.serviceAccountHighRisk, at: event.time)
        {
            alerts.append(
                makeAlert(
                    .serviceAccountHighRisk, scope: .account, subject: event.user.id, context: context, severity: .high,
                    title: "High-risk service account login denied",
                    message: "service account \(event.user.id) scored \(decision.score) and was denied: "
                        + decision.reasons.map(\.signal.rawValue).joined(separator: ", "),
                    windowStart: event.time, evidence: [EvidenceEvent(eventID: event.eventID, time: event.time)],
                    sources: context.observedSource.map { [$0] } ?? [],
                    details: [("score", .int(Int64(decision.score)))]))
            user.holds.hold(.serviceAccountHighRisk, until: event.time + rules.serviceAccountHold)
        }
    }

    /// Counts a failed login against the user.
    func recordUserFailure(_ context: EventContext, user: inout UserState) {
        user.failures.record(
            context.event.time, eventID: context.event.eventID, capacity: settings.signals.failedAttemptsThreshold)
    }

    /// Counts a failed login against its source: credential stuffing, and the failing-users window the
    /// spraying signal reads. Returns the source's new source-risk fact when `publishing` and the window
    /// changed while holding at least `signals.spraying_distinct_users` users (`SourceRiskFact`).
    func recordSourceFailure(
        _ context: EventContext, state: inout ShardState, publishing: Bool, into alerts: inout [Alert]
    ) -> SourceRiskFact? {
        let event = context.event
        let signals = settings.signals
        let rules = settings.alerts
        guard let sourceKey = context.sourceKey, let sourceStateKey = context.sourceStateKey else { return nil }
        var source = state.sources[sourceStateKey] ?? SourceState(lastSeen: event.time)
        source.lastSeen = max(source.lastSeen, event.time)
        source.failures.record(event.time, eventID: event.eventID, capacity: rules.stuffingAttempts)
        let timesBefore = publishing ? source.failingUsers.entries.map(\.time).sorted() : []
        // Distinct users are kept up to the larger threshold only (a source's state stays small): a
        // count at that cap means at least that many, and the alert says so.
        let userCapacity = max(rules.stuffingDistinctUsers, signals.sprayingDistinctUsers)
        source.failingUsers.record(context.userKey, at: event.time, eventID: event.eventID, capacity: userCapacity)
        var fact: SourceRiskFact?
        if publishing, source.publishesFacts(signals) {
            let published = SourceRiskFact(
                source: sourceStateKey, failingUserTimes: source.failingUsers.entries.map(\.time))
            if published.failingUserTimes != timesBefore { fact = published }
        }

        if rules.credentialStuffing.enabled, !source.holds.holds(.credentialStuffing, at: event.time) {
            let end = max(event.time, source.failures.latest ?? event.time)
            let start = end - rules.stuffingWindow
            let attempts = source.failures.entries(from: start, through: end)
            let users = source.failingUsers.distinctCount(from: start, through: end)
            if attempts.count >= rules.stuffingAttempts && users >= rules.stuffingDistinctUsers {
                let windowStart = attempts.first?.time ?? event.time
                let accounts = users < userCapacity ? "\(users) accounts" : "at least \(users) accounts"
                alerts.append(
                    makeAlert(
                        .credentialStuffing, scope: .sourceIP, subject: sourceKey.description, context: context,
                        severity: .high, title: "Credential stuffing from one source",
                        message: "\(sourceKey) failed \(attempts.count) logins for \(accounts) within "
                            + duration(rules.stuffingWindow.seconds),
                        windowStart: windowStart,
                        evidence: attempts.map { EvidenceEvent(eventID: $0.eventID, time: $0.time) },
                        sources: context.observedSource.map { [$0] } ?? [],
                        details: [
                            ("attempts", .int(Int64(attempts.count))), ("distinct_users", .int(Int64(users))),
                            ("window_seconds", .int(Int64(rules.stuffingWindow.seconds))),
                        ]))
                source.holds.hold(.credentialStuffing, until: event.time + rules.stuffingWindow)
            }
        }
        source.holds.expire(before: event.time)
        state.sources[sourceStateKey] = source
        return fact
    }

    func recordPushSent(_ context: EventContext, user: inout UserState, into alerts: inout [Alert]) {
        let rules = settings.alerts
        user.pushesSent.record(
            context.event.time, eventID: context.event.eventID,
            capacity: max(rules.pushBombingPushes, settings.signals.pushBurstThreshold))
        checkPushBombing(context, user: &user, into: &alerts)
    }

    func recordMFAResult(_ context: EventContext, user: inout UserState, into alerts: inout [Alert]) {
        let event = context.event
        guard let mfa = event.mfa, let result = mfa.result else { return }
        let rules = settings.alerts
        guard mfa.factor.isPush else {
            if result == .failed || result == .denied {
                user.failures.record(
                    event.time, eventID: event.eventID, capacity: settings.signals.failedAttemptsThreshold)
            }
            return
        }
        switch result {
        case .denied, .timeout, .failed:
            user.pushFailures.record(
                event.time, eventID: event.eventID,
                capacity: max(rules.pushFailuresKept, settings.signals.pushBurstThreshold))
            checkPushBombing(context, user: &user, into: &alerts)
        case .approved:
            guard rules.mfaFatigueAccepted.enabled, !user.holds.holds(.mfaFatigueAccepted, at: event.time) else {
                return
            }
            // The shortest horizon the failures before this approval fill.
            var found: (failures: [EventWindow.Entry], window: EventDuration)?
            for horizon in rules.mfaFatigueHorizons {
                let failures = user.pushFailures.entries(from: event.time - horizon.window, through: event.time)
                if Self.spacedCount(failures, minSpacing: rules.mfaFatigueMinSpacing) >= horizon.failures {
                    found = (failures, horizon.window)
                    break
                }
            }
            guard let (failures, window) = found else { return }
            let evidence =
                failures.map { EvidenceEvent(eventID: $0.eventID, time: $0.time) } + [
                    EvidenceEvent(eventID: event.eventID, time: event.time)
                ]
            alerts.append(
                makeAlert(
                    .mfaFatigueAccepted, scope: .account, subject: event.user.id, context: context, severity: .critical,
                    title: "Push approved after repeated denials (MFA fatigue)",
                    message:
                        "\(event.user.id) approved a push after \(failures.count) denied or unanswered pushes within "
                        + duration(window.seconds),
                    windowStart: failures.first?.time ?? event.time, evidence: evidence,
                    sources: context.observedSource.map { [$0] } ?? [],
                    details: [
                        ("failures_before_approval", .int(Int64(failures.count))),
                        ("window_seconds", .int(Int64(window.seconds))),
                    ], horizon: window == rules.mfaFatigueWindow ? nil : window))
            user.holds.hold(.mfaFatigueAccepted, until: event.time + window)
        }
    }

    /// True when an MFA success at `time` comes out of push bombing or fatigue: push bombing's block is
    /// on, or the push failures before it fill a push-bombing or `mfa_fatigue_accepted` horizon. Read
    /// whether or not those alerts are on: verified learning must not take such an approval as the
    /// user's (`EventRules.verify`).
    func isFatigued(_ user: UserState, at time: Timestamp) -> Bool {
        guard user.hasRareState else { return false }
        if let until = user.pushBombingUntil, time < until { return true }
        let rules = settings.alerts
        for horizon in rules.pushBombingHorizons
        where user.pushFailures.count(from: time - horizon.window, through: time) >= horizon.failures {
            return true
        }
        for horizon in rules.mfaFatigueHorizons {
            let failures = user.pushFailures.entries(from: time - horizon.window, through: time)
            if Self.spacedCount(failures, minSpacing: rules.mfaFatigueMinSpacing) >= horizon.failures { return true }
        }
        return false
    }

    /// Entries at least `minSpacing` after the previous one counted (in time order), the first included.
    static func spacedCount(_ entries: [EventWindow.Entry], minSpacing: EventDuration) -> Int {
        guard minSpacing.microseconds > 0 else { return entries.count }
        var count = 0
        var last: Timestamp?
        for time in entries.map(\.time).sorted() where last.map({ time - minSpacing >= $0 }) ?? true {
            count += 1
            last = time
        }
        return count
    }

    /// Push bombing at the first horizon whose threshold the user's failed pushes reach (10 minutes, an
    /// hour, a day by default), or by pushes sent within the shortest; held for that horizon's window.
    private func checkPushBombing(_ context: EventContext, user: inout UserState, into alerts: inout [Alert]) {
        let event = context.event
        let rules = settings.alerts
        guard rules.pushBombing.enabled, !user.holds.holds(.pushBombing, at: event.time) else { return }
        let end = max(event.time, user.pushFailures.latest ?? event.time, user.pushesSent.latest ?? event.time)
        var fired: (contributing: [EventWindow.Entry], window: EventDuration, byFailures: Bool)?
        for horizon in rules.pushBombingHorizons {
            let failures = user.pushFailures.entries(from: end - horizon.window, through: end)
            if failures.count >= horizon.failures {
                fired = (failures, horizon.window, true)
                break
            }
        }
        let pushes = user.pushesSent.entries(from: end - rules.pushBombingWindow, through: end)
        if fired == nil, pushes.count >= rules.pushBombingPushes { fired = (pushes, rules.pushBombingWindow, false) }
        guard let (contributing, window, byFailures) = fired else { return }
        let shortest = window == rules.pushBombingWindow
        let failures =
            byFailures ? contributing.count : user.pushFailures.entries(from: end - window, through: end).count
        alerts.append(
            makeAlert(
                .pushBombing, scope: .account, subject: event.user.id, context: context, severity: .high,
                title: "Push bombing (MFA fatigue attack)",
                message: byFailures
                    ? "\(event.user.id) denied or ignored \(failures) pushes within \(duration(window.seconds))"
                    : "\(pushes.count) pushes sent to \(event.user.id) within \(duration(window.seconds))",
                windowStart: contributing.first?.time ?? event.time,
                evidence: contributing.map { EvidenceEvent(eventID: $0.eventID, time: $0.time) },
                sources: context.observedSource.map { [$0] } ?? [],
                details: [
                    ("pushes_sent", .int(Int64(user.pushesSent.entries(from: end - window, through: end).count))),
                    ("push_failures", .int(Int64(failures))), ("window_seconds", .int(Int64(window.seconds))),
                ], horizon: shortest ? nil : window))
        user.holds.hold(.pushBombing, until: event.time + window)
        user.pushBombingUntil = event.time + window
    }

    /// Counts a password reset request against the user's own account.
    func recordAccountReset(_ context: EventContext, user: inout UserState, into alerts: inout [Alert]) {
        let event = context.event
        let rules = settings.alerts
        user.resetRequests.record(event.time, eventID: event.eventID, capacity: rules.resetAbuseAccount)
        if rules.resetAbuse.enabled, !user.holds.holds(.resetAbuse, at: event.time) {
            let end = max(event.time, user.resetRequests.latest ?? event.time)
            let requests = user.resetRequests.entries(from: end - rules.resetAbuseWindow, through: end)
            if requests.count >= rules.resetAbuseAccount {
                alerts.append(
                    resetAbuseAlert(
                        context, scope: .account, subject: event.user.id,
                        evidence: requests.map { EvidenceEvent(eventID: $0.eventID, time: $0.time) },
                        what: "\(requests.count) password reset requests for \(event.user.id)"))
                user.holds.hold(.resetAbuse, until: event.time + rules.resetAbuseWindow)
            }
        }
    }

    /// Counts a password reset request against its source's reset wave.
    func recordSourceReset(_ context: EventContext, state: inout ShardState, into alerts: inout [Alert]) {
        guard let sourceKey = context.sourceKey, let sourceStateKey = context.sourceStateKey else { return }
        var source = state.sources[sourceStateKey] ?? SourceState(lastSeen: context.event.time)
        if let accounts = recordResetWave(&source, context, threshold: settings.alerts.resetAbuseSourceIP) {
            alerts.append(
                resetAbuseAlert(
                    context, scope: .sourceIP, subject: sourceKey.description,
                    evidence: accounts.map { EvidenceEvent(eventID: $0.eventID, time: $0.time) },
                    what: "\(sourceKey) requested password resets for \(accounts.count) accounts"))
        }
        state.sources[sourceStateKey] = source
    }

    /// Counts a password reset request against its email domain's reset wave.
    func recordDomainReset(_ context: EventContext, state: inout ShardState, into alerts: inout [Alert]) {
        let event = context.event
        guard let domain = event.user.emailDomain else { return }
        let domainKey = keys.domainStateKey(tenant: event.tenant, domain: domain)
        var entry = state.domains[domainKey] ?? DomainState(lastSeen: event.time)
        if let accounts = recordResetWave(&entry, context, threshold: settings.alerts.resetAbuseEmailDomain) {
            alerts.append(
                resetAbuseAlert(
                    context, scope: .emailDomain, subject: domain,
                    evidence: accounts.map { EvidenceEvent(eventID: $0.eventID, time: $0.time) },
                    what: "password resets requested for \(accounts.count) accounts of \(domain)"))
        }
        state.domains[domainKey] = entry
    }

    /// Counts one account's reset request against a source or an email domain. Returns the accounts in
    /// the window once they reach `threshold` while no reset-abuse alert is held for the subject, and
    /// then holds one for a window.
    private func recordResetWave<Subject: ResetWaveSubject>(
        _ subject: inout Subject, _ context: EventContext, threshold: Int
    ) -> [DistinctWindow.Entry]? {
        let event = context.event
        let rules = settings.alerts
        subject.lastSeen = max(subject.lastSeen, event.time)
        subject.resetAccounts.record(context.userKey, at: event.time, eventID: event.eventID, capacity: threshold)
        guard rules.resetAbuse.enabled, !subject.holds.holds(.resetAbuse, at: event.time) else { return nil }
        let end = max(event.time, subject.resetAccounts.latest ?? event.time)
        let accounts = subject.resetAccounts.distinct(from: end - rules.resetAbuseWindow, through: end)
        guard accounts.count >= threshold else { return nil }
        subject.holds.hold(.resetAbuse, until: event.time + rules.resetAbuseWindow)
        return accounts
    }

    /// Counts a failed login or a reset request in its autonomous system's and its tenant's campaign
    /// windows (`CampaignState`), and opens or extends a campaign when a slot's count crosses its
    /// threshold: a new one raises `credential_stuffing` or `reset_abuse` with scope `asn` or `tenant`
    /// (unless that alert is off). Returns the facts of the entities whose campaigns changed.
    func recordCampaignEvent(
        _ context: EventContext, state: inout ShardState, into alerts: inout [Alert]
    ) -> (published: [CampaignFact], retired: [UInt64]) {
        let campaigns = settings.campaigns
        let event = context.event
        let isFailure = event.type == .login && event.outcome != .success
        guard campaigns.enabled, isFailure || event.type == .passwordResetRequest else { return ([], []) }
        var published: [CampaignFact] = []
        var retired: [UInt64] = []
        func count(in key: UInt64?, scope: AlertScope, subject: String) {
            guard let key,
                recordCampaign(
                    context, key: key, scope: scope, subject: subject, isFailure: isFailure, state: &state,
                    retired: &retired, into: &alerts)
            else { return }
            published.append(state.campaigns[key]!.fact(key: key))
        }
        let counted = context.countedCampaigns
        count(in: counted.asn, scope: .asn, subject: context.campaignASN.map { "AS\($0)" } ?? "")
        count(in: counted.tenant, scope: .tenant, subject: event.tenant ?? Self.defaultTenant)
        return (published, retired)
    }

    /// How alerts name the tenant of events that carry none (a single-tenant feed).
    static let defaultTenant = "default"

    /// Counts the event in one entity's windows; true when a campaign opened or was extended. An entity
    /// idle past the TTL that published facts, replaced here before a sweep removed it, goes to `retired`
    /// (its fact is withdrawn, as the sweep would have).
    private func recordCampaign(
        _ context: EventContext, key: UInt64, scope: AlertScope, subject: String, isFailure: Bool,
        state: inout ShardState, retired: inout [UInt64], into alerts: inout [Alert]
    ) -> Bool {
        let campaigns = settings.campaigns
        let time = context.event.time
        let slot = CampaignState.slot(of: time, length: campaigns.slot)
        // Idle past the TTL reads as absent whether or not a sweep removed it (sweeps depend on the shard).
        var known = state.campaigns[key]
        if let idle = known, idle.lastSeen < time - campaigns.idleTTL {
            if idle.publishesFacts { retired.append(key) }
            known = nil
        }
        var entity = known ?? CampaignState(lastSeen: time, length: campaigns.slot)
        entity.advance(to: slot, settings: campaigns)
        entity.lastSeen = max(entity.lastSeen, time)
        let open = entity.openSlot(for: slot)
        let metrics: [CampaignMetric]
        if isFailure {
            let unknownUser = context.event.failureKind == .unknownUser
            entity.count(in: open) { $0.countFailure(unknownUser: unknownUser, user: context.userKey) }
            metrics = [.failures, .unknownUserFailures, .distinctUsers]
        } else {
            entity.count(in: open) { $0.countReset() }
            metrics = [.resets]
        }
        var changed = false
        let counted = entity.number(of: open)
        if let metric = metrics.first(where: {
            entity.count($0, in: open) >= entity.threshold($0, settings: campaigns, slot: counted)
        }) {
            let kind = metric.alertKind
            let current = kind == .resetAbuse ? entity.resetWave : entity.stuffing
            var next = current
            if let current, time < current.until {
                // Under way: extended while it still crosses in its second half, so one campaign is one alert.
                if time >= current.start, current.until.since(time).microseconds < campaigns.hold.microseconds / 2 {
                    next = CampaignInterval(start: current.start, until: time + campaigns.hold)
                }
            } else {
                next = CampaignInterval(start: time, until: time + campaigns.hold)
                let toggle = kind == .resetAbuse ? settings.alerts.resetAbuse : settings.alerts.credentialStuffing
                if toggle.enabled {
                    alerts.append(
                        campaignAlert(
                            context, metric: metric, entity: entity, open: open, scope: scope, subject: subject))
                }
            }
            if next != current {
                changed = true
                if kind == .resetAbuse { entity.resetWave = next } else { entity.stuffing = next }
            }
        }
        state.campaigns[key] = entity
        return changed
    }

    /// The alert of a campaign opening. Its uid is the entity and the slot it opened in, never the event
    /// that crossed: which of a slot's events crosses first depends on the order they arrive in (the stage
    /// reads them from many partitions), the slot and its final count do not. One uid per slot is enough:
    /// `engine.campaigns.hold` is at least a slot, so a campaign opens at most once in a slot.
    private func campaignAlert(
        _ context: EventContext, metric: CampaignMetric, entity: CampaignState, open: CampaignState.OpenSlot,
        scope: AlertScope, subject: String
    ) -> Alert {
        let campaigns = settings.campaigns
        let count = entity.count(metric, in: open)
        let slot = entity.number(of: open)
        let (expected, _) = entity.expectation(metric, settings: campaigns, slot: slot)
        let threshold = entity.threshold(metric, settings: campaigns, slot: slot)
        let what: String
        switch metric {
        case .failures: what = "failed logins"
        case .unknownUserFailures: what = "failed logins for unknown usernames"
        case .distinctUsers: what = "distinct users with failed logins"
        case .resets: what = "password reset requests"
        }
        let slotStart = entity.start(of: open)
        let named = scope == .tenant ? "tenant \(subject)" : subject
        let kind = metric.alertKind
        return makeAlert(
            kind, scope: scope, subject: subject, context: context, severity: .high,
            title: kind == .resetAbuse
                ? "Password reset wave (\(scope.rawValue))" : "Credential stuffing campaign (\(scope.rawValue))",
            message: "\(Int(count)) \(what) on \(named) in the \(duration(campaigns.slot.seconds)) slot from "
                + "\(slotStart.rfc3339), where \(rounded(expected)) are expected",
            windowStart: slotStart, evidence: [EvidenceEvent(eventID: context.event.eventID, time: context.event.time)],
            sources: context.observedSource.map { [$0] } ?? [],
            details: [
                ("scope", .string(scope.rawValue)), ("metric", .string(metric.rawValue)), ("count", .int(Int64(count))),
                ("expected", .double(rounded(expected))), ("threshold", .double(rounded(threshold))),
                ("slot_seconds", .int(Int64(campaigns.slot.seconds))),
                ("baseline_days", .int(Int64(entity.slotsBehind(slot)) / Int64(campaigns.slotsPerDay))),
            ], tenantless: scope == .asn)
    }

    private func resetAbuseAlert(
        _ context: EventContext, scope: AlertScope, subject: String, evidence: [EvidenceEvent], what: String
    ) -> Alert {
        let rules = settings.alerts
        let threshold: Int
        switch scope {
        case .account: threshold = rules.resetAbuseAccount
        case .sourceIP: threshold = rules.resetAbuseSourceIP
        case .emailDomain: threshold = rules.resetAbuseEmailDomain
        case .asn, .tenant: threshold = 0
        }
        return makeAlert(
            .resetAbuse, scope: scope, subject: subject, context: context,
            severity: scope == .account ? .medium : .high,
            title: "Password reset abuse (\(scope.rawValue))",
            message: "\(what) within \(duration(rules.resetAbuseWindow.seconds))",
            windowStart: evidence.map(\.time).min() ?? context.event.time, evidence: evidence,
            sources: context.observedSource.map { [$0] } ?? [],
            details: [
                ("scope", .string(scope.rawValue)), ("count", .int(Int64(evidence.count))),
                ("threshold", .int(Int64(threshold))), ("window_seconds", .int(Int64(rules.resetAbuseWindow.seconds))),
            ])
    }

    private func makeAlert(
        _ kind: AlertKind, scope: AlertScope, subject: String, context: EventContext, severity: AlertSeverity,
        title: String, message: String, windowStart: Timestamp, evidence: [EvidenceEvent], sources: [ObservedSource],
        details: [(String, DetailValue)], triggerEventID: String? = nil, horizon: EventDuration? = nil,
        tenantless: Bool = false
    ) -> Alert {
        var alert = Alert(
            kind: kind, scope: scope, subject: subject, tenant: tenantless ? nil : context.event.tenant,
            severity: severity, title: title,
            message: message, time: context.event.time, windowStart: windowStart, evidence: evidence,
            userID: scope == .account ? context.event.user.id : nil, sources: sources, details: details,
            triggerEventID: triggerEventID)
        alert.horizon = horizon
        return alert
    }
}

private func rounded(_ value: Double) -> Double { (value * 10).rounded() / 10 }

/// Sources and email domains both watch for one wave of password resets over many accounts.
protocol ResetWaveSubject {
    var lastSeen: Timestamp { get set }
    var resetAccounts: DistinctWindow { get set }
    var holds: [AlertHold] { get set }
}

extension SourceState: ResetWaveSubject {}
extension DomainState: ResetWaveSubject {}
