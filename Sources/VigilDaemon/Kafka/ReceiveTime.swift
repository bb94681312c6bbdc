import VigilCore

#if canImport(Glibc)
import Glibc
#endif

/// The time a consumed message counts as received: the bound its event's time may not pass by more than
/// `input.max_future_skew` (see `Pipeline.process`).
///
/// The Kafka message time is the better bound when the consumer lags, since it says when the record was
/// produced (CreateTime) or appended (LogAppendTime). But a producer sets CreateTime from its own clock,
/// or to anything it likes, so it is capped by the consumer's clock: a CreateTime in the future, absent
/// or negative counts as now. The host clock must be kept in time (NTP), like the brokers'.
enum ReceiveTime {
    /// `kafkaMilliseconds` when it is a time at or before `now`, else `now`.
    static func of(kafkaMilliseconds: Int64?, now: Timestamp) -> Timestamp {
        guard let kafkaMilliseconds, kafkaMilliseconds >= 0, kafkaMilliseconds < now.milliseconds else { return now }
        return Timestamp(milliseconds: kafkaMilliseconds)
    }

    /// The host's clock as a `Timestamp`.
    static var now: Timestamp {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Timestamp(microseconds: Int64(time.tv_sec) * 1_000_000 + Int64(time.tv_nsec) / 1000)
    }
}
