import Testing
import VigilTestSupport

@testable import VigilCore

/// The pipeline carries a re-emitted verdict to its outputs: in the payload and on the message, for a
/// sink to repeat in its headers.
@Suite struct PipelineReemissionTests {
    static let scope = ChangelogScope(inputTopic: "t")

    /// Five denied pushes (the fifth raises push bombing), then two logins, by offset.
    static let lines: [[UInt8]] =
        (0..<5).map { index in
            Array(
                #"{"event_id":"deny-\#(index)","type":"mfa_result","time":"2026-03-02T12:1\#(index):30Z","user":{"id":"carol"},"ip":"81.2.69.142","mfa":{"factor":"push","result":"denied"}}"#
                    .utf8)
        } + [
            Array(EventLines.login(id: "login-5", time: "2026-03-02T12:20:00Z", user: "carol").utf8),
            Array(EventLines.login(id: "login-6", time: "2026-03-02T12:30:00Z", user: "carol").utf8),
        ]

    static func pipeline() -> Pipeline {
        Pipeline(config: VigilConfig(), policyVersion: "v1", enricher: nil, deviceKey: .publicDefault)
    }

    static func outputs(_ offset: Int, _ pipeline: inout Pipeline) -> [OutputMessage] {
        var out: [OutputMessage] = []
        pipeline.process(lines[offset], origin: .kafka(topic: "t", partition: 0, offset: Int64(offset)), into: &out)
        return out
    }

    /// The outputs of every line processed again after a restore from a flush at offset 5, by offset.
    static func outputsAfterRestore() throws -> [[OutputMessage]] {
        var first = pipeline()
        first.recordsChanges = true
        for offset in 0...5 { _ = outputs(offset, &first) }
        var restored = pipeline()
        for record in first.takeChangelogFlush(stamp: 5, scope: scope) {
            #expect(try restored.applyChangelogRecord(key: record.key, value: record.value, scope: scope))
        }
        return lines.indices.map { outputs($0, &restored) }
    }

    @Test func reflectedInputIsMarkedInPayloadAndMessageLaterInputIsNot() throws {
        var uninterrupted = Self.pipeline()
        let expected = Self.lines.indices.map { Self.outputs($0, &uninterrupted) }
        #expect(expected[4].map(\.stream) == [.alerts])
        #expect(!expected.joined().contains { $0.reemitted })

        let again = try Self.outputsAfterRestore()
        let marked = again[...5].joined()
        #expect(marked.contains { $0.stream == .decisions })
        for message in marked {
            #expect(message.reemitted)
            let json = String(decoding: message.payload, as: UTF8.self)
            switch message.stream {
            case .decisions: #expect(json.hasSuffix(#","reemitted":true}"#))
            case .alerts: #expect(json.contains(#""vigil_reemitted":true}"#))
            case .deadLetters, .signals: Issue.record("no dead letter or signal expected: \(json)")
            }
        }
        #expect(again[6] == expected[6])
        #expect(!again[6].contains { $0.reemitted })
    }
}
