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

    /// The identity provider's adapter; nil for Vigil's own contract.
    var adapter: (any RecordAdapter.Type)? {
        switch self {
        case .vigil: nil
        case .keycloak: KeycloakRecord.self
        case .auth0: Auth0Record.self
        case .okta: OktaRecord.self
        }
    }

    /// The names a configuration or `--format` accepts, for messages.
    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// What one input record becomes.
public enum DecodedRecord: Sendable {
    /// An event for the stages.
    case event(AuthEvent)
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
        return try adapter.map(
            RecordFields.document(bytes, originalLength: originalLength, limits: canonical.limits, format: format))
    }

    /// `decode` over an array's bytes, as a result.
    public func decode(_ bytes: [UInt8]) -> Result<DecodedRecord, DecodeFailure> {
        bytes.withUnsafeBytes { buffer in Result { () throws(DecodeFailure) in try decode(buffer) } }
    }
}
