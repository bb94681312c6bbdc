import Testing
import VigilWorkload

@testable import VigilCore

/// The decoder and `schemas/event.schema.json` must accept exactly the same messages.
@Suite(.enabled(if: SchemaValidator.isAvailable, "needs python3 with jsonschema (pip install jsonschema)"))
struct SchemaCrossCheckTests {
    @Test func schemaAcceptsEveryValidEvent() throws {
        let lines = DecodeCorpus.valid.map { Array($0.json.utf8) }
        let outcome = try SchemaValidator.validate(lines, schema: "event.schema.json")
        #expect(outcome.status == 0, "\(outcome.output)")
        #expect(outcome.output.hasSuffix("\(lines.count) valid, 0 invalid\n"), "\(outcome.output)")
    }

    /// Each identity provider's documented subset accepts the records the workload writes in its format,
    /// which its adapter reads (IdPTrafficTests).
    @Test(arguments: [
        (InputFormat.keycloak, "keycloak-event.schema.json"), (.auth0, "auth0-log.schema.json"),
        (.okta, "okta-log-event.schema.json"), (.entra, "entra-record.schema.json"),
    ])
    func anIdPsSchemaAcceptsTheWorkloadsRecords(format: InputFormat, schema: String) throws {
        var configuration = WorkloadConfiguration()
        configuration.users = 500
        configuration.format = format
        let lines = TrafficGenerator(configuration: configuration, pool: .maxMindTestCity).prefix(2_000).map(\.bytes)
        let outcome = try SchemaValidator.validate(lines, schema: schema)
        #expect(outcome.status == 0, "\(outcome.output)")
        #expect(outcome.output.hasSuffix("\(lines.count) valid, 0 invalid\n"), "\(outcome.output)")
    }

    @Test func schemaRejectsEveryExpressibleInvalidEvent() throws {
        let cases = DecodeCorpus.invalid.filter(\.isSchemaExpressible)
        let outcome = try SchemaValidator.validate(cases.map(\.bytes), schema: "event.schema.json")
        #expect(outcome.status == 1)
        #expect(outcome.output.hasSuffix("0 valid, \(cases.count) invalid\n"), "\(outcome.output)")
        // Name any case the schema let through.
        for (index, example) in cases.enumerated() where !outcome.output.contains(".jsonl:\(index + 1):") {
            Issue.record("schema accepted \(example.name) (\(example.reason))")
        }
    }
}
