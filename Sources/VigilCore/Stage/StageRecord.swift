import _VigilMachinery

/// One record for a stage's repartition topic, as the decode stage routes an event: the stage, the Kafka
/// record key and the binary value (`schemas/stage-records.md`). Produce it with the explicit
/// partition `partition(count:)` gives, so that Vigil and any client using Kafka's default partitioner
/// agree on where a key lives.
public struct StageRecord: Sendable, Equatable {
    /// The stage whose repartition topic the record goes to.
    public var stage: StageKind
    /// by-user: the normalised user id (UTF-8, as `UserIdentity` compares ids); by-source: the source
    /// address as text (IPv4, or the IPv6 /64 as `IPAddress.sourceKey` aggregates it); by-domain: the
    /// lower-cased email domain; by-campaign: `asn:<number>` or `tenant:<name>`.
    public var key: [UInt8]
    /// The record as `StageRecordCodec` writes it.
    public var value: [UInt8]

    /// A record as given.
    public init(stage: StageKind, key: [UInt8], value: [UInt8]) {
        self.stage = stage
        self.key = key
        self.value = value
    }

    /// The partition of the stage's topic with `count` partitions that holds `key`: Kafka's default
    /// partitioner (`Murmur2.partition(forKey:partitionCount:)`).
    public func partition(count: Int) -> Int { Murmur2.partition(forKey: key, partitionCount: count) }
}

/// Which stage records one decoded event makes, and their keys.
enum StageRouting {
    /// The by-user key of a user id: the id trimmed, lower-cased and in NFC, as the user's state is
    /// keyed (`UserIdentity`), so every spelling of one account lands on one partition.
    static func userKey(_ id: String) -> [UInt8] { Array(UserIdentity.normalised(id).utf8) }

    /// The by-source key of an address: the text of the address the source state aggregates to.
    static func sourceKey(_ address: IPAddress) -> [UInt8] { Array(address.sourceKey.description.utf8) }

    /// True for the events the source stage reads: failed logins and reset requests, with an address.
    static func goesToSource(_ event: AuthEvent) -> Bool {
        guard event.ip != nil else { return false }
        switch event.type {
        case .login: return event.outcome != .success
        case .passwordResetRequest: return true
        default: return false
        }
    }

    /// True for the events the campaign stage reads: failed logins and reset requests, with an address
    /// or without (the tenant's windows count them all).
    static func goesToCampaign(_ event: AuthEvent) -> Bool {
        switch event.type {
        case .login: event.outcome != .success
        case .passwordResetRequest: true
        default: false
        }
    }

    /// The by-campaign key of an autonomous system: `asn:<number>`.
    static func campaignKey(asn: UInt32) -> [UInt8] { Array("asn:\(asn)".utf8) }

    /// The by-campaign key of a tenant: `tenant:<name>`, `tenant:` for events without one.
    static func campaignKey(tenant: String?) -> [UInt8] { Array("tenant:\(tenant ?? "")".utf8) }

    /// True for the events the domain stage reads: reset requests with an email domain.
    static func goesToDomain(_ event: AuthEvent) -> Bool {
        event.type == .passwordResetRequest && event.user.emailDomain != nil
    }
}

extension SourceRiskFact {
    /// The fact's record key on the source-risk topic: the source's keyed hash, 8 bytes little endian.
    public var recordKey: [UInt8] { Self.recordKey(of: source) }

    /// The record key of `source`'s facts (and of the tombstone that withdraws them).
    public static func recordKey(of source: UInt64) -> [UInt8] { StageRecordCodec.factKey(source) }

    /// The fact's record value on the source-risk topic (`schemas/stage-records.md`).
    public var recordValue: [UInt8] { StageRecordCodec.encodeFact(self) }

    /// The fact a source-risk record holds; throws for bytes no source stage wrote. A tombstone (no
    /// value) is not a fact: it removes the source (`GlobalFactTable.removeFact(forSource:)`).
    public init(recordKey key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws(StageRecordError) {
        self = try StageRecordCodec.decodeFact(key: key, value: value)
    }

    /// The source a source-risk record key names; throws unless it is 8 bytes.
    public static func source(ofRecordKey key: UnsafeRawBufferPointer) throws(StageRecordError) -> UInt64 {
        guard key.count == 8 else {
            throw .invalidValue(field: "source-risk key", detail: "\(key.count) bytes, expected 8")
        }
        var reader = StageRecordReader(key)
        return try reader.u64("source-risk key")
    }
}

extension CampaignFact {
    /// The fact's record key on the campaigns topic: the entity's keyed hash, 8 bytes little endian.
    public var recordKey: [UInt8] { StageRecordCodec.factKey(key) }

    /// The record key of the entity `key`'s facts (and of the tombstone that withdraws them).
    public static func recordKey(of key: UInt64) -> [UInt8] { StageRecordCodec.factKey(key) }

    /// The fact's record value on the campaigns topic (`schemas/stage-records.md`).
    public var recordValue: [UInt8] { StageRecordCodec.encodeCampaignFact(self) }

    /// The fact a campaigns record holds; throws for bytes no campaign stage wrote. A tombstone (no
    /// value) is not a fact: it removes the entity (`GlobalFactTable.removeCampaign(_:)`).
    public init(recordKey key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws(StageRecordError) {
        self = try StageRecordCodec.decodeCampaignFact(key: try Self.entity(ofRecordKey: key), value: value)
    }

    /// The entity a campaigns record key names; throws unless it is 8 bytes.
    public static func entity(ofRecordKey key: UnsafeRawBufferPointer) throws(StageRecordError) -> UInt64 {
        guard key.count == 8 else {
            throw .invalidValue(field: "campaigns key", detail: "\(key.count) bytes, expected 8")
        }
        var reader = StageRecordReader(key)
        return try reader.u64("campaigns key")
    }
}
