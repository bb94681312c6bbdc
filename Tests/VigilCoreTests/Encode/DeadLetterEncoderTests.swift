import Testing
import _VigilMachinery

@testable import VigilCore

@Suite struct DeadLetterEncoderTests {
    let failure = DecodeFailure(.missingField, field: "user.id", detail: "required field user.id is missing or null")
    let file = MessageOrigin.file(path: "in/events.jsonl", line: 7)
    let kafka = MessageOrigin.kafka(topic: "auth.events", partition: 3, offset: 1_234_567)

    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test func textPayloadFromAFile() {
        let payload = Array(#"{"a":"é"}"#.utf8)
        let line = DeadLetterEncoder.encode(payload: payload, failure: failure, origin: file, maxPayloadBytes: 1024)
        #expect(
            text(line)
                == #"{"schema":"vigil.dead_letter/1","reason":"missing_field:user.id","detail":"required field user.id is missing or null","origin":{"file":"in/events.jsonl","line":7},"size":10,"truncated":false,"payload_encoding":"utf8","payload":"{\"a\":\"é\"}"}"#
        )
    }

    @Test func binaryPayloadFromKafkaWithEventID() {
        var failure = DecodeFailure(.invalidUTF8, detail: "invalid UTF-8 at byte offset 1")
        failure.eventID = "e1"
        let line = DeadLetterEncoder.encode(
            payload: [0x66, 0xFF, 0x6F, 0x00], failure: failure, origin: kafka, maxPayloadBytes: 1024)
        #expect(
            text(line)
                == #"{"schema":"vigil.dead_letter/1","reason":"invalid_utf8","detail":"invalid UTF-8 at byte offset 1","origin":{"topic":"auth.events","partition":3,"offset":1234567},"size":4,"truncated":false,"payload_encoding":"base64","payload":"Zv9vAA==","event_id":"e1"}"#
        )
    }

    @Test func truncatesToTheLimit() {
        let payload = Array(String(repeating: "[", count: 10_000).utf8)
        let line = text(DeadLetterEncoder.encode(payload: payload, failure: failure, origin: file, maxPayloadBytes: 16))
        #expect(
            line.contains(#""size":10000,"truncated":true,"payload_encoding":"utf8","payload":"[[[[[[[[[[[[[[[["}"#))
    }

    @Test func controlCharacterFloodStaysProducible() {
        // 16 MiB allowed by input.max_event_bytes, all U+0001 (6 bytes each once escaped).
        let payload = [UInt8](repeating: 0x01, count: 16 << 20)
        let line = DeadLetterEncoder.encode(
            payload: payload, failure: failure, origin: kafka, maxPayloadBytes: 16 << 20)
        #expect(line.count < 1_000_000)  // librdkafka's default message.max.bytes
        #expect(text(line).contains(#""size":16777216,"truncated":true"#))
    }

    @Test func cutThroughACharacterBecomesBase64() {
        let payload = Array("aé".utf8)  // 61 C3 A9
        let line = text(DeadLetterEncoder.encode(payload: payload, failure: failure, origin: file, maxPayloadBytes: 2))
        #expect(line.contains(#""size":3,"truncated":true,"payload_encoding":"base64","payload":"YcM="}"#))
    }

    @Test func controlCharactersAreEscaped() {
        let line = text(
            DeadLetterEncoder.encode(
                payload: Array("a\n\u{0}\"".utf8), failure: failure, origin: file, maxPayloadBytes: 64))
        #expect(line.contains(#""payload":"a\n\u0000\""}"#))
        #expect(!line.contains("\n"))
    }

    @Test(arguments: [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy"),
    ])
    func base64TestVectors(input: String, encoded: String) {
        let bytes = Array(input.utf8)
        #expect(bytes.withUnsafeBytes { Base64.encode($0) } == encoded)
    }

    @Test func isDeterministic() {
        let payload = Array(DecodeCorpus.login.utf8)
        #expect(
            DeadLetterEncoder.encode(payload: payload, failure: failure, origin: kafka, maxPayloadBytes: 64)
                == DeadLetterEncoder.encode(payload: payload, failure: failure, origin: kafka, maxPayloadBytes: 64))
    }

    @Test(.enabled(if: SchemaValidator.isAvailable, "needs python3 with jsonschema (pip install jsonschema)"))
    func everyDecoderFailureEncodesToTheSchema() throws {
        let decoder = EventDecoder()
        var lines: [[UInt8]] = []
        for (index, example) in DecodeCorpus.invalid.enumerated() {
            guard case .failure(let failure) = decoder.decode(example.bytes) else { continue }
            let origin = index % 2 == 0 ? file : kafka
            lines.append(
                DeadLetterEncoder.encode(
                    payload: example.bytes, failure: failure, origin: origin, maxPayloadBytes: 4096))
        }
        #expect(lines.count == DecodeCorpus.invalid.count)
        let outcome = try SchemaValidator.validate(lines, schema: "dead-letter.schema.json")
        #expect(outcome.status == 0, "\(outcome.output)")
        #expect(outcome.output.hasSuffix("\(lines.count) valid, 0 invalid\n"), "\(outcome.output)")
    }
}
