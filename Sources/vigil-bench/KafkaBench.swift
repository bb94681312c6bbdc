import CRdKafka
import Foundation
import Logging
import Synchronization
import VigilKafka
import VigilWorkload

/// Figures 3 and 4: end to end through Kafka on an in-process mock cluster. The same harness drives
/// either system under test: the raw librdkafka pass-through (in process) or the real daemon
/// (`vigil run` as a subprocess); an observer consumer times what arrives on the output topic.
final class KafkaBench {
    let cluster: MockKafkaCluster
    private let logger: Logger

    init() throws {
        var logger = Logger(label: "vigil-bench")
        logger.logLevel = .error
        self.logger = logger
        cluster = try MockKafkaCluster(brokers: 1, logger: logger)
    }

    /// Sixteen partitions: the mock broker keeps only about 5 MB per partition and silently drops the
    /// oldest messages beyond that, so a preloaded backlog must be spread wide enough to survive.
    func createTopics(_ names: String...) throws {
        for name in names { try cluster.createTopic(name, partitions: 16) }
    }

    /// Writes `events` to `topic`, keyed by user, and waits until all are acknowledged.
    func preload(_ events: ArraySlice<GeneratedEvent>, topic: String) throws {
        let producer = try KafkaProducer(
            configuration: KafkaConfiguration(["bootstrap.servers": cluster.bootstrapServers]), logger: logger)
        for event in events { try Self.produce(producer, topic, event) }
        _ = producer.flush(timeout: .seconds(120))
        precondition(producer.pendingCount == 0, "preload did not finish")
    }

    private static func produce(_ producer: KafkaProducer, _ topic: String, _ event: GeneratedEvent) throws {
        if let key = event.key {
            try producer.produce(topic: topic, key: key, value: event.bytes)
        } else {
            try producer.produce(topic: topic, key: nil, value: event.bytes)
        }
    }

    /// A consumer of `topic` that is already assigned its partitions, so group-join time is not
    /// counted against the system under test.
    func observer(_ topic: String) throws -> Observer {
        try Observer(bootstrap: cluster.bootstrapServers, topic: topic, logger: logger)
    }

    /// Throughput: `start` launches the system; times from the first to the last of `expected`
    /// outputs (steady state, without client start-up) and from `start` to the last (wall).
    func throughput(
        inputs: Int, expected: Int, observed: String, timeout: Double, isAlive: () -> Bool = { true },
        start: () throws -> Void
    ) throws -> Throughput {
        let observer = try observer(observed)
        let started = monotonicNanoseconds()
        try start()
        var first: UInt64?
        var last: UInt64 = 0
        var count = 0
        let deadline = started + UInt64(timeout * 1e9)
        while count < expected && monotonicNanoseconds() < deadline && isAlive() {
            let batch = try observer.consumer.poll(maxMessages: 10_000, timeout: .milliseconds(50))
            guard !batch.isEmpty else { continue }
            let now = monotonicNanoseconds()
            if first == nil { first = now }
            last = now
            count += batch.count
        }
        guard count >= expected, let first, last > first else { return Throughput(observed: count, rates: nil) }
        return Throughput(
            observed: count,
            rates: (Double(inputs) / (Double(last - first) / 1e9), Double(inputs) / (Double(last - started) / 1e9)))
    }

    struct Throughput {
        /// Outputs seen on the observed topic.
        var observed: Int
        /// Input events per second between the first and the last output (steady), and from the
        /// start of the system under test to the last output (wall); nil when not all outputs came.
        var rates: (steady: Double, wall: Double)?
    }

    /// Latency: produces `events` at `rate` per second with the time of each send, and matches what
    /// arrives on `observed` by `event_id` (decisions carry it; the pass-through copies the event).
    func latency(
        _ events: ArraySlice<GeneratedEvent>, rate: Double, input: String, observed: String, expected: Int,
        start: () throws -> Void
    ) throws -> [Double] {
        let observer = try observer(observed)
        try start()
        let sent = SendTimes(count: events.count + events.startIndex + 2)
        let bootstrap = cluster.bootstrapServers
        let logger = logger
        let done = Atomic<Bool>(false)
        let paced = Thread {
            // linger.ms=0: the load generator stands for the IdP and must not add batching delay.
            let producer = try! KafkaProducer(
                configuration: KafkaConfiguration(["bootstrap.servers": bootstrap, "linger.ms": "0"]), logger: logger)
            let begin = monotonicNanoseconds()
            for (index, event) in zip(events.indices, events) {
                let due = begin + UInt64(Double(index - events.startIndex) / rate * 1e9)
                while monotonicNanoseconds() < due { _ = try? producer.poll(timeout: .milliseconds(0)); usleep(50) }
                sent.record(index + 1, monotonicNanoseconds())
                try! KafkaBench.produce(producer, input, event)
            }
            _ = producer.flush(timeout: .seconds(30))
            done.store(true, ordering: .releasing)
        }
        paced.start()
        var latencies: [Double] = []
        latencies.reserveCapacity(expected)
        let deadline = monotonicNanoseconds() + UInt64((Double(events.count) / rate + 30) * 1e9)
        while latencies.count < expected && monotonicNanoseconds() < deadline {
            for message in try observer.consumer.poll(maxMessages: 1_000, timeout: .milliseconds(5)) {
                let now = monotonicNanoseconds()
                guard let id = eventNumber(message.value), let sentAt = sent.time(id) else { continue }
                latencies.append(Double(now - sentAt) / 1e6)
            }
        }
        while !done.load(ordering: .acquiring) { usleep(10_000) }
        return latencies.sorted()
    }
}

