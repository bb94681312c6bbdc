import Foundation
import VigilKafka

/// Runs blocking work (librdkafka polls and flushes, kcat, child processes, loopback HTTP) on a
/// dedicated thread, so a test never holds one of Swift Testing's few cooperative threads while it
/// waits. Keep `#expect` outside: issues find their test through task-local state, which that thread
/// does not have.
public func blocking<Result>(_ body: () throws -> Result) async throws -> Result {
    try await onDedicatedThread(name: "vigil-test", body)
}

/// Checks `condition` until it holds, pausing `pause` between tries; throws a `TestFailure` naming
/// `what` once `timeout` has passed. Call it where blocking is allowed (inside `blocking`, or from a
/// synchronous test); a condition that blocks briefly itself (a poll) needs no pause.
public func waitUntil(
    _ what: String, timeout: Duration = .seconds(30), pause: Duration = .zero, _ condition: () throws -> Bool
) throws {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while try !condition() {
        guard clock.now < deadline else { throw TestFailure("timed out waiting for \(what)") }
        if pause > .zero {
            let (seconds, attoseconds) = pause.components
            Thread.sleep(forTimeInterval: Double(seconds) + Double(attoseconds) / 1e18)
        }
    }
}

/// The same wait from async code: the condition (usually kcat or an HTTP request) is checked every
/// 200 ms on a dedicated thread.
public func waitUntil(
    _ what: String, timeout: Duration = .seconds(30), _ condition: () throws -> Bool
) async throws {
    try await blocking { try waitUntil(what, timeout: timeout, pause: .milliseconds(200), condition) }
}
