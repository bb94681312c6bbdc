import Foundation
import Testing
import VigilCore
import VigilTestSupport

@testable import VigilDaemon

/// A consumed message's receive time: the Kafka time when it is not in the consumer's future, else the
/// consumer's clock, so no Kafka timestamp can vouch for an event from the future.
@Suite struct ReceiveTimeTests {
    static let now = Timestamp(rfc3339: "2026-03-02T09:00:00Z")!

    static func event(at time: String) -> [UInt8] {
        Array(EventLines.login(id: "e-\(time)", time: time, user: "u1").utf8)
    }

    /// What the pipeline makes of an event stamped `time` in a message carrying `kafkaMilliseconds`.
    static func outcome(eventTime time: String, kafkaMilliseconds: Int64?) -> [VigilCore.OutputStream] {
        var pipeline = Pipeline(config: VigilConfig(), policyVersion: "v1", enricher: nil, deviceKey: .publicDefault)
        var out: [OutputMessage] = []
        pipeline.process(
            event(at: time), origin: .kafka(topic: "t", partition: 0, offset: 1),
            receivedAt: ReceiveTime.of(kafkaMilliseconds: kafkaMilliseconds, now: now), into: &out)
        return out.map(\.stream)
    }

    static let year9999 = Timestamp(rfc3339: "9999-12-31T23:59:59Z")!.milliseconds

    @Test func aPastKafkaTimeIsTheReceiveTime() {
        // LogAppendTime (the broker's clock) or a CreateTime of a lagging consumer's backlog.
        let appended = Timestamp(rfc3339: "2026-03-02T08:00:00Z")!
        #expect(ReceiveTime.of(kafkaMilliseconds: appended.milliseconds, now: Self.now) == appended)
        #expect(
            Self.outcome(eventTime: "2026-03-02T08:10:00Z", kafkaMilliseconds: appended.milliseconds) == [.decisions])
        #expect(
            Self.outcome(eventTime: "2026-03-02T08:10:00.001Z", kafkaMilliseconds: appended.milliseconds)
                == [.deadLetters])
    }

    @Test(arguments: [nil, -1, Int64.min, year9999, Int64.max, now.milliseconds] as [Int64?])
    func aMissingNegativeOrFutureKafkaTimeCountsAsNow(_ kafkaMilliseconds: Int64?) {
        #expect(ReceiveTime.of(kafkaMilliseconds: kafkaMilliseconds, now: Self.now) == Self.now)
        #expect(Self.outcome(eventTime: "9999-12-31T23:59:59Z", kafkaMilliseconds: kafkaMilliseconds) == [.deadLetters])
        #expect(Self.outcome(eventTime: "2026-03-02T09:10:00Z", kafkaMilliseconds: kafkaMilliseconds) == [.decisions])
        #expect(Self.outcome(eventTime: "2026-03-02T09:10:01Z", kafkaMilliseconds: kafkaMilliseconds) == [.deadLetters])
    }

    @Test func theClockIsTheHostsWallClockInMicroseconds() {
        let seconds = Double(ReceiveTime.now.microseconds) / 1_000_000
        #expect(abs(seconds - Date().timeIntervalSince1970) < 60)
    }
}
