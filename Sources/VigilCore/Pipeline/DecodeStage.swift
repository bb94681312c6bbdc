import _VigilMachinery

/// The first stage: decodes a message, applies the time checks, decides lateness and routes the event
/// to the keyed stages as `StageRecord`s. Stateless apart from its watermark and the leap it waits to
/// see confirmed: lateness is decided here, once per input partition (one watermark for a whole
/// replay), and carried in the by-user record, so no verdict depends on how many partitions the keyed
/// stages have. Dead letters are produced here, once, with the message's origin.
public struct DecodeStage: Sendable {
    private var decoder: RecordDecoder
    private var input: InputSettings
    /// The clock of a replay: the wall clock when it started, or the time its operator named. Recorded
    /// traffic cannot come from the future, so an event more than `input.max_future_skew` after it is
    /// dead-lettered even when no event was accepted before it to measure a leap from. Nil where each
    /// message has a receive time (`vigil run`), which bounds it more closely.
    private let replayClock: Timestamp?
    /// The time of the last event dead-lettered for leaping too far ahead without a receive time, while
    /// no event has been accepted since: the next event close to it confirms that the stream resumed.
    private var unconfirmedLeap: Timestamp?
    /// The newest event time accepted on time, and the lateness allowed behind it.
    private var watermark: Watermark
    private let keys: EngineKeys
    /// Looks up the autonomous system of the campaign stage's records (nil: they count per tenant only).
    private let enricher: SharedEnricher?
    /// Whether campaign records are made (`engine.campaigns.enabled`, fixed for the stage's life like
    /// the topology).
    private let routesCampaigns: Bool
    /// The event ids this input partition delivered within `input.duplicate_window`: a repeat is dropped
    /// here, before any stage counts it.
    private var recentEvents: RecentEventIDs
    /// `process`'s buffer of accepted events, kept between messages.
    private var acceptedScratch: [AcceptedEvent] = []
    /// Messages read, events by type, late events and dead letters (decisions and alerts are the keyed
    /// stages').
    public private(set) var stats = PipelineStats()

    /// A decode stage with nothing seen. `deviceKey` keys the user hash the by-source and by-domain
    /// records carry: every stage of a deployment needs the same key. `replayClock` bounds event times
    /// where no receive time will (see `accept`). `enricher` names the autonomous system of a failed
    /// login or reset request for the campaign stage.
    public init(
        config: VigilConfig, deviceKey: SipHashKey, replayClock: Timestamp? = nil, format: InputFormat = .vigil,
        enricher: Enricher? = nil
    ) {
        self.enricher = enricher.map(SharedEnricher.init)
        routesCampaigns = config.engine.campaigns.enabled
        decoder = RecordDecoder(format: format, limits: config.input)
        input = config.input
        self.replayClock = replayClock
        watermark = Watermark(allowedLateness: config.engine.allowedLateness)
        keys = EngineKeys(secret: deviceKey)
        recentEvents = RecentEventIDs(config.input)
    }

    /// Adopts a new configuration between two messages (live reload).
    public mutating func reconfigure(_ config: VigilConfig) {
        decoder = RecordDecoder(format: decoder.format, limits: config.input)
        input = config.input
        recentEvents.reconfigure(config.input)
        watermark.allowedLateness = config.engine.allowedLateness
    }

    /// The newest event time accepted on time, which the watermark trails by `engine.allowed_lateness`.
    public var newestEventTime: Timestamp? { watermark.maxEventTime }

    /// Continues from restored state whose newest event time was `newest`: later events are late, and
    /// leap, as they would have been had the stage never stopped. A leap waiting for confirmation was
    /// measured against the old position and is dropped.
    public mutating func resume(newestEventTime newest: Timestamp?) {
        watermark = Watermark(allowedLateness: watermark.allowedLateness)
        if let newest { watermark.observe(newest) }
        unconfirmedLeap = nil
    }