/// An assigned consumer on one topic, reading from the beginning.
final class Observer {
    let consumer: KafkaConsumer

    init(bootstrap: String, topic: String, logger: Logger) throws {
        let assigned = Atomic<Bool>(false)
        consumer = try KafkaConsumer(
            configuration: KafkaConfiguration([
                "bootstrap.servers": bootstrap, "group.id": "observer-\(topic)-\(monotonicNanoseconds())",
                "auto.offset.reset": "earliest", "enable.auto.commit": "false", "fetch.wait.max.ms": "5",
            ]),
            logger: logger,
            onRebalance: { event in if case .assigned = event { assigned.store(true, ordering: .relaxed) } })
        try consumer.subscribe(topics: [topic])
        let deadline = monotonicNanoseconds() + 30_000_000_000
        while !assigned.load(ordering: .relaxed) && monotonicNanoseconds() < deadline {
            let early = try consumer.poll(maxMessages: 1, timeout: .milliseconds(100))
            precondition(early.isEmpty, "\(topic) must be empty before the system under test starts")
        }
        precondition(assigned.load(ordering: .relaxed), "observer of \(topic) got no partitions")
    }
}

/// Send times by event number, written by the pacing thread before each send and read by the
/// observer after the matching output arrived (the round trip through Kafka orders the two).
private final class SendTimes: @unchecked Sendable {
    private let times: UnsafeMutableBufferPointer<UInt64>

    init(count: Int) {
        times = .allocate(capacity: count)
        times.initialize(repeating: 0)
    }

    deinit { times.deallocate() }

    func record(_ number: Int, _ time: UInt64) { times[number] = time }

    func time(_ number: Int) -> UInt64? {
        guard number < times.count, times[number] != 0 else { return nil }
        return times[number]
    }
}

/// The `N` of `"event_id":"ev-N"`, the generator's ids, in an event or a decision.
func eventNumber(_ bytes: ArraySlice<UInt8>) -> Int? {
    let marker = Array(#""event_id":"ev-"#.utf8)
    guard let start = bytes.firstRange(of: marker)?.upperBound else { return nil }
    var number = 0
    var index = start
    while index < bytes.endIndex, let digit = bytes[index].digitValue {
        number = number * 10 + digit
        index += 1
    }
    return index > start ? number : nil
}

extension UInt8 {
    fileprivate var digitValue: Int? { (0x30...0x39).contains(self) ? Int(self - 0x30) : nil }
}

/// The yardstick: consume → produce the same bytes with librdkafka's C API and nothing else, with the
/// client settings VigilKafka applies (idempotent producer, acks=all, manual offset store).
final class RawPassThrough: @unchecked Sendable {
    private let consumer: OpaquePointer
    private let producer: OpaquePointer
    private let output: OpaquePointer
    private let stopping = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)

    init(bootstrap: String, input: String, output: String) {
        consumer = Self.client(RD_KAFKA_CONSUMER, [
            ("bootstrap.servers", bootstrap), ("group.id", "raw-\(input)"), ("auto.offset.reset", "earliest"),
            ("enable.auto.offset.store", "false"),
        ])
        producer = Self.client(RD_KAFKA_PRODUCER, [
            ("bootstrap.servers", bootstrap), ("enable.idempotence", "true"), ("acks", "all"),
        ])
        rd_kafka_poll_set_consumer(consumer)
        let topics = rd_kafka_topic_partition_list_new(1)!
        rd_kafka_topic_partition_list_add(topics, input, RD_KAFKA_PARTITION_UA)
        precondition(rd_kafka_subscribe(consumer, topics) == RD_KAFKA_RESP_ERR_NO_ERROR, "subscribe failed")
        rd_kafka_topic_partition_list_destroy(topics)
        self.output = rd_kafka_topic_new(producer, output, nil)
    }

    private static func client(_ type: rd_kafka_type_t, _ settings: [(String, String)]) -> OpaquePointer {
        let configuration = rd_kafka_conf_new()
        var error = [CChar](repeating: 0, count: 512)
        for (name, value) in settings {
            precondition(rd_kafka_conf_set(configuration, name, value, &error, 512) == RD_KAFKA_CONF_OK, "\(name)")
        }
        guard let client = rd_kafka_new(type, configuration, &error, 512) else {
            fatalError("rd_kafka_new: " + String(decoding: error.prefix { $0 != 0 }.map(UInt8.init(bitPattern:)), as: UTF8.self))
        }
        return client
    }

    func start() {
        Thread { self.run() }.start()
    }

    /// Blocks until the group has given the consumer its partitions, as a running deployment would
    /// have before traffic arrives; the latency figure must not include the group join.
    func waitUntilAssigned() {
        while true {
            var assignment: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
            if rd_kafka_assignment(consumer, &assignment) == RD_KAFKA_RESP_ERR_NO_ERROR, let list = assignment {
                let count = list.pointee.cnt
                rd_kafka_topic_partition_list_destroy(list)
                if count > 0 { return }
            }
            usleep(10_000)
        }
    }

    private func run() {
        var sinceServe = 0
        while !stopping.load(ordering: .relaxed) {
            guard let message = rd_kafka_consumer_poll(consumer, 50) else {
                rd_kafka_poll(producer, 0)
                continue
            }
            let record = message.pointee
            if record.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                while rd_kafka_produce(
                    output, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, record.payload, record.len, record.key,
                    record.key_len, nil) == -1
                {
                    rd_kafka_poll(producer, 10)  // local queue full: serve delivery reports, retry
                }
            }
            rd_kafka_message_destroy(message)
            sinceServe += 1
            if sinceServe == 256 {
                rd_kafka_poll(producer, 0)
                sinceServe = 0
            }
        }
        rd_kafka_flush(producer, 10_000)
        finished.store(true, ordering: .releasing)
    }

    /// Stops the loop, flushes and releases both clients.
    func stop() {
        stopping.store(true, ordering: .relaxed)
        while !finished.load(ordering: .acquiring) { usleep(10_000) }
        rd_kafka_topic_destroy(output)
        rd_kafka_consumer_close(consumer)
        rd_kafka_destroy(consumer)
        rd_kafka_destroy(producer)
    }
}

