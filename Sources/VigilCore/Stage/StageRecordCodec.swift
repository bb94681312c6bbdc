import _VigilMachinery

/// The compact binary records of the repartition topics and the source-risk topic; the byte layout is
/// documented in `schemas/stage-records.md`. The version byte comes first so a reader refuses a format
/// it does not know instead of misreading it. Decoding never trusts a length or an index: every read
/// is checked against the bytes left and the values an encoder can write, and fails with a
/// `StageRecordError`.
enum StageRecordCodec {
    /// A by-source or by-domain record read back: the event its stage's engine reads (no user id) and
    /// the user's keyed hash.
    typealias CrossUserRecord = (event: AuthEvent, userKey: UInt64, origin: InputPosition?)

    /// The format written; a reader refuses any other. Version 2 added the input position.
    static let formatVersion: UInt8 = 2

    private static let lateFlag: UInt8 = 1 << 0
    private static let compromisedFlag: UInt8 = 1 << 1
    /// Bits 2–3: the IdP's risk rating, 0 none, then `IdPRiskLevel`'s index + 1.
    private static let idpRiskShift: UInt8 = 2
    private static let idpRiskMask: UInt8 = 0b11 << 2
    /// The record ends with the user's email address (`User.email`): an extension of version 2 a reader
    /// of the flags before it refuses, as it refuses any unknown bit.
    private static let emailFlag: UInt8 = 1 << 4

    // MARK: by-user

    /// The by-user record: the whole canonical event (free text materialised from `message`, the bytes
    /// it was decoded from) and the decode stage's verdict flags.
    static func encodeUser(
        _ event: AuthEvent, late: Bool, message: UnsafeRawBufferPointer, origin: InputPosition?
    ) -> [UInt8] {
        var out = StateWriter(reservingCapacity: 145 + event.eventID.utf8.count + event.user.id.utf8.count)
        writeHeader(.user, origin: origin, into: &out)
        let risk = event.idpRisk.map { UInt8($0.index + 1) << idpRiskShift } ?? 0
        out.u8(
            (late ? lateFlag : 0) | (event.credentialCompromised ? compromisedFlag : 0) | risk
                | (event.user.email != nil ? emailFlag : 0))
        out.u8(UInt8(event.type.index))
        out.time(event.time)
        out.string(event.eventID)
        optional(event.tenant, into: &out)
        out.string(event.user.id)
        out.u8(UInt8(event.user.role.index))
        optional(event.user.emailDomain, into: &out)
        optional(event.ip, into: &out)
        out.bool(event.device != nil)
        if let device = event.device {
            optional(device.id, into: &out)
            out.u8(device.managed.map { $0 ? 2 : 1 } ?? 0)
            optional(device.userAgent?.string(in: message), into: &out)
        }
        out.u8(event.outcome.map { UInt8($0.index + 1) } ?? 0)
        optional(event.failureReason?.string(in: message), into: &out)
        out.bool(event.mfa != nil)
        if let mfa = event.mfa {
            out.u8(UInt8(mfa.factor.index))
            out.u8(mfa.result.map { UInt8($0.index + 1) } ?? 0)
            optional(mfa.challengeID?.string(in: message), into: &out)
        }
        optional(event.action?.wireName, into: &out)
        optional(event.sessionID?.string(in: message), into: &out)
        optional(event.correlationID?.string(in: message), into: &out)
        if let email = event.user.email { out.string(email) }
        return out.bytes
    }

