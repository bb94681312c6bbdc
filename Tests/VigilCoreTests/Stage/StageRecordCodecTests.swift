import Testing

@testable import VigilCore

/// The binary records of the repartition, source-risk and campaigns topics: every field survives the trip, and
/// bytes no encoder wrote (cut short, of another version or stage, with lengths beyond the record, or
/// random) are refused with a typed error, never a crash.
@Suite struct StageRecordCodecTests {
    static let full = AuthEvent(
        eventID: "ev-1", type: .mfaResult, time: Timestamp(seconds: 1_790_000_000) + EventDuration(microseconds: 123),
        tenant: "acme",
        user: User(id: "00u1alice", role: .finance, emailDomain: "example.com", email: "Alice@Example.com"),
        ip: IPAddress("2001:db8:1:2::7"),
        device: Device(id: "laptop-1", managed: false, userAgent: "Mozilla/5.0"), outcome: .failure,
        failureReason: "bad password", mfa: MFA(factor: .pushNumberMatch, result: .denied, challengeID: "ch-9"),
        action: .other("rotate_keys"), credentialCompromised: true, sessionID: "s-1", correlationID: "c-1",
        idpRisk: .medium)

    /// Without an input position unless given, so the flags sit at byte 3 and the event type at byte 4.
    static func userRecord(_ event: AuthEvent = full, late: Bool = true, origin: InputPosition? = nil) -> [UInt8] {
        StageRecordCodec.encodeUser(
            event, late: late, message: UnsafeRawBufferPointer(start: nil, count: 0), origin: origin)
    }

    static let position = InputPosition(partition: 0xdead_beef_0000_0007, offset: 1_234_567)

