import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The process's soft limit on open files, raised up to its hard limit so that librdkafka's clients
/// do not run out of descriptors.
///
/// A librdkafka client holds a socket per broker it talks to and wakeup descriptors for its broker
/// threads and queues. Vigil's consumer, producers, admin client, global table readers and restore
/// readers on a cluster of a few dozen brokers, or the test suites' mock clusters and clients running
/// side by side (over 1,100 descriptors at their peak), pass the soft limit of 1,024 that many shells
/// and service managers start a process with. A refused `socket()` is a connection failure for a
/// client, and an abort of the whole process for librdkafka's mock cluster, which asserts that a
/// broker's listener could be made. The hard limit is the administrator's ceiling; raising the soft
/// limit up to it needs no privilege (Go's runtime does the same at start).
public enum OpenFileLimit {
    /// A raise that happened.
    struct Raise: Equatable, Sendable {
        /// The soft limit before.
        let from: UInt64
        /// The soft limit now.
        let to: UInt64
    }

    /// Linux refuses a soft limit above `fs.nr_open` (1,048,576 unless changed) even when the hard
    /// limit is unlimited, and no process of Vigil's needs more.
    static let ceiling: UInt64 = 1 << 20

    /// The soft limit to set for the current `soft` and `hard` limits, nil when `soft` stays.
    static func target(soft: UInt64, hard: UInt64) -> UInt64? {
        let wanted = min(hard, ceiling)
        return wanted > soft ? wanted : nil
    }

    /// Raises the soft limit to the hard one (at most `ceiling`) before any Kafka client or mock broker
    /// opens a socket: a raise is logged with both figures, a failure is a warning and the process goes on
    /// with the limit it has.
    public static func raiseToHardLimit(logger: Logger) {
        do {
            if let raise = try raiseToHardLimit() {
                logger.info("open file limit raised", metadata: ["from": "\(raise.from)", "to": "\(raise.to)"])
            }
        } catch {
            logger.warning(
                "could not raise the open file limit: Kafka connections past it will fail",
                metadata: ["error": "\(error)"])
        }
    }

    /// Raises the soft limit to the hard one (at most `ceiling`); nil when it was there already.
    /// Throws with the `errno` text when the limits cannot be read or set.
    @discardableResult
    static func raiseToHardLimit() throws(OpenFileLimitError) -> Raise? {
        var limits = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits) == 0 else {
            throw OpenFileLimitError(operation: "getrlimit", reason: String(cString: strerror(errno)))
        }
        guard let soft = target(soft: UInt64(limits.rlim_cur), hard: UInt64(limits.rlim_max)) else { return nil }
        let before = UInt64(limits.rlim_cur)
        limits.rlim_cur = rlim_t(soft)
        guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits) == 0 else {
            throw OpenFileLimitError(operation: "setrlimit", reason: String(cString: strerror(errno)))
        }
        return Raise(from: before, to: soft)
    }
}

/// The open-file limit could not be read or raised; the process goes on with the limit it has.
struct OpenFileLimitError: Error, Equatable, CustomStringConvertible {
    /// The call that failed.
    let operation: String
    /// Its `errno` text.
    let reason: String

    /// The call and its reason, for the log.
    var description: String { "\(operation)(RLIMIT_NOFILE) failed: \(reason)" }
}
