import Foundation

/// The built `vigil` binary running `run` or `demo` with a config, as an operator starts it; its
/// standard error (the log) and output are captured to files in the test's directory.
public final class DaemonProcess {
    /// The device hash key daemons under test get unless a test says otherwise (long enough to be accepted).
    public static let testDeviceKey = "test-device-key-0123456789"

    private let child: ChildProcess

    /// `deviceKey` nil starts the daemon without its device hash key (`run` must refuse to start);
    /// `binary` is the package's debug build unless a caller (the bench) runs another one; `environment`
    /// adds variables (secrets the config names); `softOpenFileLimit` starts it with that soft limit on
    /// open files (through util-linux's `prlimit`, which then runs the daemon in its place).
    public init(
        _ command: String = "run", config: URL, directory: URL, arguments: [String] = [],
        deviceKey: String? = DaemonProcess.testDeviceKey, binary: URL = TestPaths.vigilBinary,
        environment: [String: String] = [:], softOpenFileLimit: Int? = nil
    ) throws {
        let commandLine = [command, "--config", config.path] + arguments
        child = try ChildProcess(
            softOpenFileLimit == nil ? binary : URL(fileURLWithPath: "/usr/bin/prlimit"),
            softOpenFileLimit.map { ["--nofile=\($0):", binary.path] + commandLine } ?? commandLine,
            environment: environment.mapValues { $0 }.merging(["VIGIL_DEVICE_HASH_KEY": deviceKey]) { $1 },
            directory: directory)
    }

    /// Peak resident set (VmHWM) so far, from /proc; nil once the daemon is gone.
    public var peakResidentBytes: Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(child.processIdentifier)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kilobytes = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])
        else { return nil }
        return kilobytes * 1024
    }

    /// The soft limit on open files the daemon runs with, from /proc; nil once the daemon is gone.
    public var softOpenFileLimit: UInt64? {
        guard let limits = try? String(contentsOfFile: "/proc/\(child.processIdentifier)/limits", encoding: .utf8),
            let line = limits.split(separator: "\n").first(where: { $0.hasPrefix("Max open files") })
        else { return nil }
        // "Max open files", then the soft limit, the hard limit and the unit.
        return line.split(separator: " ", omittingEmptySubsequences: true).dropFirst(3).first.flatMap { UInt64($0) }
    }

    /// CPU time used so far (user and system, all threads), from /proc; nil once the daemon is gone.
    public var cpuSeconds: Double? {
        // The fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
        guard let stat = try? String(contentsOfFile: "/proc/\(child.processIdentifier)/stat", encoding: .utf8),
            let end = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: end)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// SIGTERM, then waits (blocking) for the graceful exit and returns its status.
    @discardableResult
    public func stop(timeout: Duration = .seconds(40)) throws -> Int32 {
        child.signal(SIGTERM)
        return try child.waitForExit(timeout: timeout)
    }

    /// SIGKILL, as a crash or an OOM kill would end it: nothing is flushed or committed. Waits (blocking)
    /// until the process is gone.
    public func kill() throws {
        child.signal(SIGKILL)
        _ = try child.waitForExit(timeout: .seconds(20))
    }

    /// Whether the daemon has not exited yet.
    public var isRunning: Bool { child.isRunning }

    /// What the daemon logged so far.
    public var log: String { child.stderr }

    /// The fields of the last line logged with message `message` so far (`logging.format: json`), or nil.
    public func logged(_ message: String) -> [String: Any]? {
        log.split(separator: "\n").reversed().lazy.compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }.first { $0["msg"] as? String == message }
    }

    /// What the daemon printed on standard output so far (the demo's report).
    public var output: String { child.stdout }

    /// Fails at once with the daemon's log when it exited, instead of waiting out a timeout.
    public func requireRunning() throws {
        guard child.isRunning else { throw TestFailure("daemon exited with \(child.status):\n\(log)") }
    }

    /// Sends `signal` to the daemon (`SIGHUP` reloads, `SIGTERM` shuts down).
    public func signal(_ signal: Int32) { child.signal(signal) }

    /// Waits for exit and returns the status; fails the wait after `timeout`.
    public func waitForExit(timeout: Duration = .seconds(40)) async throws -> Int32 {
        try await waitUntil("daemon exit", timeout: timeout) { !child.isRunning }
        return child.status
    }
}