    /// The event, the late flag and the input position of a by-user record.
    static func decodeUser(
        _ bytes: UnsafeRawBufferPointer
    ) throws(StageRecordError) -> (event: AuthEvent, late: Bool, origin: InputPosition?) {
        var (reader, origin) = try header(bytes, .user)
        let flags = try reader.u8("flags")
        guard flags & ~(lateFlag | compromisedFlag | idpRiskMask | emailFlag) == 0 else {
            throw .invalidValue(field: "flags", detail: "unknown flag bits \(flags)")
        }
        let type = try reader.index("event type", of: EventType.self)
        let time = try reader.time("time")
        let eventID = try reader.string("event id")
        let tenant = try reader.optionalString("tenant")
        let userID = try reader.string("user id")
        let role = try reader.index("role", of: UserRole.self)
        let emailDomain = try reader.optionalString("email domain")
        let ip = try reader.flag("address presence") ? try reader.address("address") : nil
        var device: Device?
        if try reader.flag("device presence") {
            let id = try reader.optionalString("device id")
            let managed: Bool?
            switch try reader.u8("device managed") {
            case 0: managed = nil
            case 1: managed = false
            case 2: managed = true
            case let other: throw .invalidValue(field: "device managed", detail: "\(other), expected 0, 1 or 2")
            }
            device = Device(
                id: id, managed: managed, userAgent: try reader.optionalString("user agent").map { InputText.text($0) })
        }
        let outcome = try optionalIndex(&reader, "outcome", of: Outcome.self)
        let failureReason = try reader.optionalString("failure reason").map { InputText.text($0) }
        var mfa: MFA?
        if try reader.flag("mfa presence") {
            let factor = try reader.index("mfa factor", of: MFAFactor.self)
            let result = try optionalIndex(&reader, "mfa result", of: MFAResult.self)
            mfa = MFA(
                factor: factor, result: result,
                challengeID: try reader.optionalString("challenge id").map { InputText.text($0) })
        }
        let action = try reader.optionalString("action").map(SensitiveAction.init(wireName:))
        let sessionID = try reader.optionalString("session id").map { InputText.text($0) }
        let correlationID = try reader.optionalString("correlation id").map { InputText.text($0) }
        let email = flags & emailFlag != 0 ? try reader.string("email") : nil
        try reader.expectEnd()
        let event = AuthEvent(
            eventID: eventID, type: type, time: time, tenant: tenant,
            user: User(id: userID, role: role, emailDomain: emailDomain, email: email), ip: ip, device: device,
            outcome: outcome,
            failureReason: failureReason, mfa: mfa, action: action, credentialCompromised: flags & compromisedFlag != 0,
            sessionID: sessionID, correlationID: correlationID, idpRisk: idpRisk(flags))
        return (event, flags & lateFlag != 0, origin)
    }

    /// The IdP's rating in a by-user record's flags.
    private static func idpRisk(_ flags: UInt8) -> IdPRiskLevel? {
        let code = Int((flags & idpRiskMask) >> idpRiskShift)
        return code == 0 ? nil : IdPRiskLevel.allCases[code - 1]
    }

    // MARK: by-source and by-domain

    /// The by-source record of a failed login or reset request: only what the source stage reads, the
    /// user as its keyed hash.
    static func encodeSource(
        _ event: AuthEvent, address: IPAddress, userKey: UInt64, origin: InputPosition?
    ) -> [UInt8] {
        var out = StateWriter(reservingCapacity: 65 + event.eventID.utf8.count)
        writeHeader(.source, origin: origin, into: &out)
        out.u8(UInt8(event.type.index))
        writeCrossUserFields(event, userKey: userKey, into: &out)
        Self.address(address, into: &out)
        return out.bytes
    }

    /// A by-source record as an event the source stage's engine reads (a failed login or a reset
    /// request, without user id) and the user's keyed hash.
    static func decodeSource(_ bytes: UnsafeRawBufferPointer) throws(StageRecordError) -> CrossUserRecord {
        var (reader, origin) = try header(bytes, .source)
        let type = try reader.index("event type", of: EventType.self)
        guard type == .login || type == .passwordResetRequest else {
            throw .invalidValue(field: "event type", detail: "\(type.rawValue) never goes to the source stage")
        }
        let (time, eventID, tenant, userKey) = try readCrossUserFields(&reader)
        let ip = try reader.address("address")
        try reader.expectEnd()
        let event = AuthEvent(
            eventID: eventID, type: type, time: time, tenant: tenant, user: User(id: ""), ip: ip,
            outcome: type == .login ? .failure : nil)
        return (event, userKey, origin)
    }

    /// The by-domain record of a reset request: only what the domain stage reads, the user as its keyed
    /// hash.
    static func encodeDomain(
        _ event: AuthEvent, domain: String, userKey: UInt64, origin: InputPosition?
    ) -> [UInt8] {
        var out = StateWriter(reservingCapacity: 65 + event.eventID.utf8.count + domain.utf8.count)
        writeHeader(.domain, origin: origin, into: &out)
        writeCrossUserFields(event, userKey: userKey, into: &out)
        out.string(domain)
        optional(event.ip, into: &out)
        return out.bytes
    }

    /// A by-domain record as the reset request the domain stage's engine reads, and the user's keyed
    /// hash.
    static func decodeDomain(_ bytes: UnsafeRawBufferPointer) throws(StageRecordError) -> CrossUserRecord {
        var (reader, origin) = try header(bytes, .domain)
        let (time, eventID, tenant, userKey) = try readCrossUserFields(&reader)
        let domain = try reader.string("email domain")
        let ip = try reader.flag("address presence") ? try reader.address("address") : nil
        try reader.expectEnd()
        let event = AuthEvent(
            eventID: eventID, type: .passwordResetRequest, time: time, tenant: tenant,
            user: User(id: "", emailDomain: domain), ip: ip)
        return (event, userKey, origin)
    }

