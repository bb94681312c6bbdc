import Dispatch
import Synchronization
import Testing

@testable import VigilDaemon

/// The end of the Kafka loop releases its clients in order and waits for them within a budget only:
/// a step that never returns (a client's destruction waiting on unreachable brokers) is named, and
/// the caller is not held by it.
struct BoundedReleaseTests {
    /// The order the steps ran in, shared with the releasing thread.
    private final class Journal: Sendable {
        let names = Mutex<[String]>([])
        func note(_ name: String) { names.withLock { $0.append(name) } }
    }

    @Test func stepsThatFinishRunInOrderAndNothingIsReported() {
        let journal = Journal()
        let release = BoundedRelease(
            steps: ["consumer", "producer", "tables"].map { name in .init(name: name) { journal.note(name) } })
        // A budget no run reaches: nothing blocks, so only a release that never ends could exceed it.
        #expect(release.run(budget: .seconds(600)) == nil)
        #expect(journal.names.withLock { $0 } == ["consumer", "producer", "tables"])
    }

    @Test func aStepThatDoesNotFinishIsNamedAndTheRestRunOnceItDoes() {
        let journal = Journal()
        let held = DispatchSemaphore(value: 0)
        let lastRan = DispatchSemaphore(value: 0)
        let release = BoundedRelease(steps: [
            .init(name: "consumer") { journal.note("consumer") },
            .init(name: "producer") {
                // Held until the test lets go, after `run` returned: the budget is what ended the wait.
                held.wait()
                journal.note("producer")
            },
            .init(name: "tables") {
                journal.note("tables")
                lastRan.signal()
            },
        ])
        #expect(release.run(budget: .milliseconds(50)) == "producer")
        held.signal()
        // The steps after the held one still run on the releasing thread.
        #expect(lastRan.wait(timeout: .now() + 60) == .success)
        #expect(journal.names.withLock { $0 } == ["consumer", "producer", "tables"])
    }

    @Test func aReleaseWithNoStepsReportsNothing() {
        #expect(BoundedRelease(steps: []).run(budget: .seconds(600)) == nil)
    }
}