    /// Decodes one message and appends what the keyed stages read to `records`, event by event in stage
    /// order (user, source, domain, campaign: the autonomous system's record, then the tenant's); what can't be used becomes a dead letter in `output` instead. Late
    /// events go to the user stage only, flagged: the source and domain stages would change nothing for
    /// them. `originalLength` is the message's real size when the source kept only its head.
    public mutating func process(
        _ bytes: UnsafeRawBufferPointer, originalLength: Int? = nil, origin: MessageOrigin,
        receivedAt: Timestamp? = nil,
        into output: inout [OutputMessage], records: inout [StageRecord]
    ) {
        var accepted = acceptedScratch
        acceptedScratch = []
        defer {
            accepted.removeAll(keepingCapacity: true)
            acceptedScratch = accepted
        }
        accept(
            bytes, originalLength: originalLength, origin: origin, receivedAt: receivedAt, into: &output,
            events: &accepted)
        for entry in accepted {
            let event = entry.event
            if entry.late { stats.lateEvents += 1 }
            let position = origin.inputPosition(event: entry.index)
            records.append(
                StageRecord(
                    stage: .user, key: StageRouting.userKey(event.user.id),
                    value: StageRecordCodec.encodeUser(event, late: entry.late, message: bytes, origin: position)))
            guard !entry.late else { continue }
            let sourceBound = StageRouting.goesToSource(event)
            let domainBound = StageRouting.goesToDomain(event)
            let campaignBound = routesCampaigns && StageRouting.goesToCampaign(event)
            guard sourceBound || domainBound || campaignBound else { continue }
            let userKey = keys.userKey(tenant: event.tenant, userID: event.user.id)
            if sourceBound, let address = event.ip {
                records.append(
                    StageRecord(
                        stage: .source, key: StageRouting.sourceKey(address),
                        value: StageRecordCodec.encodeSource(
                            event, address: address, userKey: userKey, origin: position)))
            }
            if domainBound, let domain = event.user.emailDomain {
                records.append(
                    StageRecord(
                        stage: .domain, key: Array(domain.utf8),
                        value: StageRecordCodec.encodeDomain(event, domain: domain, userKey: userKey, origin: position)
                    ))
            }
            if campaignBound {
                if let address = event.ip, let asn = enricher?.enrich(address).network?.number {
                    records.append(
                        StageRecord(
                            stage: .campaign, key: StageRouting.campaignKey(asn: asn),
                            value: StageRecordCodec.encodeCampaign(event, asn: asn, userKey: userKey, origin: position))
                    )
                }
                records.append(
                    StageRecord(
                        stage: .campaign, key: StageRouting.campaignKey(tenant: event.tenant),
                        value: StageRecordCodec.encodeCampaign(event, asn: nil, userKey: userKey, origin: position)))
            }
        }
    }

    /// `process` over an array's bytes.
    public mutating func process(
        _ bytes: [UInt8], originalLength: Int? = nil, origin: MessageOrigin, receivedAt: Timestamp? = nil,
        into output: inout [OutputMessage], records: inout [StageRecord]
    ) {
        bytes.withUnsafeBytes {
            process(
                $0, originalLength: originalLength, origin: origin, receivedAt: receivedAt, into: &output,
                records: &records)
        }
    }