    // MARK: by-campaign

    /// A by-campaign record read back: the event the campaign stage's engine reads, the user's keyed hash,
    /// and the autonomous system it counts in (nil: the record counts in its tenant's windows).
    typealias CampaignRecord = (event: AuthEvent, userKey: UInt64, origin: InputPosition?, asn: UInt32?)

    private static let unknownUserFlag: UInt8 = 1 << 0
    private static let asnTarget: UInt8 = 1
    private static let tenantTarget: UInt8 = 2

    /// The by-campaign record of a failed login or reset request, for its autonomous system `asn` or
    /// (nil) its tenant: what the campaign stage reads, the user as its keyed hash. The ASN is the decode
    /// stage's lookup, carried so that the record's key and its windows agree whatever database the
    /// campaign stage holds.
    static func encodeCampaign(
        _ event: AuthEvent, asn: UInt32?, userKey: UInt64, origin: InputPosition?
    ) -> [UInt8] {
        var out = StateWriter(reservingCapacity: 72 + event.eventID.utf8.count)
        writeHeader(.campaign, origin: origin, into: &out)
        out.u8(UInt8(event.type.index))
        writeCrossUserFields(event, userKey: userKey, into: &out)
        out.u8(asn == nil ? tenantTarget : asnTarget)
        if let asn { out.u32(asn) }
        out.u8(event.failureKind == .unknownUser ? unknownUserFlag : 0)
        optional(event.ip, into: &out)
        return out.bytes
    }

    /// A by-campaign record as the event the campaign stage's engine reads.
    static func decodeCampaign(_ bytes: UnsafeRawBufferPointer) throws(StageRecordError) -> CampaignRecord {
        var (reader, origin) = try header(bytes, .campaign)
        let type = try reader.index("event type", of: EventType.self)
        guard type == .login || type == .passwordResetRequest else {
            throw .invalidValue(field: "event type", detail: "\(type.rawValue) never goes to the campaign stage")
        }
        let (time, eventID, tenant, userKey) = try readCrossUserFields(&reader)
        let asn: UInt32?
        switch try reader.u8("campaign target") {
        case asnTarget: asn = try reader.u32("autonomous system")
        case tenantTarget: asn = nil
        case let other: throw .invalidValue(field: "campaign target", detail: "\(other), expected 1 or 2")
        }
        let flags = try reader.u8("flags")
        guard flags & ~unknownUserFlag == 0 else {
            throw .invalidValue(field: "flags", detail: "unknown flag bits \(flags)")
        }
        let ip = try reader.flag("address presence") ? try reader.address("address") : nil
        try reader.expectEnd()
        var event = AuthEvent(
            eventID: eventID, type: type, time: time, tenant: tenant, user: User(id: ""), ip: ip,
            outcome: type == .login ? .failure : nil)
        if type == .login, flags & unknownUserFlag != 0 { event.failureKind = .unknownUser }
        return (event, userKey, origin, asn)
    }

    // MARK: campaign facts

    /// The value of a campaign fact: version, then the stuffing and reset-wave intervals, each a presence
    /// byte and its start and end.
    static func encodeCampaignFact(_ fact: CampaignFact) -> [UInt8] {
        var out = StateWriter(reservingCapacity: 35)
        out.u8(formatVersion)
        for interval in [fact.stuffing, fact.resetWave] {
            out.bool(interval != nil)
            if let interval {
                out.time(interval.start)
                out.time(interval.until)
            }
        }
        return out.bytes
    }

    /// A campaign fact from its record key and value.
    static func decodeCampaignFact(
        key: UInt64, value: UnsafeRawBufferPointer
    ) throws(StageRecordError) -> CampaignFact {
        guard !value.isEmpty else { throw .empty }
        var reader = StageRecordReader(value)
        let version = try reader.u8("version")
        guard version == formatVersion else { throw .unknownVersion(version) }
        var intervals: [CampaignInterval?] = []
        for field in ["stuffing", "reset wave"] {
            guard try reader.flag("\(field) presence") else {
                intervals.append(nil)
                continue
            }
            let start = try reader.time("\(field) start")
            let until = try reader.time("\(field) end")
            guard start <= until else { throw .invalidValue(field: field, detail: "ends before it starts") }
            intervals.append(CampaignInterval(start: start, until: until))
        }
        try reader.expectEnd()
        return CampaignFact(key: key, stuffing: intervals[0], resetWave: intervals[1])
    }

