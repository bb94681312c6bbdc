import Testing
import _VigilMachinery

@testable import VigilCore

/// The decision encoder writes the constant text around enum values from tables built once; every
/// case must come out exactly as the member-by-member writing it replaced.
@Suite struct DecisionEncoderTests {
    /// The earlier encoding of the members the tables cover: key, escaped wire name, key.
    static func reference(_ decision: Decision) -> String {
        var json = JSONWriter()
        json.beginObject()
        json.field("event_type", decision.eventType.rawValue)
        json.field("user_id", decision.userID)
        json.field("role", decision.role.rawValue)
        json.key("tenant")
        json.null()
        json.field("time", timestamp: decision.time)
        json.field("action", decision.action.rawValue)
        json.key("factors")
        json.beginArray()
        for factor in decision.factors { json.string(factor.rawValue) }
        json.endArray()
        json.endObject()
        return String(decoding: JSONWriter.members(of: json.finish()), as: UTF8.self)
    }

    static func decision(_ index: Int) -> Decision {
        let signals = SignalName.allCases
        return Decision(
            decisionID: "d", eventID: "e", eventType: EventType.allCases[index % EventType.allCases.count],
            userID: "u\"1", role: UserRole.allCases[index % UserRole.allCases.count], tenant: nil,
            time: Timestamp(seconds: 0), action: DecisionAction.allCases[index % DecisionAction.allCases.count],
            factors: Array(MFAFactor.allCases.shuffled().prefix(index % 4)), score: index,
            level: RiskLevel.allCases[index % RiskLevel.allCases.count],
            reasons: [
                Reason(signal: signals[index % signals.count], points: index, details: .noDeviceID),
                Reason(signal: signals[(index + 5) % signals.count], points: -1, details: .compromisedCredential),
            ],
            rules: ["r"], policyVersion: "v", expiresAt: Timestamp(seconds: 60))
    }

    @Test func everyCaseIsSpelledAsItsWireName() {
        let encoder = DecisionEncoder(policy: PolicySettings())
        for index in 0..<(14 * 8) {
            let decision = Self.decision(index)
            let json = String(decoding: encoder.encode(decision), as: UTF8.self)
            #expect(json.hasPrefix(#"{"schema":"vigil.decision/1","decision_id":"d","event_id":"e","#))
            #expect(json.contains(Self.reference(decision)))
            #expect(
                json.contains(
                    #""risk":{"score":\#(index),"level":"\#(decision.level.rawValue)","reasons":[{"signal":"\#(decision.reasons[0].signal.rawValue)","points":\#(index),"detail":"#
                ))
            #expect(json.contains(#"{"signal":"\#(decision.reasons[1].signal.rawValue)","points":-1,"detail":"#))
        }
    }
}
