import _VigilMachinery

/// decode → enrich → score → decide → encode for one shard holding every stage's state. The unit
/// `vigil run` gives each input partition, and what the engine benchmark measures; `vigil replay`
/// runs the staged topology (`PartitionedPipeline`), whose outputs equal this one's.
public struct Pipeline: Sendable {
    /// The shard's engine: its configuration, policy version and state.
    public internal(set) var engine: RiskEngine
    private var decode: DecodeStage
    private let enricher: SharedEnricher?
    private var outputs: VerdictOutput
    /// Decisions and alerts; the decode stage counts the rest.
    private var outputStats = PipelineStats()
    /// The decode stage's accepted events of one message, kept between messages.
    private var acceptedScratch: [AcceptedEvent] = []

    /// A pipeline with empty state. Without an `enricher` every address is `IPIntelligence.unknown`, so
    /// location, network and anonymity signals stay silent. `replayClock` bounds event times where no
    /// receive time will (see `DecodeStage.accept`); the pipeline never reads a clock itself.
    public init(
        config: VigilConfig, policyVersion: String, enricher: Enricher?, deviceKey: SipHashKey,
        replayClock: Timestamp? = nil
    ) {
        engine = RiskEngine(config: config, policyVersion: policyVersion, deviceKey: deviceKey)
        decode = DecodeStage(config: config, deviceKey: deviceKey, replayClock: replayClock)
        self.enricher = enricher.map(SharedEnricher.init)
        outputs = VerdictOutput(config: config)
    }

    /// Counts since the pipeline was created.
    public var stats: PipelineStats {
        var total = decode.stats
        total.add(outputStats)
        return total
    }

    /// Adopts a new configuration between two events (live reload).
    public mutating func reconfigure(_ config: VigilConfig, policyVersion: String) {
        engine.reconfigure(config, policyVersion: policyVersion)
        decode.reconfigure(config)
        outputs = VerdictOutput(config: config)
    }

