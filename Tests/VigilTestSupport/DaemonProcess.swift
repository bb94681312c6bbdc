import Foundation

/// The built `vigil` binary running `run` or `demo` with a config, as an operator starts it; its
/// standard error (the log) and output are captured to files in the test's directory.
public final class DaemonProcess {
    public static let testDeviceKey = "test-device-key-0123456789"

    private let child: ChildProcess

    /// `deviceKey` nil starts the daemon without its device hash key (`run` must refuse to start).
    public init(
        _ command: String = "run", config: URL, directory: URL, arguments: [String] = [],
        deviceKey: String? = DaemonProcess.testDeviceKey
    ) throws {
        child = try ChildProcess(
            TestPaths.vigilBinary, [command, "--config", config.path] + arguments,
            environment: ["VIGIL_DEVICE_HASH_KEY": deviceKey], directory: directory)
    }

    public var isRunning: Bool { child.isRunning }

    /// What the daemon logged so far.
    public var log: String { child.stderr }

    /// What the daemon printed on standard output so far (the demo's report).
    public var output: String { child.stdout }

    /// Fails at once with the daemon's log when it exited, instead of waiting out a timeout.
    public func requireRunning() throws {
        guard child.isRunning else { throw TestFailure("daemon exited with \(child.status):\n\(log)") }
    }

    public func signal(_ signal: Int32) { child.signal(signal) }

    /// Waits for exit and returns the status; fails the wait after `timeout`.
    public func waitForExit(timeout: Duration = .seconds(40)) async throws -> Int32 {
        try await waitUntil("daemon exit", timeout: timeout) { !child.isRunning }
        return child.status
    }
}
