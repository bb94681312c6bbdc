import Foundation
import Synchronization
import Testing
import VigilTestSupport

@testable import VigilDaemon

/// The snapshot writer's queue: latest wins per partition, partitions in the order first submitted,
/// failures reported without stopping it, and `waitUntilIdle` for shutdown.
@Suite struct SnapshotWriterTests {
    private struct WriteFailed: Error {}

    private func snapshot(_ partition: Int32, stamp: Int64) -> LocalSnapshot {
        LocalSnapshot(
            inputTopic: "auth.events", inputPartition: partition, changelogTopic: "vigil-state-changelog",
            changelogOffset: stamp, stamp: stamp, state: [UInt8(truncatingIfNeeded: stamp)],
            writtenAt: 1_796_000_000_000)
    }

    @Test func theLatestSnapshotOfAPartitionReplacesAQueuedOne() throws {
        let started = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let written = Mutex<[LocalSnapshot]>([])
        let writer = SnapshotWriter(
            write: { snapshot in
                if snapshot.stamp == 1 {
                    started.signal()
                    release.wait()
                }
                written.withLock { $0.append(snapshot) }
            },
            onFailure: { _, _ in })
        writer.submit(snapshot(0, stamp: 1))
        started.wait()  // the writer's thread is inside the first write: the rest queue behind it
        writer.submit(snapshot(0, stamp: 2))
        writer.submit(snapshot(1, stamp: 3))
        writer.submit(snapshot(0, stamp: 4))
        writer.submit(snapshot(2, stamp: 5))
        writer.submit(snapshot(1, stamp: 6))
        release.signal()
        #expect(writer.waitUntilIdle(timeout: .seconds(60)))
        #expect(written.withLock { $0.map(\.stamp) } == [1, 4, 6, 5])
        writer.stop()
    }

    @Test func failuresAreReportedAndTheWriterGoesOn() throws {
        let failures = Mutex<[Int64]>([])
        let written = Mutex<[Int64]>([])
        let writer = SnapshotWriter(
            write: { snapshot in if snapshot.inputPartition == 1 { throw WriteFailed() } },
            onWritten: { snapshot in written.withLock { $0.append(snapshot.stamp) } },
            onFailure: { snapshot, error in
                if error is WriteFailed { failures.withLock { $0.append(snapshot.stamp) } }
            })
        writer.submit(snapshot(1, stamp: 7))
        #expect(writer.waitUntilIdle(timeout: .seconds(60)))
        writer.submit(snapshot(2, stamp: 8))
        #expect(writer.waitUntilIdle(timeout: .seconds(60)))
        #expect(failures.withLock { $0 } == [7])
        #expect(written.withLock { $0 } == [8])
        writer.stop()
    }

    @Test func waitUntilIdleGivesUpWhileAWriteIsStuck() throws {
        let release = DispatchSemaphore(value: 0)
        let writer = SnapshotWriter(write: { _ in release.wait() }, onFailure: { _, _ in })
        writer.submit(snapshot(0, stamp: 1))
        #expect(!writer.waitUntilIdle(timeout: .milliseconds(50)))
        release.signal()
        #expect(writer.waitUntilIdle(timeout: .seconds(60)))
        writer.stop()
        // Stopped: nothing more is taken.
        writer.submit(snapshot(0, stamp: 2))
        #expect(writer.waitUntilIdle(timeout: .seconds(60)))
    }

    @Test func writesIntoTheStateDirectory() throws {
        let directory = try StateDirectory(path: try TestPaths.temporaryDirectory("snapshot-writer").path)
        let writer = SnapshotWriter(directory: directory, onFailure: { _, _ in })
        writer.submit(snapshot(3, stamp: 12))
        #expect(writer.waitUntilIdle(timeout: .seconds(60)))
        #expect(directory.loadSnapshot(inputTopic: "auth.events", partition: 3) == .found(snapshot(3, stamp: 12)))
        writer.stop()
    }
}
