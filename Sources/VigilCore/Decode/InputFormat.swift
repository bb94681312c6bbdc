import _VigilMachinery

/// The wire format of an input's records: Vigil's own contract, or an identity provider's records as it
/// publishes them, mapped into the same `AuthEvent` by the decode stage (`RecordDecoder`).
public enum InputFormat: String, Sendable, CaseIterable {
    /// `schemas/event.schema.json`: the canonical form, decoded in one pass (`EventDecoder`).
    case vigil
    /// Keycloak user events as an event-listener SPI publishes them (`KeycloakRecord`).
    case keycloak
    /// Auth0 tenant log events from a log stream or the Management API (`Auth0Record`).
    case auth0
    /// Okta System Log events from a poller or Log Streaming (`OktaRecord`).
    case okta
    /// Microsoft Entra ID sign-in and audit logs as diagnostic settings stream them to an Event Hub:
    /// `{"records": [...]}` per message (`EntraRecord`).
    case entra
    /// Security Event Tokens an IdP transmits (OpenID Shared Signals: CAEP, RISC), one compact JWS per
    /// message or its claims as JSON (`SecurityEventRecord`).
    case ssf

    /// The identity provider's adapter; nil for Vigil's own contract.
    var adapter: (any RecordAdapter.Type)? {
        switch self {
        case .vigil: nil
        case .keycloak: KeycloakRecord.self
        case .auth0: Auth0Record.self
        case .okta: OktaRecord.self
        case .entra: EntraRecord.self
        case .ssf: SecurityEventRecord.self
        }
    }

    /// Where a message may carry a batch of records: the member path of their array (Entra's
    /// `{"records": [...]}`; an Okta Event Hook's `{"data": {"events": [...]}}`). Each record of a batch is
    /// decoded, skipped or dead-lettered on its own; a message without the array is one record.
    var batchPath: [String]? {
        switch self {
        case .entra: ["records"]
        case .okta: ["data", "events"]
        case .vigil, .keycloak, .auth0, .ssf: nil
        }
    }

    /// True when one message may carry a batch of records (`batchPath`), the message then bounded by
    /// `input.max_batch_bytes`.
    public var carriesBatches: Bool { batchPath != nil }

    /// The largest message of this format `limits` let through to parsing.
    public func maxMessageBytes(_ limits: InputSettings) -> Int {
        carriesBatches ? max(limits.maxBatchBytes, limits.maxEventBytes) : limits.maxEventBytes
    }

    /// The names a configuration or `--format` accepts, for messages.
    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// The formats an IdP's login traffic comes in: every one but `ssf`, whose tokens only add to it (a
    /// password changed, a reset demanded); what `vigil demo --format` can generate.
    public static var trafficFormats: [InputFormat] { allCases.filter { $0 != .ssf } }
}

/// What one input record becomes.
public enum DecodedRecord: Sendable {
    /// An event for the stages.
    case event(AuthEvent)
    /// A record that stands for several events, in order (an Entra sign-in and its MFA steps).
    case events([AuthEvent])
    /// A record of a known format whose event type Vigil does not read (a Keycloak `LOGOUT`, ...):
    /// counted by type, never dead-lettered, so a new IdP event type cannot flood the dead letters.
    case skipped(eventType: String)
}

/// Decodes records of one `InputFormat`.
public struct RecordDecoder: Sendable {
    /// The format every record is read as.
    public let format: InputFormat
    /// Vigil's own decoder, with the size, depth and field limits every format shares.
    public var canonical: EventDecoder

    /// A decoder of `format` records under `limits` (the config's `input` section).
    public init(format: InputFormat, limits: InputSettings = InputSettings()) {
        self.format = format
        canonical = EventDecoder(limits: limits)
    }

    /// The record's event, or why it is skipped; throws what makes it a dead letter.
    public func decode(
        _ bytes: UnsafeRawBufferPointer, originalLength: Int? = nil
    ) throws(DecodeFailure) -> DecodedRecord {
        guard let adapter = format.adapter else {
            return .event(try canonical.decodeEvent(bytes, originalLength: originalLength))
        }
        if format == .ssf, let claims = try Self.compactJWSPayload(bytes, limits: canonical.limits) {
            // `withUnsafeBytes` rethrows untyped errors: the typed one travels in a `Result`.
            let limits = canonical.limits
            return try claims.withUnsafeBytes { claims in
                Result { () throws(DecodeFailure) in
                    try adapter.map(RecordFields.document(claims, originalLength: nil, limits: limits, format: .ssf))
                }
            }.get()
        }
        return try adapter.map(
            RecordFields.document(bytes, originalLength: originalLength, limits: canonical.limits, format: format))
    }

    /// One record of a message: where its bytes lie in the message, its index in the batch (nil when the
    /// message is the record), and what it became or why it is a dead letter.
    public struct MessageRecord: Sendable {
        /// The record's bytes within the message (all of them when the message is the record).
        public var bytes: Range<Int>
        /// The record's index in the batch's `records` array; nil when the message is the record.
        public var batchIndex: Int?
        /// What the record became, or why it is a dead letter.
        public var result: Result<DecodedRecord, DecodeFailure>
    }

    /// Every record of a message, for a format that `carriesBatches` (one record otherwise); throws what
    /// makes the whole message a dead letter (too large, not JSON, not an object). A bad record of a batch
    /// fails alone: the others are decoded.
    public func decodeMessage(
        _ bytes: UnsafeRawBufferPointer, originalLength: Int? = nil
    ) throws(DecodeFailure) -> [MessageRecord] {
        guard let path = format.batchPath, let adapter = format.adapter else {
            return [
                MessageRecord(
                    bytes: 0..<bytes.count, batchIndex: nil,
                    result: Result { () throws(DecodeFailure) in try decode(bytes, originalLength: originalLength) })
            ]
        }
        let records = try RecordFields.batch(
            bytes, originalLength: originalLength, limits: canonical.limits, format: format, path: path)
        return records.map { record in
            MessageRecord(
                bytes: record.bytes, batchIndex: record.index,
                result: record.record.flatMap { fields in
                    Result { () throws(DecodeFailure) in try adapter.map(fields) }
                })
        }
    }

    /// The claims of a compact JWS (`header.payload.signature`, base64url), or nil when `bytes` start with
    /// `{` (claims written as JSON). Throws for anything else: a token must be read whole or not at all.
    static func compactJWSPayload(
        _ bytes: UnsafeRawBufferPointer, limits: InputSettings
    ) throws(DecodeFailure) -> [UInt8]? {
        guard bytes.first != UInt8(ascii: "{") else { return nil }
        guard bytes.count <= limits.maxEventBytes else {
            throw DecodeFailure(
                .tooLarge, detail: "token is \(bytes.count) bytes, the limit is \(limits.maxEventBytes)")
        }
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3, let payload = Base64URL.decode(parts[1]) else {
            throw DecodeFailure(
                .invalidValue, field: "ssf.token",
                detail: "not a compact JWS: three base64url parts joined by dots, or the claims as JSON")
        }
        return payload
    }

    /// `decode` over an array's bytes, as a result.
    public func decode(_ bytes: [UInt8]) -> Result<DecodedRecord, DecodeFailure> {
        bytes.withUnsafeBytes { buffer in Result { () throws(DecodeFailure) in try decode(buffer) } }
    }
}
