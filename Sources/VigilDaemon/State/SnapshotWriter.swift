import Foundation

/// Writes local snapshots on a thread of its own, so the Kafka loop never waits for a large file's write
/// and fsync.
///
/// Latest wins per partition: a snapshot submitted while an older one of the same partition still waits
/// replaces it (in its place in the queue), since only the newest state matters and an older one would
/// only delay it. Partitions are written in the order they were first submitted. A failed write is
/// reported to `onFailure` and otherwise ignored: the changelog holds the same state, a missing snapshot
/// only makes the next restore longer.
///
/// Call `waitUntilIdle(timeout:)` at shutdown after submitting the final snapshots, then `stop()`.
final class SnapshotWriter: Sendable {
    /// Writes one snapshot; `StateDirectory.writeSnapshot` in the daemon.
    typealias Write = @Sendable (LocalSnapshot) throws -> Void

    private let queue: Queue

    /// A writer into `directory`; `onFailure` hears of every snapshot that could not be written,
    /// `onWritten` of every one that was (both on the writer's thread).
    convenience init(
        directory: StateDirectory, onWritten: @escaping @Sendable (LocalSnapshot) -> Void = { _ in },
        onFailure: @escaping @Sendable (LocalSnapshot, any Error) -> Void
    ) {
        self.init(
            write: { snapshot in try directory.writeSnapshot(snapshot) }, onWritten: onWritten, onFailure: onFailure)
    }

    /// A writer that stores each snapshot with `write` (tests substitute their own).
    init(
        write: @escaping Write, onWritten: @escaping @Sendable (LocalSnapshot) -> Void = { _ in },
        onFailure: @escaping @Sendable (LocalSnapshot, any Error) -> Void
    ) {
        let queue = Queue()
        self.queue = queue
        let thread = Thread {
            while let snapshot = queue.next() {
                do {
                    try write(snapshot)
                    onWritten(snapshot)
                } catch {
                    onFailure(snapshot, error)
                }
                queue.finished()
            }
        }
        thread.name = "vigil-snapshots"
        thread.start()
    }

    deinit {
        queue.stop()
    }

    /// Queues `snapshot`, replacing a queued older one of the same partition. Ignored after `stop()`.
    func submit(_ snapshot: LocalSnapshot) {
        queue.submit(snapshot)
    }

    /// Blocks until every submitted snapshot is written (or failed); false when `timeout` passed first.
    func waitUntilIdle(timeout: Duration) -> Bool {
        queue.waitUntilIdle(timeout: timeout)
    }

    /// Stops accepting snapshots; the thread ends once the queued ones are written.
    func stop() {
        queue.stop()
    }

    /// The queue between submitters and the writer's thread. `@unchecked Sendable`: every field is read
    /// and written only under `condition`.
    private final class Queue: @unchecked Sendable {
        private struct PartitionKey: Hashable {
            var topic: String
            var partition: Int32
        }

        private let condition = NSCondition()
        private var order: [PartitionKey] = []
        private var pending: [PartitionKey: LocalSnapshot] = [:]
        private var writing = false
        private var stopped = false

        func submit(_ snapshot: LocalSnapshot) {
            let key = PartitionKey(topic: snapshot.inputTopic, partition: snapshot.inputPartition)
            condition.lock()
            defer { condition.unlock() }
            guard !stopped else { return }
            if pending.updateValue(snapshot, forKey: key) == nil { order.append(key) }
            condition.broadcast()
        }

        /// The next snapshot to write, waiting for one; nil once stopped and drained.
        func next() -> LocalSnapshot? {
            condition.lock()
            defer { condition.unlock() }
            while order.isEmpty {
                if stopped { return nil }
                condition.wait()
            }
            writing = true
            return pending.removeValue(forKey: order.removeFirst())
        }

        /// The writer's thread is done with the snapshot `next` gave it.
        func finished() {
            condition.lock()
            writing = false
            condition.broadcast()
            condition.unlock()
        }

        func waitUntilIdle(timeout: Duration) -> Bool {
            let (seconds, attoseconds) = timeout.components
            let deadline = Date(timeIntervalSinceNow: Double(seconds) + Double(attoseconds) / 1e18)
            condition.lock()
            defer { condition.unlock() }
            while writing || !order.isEmpty {
                if !condition.wait(until: deadline) { return !writing && order.isEmpty }
            }
            return true
        }

        func stop() {
            condition.lock()
            stopped = true
            condition.broadcast()
            condition.unlock()
        }
    }
}
