import Foundation
import Logging
import Testing
import VigilKafka

/// Quiet logger for the in-process mock cluster.
let kafkaTestLogger: Logger = {
    var logger = Logger(label: "vigil.kafka.tests")
    logger.logLevel = .critical
    return logger
}()

struct KafkaTestFailure: Error, CustomStringConvertible {
    let description: String
}

/// `vigil run` as a child process with its stderr captured to a file.
final class DaemonProcess {
    let process = Process()
    let stderrURL: URL

    /// `deviceKey` nil starts the daemon without its device hash key (it must refuse to run).
    init(config: URL, directory: URL, deviceKey: String? = "test-device-key-0123456789") throws {
        stderrURL = directory.appendingPathComponent("daemon-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        process.executableURL = TestPaths.vigilBinary
        process.arguments = ["run", "--config", config.path]
        var environment = ProcessInfo.processInfo.environment
        environment["VIGIL_DEVICE_HASH_KEY"] = deviceKey
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        try process.run()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    var log: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

    /// Fails at once with the daemon's log when it exited, instead of waiting out a timeout.
    func requireRunning() throws {
        guard process.isRunning else {
            throw KafkaTestFailure(description: "daemon exited with \(process.terminationStatus):\n\(log)")
        }
    }

    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits for exit and returns the status; fails the wait after `timeout`.
    func waitForExit(timeout: Duration = .seconds(40)) async throws -> Int32 {
        try await waitFor("daemon exit", timeout: timeout) { !process.isRunning }
        return process.terminationStatus
    }
}

/// Runs blocking work (kcat, the daemon's HTTP endpoints, librdkafka flushes, child processes) on a
/// dedicated thread, so these long tests never hold a cooperative thread that other suites' async
/// tests need. Keep `#expect` outside: issues find their test through task-local state.
func blocking<Result>(_ body: () throws -> Result) async throws -> Result {
    try await onDedicatedThread(name: "vigil-daemon-test", body)
}

/// Checks `condition` (on a dedicated thread: it usually runs kcat or an HTTP request) every 200 ms
/// until it holds or `timeout` passes.
func waitFor(_ what: String, timeout: Duration, _ condition: () throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !blocking(condition) {
        guard ContinuousClock.now < deadline else { throw KafkaTestFailure(description: "timed out waiting for \(what)") }
        try await Task.sleep(for: .milliseconds(200))
    }
}

/// `kcat`, the independent client: tests produce input and read outputs with it, not with VigilKafka.
enum Kcat {
    static var path: String {
        get throws {
            let found = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
                .split(separator: ":").map { "\($0)/kcat" }
                .first { FileManager.default.isExecutableFile(atPath: $0) }
            guard let found else { throw KafkaTestFailure(description: "kcat is not installed (apt-get install kcat)") }
            return found
        }
    }

    /// Produces `key<TAB>value` lines.
    static func produce(_ brokers: String, topic: String, lines: [String]) throws {
        let result = try runProcess(
            try path, ["-b", brokers, "-P", "-t", topic, "-K", "\t"],
            stdin: Data((lines.joined(separator: "\n") + "\n").utf8), timeout: 30)
        guard result.status == 0 else { throw KafkaTestFailure(description: "kcat produce failed: \(result.stderr)") }
    }

    /// Every message currently in `topic`.
    static func consume(_ brokers: String, topic: String) throws -> [Record] {
        let result = try runProcess(try path, ["-b", brokers, "-C", "-t", topic, "-o", "beginning", "-e", "-J", "-q"], timeout: 30)
        guard result.status == 0 else { throw KafkaTestFailure(description: "kcat consume failed: \(result.stderr)") }
        return result.stdout.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return Record(object)
        }
    }

    struct Record {
        var key: String?
        var payload: [String: Any]
        var headers: [String: String]

        init(_ object: [String: Any]) {
            key = object["key"] as? String
            let text = object["payload"] as? String ?? ""
            payload = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
            let flat = object["headers"] as? [String] ?? []
            headers = [:]
            for index in stride(from: 0, to: flat.count - 1, by: 2) { headers[flat[index]] = flat[index + 1] }
        }
    }
}

/// One mock cluster with Vigil's four topics, and a config for `vigil run` pointing at it.
struct KafkaFixture {
    let cluster: MockKafkaCluster
    let directory: URL
    let config: URL
    let metricsPort: Int
    /// librdkafka properties beyond the fixture's own.
    let properties: [String: String]

    init(name: String, partitions: Int = 2, extra: String = "", properties: [String: String] = [:]) throws {
        self.properties = properties
        cluster = try MockKafkaCluster(logger: kafkaTestLogger)
        for topic in ["auth.events", "auth.decisions", "auth.alerts", "auth.events.dlq"] {
            try cluster.createTopic(topic, partitions: partitions)
        }
        directory = try TestPaths.temporaryDirectory(name)
        metricsPort = try freeLoopbackPort()
        config = directory.appendingPathComponent("vigil.yaml")
        try writeConfig(extra: extra)
    }

    /// (Re)writes the daemon's config with `extra` YAML appended.
    @discardableResult
    func writeConfig(extra: String) throws -> URL {
        try TestPaths.writeConfig(in: directory, anonymousDatabase: false, extra: yaml(extra: extra))
    }

    private func yaml(extra: String) -> String {
        """
        kafka:
          bootstrap_servers: "\(cluster.bootstrapServers)"
          shutdown_timeout: 10s
          properties:
            session.timeout.ms: "6000"
            heartbeat.interval.ms: "500"
            auto.commit.interval.ms: "500"
        \(properties.sorted { $0.key < $1.key }.map { "    \($0.key): \"\($0.value)\"" }.joined(separator: "\n"))
        http:
          listen: "127.0.0.1:\(metricsPort)"
        logging:
          format: json
          level: info
        \(extra)
        """
    }

    var brokers: String { cluster.bootstrapServers }

    func decisions() throws -> [Kcat.Record] { try Kcat.consume(brokers, topic: "auth.decisions") }
    func alerts() throws -> [Kcat.Record] { try Kcat.consume(brokers, topic: "auth.alerts") }
    func deadLetters() throws -> [Kcat.Record] { try Kcat.consume(brokers, topic: "auth.events.dlq") }
}

/// A port that was free a moment ago (config validation refuses port 0).
func freeLoopbackPort() throws -> Int {
    let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard socket >= 0 else { throw KafkaTestFailure(description: "socket failed") }
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0
        }
    }
    guard bound else { throw KafkaTestFailure(description: "bind failed") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Login events for `users` users, `count` in all, with unique event ids, timed before the
/// push-bombing scenario (09:00) so that one is not late.
func loginLines(prefix: String, count: Int, users: Int = 20) -> [String] {
    (0..<count).map { index in
        let user = "\(prefix)-user-\(index % users)"
        let minute = String(format: "%02d", index / 60 % 60), second = String(format: "%02d", index % 60)
        return "\(user)\t{\"event_id\": \"\(prefix)-\(index)\", \"type\": \"login\", \"time\": \"2026-03-02T08:\(minute):\(second).000Z\", "
            + "\"tenant\": \"acme\", \"user\": {\"id\": \"\(user)\"}, \"ip\": \"216.160.83.58\", \"outcome\": \"success\", "
            + "\"device\": {\"id\": \"\(user)-laptop\"}}"
    }
}
