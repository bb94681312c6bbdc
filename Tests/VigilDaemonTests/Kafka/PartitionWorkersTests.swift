import Foundation
import Synchronization
import Testing

@testable import VigilDaemon

/// The threads a batch's partitions run on: every job once per batch, on as many threads as asked,
/// and `run` returns only when all are done.
@Suite struct PartitionWorkersTests {
    /// Counts how often each job ran, from any thread.
    final class RunCounts: Sendable {
        private let counts: Mutex<[Int]>
        init(jobs: Int) { counts = Mutex(Array(repeating: 0, count: jobs)) }
        func ran(_ job: Int) { counts.withLock { $0[job] += 1 } }
        var values: [Int] { counts.withLock { $0 } }
    }

    @Test(arguments: [1, 2, 4])
    func everyJobOfEveryBatchRunsOnceBeforeRunReturns(threads: Int) {
        let workers = PartitionWorkers(threads: threads)
        defer { workers.stop() }
        for jobs in [0, 1, 2, 3, 17, 64] {
            let counts = RunCounts(jobs: jobs)
            workers.run(jobs: jobs) { job in
                // Slow jobs, so that a run returning early would see some still at zero.
                if job % 5 == 0 { Thread.sleep(forTimeInterval: 0.002) }
                counts.ran(job)
            }
            #expect(counts.values == Array(repeating: 1, count: jobs), "\(threads) threads, \(jobs) jobs")
        }
    }

    @Test func twoThreadsRunTwoJobsAtTheSameTime() {
        let workers = PartitionWorkers(threads: 2)
        defer { workers.stop() }
        // Each job waits for the other to start: only two threads at once finish both.
        let started = [DispatchSemaphore(value: 0), DispatchSemaphore(value: 0)]
        let metTheOther = RunCounts(jobs: 2)
        workers.run(jobs: 2) { job in
            started[job].signal()
            if started[1 - job].wait(timeout: .now() + 5) == .success { metTheOther.ran(job) }
        }
        #expect(metTheOther.values == [1, 1])
    }

    @Test func oneThreadRunsEveryJobOnTheCallingThread() {
        let workers = PartitionWorkers(threads: 1)
        defer { workers.stop() }
        let caller = pthread_self()
        let elsewhere = RunCounts(jobs: 8)
        workers.run(jobs: 8) { job in
            if pthread_equal(pthread_self(), caller) == 0 { elsewhere.ran(job) }
        }
        #expect(elsewhere.values == Array(repeating: 0, count: 8))
    }
}
