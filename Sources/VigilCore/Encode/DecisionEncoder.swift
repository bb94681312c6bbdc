import _VigilMachinery

/// Encodes decisions as `schemas/decision.schema.json`: one JSON object, fields in a fixed order.
public struct DecisionEncoder: Sendable {
    var policy: StepUpPolicy {
        didSet { protocolMembers = Self.protocolMembers(policy) }
    }

    /// Per action (by `DecisionAction.allCases` position): the `oidc` and `saml` members, which depend
    /// only on the action and the policy, encoded once.
    private var protocolMembers: [[UInt8]]
    /// The constant text around each enum value, encoded once.
    private let runs = DecisionRuns()

    /// An encoder for `policy`'s assurance values; rebuild it when the policy changes.
    public init(policy: PolicySettings) {
        self.policy = StepUpPolicy(settings: policy)
        protocolMembers = Self.protocolMembers(self.policy)
    }

    private static func protocolMembers(_ policy: StepUpPolicy) -> [[UInt8]] {
        DecisionAction.allCases.map { action in
            let stepUp = action == .stepUpSoft || action == .stepUpHard
            var json = JSONWriter(capacity: 256)
            json.beginObject()
            json.key("oidc")
            json.beginObject()
            json.field("acr_values", policy.acrValues(for: action))
            json.key("prompt")
            if stepUp { json.string("login") } else { json.null() }
            json.key("max_age")
            if stepUp { json.int(0) } else { json.null() }
            json.endObject()
            json.key("saml")
            json.beginObject()
            json.field("authn_context_class_ref", policy.samlClassRef(for: action))
            json.field("force_authn", stepUp)
            json.endObject()
            json.endObject()
            return JSONWriter.members(of: json.finish())
        }
    }

    /// One decision as a JSON line without newline (`schemas/decision.schema.json`), fields in fixed order.
    /// A `reemitted` copy (`RiskEngine.Verdict.reemitted`) ends with `"reemitted":true`; every other
    /// decision leaves the member out, so its bytes are those of a run that never restarted.
    public func encode(_ decision: Decision, reemitted: Bool = false) -> [UInt8] {
        var json = JSONWriter(capacity: 1024)
        json.beginObject()
        json.keyRun(#""schema":"vigil.decision/1","decision_id":"#)
        json.string(decision.decisionID)
        json.key("event_id")
        json.string(decision.eventID)
        json.keyRun(runs.eventType[decision.eventType.index])
        json.string(decision.userID)
        json.keyRun(runs.role[decision.role.index])
        if let tenant = decision.tenant { json.string(tenant) } else { json.null() }
        json.field("time", timestamp: decision.time)
        json.keyRun(runs.action[decision.action.index])
        json.beginArray()
        for factor in decision.factors { json.value(encoded: runs.factor[factor.index]) }
        json.endArray()

        json.members(protocolMembers[decision.action.index])

        json.key("risk")
        json.beginObject()
        json.field("score", decision.score)
        json.keyRun(runs.level[decision.level.index])
        json.beginArray()
        for reason in decision.reasons {
            json.beginObject()
            json.keyRun(runs.signal[reason.signal.index])
            json.int(reason.points)
            json.key("detail")
            json.beginString()
            reason.details.write(to: &json)
            json.endString()
            json.endObject()
        }
        json.endArray()
        json.endObject()
        json.stringArray("rules", decision.rules)
        json.field("policy_version", decision.policyVersion)
        json.field("expires_at", timestamp: decision.expiresAt)
        if reemitted { json.field("reemitted", true) }
        json.endObject()
        return json.finish()
    }
}

/// Each enum value of a decision with its member key and the key that follows it in schema order
/// (`"event_type":"login","user_id":`), encoded once from the wire names, so the constant text between
/// two dynamic values is one copy instead of a key, an escaped string and a key. Indexed by case
/// position. Wire names never need escaping.
///
/// The runs live in one buffer this object owns and the tables hold pointers into it, so reading a run
/// retains nothing (tables of `[UInt8]` cost a retain and a release per run). Immutable after `init`.
private final class DecisionRuns: @unchecked Sendable {
    let eventType: [UnsafeBufferPointer<UInt8>]
    let role: [UnsafeBufferPointer<UInt8>]
    let action: [UnsafeBufferPointer<UInt8>]
    let level: [UnsafeBufferPointer<UInt8>]
    let signal: [UnsafeBufferPointer<UInt8>]
    /// Factors are array elements: the quoted name alone.
    let factor: [UnsafeBufferPointer<UInt8>]
    private let storage: UnsafeMutableBufferPointer<UInt8>

    init() {
        let tables = [
            Self.runs(EventType.self, "event_type", then: "user_id"), Self.runs(UserRole.self, "role", then: "tenant"),
            Self.runs(DecisionAction.self, "action", then: "factors"),
            Self.runs(RiskLevel.self, "level", then: "reasons"),
            Self.runs(SignalName.self, "signal", then: "points"),
            MFAFactor.allCases.map { Array("\"\($0.rawValue)\"".utf8) },
        ]
        let storage = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: tables.joined().reduce(0) { $0 + $1.count })
        var offset = 0
        let pointers = tables.map { table in
            table.map { run in
                let end = storage[offset...].initialize(fromContentsOf: run)
                defer { offset = end }
                return UnsafeBufferPointer(rebasing: storage[offset..<end])
            }
        }
        self.storage = storage
        (eventType, role, action, level, signal, factor) = (
            pointers[0], pointers[1], pointers[2], pointers[3], pointers[4], pointers[5]
        )
    }

    deinit { storage.deallocate() }

    private static func runs<Value: CaseIterable & RawRepresentable>(
        _: Value.Type, _ key: String, then next: String
    ) -> [[UInt8]] where Value.RawValue == String {
        Value.allCases.map { Array("\"\(key)\":\"\($0.rawValue)\",\"\(next)\":".utf8) }
    }
}