    /// Replaces the engine's state with a snapshot's (`RiskEngine.restoreState(snapshot:)`); on error
    /// nothing changes. A leap waiting for confirmation was measured against the old state and is dropped.
    @discardableResult
    public mutating func restoreState(snapshot: [UInt8]) throws(StateSnapshotError) -> StateSnapshotHeader {
        let header = try engine.restoreState(snapshot: snapshot)
        decode.resume(newestEventTime: engine.state.watermark.maxEventTime)
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
    /// message's real size when the source kept only its head (an oversized line); `receivedAt` and the
    /// time checks are `DecodeStage.accept`'s.
    public mutating func process(
        _ bytes: UnsafeRawBufferPointer, originalLength: Int? = nil, origin: MessageOrigin,
        receivedAt: Timestamp? = nil, into output: inout [OutputMessage]
    ) {
        // The engine's own watermark decides lateness here: the replay guard may put it back.
        var accepted = acceptedScratch
        acceptedScratch = []
        decode.accept(
            bytes, originalLength: originalLength, origin: origin, receivedAt: receivedAt, into: &output,
            events: &accepted)
        // Events are taken out of the buffer, never copied (see `RiskEngine.process`).
        if accepted.count > 1 { accepted.reverse() }
        while let entry = accepted.popLast() {
            let intel: IPIntelligence?
            if let ip = entry.event.ip {
                intel = enricher?.enrich(ip) ?? .unknown
            } else {
                intel = nil
            }
            var verdict = engine.process(
                entry.takeEvent(), intel: consume intel, offset: origin.offset, message: bytes)
            if verdict.late { outputStats.lateEvents += 1 }
            outputs.append(&verdict, message: bytes, stats: &outputStats, into: &output)
        }
        acceptedScratch = accepted
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

/// Encodes what an engine decided as output messages, counting them: shared by the whole pipeline and
/// each stage's processor, so both write the same bytes.
struct VerdictOutput: Sendable {
    private let decisionEncoder: DecisionEncoder
    private let alertEncoder = AlertEncoder()
    private let signalEncoder: SecurityEventEncoder

    init(config: VigilConfig) {
        decisionEncoder = DecisionEncoder(policy: config.policy)
        signalEncoder = SecurityEventEncoder(settings: config.ssf)
    }

    /// Appends the verdict's decision, then its alerts in detection order, then the security events they
    /// call for. `message` holds the bytes the event was decoded from (its session id may point there).
    func append(
        _ verdict: inout RiskEngine.Verdict, message: UnsafeRawBufferPointer, stats: inout PipelineStats,
        into output: inout [OutputMessage]
    ) {
        if verdict.duplicate { stats.duplicateEvents += 1 }
        for index in stats.baselineLogins.indices { stats.baselineLogins[index] += Int(verdict.baseline[index]) }
        let decision = verdict.decision.take()
        if let decision {
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
        // Only the user stage names a subject, and only with signals on.
        guard let subject = verdict.subject else { return }
        let signals = signalEncoder.claims(
            decision: decision, alerts: verdict.alerts, findingUID: alertEncoder.findingUID,
            change: verdict.riskLevelChange, subject: subject, message: message)
        for signal in signals {
            stats.signals[signal.type.index] += 1
            output.append(
                OutputMessage(
                    stream: .signals, key: signal.userID, payload: signal.json, label: signal.type.rawValue,
                    reemitted: verdict.reemitted))
        }
    }
}

/// Counts for summaries and metrics. Arrays indexed by enum position keep the hot path free of hashing.
public struct PipelineStats: Sendable, Equatable {
    /// Messages taken in, whether they became events or dead letters.
    public var eventsRead = 0
    /// Events behind the watermark: scored, but state unchanged.
    public var lateEvents = 0
    /// Events dropped as repeated deliveries of an event already seen (`input.duplicate_window`).
    public var duplicateEvents = 0
    /// Decoded events per `EventType`, by case position; read with `count(_:)`.
    public var eventsByType = [Int](repeating: 0, count: EventType.allCases.count)
    /// Decisions per `DecisionAction`, by case position; read with `count(_:)`.
    public var decisions = [Int](repeating: 0, count: DecisionAction.allCases.count)
    /// Alerts per `AlertKind`, by case position; read with `count(_:)`.
    public var alerts = [Int](repeating: 0, count: AlertKind.allCases.count)
    /// Security event tokens per `SecurityEventType`, by case position; read with `count(_:)`.
    public var signals = [Int](repeating: 0, count: SecurityEventType.allCases.count)
    /// Successful logins per `BaselineLearning` outcome, by case position; read with `count(_:)`.
    public var baselineLogins = [Int](repeating: 0, count: BaselineLearning.allCases.count)
    /// Dead letters per reason code (`missing_field:user.id`, ...).
    public var deadLetters: [String: Int] = [:]
    /// Records of an identity provider's format whose event type Vigil does not read, per
    /// `format:type` (`keycloak:LOGOUT`); at most `maxSkippedTypes` types by name, the rest as
    /// `format:other`, since the type is the input's to choose.
    public var skippedRecords: [String: Int] = [:]

    /// Distinct skipped types counted by name.
    static let maxSkippedTypes = 64

    /// All counts zero.
    public init() {}

    /// Decoded events of `type`.
    public func count(_ type: EventType) -> Int { eventsByType[type.index] }
    /// Decisions with `action`.
    public func count(_ action: DecisionAction) -> Int { decisions[action.index] }
    /// Alerts of `kind`.
    public func count(_ kind: AlertKind) -> Int { alerts[kind.index] }
    /// Security event tokens of `type`.
    public func count(_ type: SecurityEventType) -> Int { signals[type.index] }
    /// Successful logins whose baseline outcome was `outcome`.
    public func count(_ outcome: BaselineLearning) -> Int { baselineLogins[outcome.index] }
    /// Dead letters of every reason.
    public var deadLetterTotal: Int { deadLetters.values.reduce(0, +) }

    /// Adds another shard's (or stage's) counts, for totals.
    public mutating func add(_ other: PipelineStats) {
        eventsRead += other.eventsRead
        lateEvents += other.lateEvents
        duplicateEvents += other.duplicateEvents
        for index in eventsByType.indices { eventsByType[index] += other.eventsByType[index] }
        for index in decisions.indices { decisions[index] += other.decisions[index] }
        for index in alerts.indices { alerts[index] += other.alerts[index] }
        for index in signals.indices { signals[index] += other.signals[index] }
        for index in baselineLogins.indices { baselineLogins[index] += other.baselineLogins[index] }
        deadLetters.merge(other.deadLetters, uniquingKeysWith: +)
        skippedRecords.merge(other.skippedRecords, uniquingKeysWith: +)
    }

    /// Counts a skipped record of `eventType`: under its name when it is short and printable (letters,
    /// digits, space and `_.-:/()`: the decoders' own names such as `user.session.start:CHALLENGE` or
    /// `AuditLogs:Reset password (self-service)`, and an SSF event type's URI), up to
    /// `maxSkippedTypes` names; anything else under `<format>:other`.
    mutating func recordSkipped(format: InputFormat, eventType: String) {
        let isName =
            eventType.utf8.count <= 64
            && eventType.utf8.allSatisfy { byte in
                byte &- UInt8(ascii: "A") < 26 || byte &- UInt8(ascii: "a") < 26 || byte &- UInt8(ascii: "0") < 10
                    || Self.nameMarks.contains(byte)
            }
        let named = "\(format.rawValue):\(eventType)"
        let key =
            isName && (skippedRecords[named] != nil || skippedRecords.count < Self.maxSkippedTypes)
            ? named : "\(format.rawValue):other"
        skippedRecords[key, default: 0] += 1
    }

    /// The bytes besides letters and digits a skipped record's name may hold.
    private static let nameMarks: Set<UInt8> = Set(" _.-:/()".utf8)

    /// Skipped records of every type.
    public var skippedTotal: Int { skippedRecords.values.reduce(0, +) }
}
