import Foundation
import VigilKafka

/// A program run by a test, its standard output and error captured to files (never pipes: a chatty
/// child cannot fill a pipe buffer and hang), killed if the test lets go of it while it still runs.
public final class ChildProcess {
    private let stdoutURL: URL
    private let stderrURL: URL
    private let process = Process()
    private let command: String

    /// Starts `executable`; `environment` entries are set (or, when nil, removed) over this process's
    /// environment, and `stdin` is written to the child's standard input, which is then closed. The
    /// output files go to `directory` (a fresh temporary one when nil), where a failed test leaves them.
    public init(
        _ executable: URL, _ arguments: [String], environment: [String: String?] = [:], stdin: Data? = nil,
        directory: URL? = nil
    ) throws {
        let directory = try directory ?? TestPaths.temporaryDirectory("process")
        let name = "\(executable.lastPathComponent)-\(UUID().uuidString)"
        stdoutURL = directory.appendingPathComponent("\(name).stdout")
        stderrURL = directory.appendingPathComponent("\(name).stderr")
        command = ([executable.path] + arguments).joined(separator: " ")
        for url in [stdoutURL, stderrURL] {
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                throw TestFailure("cannot create \(url.path)")
            }
        }
        process.executableURL = executable
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment
        for (name, value) in environment { merged[name] = value }
        process.environment = merged
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        let input = Pipe()
        process.standardInput = input
        try MockKafkaCluster.startingChildProcess { try process.run() }
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// Whether the child has not exited yet.
    public var isRunning: Bool { process.isRunning }

    /// For what only the operating system tells (`/proc/PID/status`, say).
    public var processIdentifier: pid_t { process.processIdentifier }

    /// The exit status; only meaningful once `isRunning` is false.
    public var status: Int32 { process.terminationStatus }

    /// Everything the child wrote to standard output so far ("" when unreadable).
    public var stdout: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }
    /// Everything the child wrote to standard error so far ("" when unreadable).
    public var stderr: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

    /// Sends `signal` (`SIGTERM`, `SIGHUP`, ...) to the child; a child that has exited ignores it.
    public func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits (blocking) for exit and returns the status; terminates the child and throws after `timeout`.
    @discardableResult
    public func waitForExit(timeout: Duration) throws -> Int32 {
        do {
            try waitUntil("\(command) to exit", timeout: timeout, pause: .milliseconds(20)) { !process.isRunning }
        } catch {
            process.terminate()
            throw error
        }
        return status
    }

    /// Runs a program to completion (blocking) and returns what it printed; `environment` as for `init`.
    public static func run(
        _ executable: URL, _ arguments: [String], environment: [String: String?] = [:], stdin: Data? = nil,
        timeout: Duration = .seconds(120)
    ) throws -> ProcessResult {
        let child = try ChildProcess(executable, arguments, environment: environment, stdin: stdin)
        let status = try child.waitForExit(timeout: timeout)
        return ProcessResult(status: status, stdout: child.stdout, stderr: child.stderr)
    }

    /// Runs `name` found on `PATH` (e.g. `python3`, `kcat`) to completion.
    public static func run(
        tool name: String, _ arguments: [String], stdin: Data? = nil, timeout: Duration = .seconds(120)
    ) throws -> ProcessResult {
        try run(try executable(named: name), arguments, stdin: stdin, timeout: timeout)
    }

    /// `name` on `PATH`; fails with a clear message when it is not installed.
    public static func executable(named name: String) throws -> URL {
        let found = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
            .split(separator: ":").map { "\($0)/\(name)" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let found else { throw TestFailure("\(name) is not installed; these tests need it") }
        return URL(fileURLWithPath: found)
    }
}

/// What a program printed and how it exited.
public struct ProcessResult {
    /// The exit status.
    public var status: Int32
    /// Standard output, whole.
    public var stdout: String
    /// Standard error, whole.
    public var stderr: String
}