    static func decodeUser(
        _ bytes: [UInt8]
    ) throws(StageRecordError) -> (event: AuthEvent, late: Bool, origin: InputPosition?) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(StageRecordError) in try StageRecordCodec.decodeUser(raw) }
        }
        return try result.get()
    }

    static func decodeSource(_ bytes: [UInt8]) throws(StageRecordError) -> StageRecordCodec.CrossUserRecord {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(StageRecordError) in try StageRecordCodec.decodeSource(raw) }
        }
        return try result.get()
    }

    static func decodeDomain(_ bytes: [UInt8]) throws(StageRecordError) -> StageRecordCodec.CrossUserRecord {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(StageRecordError) in try StageRecordCodec.decodeDomain(raw) }
        }
        return try result.get()
    }

    static func decodeCampaign(_ bytes: [UInt8]) throws(StageRecordError) -> StageRecordCodec.CampaignRecord {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(StageRecordError) in try StageRecordCodec.decodeCampaign(raw) }
        }
        return try result.get()
    }

    static func decodeCampaignFact(key: [UInt8], value: [UInt8]) throws(StageRecordError) -> CampaignFact {
        let result = key.withUnsafeBytes { rawKey in
            value.withUnsafeBytes { rawValue in
                Result { () throws(StageRecordError) in try CampaignFact(recordKey: rawKey, value: rawValue) }
            }
        }
        return try result.get()
    }

    static func decodeFact(key: [UInt8], value: [UInt8]) throws(StageRecordError) -> SourceRiskFact {
        let result = key.withUnsafeBytes { rawKey in
            value.withUnsafeBytes { rawValue in
                Result { () throws(StageRecordError) in try StageRecordCodec.decodeFact(key: rawKey, value: rawValue) }
            }
        }
        return try result.get()
    }

    @Test func everyFieldOfTheUserRecordSurvives() throws {
        let decoded = try Self.decodeUser(Self.userRecord(origin: Self.position))
        #expect(decoded.event == Self.full)
        #expect(decoded.late)
        #expect(decoded.origin == Self.position)
        let minimal = AuthEvent(eventID: "m", type: .login, time: Timestamp(seconds: 0), user: User(id: "u"))
        let back = try Self.decodeUser(Self.userRecord(minimal, late: false))
        #expect(back.event == minimal)
        #expect(!back.late)
        #expect(back.origin == nil)
        // A record of the flags before the email's (an older writer) still reads.
        var older = Self.userRecord()
        older[3] &= ~0x10
        older.removeLast("Alice@Example.com".utf8.count + 4)
        #expect(try Self.decodeUser(older).event.user.email == nil)
    }

    /// A Kafka message's position names its topic and partition by a hash that tells partitions and
    /// topics apart, and orders the events of one message after each other and before the next message's;
    /// a file's line has none.
    @Test func inputPositionsTellPartitionsApart() {
        let p0 = MessageOrigin.kafka(topic: "auth.events", partition: 0, offset: 5).inputPosition
        let p1 = MessageOrigin.kafka(topic: "auth.events", partition: 1, offset: 5).inputPosition
        let other = MessageOrigin.kafka(topic: "okta.events", partition: 0, offset: 5).inputPosition
        let perMessage = Int64(InputPosition.eventsPerMessage)
        #expect(p0?.offset == 5 * perMessage)
        let last = MessageOrigin.kafka(topic: "auth.events", partition: 0, offset: 5).inputPosition(
            event: InputPosition.eventsPerMessage - 1)
        #expect(last?.offset == 6 * perMessage - 1)
        #expect(last?.partition == p0?.partition)
        #expect(p0 == MessageOrigin.kafka(topic: "auth.events", partition: 0, offset: 5).inputPosition)
        #expect(Set([p0?.partition, p1?.partition, other?.partition]).count == 3)
        #expect(MessageOrigin.file(path: "x.jsonl", line: 3).inputPosition == nil)
    }

    @Test func freeTextIsTakenFromTheMessageItWasDecodedFrom() throws {
        let line =
            #"{"event_id":"x1","type":"login","time":"2026-03-02T09:00:00Z","user":{"id":"bob"},"ip":"81.2.69.142","outcome":"failure","failure_reason":"a\"b","device":{"id":"d","user_agent":"UA 1"}}"#
        let decoder = EventDecoder(limits: InputSettings())
        let bytes = Array(line.utf8)
        let record = try bytes.withUnsafeBytes { raw in
            let event = try decoder.decodeEvent(raw, originalLength: nil)
            return StageRecordCodec.encodeUser(event, late: false, message: raw, origin: nil)
        }
        let event = try Self.decodeUser(record).event
        #expect(event.failureReason == .text("a\"b"))
        #expect(event.device?.userAgent == .text("UA 1"))
    }

    @Test func sourceAndDomainRecordsCarryTheUserAsItsHashOnly() throws {
        let address = IPAddress("81.2.69.142")!
        var failed = Self.full
        failed.type = .login
        let source = StageRecordCodec.encodeSource(failed, address: address, userKey: 0xfeed, origin: Self.position)
        let decoded = try Self.decodeSource(source)
        #expect(decoded.userKey == 0xfeed)
        #expect(decoded.origin == Self.position)
        #expect(decoded.event.ip == address)
        #expect(decoded.event.eventID == "ev-1")
        #expect(decoded.event.tenant == "acme")
        #expect(decoded.event.time == Self.full.time)
        #expect(decoded.event.outcome == .failure)
        #expect(decoded.event.user.id.isEmpty)
        let domain = StageRecordCodec.encodeDomain(
            Self.full, domain: "example.com", userKey: 0xbeef, origin: Self.position)
        let back = try Self.decodeDomain(domain)
        #expect(back.userKey == 0xbeef)
        #expect(back.origin == Self.position)
        #expect(back.event.user.emailDomain == "example.com")
        #expect(back.event.ip == Self.full.ip)
        #expect(back.event.type == .passwordResetRequest)
        // Neither carries the raw user id, device id or user agent.
        for record in [source, domain] {
            for secret in ["Alice@Example.com", "laptop-1", "Mozilla/5.0"] {
                #expect(!String(decoding: record, as: UTF8.self).contains(secret))
            }
        }
    }

    @Test func everyTruncationIsRefused() {
        let records: [([UInt8], ([UInt8]) throws(StageRecordError) -> Void)] = [
            (
                Self.userRecord(origin: Self.position),
                { bytes throws(StageRecordError) in _ = try Self.decodeUser(bytes) }
            ),
            (
                StageRecordCodec.encodeSource(Self.full, address: Self.full.ip!, userKey: 1, origin: Self.position),
                { bytes throws(StageRecordError) in _ = try Self.decodeSource(bytes) }
            ),
            (
                StageRecordCodec.encodeDomain(Self.full, domain: "example.com", userKey: 1, origin: Self.position),
                { bytes throws(StageRecordError) in _ = try Self.decodeDomain(bytes) }
            ),
            (
                StageRecordCodec.encodeCampaign(Self.failedLogin, asn: 64_500, userKey: 1, origin: Self.position),
                { bytes throws(StageRecordError) in _ = try Self.decodeCampaign(bytes) }
            ),
        ]
        for (record, decode) in records {
            for length in 0..<record.count {
                #expect(throws: StageRecordError.self) { try decode(Array(record.prefix(length))) }
            }
        }
        #expect(throws: StageRecordError.empty) { try Self.decodeUser([]) }
    }

    @Test(arguments: [IdPRiskLevel?.none, .low, .medium, .high])
    func everyIdPRatingSurvivesTheTrip(level: IdPRiskLevel?) throws {
        var event = Self.full
        event.idpRisk = level
        #expect(try Self.decodeUser(Self.userRecord(event)).event.idpRisk == level)
    }

    @Test func otherVersionsStagesAndTrailingBytesAreRefused() {
        var record = Self.userRecord()
        record[0] = 1
        #expect(throws: StageRecordError.unknownVersion(1)) { try Self.decodeUser(record) }
        let source = StageRecordCodec.encodeSource(Self.full, address: Self.full.ip!, userKey: 1, origin: nil)
        #expect(throws: StageRecordError.wrongStage(expected: .user, found: 2)) { try Self.decodeUser(source) }
        #expect(throws: StageRecordError.trailingBytes(count: 1)) { try Self.decodeUser(Self.userRecord() + [0]) }
        var flags = Self.userRecord()
        flags[3] = 0x20  // bit 5: no flag yet
        #expect(throws: StageRecordError.self) { try Self.decodeUser(flags) }
        var type = Self.userRecord()
        type[4] = UInt8(EventType.allCases.count)
        #expect(throws: StageRecordError.self) { try Self.decodeUser(type) }
    }

    @Test func aLengthBeyondTheRecordIsRefusedBeforeAnythingIsRead() {
        // version, stage, no input position, flags, type, time, then the event id's length claims 4 GiB.
        var record = Self.userRecord()
        for index in 13..<17 { record[index] = 0xFF }
        #expect(
            throws: StageRecordError.lengthBeyondRecord(
                field: "event id", length: 0xFFFF_FFFF, remaining: record.count - 17)
        ) {
            try Self.decodeUser(record)
        }
    }

    @Test func aTimeOutsideTheDecodersRangeIsRefused() {
        var record = Self.userRecord()
        for index in 5..<13 { record[index] = 0x7F }
        #expect(throws: StageRecordError.self) { try Self.decodeUser(record) }
    }

    @Test func randomBytesNeverCrashTheDecoders() {
        var generator = SplitMix64(seed: 11)
        let valid = Self.userRecord(origin: Self.position)
        for round in 0..<20_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                // A valid record with a few bytes flipped: gets past the header most of the time.
                bytes = valid
                for _ in 0..<3 {
                    bytes[Int(generator.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: generator.next())
                }
            } else {
                bytes = (0..<Int(generator.next() % 64)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
                if !bytes.isEmpty { bytes[0] = StageRecordCodec.formatVersion }
            }
            _ = try? Self.decodeUser(bytes)
            _ = try? Self.decodeSource(bytes)
            _ = try? Self.decodeDomain(bytes)
            _ = try? Self.decodeCampaign(bytes)
            _ = try? Self.decodeFact(key: Array(bytes.prefix(8)), value: bytes)
            _ = try? Self.decodeCampaignFact(key: Array(bytes.prefix(8)), value: bytes)
        }
    }

    @Test func factsRoundTripAndRefuseWhatNoEncoderWrites() throws {
        let fact = SourceRiskFact(
            source: 0x0123_4567_89ab_cdef, failingUserTimes: [Timestamp(seconds: 20), Timestamp(seconds: 10)])
        #expect(fact.failingUserTimes == [Timestamp(seconds: 10), Timestamp(seconds: 20)])
        let key = StageRecordCodec.factKey(fact.source)
        let value = StageRecordCodec.encodeFact(fact)
        #expect(try Self.decodeFact(key: key, value: value) == fact)
        #expect(throws: StageRecordError.self) { try Self.decodeFact(key: Array(key.prefix(7)), value: value) }
        #expect(throws: StageRecordError.empty) { try Self.decodeFact(key: key, value: []) }
        var huge = value
        for index in 1..<5 { huge[index] = 0xFF }
        #expect(throws: StageRecordError.self) { try Self.decodeFact(key: key, value: huge) }
        for length in 1..<value.count {
            #expect(throws: StageRecordError.self) { try Self.decodeFact(key: key, value: Array(value.prefix(length))) }
        }
    }

    static var failedLogin: AuthEvent {
        var event = full
        event.type = .login
        event.mfa = nil
        event.failureKind = .unknownUser
        return event
    }

    /// The campaign record carries what the campaign windows count (type, time, tenant, the address, the
    /// unknown-user mark and the target) and the user only as its hash.
    @Test func campaignRecordsCarryTheirTargetAndTheUnknownUserMark() throws {
        let record = StageRecordCodec.encodeCampaign(
            Self.failedLogin, asn: 64_500, userKey: 0xfeed, origin: Self.position)
        let decoded = try Self.decodeCampaign(record)
        #expect(decoded.asn == 64_500)
        #expect(decoded.userKey == 0xfeed)
        #expect(decoded.origin == Self.position)
        #expect(decoded.event.type == .login)
        #expect(decoded.event.outcome == .failure)
        #expect(decoded.event.failureKind == .unknownUser)
        #expect(decoded.event.tenant == "acme")
        #expect(decoded.event.ip == Self.full.ip)
        #expect(decoded.event.time == Self.full.time)
        #expect(decoded.event.user.id.isEmpty)
        for secret in ["Alice@Example.com", "laptop-1", "Mozilla/5.0", "00u1alice"] {
            #expect(!String(decoding: record, as: UTF8.self).contains(secret))
        }
        var reset = Self.full
        reset.type = .passwordResetRequest
        reset.ip = nil
        reset.failureKind = nil
        let tenantRecord = try Self.decodeCampaign(
            StageRecordCodec.encodeCampaign(reset, asn: nil, userKey: 2, origin: nil))
        #expect(tenantRecord.asn == nil)
        #expect(tenantRecord.event.ip == nil)
        #expect(tenantRecord.event.type == .passwordResetRequest)
        #expect(tenantRecord.event.failureKind == nil)
        var credentials = Self.failedLogin
        credentials.failureKind = .invalidCredentials
        #expect(
            try Self.decodeCampaign(StageRecordCodec.encodeCampaign(credentials, asn: 1, userKey: 3, origin: nil))
                .event.failureKind == nil)
    }

    @Test func campaignRecordsOfOtherTypesTargetsOrFlagsAreRefused() {
        // An MFA result never goes to the campaign stage.
        let mfa = StageRecordCodec.encodeCampaign(Self.full, asn: 1, userKey: 1, origin: nil)
        #expect(throws: StageRecordError.self) { try Self.decodeCampaign(mfa) }
        // The record ends with the target byte, the ASN (4), the flags and the address (presence, 16 bytes).
        let record = StageRecordCodec.encodeCampaign(Self.failedLogin, asn: 7, userKey: 1, origin: nil)
        let addressBytes = 1 + 16
        let flagsIndex = record.count - addressBytes - 1
        let targetIndex = flagsIndex - 5
        #expect(record[targetIndex] == 1)
        var target = record
        target[targetIndex] = 3
        #expect(throws: StageRecordError.invalidValue(field: "campaign target", detail: "3, expected 1 or 2")) {
            try Self.decodeCampaign(target)
        }
        var flags = record
        flags[flagsIndex] = 0x02
        #expect(throws: StageRecordError.invalidValue(field: "flags", detail: "unknown flag bits 2")) {
            try Self.decodeCampaign(flags)
        }
        #expect(throws: StageRecordError.trailingBytes(count: 1)) { try Self.decodeCampaign(record + [0]) }
        #expect(throws: StageRecordError.wrongStage(expected: .campaign, found: 1)) {
            try Self.decodeCampaign(Self.userRecord())
        }
    }

    @Test func campaignFactsRoundTripAndRefuseWhatNoEncoderWrites() throws {
        let both = CampaignFact(
            key: 0x0123_4567_89ab_cdef,
            stuffing: CampaignInterval(start: Timestamp(seconds: 100), until: Timestamp(seconds: 7300)),
            resetWave: CampaignInterval(start: Timestamp(seconds: 50), until: Timestamp(seconds: 200)))
        let neither = CampaignFact(key: 9, stuffing: nil, resetWave: nil)
        for fact in [both, neither] {
            #expect(try Self.decodeCampaignFact(key: fact.recordKey, value: fact.recordValue) == fact)
        }
        let value = both.recordValue
        #expect(throws: StageRecordError.self) { try Self.decodeCampaignFact(key: [1, 2, 3], value: value) }
        #expect(throws: StageRecordError.empty) { try Self.decodeCampaignFact(key: both.recordKey, value: []) }
        #expect(throws: StageRecordError.unknownVersion(9)) {
            try Self.decodeCampaignFact(key: both.recordKey, value: [9] + value.dropFirst())
        }
        for length in 1..<value.count {
            #expect(throws: StageRecordError.self) {
                try Self.decodeCampaignFact(key: both.recordKey, value: Array(value.prefix(length)))
            }
        }
        // An interval that ends before it starts is refused.
        let backwards = CampaignFact(
            key: 1, stuffing: CampaignInterval(start: Timestamp(seconds: 10), until: Timestamp(seconds: 5)),
            resetWave: nil)
        #expect(throws: StageRecordError.invalidValue(field: "stuffing", detail: "ends before it starts")) {
            try Self.decodeCampaignFact(key: backwards.recordKey, value: backwards.recordValue)
        }
    }

    @Test func recordsAreKeyedAsTheBriefSays() {
        #expect(StageRouting.campaignKey(asn: 64_500) == Array("asn:64500".utf8))
        #expect(StageRouting.campaignKey(tenant: "acme") == Array("tenant:acme".utf8))
        #expect(StageRouting.campaignKey(tenant: nil) == Array("tenant:".utf8))
        #expect(StageRouting.userKey("  Alice@Example.COM ") == Array("alice@example.com".utf8))
        #expect(StageRouting.userKey("bob") == Array("bob".utf8))
        #expect(StageRouting.sourceKey(IPAddress("2001:db8:1:2:aaaa::7")!) == Array("2001:db8:1:2::".utf8))
        #expect(StageRouting.sourceKey(IPAddress("81.2.69.142")!) == Array("81.2.69.142".utf8))
    }
}
