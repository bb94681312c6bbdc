import Foundation
import Logging
import Testing
import VigilKafka

/// Quiet logger: librdkafka's connection chatter during broker-down tests is expected.
let testLogger: Logger = {
    var logger = Logger(label: "vigil.kafka.tests")
    // VIGIL_TEST_LOG_LEVEL=debug shows VigilKafka's and librdkafka's logs when a test needs explaining.
    logger.logLevel = ProcessInfo.processInfo.environment["VIGIL_TEST_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .critical
    return logger
}()

struct TestFailure: Error, CustomStringConvertible {
    let description: String
}

/// Runs blocking librdkafka work (poll, flush, close, the waits below, kcat) on a dedicated thread, so a
/// test never holds one of Swift Testing's cooperative threads while it waits. Keep `#expect` outside:
/// issues are attributed to the test through task-local state, which that thread does not have.
func blocking<Result>(_ body: () throws -> Result) async throws -> Result {
    try await onDedicatedThread(name: "vigil-kafka-test", body)
}

/// Polls `condition` until it holds or `timeout` passes; each step should block briefly itself.
func waitUntil(
    _ what: String, timeout: Duration = .seconds(30), step: () throws -> Bool
) throws {
    let deadline = ContinuousClock.now + timeout
    while try !step() {
        guard ContinuousClock.now < deadline else { throw TestFailure(description: "timed out waiting for \(what)") }
    }
}

func makeConsumer(
    _ cluster: MockKafkaCluster,
    group: String,
    extra: KeyValuePairs<String, String> = [:],
    onRebalance: @escaping (KafkaRebalanceEvent) -> Void = { _ in },
    onWarning: @escaping (KafkaWarning) -> Void = { _ in }
) throws -> KafkaConsumer {
    var configuration = KafkaConfiguration([
        "bootstrap.servers": cluster.bootstrapServers,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "heartbeat.interval.ms": "100",
        "session.timeout.ms": "6000",
    ])
    for (name, value) in extra { configuration[name] = value }
    return try KafkaConsumer(
        configuration: configuration, logger: testLogger, onRebalance: onRebalance, onWarning: onWarning)
}

func makeProducer(
    _ cluster: MockKafkaCluster, onWarning: @escaping (KafkaWarning) -> Void = { _ in }
) throws -> KafkaProducer {
    try KafkaProducer(
        configuration: KafkaConfiguration(["bootstrap.servers": cluster.bootstrapServers, "linger.ms": "5"]),
        logger: testLogger, onWarning: onWarning)
}

/// Polls until `count` messages arrived in total (failing on timeout) and returns them.
func consume(_ consumer: KafkaConsumer, count: Int, timeout: Duration = .seconds(30)) throws -> [KafkaMessage] {
    var messages: [KafkaMessage] = []
    try waitUntil("\(count) messages (have \(messages.count))", timeout: timeout) {
        messages += try consumer.poll(maxMessages: count - messages.count, timeout: .milliseconds(100))
        return messages.count >= count
    }
    return messages
}

/// Polls the producer until every message got a delivery report.
func deliveries(_ producer: KafkaProducer, count: Int, timeout: Duration = .seconds(30)) throws -> [KafkaDeliveryReport] {
    var reports: [KafkaDeliveryReport] = []
    try waitUntil("\(count) delivery reports", timeout: timeout) {
        reports += try producer.poll(timeout: .milliseconds(100))
        return reports.count >= count
    }
    return reports
}

/// Runs `kcat` with a timeout. Fails with a clear message when kcat is not installed.
func kcat(_ arguments: [String], input: String? = nil, timeout: Duration = .seconds(30)) throws -> String {
    let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        .split(separator: ":").map { "\($0)/kcat" }
        .first { FileManager.default.isExecutableFile(atPath: $0) }
    guard let path else {
        throw TestFailure(description: "kcat is not installed (apt-get install kcat); these tests need it")
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let output = Pipe()
    let errors = Pipe()
    let stdin = Pipe()
    process.standardOutput = output
    process.standardError = errors
    process.standardInput = stdin
    try process.run()
    if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
    try stdin.fileHandleForWriting.close()
    // Outputs are small (well below a pipe buffer), so reading after exit cannot deadlock.
    let deadline = ContinuousClock.now + timeout
    while process.isRunning {
        guard ContinuousClock.now < deadline else {
            process.terminate()
            throw TestFailure(description: "kcat \(arguments.joined(separator: " ")) did not finish in \(timeout)")
        }
        Thread.sleep(forTimeInterval: 0.02)
    }
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    guard process.terminationStatus == 0 else {
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        throw TestFailure(description: "kcat exited with \(process.terminationStatus): \(stderr)")
    }
    return text
}
