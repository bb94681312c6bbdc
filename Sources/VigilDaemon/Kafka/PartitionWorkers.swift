import Foundation
import Synchronization

/// The threads that run one poll batch's partitions side by side (`engine.threads`): the calling
/// thread (the Kafka loop's) and `threads - 1` dedicated ones take partitions off a shared list until
/// none is left, so a partition's messages run in order on one thread at a time, and `run` returns only
/// when every partition of the batch is done.
///
/// Fork and join per batch rather than a queue per partition keeps everything else of the loop on its
/// one thread: the state machine, the offsets, the producers and the shard table see the batch before
/// and after, never during. The join's lock orders the memory, so a shard one thread processed in one
/// batch may be processed by another in the next. The cost is a wake-up per batch (microseconds, for
/// hundreds of messages); a batch too small to share runs on the calling thread alone.
final class PartitionWorkers: @unchecked Sendable {
    /// Threads per batch, the caller's included.
    let threads: Int

    /// Guards everything below; its condition carries the start and end of a batch.
    private let condition = NSCondition()
    /// Bumped for each batch, so a helper tells a new batch from a spurious wake-up.
    private var batch: UInt64 = 0
    /// The batch's work, callable with a partition's index; set only while a batch runs. Never escapes
    /// `run`: `run` waits for every helper to leave it before it returns.
    private var work: ((Int) -> Void)?
    private var jobs = 0
    /// Helpers still inside the current batch.
    private var busyHelpers = 0
    private var stopping = false
    /// The next partition index to take; shared by the threads of a batch.
    private let nextJob = Atomic<Int>(0)
    private var helpers: [Thread] = []

    /// Starts `threads - 1` helper threads (none for 1).
    init(threads: Int) {
        precondition(threads >= 1, "a batch needs at least its calling thread")
        self.threads = threads
        for index in 1..<threads {
            // The helpers keep the workers alive until `stop`.
            let thread = Thread { self.helperLoop() }
            thread.name = "vigil-worker-\(index)"
            thread.stackSize = 1 << 20
            helpers.append(thread)
            thread.start()
        }
    }

    /// Runs `work(i)` once for every `i` in `0..<jobs`, on this thread and the helpers, and returns when
    /// all are done. `work` must only touch what job `i` owns, plus `Sendable` shared state.
    func run(jobs: Int, _ work: (Int) -> Void) {
        guard threads > 1, jobs > 1 else {
            for job in 0..<jobs { work(job) }
            return
        }
        withoutActuallyEscaping(work) { work in
            condition.lock()
            self.work = work
            self.jobs = jobs
            nextJob.store(0, ordering: .relaxed)
            busyHelpers = helpers.count
            batch &+= 1
            condition.broadcast()
            condition.unlock()

            takeJobs(work, count: jobs)

            condition.lock()
            while busyHelpers > 0 { condition.wait() }
            self.work = nil
            condition.unlock()
        }
    }

    /// Ends the helper threads (they hold the workers until then); `run` must not be called after.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    private func takeJobs(_ work: (Int) -> Void, count: Int) {
        while true {
            let job = nextJob.add(1, ordering: .relaxed).oldValue
            guard job < count else { return }
            work(job)
        }
    }

    private func helperLoop() {
        var seen: UInt64 = 0
        condition.lock()
        while true {
            while batch == seen, !stopping { condition.wait() }
            if stopping {
                condition.unlock()
                return
            }
            seen = batch
            let (work, count) = (self.work!, jobs)
            condition.unlock()
            takeJobs(work, count: count)
            condition.lock()
            busyHelpers -= 1
            if busyHelpers == 0 { condition.broadcast() }
        }
    }
}