    /// Decodes one message and applies the time checks: appends each accepted event to `events`, with
    /// its index among the message's events and whether it is late; a record or event that can't be used
    /// becomes a dead letter in `output` (a batch's bad record alone, with its own bytes and its index).
    ///
    /// An event stamped far in the future must never move the watermark: it would make every later event
    /// late and evict learned users as idle. `receivedAt`, a time the caller vouches for (the daemon's
    /// Kafka message time, capped by its own clock), bounds it to `input.max_future_skew` ahead. Without
    /// one (replay) the newest accepted event time bounds it to `input.max_time_leap` ahead, unless the
    /// event right before was also that far ahead and within that distance of it: a stream resuming
    /// after a pause longer than the leap loses its first event to the dead letters, a single forged or
    /// mis-stamped event moves nothing. The first event has nothing to leap from, so replay also bounds
    /// every event to `input.max_future_skew` after its `replayClock`.
    mutating func accept(
        _ bytes: UnsafeRawBufferPointer, originalLength: Int?, origin: MessageOrigin, receivedAt: Timestamp?,
        into output: inout [OutputMessage], events: inout [AcceptedEvent]
    ) {
        stats.eventsRead += 1
        let whole = RecordSource(bytes: bytes, originalLength: originalLength, batchIndex: nil)
        if decoder.format == .vigil {
            // The decoded event is moved, never copied: a copy retains and releases each of its strings.
            let event: AuthEvent
            do {
                event = try decoder.canonical.decodeEvent(bytes, originalLength: originalLength)
            } catch {
                deadLetter(error, whole, origin: origin, into: &output)
                return
            }
            admit(
                consume event, index: 0, from: whole, origin: origin, receivedAt: receivedAt, into: &output,
                events: &events)
            return
        }
        let records: [RecordDecoder.MessageRecord]
        do {
            records = try decoder.decodeMessage(bytes, originalLength: originalLength)
        } catch {
            deadLetter(error, whole, origin: origin, into: &output)
            return
        }
        var index = 0
        // Refusals are written one by one up to the limit of a message's events; past it they are counted
        // and named in one last dead letter (its first record's bytes): a megabyte of empty records would
        // otherwise make tens of thousands.
        var refused = 0
        var unwritten: (count: Int, first: RecordSource)?
        func refuse(_ failure: DecodeFailure, _ source: RecordSource) {
            refused += 1
            if refused <= InputPosition.eventsPerMessage {
                deadLetter(failure, source, origin: origin, into: &output)
            } else {
                unwritten = (count: (unwritten?.count ?? 0) + 1, first: unwritten?.first ?? source)
            }
        }
        defer {
            if let unwritten {
                let failure = DecodeFailure(
                    .tooLarge,
                    detail: "\(unwritten.count) more records of this message were refused, beyond the "
                        + "\(InputPosition.eventsPerMessage) written one by one; this is the first of them")
                deadLetter(failure, unwritten.first, origin: origin, into: &output)
            }
        }
        for record in records {
            let source =
                record.batchIndex == nil
                ? whole
                : RecordSource(
                    bytes: UnsafeRawBufferPointer(rebasing: bytes[record.bytes]), originalLength: nil,
                    batchIndex: record.batchIndex)
            let decoded: [AuthEvent]
            switch record.result {
            case .failure(let failure):
                refuse(failure, source)
                continue
            case .success(.skipped(let eventType)):
                stats.recordSkipped(format: decoder.format, eventType: eventType)
                continue
            case .success(.event(let event)): decoded = [event]
            case .success(.events(let several)): decoded = several
            }
            guard index + decoded.count <= InputPosition.eventsPerMessage else {
                let failure = DecodeFailure(
                    .tooLarge,
                    detail: "the message yields more than \(InputPosition.eventsPerMessage) events; this record's are "
                        + "beyond that", eventID: decoded.first?.eventID)
                refuse(failure, source)
                continue
            }
            for event in decoded {
                admit(
                    event, index: index, from: source, origin: origin, receivedAt: receivedAt, into: &output,
                    events: &events)
                index += 1
            }
        }
    }

    /// Where a record's bytes lie, for its dead letter: the whole message, or one record of a batch.
    struct RecordSource {
        var bytes: UnsafeRawBufferPointer
        var originalLength: Int?
        var batchIndex: Int?
    }

    /// The event id's or the tenant's control or invisible characters, or blankness (`UserIdentity`), of
    /// any format: both are copied into decisions and alerts, and the tenant keys state. (The user id is
    /// checked where each format reads it.)
    private static func identifierFailure(_ event: borrowing AuthEvent) -> DecodeFailure? {
        if let problem = UserIdentity.problem(in: event.eventID, field: "event_id") {
            return DecodeFailure(.invalidValue, field: "event_id", detail: problem)
        }
        if let tenant = event.tenant, let problem = UserIdentity.problem(in: tenant, field: "tenant") {
            return DecodeFailure(.invalidValue, field: "tenant", detail: problem, eventID: event.eventID)
        }
        return nil
    }