/// `vigil run --config FILE` as a subprocess, so the figure is the real daemon's. Spawned with
/// posix_spawn and reaped with waitpid: no run loop involved, so it works from any thread.
final class DaemonProcess {
    private let pid: pid_t

    /// Whether `binary` has the `run` command yet (it is being written on another branch). The help
    /// text decides: without `run`, `vigil run --help` still exits 0 with the top-level help.
    static func supportsRun(_ binary: String, scratch: String) -> Bool {
        let help = scratch + "/run-help.txt"
        guard FileManager.default.isExecutableFile(atPath: binary),
            let probe = try? spawn(binary, ["run", "--help"], output: help)
        else { return false }
        var status: Int32 = 0
        waitpid(probe, &status, 0)
        let text = (try? String(contentsOfFile: help, encoding: .utf8)) ?? ""
        return status == 0 && text.contains("USAGE: vigil run")
    }

    /// False once the daemon has exited (it failed: it only stops when told to).
    var isRunning: Bool {
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == 0
    }

    init(binary: String, config: String, log: String) throws {
        pid = try Self.spawn(binary, ["run", "--config", config], output: log)
    }

    private static func spawn(_ binary: String, _ arguments: [String], output: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var environment = ProcessInfo.processInfo.environment
        environment["VIGIL_DEVICE_HASH_KEY"] = "vigil-bench-device-key"
        let argv = ([binary] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, binary, &actions, nil, argv, envp)
        guard status == 0 else { throw POSIXError(POSIXErrorCode(rawValue: status) ?? .EINVAL) }
        return pid
    }

    /// Peak resident set (VmHWM) so far, from /proc.
    var peakResidentBytes: Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kilobytes = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])
        else { return nil }
        return kilobytes * 1024
    }

    func stop() {
        kill(pid, SIGTERM)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }

    /// A config for `vigil run` against the mock cluster; everything else keeps its default.
    static func writeConfig(
        to path: String, bootstrap: String, input: String, prefix: String, cityDatabase: String, asnDatabase: String
    ) throws {
        // The config lives in a scratch folder and its relative paths resolve against it: make ours
        // absolute against the working directory first.
        func absolute(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }
        let yaml = """
            geo:
              city_db: \(absolute(cityDatabase))
              asn_db: \(absolute(asnDatabase))
            kafka:
              bootstrap_servers: "\(bootstrap)"
              group_id: \(prefix)-vigil
              input_topics: [\(input)]
              decisions_topic: \(prefix).decisions
              alerts_topic: \(prefix).alerts
              dead_letter_topic: \(prefix).dlq
            http:
              enabled: false
            """
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
    }
}
