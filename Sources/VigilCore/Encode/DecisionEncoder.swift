/// Encodes decisions as `schemas/decision.schema.json`: one JSON object, fields in a fixed order.
public struct DecisionEncoder: Sendable {
    public var policy: StepUpPolicy {
        didSet { protocolMembers = Self.protocolMembers(policy) }
    }

    /// Per action (by `DecisionAction.allCases` position): the `oidc` and `saml` members, which depend
    /// only on the action and the policy, encoded once.
    private var protocolMembers: [[UInt8]]

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

    public func encode(_ decision: Decision) -> [UInt8] {
        var json = JSONWriter(capacity: 1024)
        json.beginObject()
        json.field("schema", "vigil.decision/1")
        json.field("decision_id", decision.decisionID)
        json.field("event_id", decision.eventID)
        json.field("event_type", decision.eventType.rawValue)
        json.field("user_id", decision.userID)
        json.field("role", decision.role.rawValue)
        json.key("tenant")
        if let tenant = decision.tenant { json.string(tenant) } else { json.null() }
        json.field("time", timestamp: decision.time)
        json.field("action", decision.action.rawValue)
        json.key("factors")
        json.beginArray()
        for factor in decision.factors { json.string(factor.rawValue) }
        json.endArray()

        json.members(protocolMembers[decision.action.index])

        json.key("risk")
        json.beginObject()
        json.field("score", decision.score)
        json.field("level", decision.level.rawValue)
        json.key("reasons")
        json.beginArray()
        for reason in decision.reasons {
            json.beginObject()
            json.field("signal", reason.signal.rawValue)
            json.field("points", reason.points)
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
        json.endObject()
        return json.finish()
    }
}
