import _VigilMachinery

/// decode → enrich → score → decide → encode for one shard. The same pipeline serves `vigil run`,
/// `vigil replay` and `vigil demo`; only the source of bytes and the sink of messages differ.
public struct Pipeline: Sendable {
    /// The shard's engine: its configuration, policy version and state.
    public internal(set) var engine: RiskEngine
    private var decoder: EventDecoder
    private let enricher: SharedEnricher?
    private var decisionEncoder: DecisionEncoder
    private let alertEncoder = AlertEncoder()
    private var input: InputSettings
    /// The clock of a replay: the wall clock when it started, or the time its operator named. Recorded
    /// traffic cannot come from the future, so an event more than `input.max_future_skew` after it is
    /// dead-lettered even when no event was accepted before it to measure a leap from. Nil where each
    /// message has a receive time (`vigil run`), which bounds it more closely.
    private let replayClock: Timestamp?
    /// The time of the last event dead-lettered for leaping too far ahead without a receive time, while
    /// no event has been accepted since: the next event close to it confirms that the stream resumed.
    private var unconfirmedLeap: Timestamp?
    /// Counts since the pipeline was created.
    public private(set) var stats = PipelineStats()

    /// A pipeline with empty state. Without an `enricher` every address is `IPIntelligence.unknown`, so
    /// location, network and anonymity signals stay silent. `replayClock` bounds event times where no
    /// receive time will (see `process`); the pipeline never reads a clock itself.
    public init(
        config: VigilConfig, policyVersion: String, enricher: Enricher?, deviceKey: SipHashKey,
        replayClock: Timestamp? = nil
    ) {
        engine = RiskEngine(config: config, policyVersion: policyVersion, deviceKey: deviceKey)
        decoder = EventDecoder(limits: config.input)
        self.enricher = enricher.map(SharedEnricher.init)
        decisionEncoder = DecisionEncoder(policy: config.policy)
        input = config.input
        self.replayClock = replayClock
    }

    /// Adopts a new configuration between two events (live reload).
    public mutating func reconfigure(_ config: VigilConfig, policyVersion: String) {
        engine.reconfigure(config, policyVersion: policyVersion)
        decoder = EventDecoder(limits: config.input)
        decisionEncoder = DecisionEncoder(policy: config.policy)
        input = config.input
    }

    /// Replaces the engine's state with a snapshot's (`RiskEngine.restoreState(snapshot:)`); on error
    /// nothing changes. A leap waiting for confirmation was measured against the old state and is dropped.
    @discardableResult
    public mutating func restoreState(snapshot: [UInt8]) throws(StateSnapshotError) -> StateSnapshotHeader {
        let header = try engine.restoreState(snapshot: snapshot)
        unconfirmedLeap = nil
        return header
    }

    /// Guards the input through `stamp`: the state already reflects it, so input at or below it is
    /// processed again for its outputs only (`RiskEngine.guardInput(through:)`). For a shard kept in
    /// memory across a rebalance, whose input may come again from an older committed offset.
    public mutating func guardInput(through stamp: Int64) {
        engine.guardInput(through: stamp)
    }