    // MARK: source-risk facts

    /// The record key of a source-risk fact: the source's keyed hash, 8 bytes little endian.
    static func factKey(_ source: UInt64) -> [UInt8] {
        withUnsafeBytes(of: source.littleEndian) { Array($0) }
    }

    /// The value of a source-risk fact: version, count, then each time.
    static func encodeFact(_ fact: SourceRiskFact) -> [UInt8] {
        var out = StateWriter(reservingCapacity: 5 + 8 * fact.failingUserTimes.count)
        out.u8(formatVersion)
        out.count(fact.failingUserTimes.count)
        for time in fact.failingUserTimes { out.time(time) }
        return out.bytes
    }

    /// A source-risk fact from its record key and value.
    static func decodeFact(
        key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer
    ) throws(StageRecordError)
        -> SourceRiskFact
    {
        let source = try SourceRiskFact.source(ofRecordKey: key)
        guard !value.isEmpty else { throw .empty }
        var reader = StageRecordReader(value)
        let version = try reader.u8("version")
        guard version == formatVersion else { throw .unknownVersion(version) }
        let count = Int(try reader.u32("time count"))
        guard count * 8 <= reader.remaining else {
            throw .lengthBeyondRecord(field: "failing user times", length: count * 8, remaining: reader.remaining)
        }
        var times: [Timestamp] = []
        times.reserveCapacity(count)
        for _ in 0..<count { times.append(try reader.time("failing user time")) }
        try reader.expectEnd()
        return SourceRiskFact(source: source, failingUserTimes: times)
    }

    // MARK: shared parts

    /// The fields by-source and by-domain records share: time, event id, tenant, user key.
    private static func writeCrossUserFields(_ event: AuthEvent, userKey: UInt64, into out: inout StateWriter) {
        out.time(event.time)
        out.string(event.eventID)
        optional(event.tenant, into: &out)
        out.u64(userKey)
    }

    private static func readCrossUserFields(
        _ reader: inout StageRecordReader
    ) throws(StageRecordError) -> (Timestamp, String, String?, UInt64) {
        let time = try reader.time("time")
        let eventID = try reader.string("event id")
        let tenant = try reader.optionalString("tenant")
        return (time, eventID, tenant, try reader.u64("user key"))
    }

    /// Version, stage, then the input position: a presence byte, the partition hash and the offset.
    private static func writeHeader(_ stage: StageKind, origin: InputPosition?, into out: inout StateWriter) {
        out.u8(formatVersion)
        out.u8(stage.rawValue)
        out.bool(origin != nil)
        if let origin {
            out.u64(origin.partition)
            out.i64(origin.offset)
        }
    }

    private static func header(
        _ bytes: UnsafeRawBufferPointer, _ stage: StageKind
    ) throws(StageRecordError)
        -> (StageRecordReader, InputPosition?)
    {
        guard !bytes.isEmpty else { throw .empty }
        var reader = StageRecordReader(bytes)
        let version = try reader.u8("version")
        guard version == formatVersion else { throw .unknownVersion(version) }
        let kind = try reader.u8("stage")
        guard kind == stage.rawValue else { throw .wrongStage(expected: stage, found: kind) }
        guard try reader.flag("input position presence") else { return (reader, nil) }
        let partition = try reader.u64("input partition")
        let offset = Int64(bitPattern: try reader.u64("input offset"))
        guard offset >= 0 else { throw .invalidValue(field: "input offset", detail: "\(offset), expected 0 or more") }
        return (reader, InputPosition(partition: partition, offset: offset))
    }

    private static func optionalIndex<Cases: CaseIterable>(
        _ reader: inout StageRecordReader, _ field: String, of _: Cases.Type
    ) throws(StageRecordError) -> Cases? where Cases.AllCases: RandomAccessCollection, Cases.AllCases.Index == Int {
        let raw = Int(try reader.u8(field))
        guard raw != 0 else { return nil }
        guard raw <= Cases.allCases.count else {
            throw .invalidValue(field: field, detail: "index \(raw - 1), expected below \(Cases.allCases.count)")
        }
        return Cases.allCases[raw - 1]
    }

    private static func optional(_ text: String?, into out: inout StateWriter) {
        out.bool(text != nil)
        if let text { out.string(text) }
    }

    private static func optional(_ ip: IPAddress?, into out: inout StateWriter) {
        out.bool(ip != nil)
        if let ip { Self.address(ip, into: &out) }
    }

    private static func address(_ ip: IPAddress, into out: inout StateWriter) {
        out.u64(ip.high)
        out.u64(ip.low)
    }
}
