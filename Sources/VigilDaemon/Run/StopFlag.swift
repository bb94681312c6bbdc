import Synchronization

/// Set once from any thread, read by a thread that loops (the demo's driver, the push transmitter's
/// receivers): it stops at its next check.
final class StopFlag: Sendable {
    private let stopped = Atomic<Bool>(false)

    func set() { stopped.store(true, ordering: .relaxed) }

    var isSet: Bool { stopped.load(ordering: .relaxed) }
}