    /// Applies the identifier and time checks to one decoded event (see `accept`).
    private mutating func admit(
        _ event: consuming AuthEvent, index: Int, from source: RecordSource, origin: MessageOrigin,
        receivedAt: Timestamp?, into output: inout [OutputMessage], events: inout [AcceptedEvent]
    ) {
        if let failure = Self.identifierFailure(event) {
            deadLetter(failure, source, origin: origin, into: &output)
            return
        }
        if let receivedAt, event.time > receivedAt + input.maxFutureSkew {
            deadLetter(
                tooFarAhead(event, of: "its receive time \(receivedAt.rfc3339)"), source, origin: origin, into: &output)
            return
        }
        if receivedAt == nil, let failure = unconfirmedLeapFailure(event) {
            deadLetter(failure, source, origin: origin, into: &output)
            return
        }
        if let replayClock, event.time > replayClock + input.maxFutureSkew {
            // The clock's value stays out of the detail: it differs from one replay to the next, the
            // outputs of the same file must not.
            deadLetter(
                tooFarAhead(
                    event, of: "the replay's clock (its start, or --now): recorded events cannot come from the future"),
                source, origin: origin, into: &output)
            return
        }
        let id = keys.eventKey(tenant: event.tenant, eventID: event.eventID)
        guard recentEvents.admit(id, at: event.time, position: origin.inputPosition(event: index)) else {
            stats.duplicateEvents += 1
            return
        }
        unconfirmedLeap = nil
        stats.eventsByType[event.type.index] += 1
        let late = watermark.isLate(event.time)
        if !late { watermark.observe(event.time) }
        events.append(AcceptedEvent(event: event, late: late, index: index))
    }

    /// The `future_time` failure of an event more than `input.max_future_skew` after `reference`.
    private func tooFarAhead(_ event: AuthEvent, of reference: String) -> DecodeFailure {
        DecodeFailure(
            .futureTime, field: "time",
            detail: "event time \(event.time.rfc3339) is more than \(input.maxFutureSkew.configString) after "
                + reference,
            eventID: event.eventID)
    }

    /// The `future_time` failure of an event without a receive time that leaps more than
    /// `input.max_time_leap` past the newest accepted event time and does not confirm the leap before it.
    private mutating func unconfirmedLeapFailure(_ event: AuthEvent) -> DecodeFailure? {
        let leap = input.maxTimeLeap
        guard let newest = watermark.maxEventTime, event.time > newest + leap else { return nil }
        if let previous = unconfirmedLeap, event.time >= previous - leap, event.time <= previous + leap { return nil }
        unconfirmedLeap = event.time
        return DecodeFailure(
            .futureTime, field: "time",
            detail: "event time \(event.time.rfc3339) is more than \(leap.configString) after the newest accepted "
                + "event time \(newest.rfc3339) and no receive time vouches for it; a next event within "
                + "\(leap.configString) of it would be taken as the stream resuming",
            eventID: event.eventID)
    }

    private mutating func deadLetter(
        _ failure: DecodeFailure, _ source: RecordSource, origin: MessageOrigin, into output: inout [OutputMessage]
    ) {
        let payload = DeadLetterEncoder.encode(
            payload: source.bytes, originalSize: source.originalLength, failure: failure, origin: origin,
            batchIndex: source.batchIndex, maxPayloadBytes: input.maxEventBytes)
        let reason = failure.reasonCode
        stats.deadLetters[reason, default: 0] += 1
        output.append(OutputMessage(stream: .deadLetters, key: nil, payload: payload, label: reason))
    }
}

/// An event the decode stage accepted: its index among its message's events (`InputPosition`) and the
/// decode stage's lateness verdict.
struct AcceptedEvent: Sendable {
    var event: AuthEvent
    var late: Bool
    var index: Int

    /// The event, moved out (a copy would retain and release each of its strings).
    consuming func takeEvent() -> AuthEvent { event }
}
