import Foundation
import Testing
import VigilCore
import VigilTestSupport

/// Every dead-letter reason the decoder can give, end to end through Kafka: one bad message per
/// reason produced with kcat, read back from the dead-letter topic with kcat.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct DeadLetterRunTests {
    /// One input per reason, with the reason code its dead letter must carry (`DecodeFailure.reasonCode`).
    static let cases: [(reason: String, bytes: [UInt8])] = {
        let login = EventLines.login(id: "dl", time: "2026-03-02T09:00:00Z", user: "zed", ip: "81.2.69.142")
        func replacing(_ old: String, _ new: String) -> [UInt8] {
            Array(login.replacingOccurrences(of: old, with: new).utf8)
        }
        return [
            (
                "too_large",
                replacing(
                    #""outcome":"success""#, #""outcome":"success","pad":""# + String(repeating: "x", count: 200) + "\""
                )
            ),
            ("invalid_utf8", Array(#"{"event_id":"dl-"#.utf8) + [0xC3, 0x28] + Array(#"","type":"login"}"#.utf8)),
            ("invalid_json", Array(#"{"event_id":"dl","type":"login""#.utf8)),
            ("too_deep", replacing(#""outcome":"success""#, #""outcome":"success","deep":[[[[[[[[[[1]]]]]]]]]]"#)),
            ("not_an_object", Array(#"["dl","login"]"#.utf8)),
            ("duplicate_field:event_id", replacing(#""type":"login""#, #""type":"login","event_id":"again""#)),
            ("missing_field:user", replacing(#""user":{"id":"zed"},"#, "")),
            ("invalid_type:outcome", replacing(#""outcome":"success""#, #""outcome":5"#)),
            ("invalid_value:type", replacing(#""type":"login""#, #""type":"teleport""#)),
            ("invalid_ip", replacing("81.2.69.142", "81.2.69.999")),
            ("invalid_time", replacing("2026-03-02T09:00:00Z", "yesterday")),
            ("future_time", replacing("2026-03-02T09:00:00Z", "2099-03-02T09:00:00Z")),
        ]
    }()

    /// `input.max_event_bytes` here: low, so that a 300-byte message is too large.
    static let maxEventBytes = 256

    /// Each dead letter has its input's reason in the `vigil-reason` header and in its body, the input's
    /// bytes as its payload, and the input's topic, partition and offset in its headers and its origin.
    /// Ten nested arrays are too deep for `input.max_nesting_depth: 8`.
    @Test func eachReasonReachesTheDeadLetterTopicWithTheInputAndWhereItCameFrom() async throws {
        let fixture = try KafkaFixture(
            name: "dead-letters", partitions: 1,
            extra: "input:\n  max_event_bytes: \(Self.maxEventBytes)\n  max_nesting_depth: 8")
        // Every reason is a different failure: a swapped one cannot hide behind a duplicate.
        #expect(Set(Self.cases.map(\.reason)).count == Self.cases.count)
        // Every kind of an input: invalid_stage_record comes from a repartition topic (the test below),
        // signing_failed from a token that cannot be signed (KafkaLoopOutputTests).
        #expect(
            Set(Self.cases.map { String($0.reason.split(separator: ":")[0]) })
                .union(["invalid_stage_record", "signing_failed"])
                == Set(DecodeFailure.Kind.everyKind.map(\.rawValue)))
        let daemon = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        try await blocking {
            try Kcat.produce(fixture.brokers, topic: "auth.events", partition: 0, values: Self.cases.map(\.bytes))
        }
        var deadLetters: [Kcat.Record] = []
        try await waitUntil("a dead letter per reason", timeout: .seconds(60)) {
            try daemon.requireRunning()
            deadLetters = try fixture.deadLetters()
            return deadLetters.count >= Self.cases.count
        }
        #expect(deadLetters.count == Self.cases.count)
        #expect(try fixture.decisions().isEmpty)
        var answered: [Int] = []
        for record in deadLetters {
            // The payload is cut at input.max_event_bytes: only the too large input loses its tail.
            let payload = Self.payloadBytes(record.payload)
            guard let index = Self.cases.firstIndex(where: { Array($0.bytes.prefix(Self.maxEventBytes)) == payload })
            else {
                Issue.record("a dead letter whose payload is no input's: \(record.payload)")
                continue
            }
            answered.append(index)
            let (reason, bytes) = Self.cases[index]
            #expect(record.headers["vigil-reason"] == reason)
            #expect(record.payload["reason"] as? String == reason)
            #expect(record.payload["size"] as? Int == bytes.count, "\(reason)")
            #expect(record.payload["truncated"] as? Bool == (bytes.count > Self.maxEventBytes), "\(reason)")
            // Produced in order to an empty partition: input i is at offset i of partition 0.
            #expect(record.headers["vigil-source-topic"] == "auth.events", "\(reason)")
            #expect(record.headers["vigil-source-partition"] == "0", "\(reason)")
            #expect(record.headers["vigil-source-offset"] == "\(index)", "\(reason)")
            let origin = record.payload["origin"] as? [String: Any]
            #expect(origin?["topic"] as? String == "auth.events", "\(reason)")
            #expect(origin?["partition"] as? Int == 0 && origin?["offset"] as? Int == index, "\(reason)")
        }
        #expect(answered.sorted() == Array(Self.cases.indices), "one dead letter per input")
        #expect(try daemon.stop() == 0, "\(daemon.log)")
    }

    /// A record on a repartition topic that is no stage record (another producer wrote to an internal
    /// topic) is not lost: its dead letter carries its bytes, `invalid_stage_record` and the repartition
    /// topic it came from, and the stage goes on with the next record.
    @Test func aForeignRecordOnARepartitionTopicIsADeadLetter() async throws {
        let fixture = try KafkaFixture(name: "dead-letters-stage", partitions: 1)
        let daemon = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        let foreign = Array(#"{"not":"a stage record"}"#.utf8)
        try await blocking {
            try Kcat.produce(fixture.brokers, topic: "vigil-by-user", partition: 0, values: [foreign])
            try Kcat.produce(
                fixture.brokers, topic: "auth.events", partition: 0,
                values: [Array(EventLines.login(id: "after", time: "2026-03-02T09:00:00Z", user: "zed").utf8)])
        }
        try await fixture.waitForDecisions(1, from: daemon, "the decision of the login after the foreign record")
        let deadLetters = try fixture.deadLetters()
        #expect(deadLetters.count == 1)
        let deadLetter = try #require(deadLetters.first)
        #expect(deadLetter.headers["vigil-reason"] == "invalid_stage_record")
        #expect(deadLetter.headers["vigil-source-topic"] == "vigil-by-user")
        #expect(deadLetter.headers["vigil-source-offset"] == "0")
        #expect(Self.payloadBytes(deadLetter.payload) == foreign)
        #expect((deadLetter.payload["detail"] as? String)?.contains("stage record was refused") == true)
        #expect(try daemon.stop() == 0, "\(daemon.log)")
    }

    /// The input bytes a dead letter carries: its `payload` as text, or decoded from base64.
    static func payloadBytes(_ deadLetter: [String: Any]) -> [UInt8]? {
        guard let payload = deadLetter["payload"] as? String else { return nil }
        switch deadLetter["payload_encoding"] as? String {
        case "utf8": return Array(payload.utf8)
        case "base64": return Data(base64Encoded: payload).map { [UInt8]($0) }
        default: return nil
        }
    }
}

extension DecodeFailure.Kind {
    /// Every kind. The switch does not compile once a kind is added: list it here and give it an input above.
    static var everyKind: [Self] {
        let kinds: [Self] = [
            .tooLarge, .invalidUTF8, .invalidJSON, .tooDeep, .notAnObject, .duplicateField, .missingField,
            .invalidType, .invalidValue, .invalidIP, .invalidTime, .futureTime, .invalidStageRecord, .signingFailed,
        ]
        for kind in kinds {
            switch kind {
            case .tooLarge, .invalidUTF8, .invalidJSON, .tooDeep, .notAnObject, .duplicateField, .missingField,
                .invalidType, .invalidValue, .invalidIP, .invalidTime, .futureTime, .invalidStageRecord, .signingFailed:
                break
            }
        }
        return kinds
    }
}
