import Testing
import _VigilMachinery

@testable import VigilCore

/// A re-emitted copy says so in one member, and only it: every other output keeps its bytes.
@Suite struct ReemittedEncodingTests {
    /// A decision and the push-bombing alert of a real run.
    static func outputs() -> (decision: Decision, alert: Alert) {
        var h = EngineHarness()
        let decision = h.login("alice", at: 0).decision!
        for i in 0..<4 { h.push("carol", at: Double(i), result: .denied) }
        let alert = h.push("carol", at: 4, result: .denied).alerts[0]
        return (decision, alert)
    }

    @Test func aDecisionCarriesTheMemberOnlyWhenReemitted() {
        let decision = Self.outputs().decision
        let encoder = DecisionEncoder(policy: PolicySettings())
        let plain = encoder.encode(decision)
        #expect(encoder.encode(decision, reemitted: false) == plain)
        #expect(!String(decoding: plain, as: UTF8.self).contains("reemitted"))
        let marked = String(decoding: encoder.encode(decision, reemitted: true), as: UTF8.self)
        #expect(marked == String(decoding: plain.dropLast(), as: UTF8.self) + #","reemitted":true}"#)
    }

    @Test func anAlertCarriesTheMemberInUnmappedOnlyWhenReemitted() {
        let alert = Self.outputs().alert
        let encoder = AlertEncoder()
        let plain = String(decoding: encoder.encode(alert), as: UTF8.self)
        #expect(String(decoding: encoder.encode(alert, reemitted: false), as: UTF8.self) == plain)
        #expect(!plain.contains("reemitted"))
        let marked = String(decoding: encoder.encode(alert, reemitted: true), as: UTF8.self)
        #expect(marked.hasSuffix(#""window_start":\#(alert.windowStart.milliseconds),"vigil_reemitted":true}}"#))
        #expect(marked.replacing(#","vigil_reemitted":true"#, with: "") == plain)
    }
}

/// The published schemas accept a re-emitted copy, and refuse the member with any value but true.
@Suite(.enabled(if: SchemaValidator.isAvailable, "needs python3 with jsonschema (pip install jsonschema)"))
struct ReemittedSchemaTests {
    @Test func theDecisionSchemaAcceptsAMarkedCopyOnly() throws {
        let decision = ReemittedEncodingTests.outputs().decision
        let encoder = DecisionEncoder(policy: PolicySettings())
        let valid = try SchemaValidator.validate(
            [encoder.encode(decision), encoder.encode(decision, reemitted: true)], schema: "decision.schema.json")
        #expect(valid.status == 0 && valid.output.contains(" 0 invalid"), "\(valid.output)")
        let wrong = Array(
            String(decoding: encoder.encode(decision, reemitted: true), as: UTF8.self)
                .replacing(#""reemitted":true"#, with: #""reemitted":false"#).utf8)
        let invalid = try SchemaValidator.validate([wrong], schema: "decision.schema.json")
        #expect(invalid.status == 1, "\(invalid.output)")
    }

    @Test func theAlertSchemaAcceptsAMarkedCopyOnly() throws {
        let alert = ReemittedEncodingTests.outputs().alert
        let encoder = AlertEncoder()
        let valid = try SchemaValidator.validate(
            [encoder.encode(alert), encoder.encode(alert, reemitted: true)], schema: "alert.schema.json")
        #expect(valid.status == 0 && valid.output.contains(" 0 invalid"), "\(valid.output)")
        let wrong = Array(
            String(decoding: encoder.encode(alert, reemitted: true), as: UTF8.self)
                .replacing(#""vigil_reemitted":true"#, with: #""vigil_reemitted":"yes""#).utf8)
        let invalid = try SchemaValidator.validate([wrong], schema: "alert.schema.json")
        #expect(invalid.status == 1, "\(invalid.output)")
    }
}
