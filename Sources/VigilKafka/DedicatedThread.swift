import Foundation

/// Runs `body` on a new dedicated thread and suspends the caller until it returns.
///
/// librdkafka's calls block (poll, flush, consumer close, the waits built on them). Made directly from
/// async code they hold one of the few cooperative threads (two on a 2-core machine) and starve every
/// other task; from here they hold a thread of their own instead. The caller stays suspended while
/// `body` runs, so `body` may use the caller's non-Sendable state (clients, local variables): nothing
/// else touches it meanwhile. Do not call actor-isolated code from `body`: it does not run on the actor.
public func onDedicatedThread<Value>(
    name: String = "vigil-blocking", _ body: () throws -> Value
) async throws -> Value {
    try await withoutActuallyEscaping(body) { body in
        let work = BlockingWork(body)
        return try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                // `run` has released `body` when it returns: the caller's non-escaping closure must be
                // gone before the caller resumes.
                continuation.resume(with: work.run())
            }
            thread.name = name
            thread.start()
        }.value
    }
}

/// Carries the closure to the thread and its result back. Sound only because the two never run at
/// the same time: the caller waits for the thread's continuation.
private final class BlockingWork<Value>: @unchecked Sendable {
    private var body: (() throws -> Value)?

    init(_ body: @escaping () throws -> Value) {
        self.body = body
    }

    func run() -> Result<UncheckedTransfer<Value>, any Error> {
        let body = self.body!
        self.body = nil
        return Result { UncheckedTransfer(value: try body()) }
    }
}

private struct UncheckedTransfer<Value>: @unchecked Sendable {
    let value: Value
}