    /// Processes one message and appends what it produced to `output`. Never throws: a message that
    /// can't be used becomes a dead letter carrying its bytes and the reason. `originalLength` is the
    /// message's real size when the source kept only its head (an oversized line).
    ///
    /// An event stamped far in the future must never move the watermark: it would make every later event
    /// late and evict learned users as idle. `receivedAt`, a time the caller vouches for (the daemon's
    /// Kafka message time, capped by its own clock), bounds it to `input.max_future_skew` ahead. Without
    /// one (replay) the shard's newest accepted event time bounds it to `input.max_time_leap` ahead,
    /// unless the event right before was also that far ahead and within that distance of it: a stream
    /// resuming after a pause longer than the leap loses its first event to the dead letters, a single
    /// forged or mis-stamped event moves nothing. The first event of a shard has nothing to leap from, so
    /// replay also bounds every event to `input.max_future_skew` after its `replayClock`.
    public mutating func process(
        _ bytes: UnsafeRawBufferPointer, originalLength: Int? = nil, origin: MessageOrigin,
        receivedAt: Timestamp? = nil, into output: inout [OutputMessage]
    ) {
        stats.eventsRead += 1
        // The decoded event is moved, never copied: a copy retains and releases each of its strings.
        let event: AuthEvent
        do {
            event = try decoder.decodeEvent(bytes, originalLength: originalLength)
        } catch {
            deadLetter(error, bytes, originalLength: originalLength, origin: origin, into: &output)
            return
        }
        if let receivedAt, event.time > receivedAt + input.maxFutureSkew {
            deadLetter(
                DecodeFailure(
                    .futureTime, field: "time",
                    detail: "event time \(event.time.rfc3339) is more than \(input.maxFutureSkew.configString) "
                        + "after its receive time \(receivedAt.rfc3339)", eventID: event.eventID),
                bytes, originalLength: originalLength, origin: origin, into: &output)
            return
        }
        if receivedAt == nil, let failure = unconfirmedLeapFailure(event) {
            deadLetter(failure, bytes, originalLength: originalLength, origin: origin, into: &output)
            return
        }
        if let replayClock, event.time > replayClock + input.maxFutureSkew {
            // The clock's value stays out of the detail: it differs from one replay to the next, the
            // outputs of the same file must not.
            deadLetter(
                DecodeFailure(
                    .futureTime, field: "time",
                    detail: "event time \(event.time.rfc3339) is more than \(input.maxFutureSkew.configString) "
                        + "after the replay's clock (its start, or --now): recorded events cannot come from the future",
                    eventID: event.eventID),
                bytes, originalLength: originalLength, origin: origin, into: &output)
            return
        }
        unconfirmedLeap = nil
        stats.eventsByType[event.type.index] += 1
        let intel: IPIntelligence?
        if let ip = event.ip {
            intel = enricher?.enrich(ip) ?? .unknown
        } else {
            intel = nil
        }
        // Handed over, not copied (see `RiskEngine.process`).
        var verdict = engine.process(event, intel: consume intel, offset: origin.offset)
        if verdict.late { stats.lateEvents += 1 }
        if let decision = verdict.decision.take() {
            stats.decisions[decision.action.index] += 1
            output.append(
                OutputMessage(
                    stream: .decisions, key: decision.userID,
                    payload: decisionEncoder.encode(decision, reemitted: verdict.reemitted),
                    label: decision.action.rawValue, reemitted: verdict.reemitted))
        }
        for alert in verdict.alerts {
            stats.alerts[alert.kind.index] += 1
            output.append(
                OutputMessage(
                    stream: .alerts, key: alert.userID ?? alert.subject,
                    payload: alertEncoder.encode(alert, reemitted: verdict.reemitted), label: alert.kind.rawValue,
                    reemitted: verdict.reemitted))
        }
    }

    /// The `future_time` failure of an event without a receive time that leaps more than
    /// `input.max_time_leap` past the newest accepted event time and does not confirm the leap before it.
    private mutating func unconfirmedLeapFailure(_ event: AuthEvent) -> DecodeFailure? {
        let leap = input.maxTimeLeap
        guard let newest = engine.state.watermark.maxEventTime, event.time > newest + leap else { return nil }
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
        _ failure: DecodeFailure, _ bytes: UnsafeRawBufferPointer, originalLength: Int?, origin: MessageOrigin,
        into output: inout [OutputMessage]
    ) {
        let payload = DeadLetterEncoder.encode(
            payload: bytes, originalSize: originalLength, failure: failure, origin: origin,
            maxPayloadBytes: input.maxEventBytes)
        let reason = failure.reasonCode
        stats.deadLetters[reason, default: 0] += 1
        output.append(OutputMessage(stream: .deadLetters, key: nil, payload: payload, label: reason))
    }

    /// `process` over an array's bytes.
    public mutating func process(
        _ bytes: [UInt8], originalLength: Int? = nil, origin: MessageOrigin, receivedAt: Timestamp? = nil,
        into output: inout [OutputMessage]
    ) {
        bytes.withUnsafeBytes {
            process($0, originalLength: originalLength, origin: origin, receivedAt: receivedAt, into: &output)
        }
    }
}

/// Counts for summaries and metrics. Arrays indexed by enum position keep the hot path free of hashing.
public struct PipelineStats: Sendable, Equatable {
    /// Messages taken in, whether they became events or dead letters.
    public var eventsRead = 0
    /// Events behind the watermark: scored, but state unchanged.
    public var lateEvents = 0
    /// Decoded events per `EventType`, by case position; read with `count(_:)`.
    public var eventsByType = [Int](repeating: 0, count: EventType.allCases.count)
    /// Decisions per `DecisionAction`, by case position; read with `count(_:)`.
    public var decisions = [Int](repeating: 0, count: DecisionAction.allCases.count)
    /// Alerts per `AlertKind`, by case position; read with `count(_:)`.
    public var alerts = [Int](repeating: 0, count: AlertKind.allCases.count)
    /// Dead letters per reason code (`missing_field:user.id`, ...).
    public var deadLetters: [String: Int] = [:]

    /// All counts zero.
    public init() {}

    /// Decoded events of `type`.
    public func count(_ type: EventType) -> Int { eventsByType[type.index] }
    /// Decisions with `action`.
    public func count(_ action: DecisionAction) -> Int { decisions[action.index] }
    /// Alerts of `kind`.
    public func count(_ kind: AlertKind) -> Int { alerts[kind.index] }
    /// Dead letters of every reason.
    public var deadLetterTotal: Int { deadLetters.values.reduce(0, +) }
}
