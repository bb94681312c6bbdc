import Testing
import _VigilMachinery

@testable import VigilCore

/// Outputs at the edges of what the published schemas describe: a reason that lowers the score, and the
/// dead letters of the identity providers' formats, whose field paths keep the input's spelling.
@Suite(.enabled(if: SchemaValidator.isAvailable, "needs python3 with jsonschema (pip install jsonschema)"))
struct SchemaEdgeTests {
    @Test func aDecisionWithATrustedNetworksNegativePointsValidates() throws {
        var table = Places.table
        let office = "81.2.69.160"
        table[office] = IPIntelligence(
            location: GeoLocation(
                countryCode: "GB", city: "London", latitude: 51.51, longitude: -0.09, accuracyRadiusKm: 20),
            network: AutonomousSystem(number: 64500),
            reputation: [ReputationMatch(source: .cidr, category: "trusted_network")])
        var h = EngineHarness(geo: table)
        h.establish("olga")
        let decision = try #require(h.login("olga", at: 600, ip: office, device: "d1").decision)
        #expect(decision.reasons.contains { $0.points < 0 })
        let outcome = try SchemaValidator.validate(
            [DecisionEncoder(policy: PolicySettings()).encode(decision)], schema: "decision.schema.json")
        #expect(outcome.status == 0 && outcome.output.contains(" 0 invalid"), "\(outcome.output)")
    }

    @Test func deadLettersOfEveryFormatValidate() throws {
        let paths = [
            (DecodeFailure.Kind.missingField, "keycloak.userId"), (.missingField, "auth0.log_id"),
            (.invalidType, "entra.properties.authenticationDetails"), (.invalidType, "okta.target[0].id"),
            (.duplicateField, "okta"),
            (.missingField, "user.id"),
        ]
        let lines = paths.map { kind, field in
            DeadLetterEncoder.encode(
                payload: Array("{}".utf8), failure: DecodeFailure(kind, field: field, detail: "test"),
                origin: .file(path: "in", line: 1), maxPayloadBytes: 64)
        }
        let outcome = try SchemaValidator.validate(lines, schema: "dead-letter.schema.json")
        #expect(outcome.status == 0 && outcome.output.contains("6 valid, 0 invalid"), "\(outcome.output)")
    }
}
