import _VigilMachinery

/// Security Event Tokens (RFC 8417) an identity provider transmits over the Shared Signals Framework, as a
/// bridge writes them to Kafka: one compact JWS per message (or its claims as plain JSON). The claims are
/// read, not the signature: the topic is trusted as the IdP's other log topics are (their producers
/// authenticate to Kafka; no IdP signs its log records), and verifying would need the IdP's keys, which
/// the deterministic core has no business fetching. The mapping table is in `docs/shared-signals.md`.
///
/// What is read, leniently where transmitters differ:
/// - The subject: SSF 1.0's top-level `sub_id`, or `subject` inside the event (earlier drafts, and what
///   Okta sends); formats `email`, `iss_sub`, `opaque`, `complex` (its `user`), also as the drafts'
///   `subject_type`.
/// - The time: the event's `event_timestamp` (seconds, or milliseconds as Okta sends it: a value beyond
///   the year 5000 in seconds is read as milliseconds), else `iat`.
/// - The event id: `jti`.
///
/// Mapping: CAEP credential-change of a password → a completed password reset (it arms the post-reset
/// window, as a reset seen in the IdP's log does); of another credential → a sensitive action (`mfa_reset`
/// when it is removed or revoked); RISC account-credential-change-required → a reset request. Every other
/// event type (session-revoked, credential-compromise, account-disabled, verification, ...) is skipped and
/// counted by type: the canonical contract has no event a receiver can act on for them.
enum SecurityEventRecord: RecordAdapter {
    static let caep = "https://schemas.openid.net/secevent/caep/event-type/"
    static let risc = "https://schemas.openid.net/secevent/risc/event-type/"

    static func mapRecord(_ record: RecordFields, eventID: inout String?) throws(DecodeFailure) -> DecodedRecord {
        let id = try record.required("jti", FieldLimits.eventID)
        eventID = id
        guard let events = try record.object("events") else {
            throw record.failure(.missingField, "events", "required field ssf.events is missing or null")
        }
        guard let uri = events.object.members.first?.name else {
            throw record.failure(.invalidValue, "events", "ssf.events holds no event")
        }
        guard let event = try events.object(uri) else {
            throw record.failure(.invalidType, "events", "the event \(uri) must be an object")
        }
        let type = uri.split(separator: "/").last.map(String.init) ?? uri
        let canonical: (EventType, Outcome?, SensitiveAction?)
        switch uri {
        case caep + "credential-change":
            let credential = try event.string("credential_type", 1...64)?.lowercased()
            let change = try event.string("change_type", 1...64)?.lowercased()
            if credential == nil || credential == "password" {
                canonical = (.passwordResetComplete, .success, nil)
            } else if change == "delete" || change == "revoke" {
                canonical = (.sensitiveAction, nil, .mfaReset)
            } else {
                canonical = (.sensitiveAction, nil, .other("credential_change"))
            }
        case risc + "account-credential-change-required":
            canonical = (.passwordResetRequest, nil, nil)
        default:
            return .skipped(eventType: String(type.prefix(64)))
        }
        let subject = try subject(of: record, event: event)
        let time = try time(of: record, event: event)
        var decoded = AuthEvent(
            eventID: id, type: .login, time: time,
            user: User(id: subject.userID, emailDomain: subject.email.flatMap(RecordFields.emailDomain)))
        decoded.recast(as: canonical.0, outcome: canonical.1, action: canonical.2)
        return .event(decoded)
    }

    /// The account the token is about, and its email address when the subject names one.
    private static func subject(
        of record: RecordFields, event: RecordFields
    ) throws(DecodeFailure) -> (userID: String, email: String?) {
        var found = try record.object("sub_id")
        if found == nil { found = try event.object("subject") }
        guard let subject = found else {
            throw record.failure(
                .missingField, "sub_id", "required field ssf.sub_id (or the event's subject) is missing or null")
        }
        let format = try format(of: subject)
        // Drafts before SSF 1.0 wrote a complex subject as its members alone: `{"user": {...}}`.
        switch format == nil && subject.object["user"] != nil ? "complex" : format {
        case "complex":
            guard let user = try subject.object("user") else {
                throw subject.failure(.missingField, "user", "a complex subject needs a user")
            }
            return try identity(user)
        default:
            return try identity(subject)
        }
    }

    /// A simple subject identifier's account (RFC 9493): email, iss_sub, opaque and their draft spellings.
    private static func identity(_ subject: RecordFields) throws(DecodeFailure) -> (userID: String, email: String?) {
        let format = try format(of: subject)
        switch format {
        case "email":
            guard let email = try subject.userID("email") else {
                throw subject.failure(.missingField, "email", "an email subject needs email")
            }
            return (email, email)
        case "iss_sub", "iss-sub":
            guard let sub = try subject.userID("sub") else {
                throw subject.failure(.missingField, "sub", "an iss_sub subject needs sub")
            }
            return (sub, nil)
        case "opaque":
            guard let id = try subject.userID("id") else {
                throw subject.failure(.missingField, "id", "an opaque subject needs id")
            }
            return (id, nil)
        default:
            throw subject.failure(
                .invalidValue, "format",
                "subject format \(format.map { "\"\($0.prefix(32))\"" } ?? "(none)") names no account: email, "
                    + "iss_sub, opaque or complex")
        }
    }

    /// `format`, or the drafts' `subject_type`.
    private static func format(of subject: RecordFields) throws(DecodeFailure) -> String? {
        if let format = try subject.string("format", 1...32) { return format }
        return try subject.string("subject_type", 1...32)
    }

    /// Seconds beyond this are milliseconds: 100,000,000,000 s is in the year 5138.
    static let millisecondsFrom: Int64 = 100_000_000_000

    private static func time(of record: RecordFields, event: RecordFields) throws(DecodeFailure) -> Timestamp {
        let (fields, name) =
            try event.integer("event_timestamp") != nil ? (event, "event_timestamp") : (record, "iat")
        guard let value = try fields.integer(name) else {
            throw record.failure(.missingField, "iat", "neither the event's event_timestamp nor ssf.iat is set")
        }
        let milliseconds = value >= millisecondsFrom ? value : value &* 1000
        guard value >= 0, milliseconds <= RecordFields.lastMillisecond else {
            throw fields.failure(.invalidTime, name, "\(fields.fieldPath(name)) must be a time between 1970 and 9999")
        }
        return Timestamp(milliseconds: milliseconds)
    }
}
