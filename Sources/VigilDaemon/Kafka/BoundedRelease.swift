import Dispatch
import Foundation
import Synchronization

/// Runs the steps that release a loop's clients and threads, in order, on a thread of its own, and
/// waits for them no longer than a budget.
///
/// librdkafka's destruction takes no timeout: destroying a client waits for its broker threads, and
/// a consumer's for its group leave, however long the brokers take to answer. A shutdown that kept
/// every step of the drain, the commit and the group leave to its share of `kafka.shutdown_timeout`
/// could still overrun it here, and end by the watchdog's `_exit` without the other services' own
/// shutdown (the admin server, the SSF pushes) and without saying what held it. Past the budget the
/// caller goes on stopping, told which step is still under way; that step finishes on its thread, or
/// the process ends first.
struct BoundedRelease {
    /// One step: what it releases (for the log) and the work.
    struct Step {
        var name: String
        var release: @Sendable () -> Void
    }

    /// The steps in the order they run.
    var steps: [Step]

    /// Runs the steps in order on a new thread; returns nil once all finished within `budget`, else
    /// the name of the step under way when the budget ran out (the rest still run after it).
    func run(budget: Duration) -> String? {
        let progress = Progress(first: steps.first?.name)
        let steps = self.steps
        Thread.detachNewThread {
            for step in steps {
                progress.current.withLock { $0 = step.name }
                step.release()
            }
            progress.current.withLock { $0 = nil }
            progress.finished.signal()
        }
        let (seconds, attoseconds) = budget.components
        let deadline = DispatchTime.now() + Double(seconds) + Double(attoseconds) / 1e18
        guard progress.finished.wait(timeout: deadline) == .timedOut else { return nil }
        // Nil here too when the last step ended between the wait and this read: all of them finished.
        return progress.current.withLock { $0 }
    }

    /// What the releasing thread shares with the waiting one.
    private final class Progress: Sendable {
        /// The step under way (the first until the thread runs); nil after the last.
        let current: Mutex<String?>
        let finished = DispatchSemaphore(value: 0)

        init(first: String?) { current = Mutex(first) }
    }
}
