import CRdKafka
import Foundation
import Logging
import Synchronization
import VigilDaemon
import VigilKafka
import VigilTestSupport
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
    func createTopics(_ names: String..., partitions: Int = KafkaBench.partitions) throws {
        for name in names { try cluster.createTopic(name, partitions: partitions) }
    }

    /// The internal topics (`InternalTopics`) of the daemon whose `kafka.group_id` is `<prefix>-vigil`, made
    /// as an operator would, beforehand (the mock broker answers no CreateTopics): the repartition topics
    /// and, with `changelog`, the changelog with `partitions`, the global tables (source risk, campaigns)
    /// with one.
    func createInternalTopics(prefix: String, changelog: Bool, partitions: Int = KafkaBench.partitions) throws {
        let group = "\(prefix)-vigil"
        for suffix in ["by-user", "by-source", "by-domain", "by-campaign"] + (changelog ? ["state-changelog"] : []) {
            try cluster.createTopic("\(group)-\(suffix)", partitions: partitions)
        }
        try cluster.createTopic("\(group)-source-risk", partitions: 1)
        try cluster.createTopic("\(group)-campaigns", partitions: 1)
    }

    /// Every topic's partition count unless a figure needs room for more events.
    static let partitions = 16

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

    /// What `topic`'s partitions hold now, read back through `KafkaPartitionReader`: records, key and
    /// value bytes, and whether every partition still starts at offset 0 (the mock broker drops a
    /// partition's oldest records beyond about 5 MiB, and the figures would then be short).
    func partitionContents(_ topic: String, partitions: Int) throws -> (records: Int, bytes: Int, complete: Bool) {
        let configuration = KafkaConfiguration(["bootstrap.servers": cluster.bootstrapServers])
        var records = 0
        var bytes = 0
        var complete = true
        for partition in 0..<Int32(partitions) {
            let reader = try KafkaPartitionReader(
                configuration: configuration, partition: KafkaTopicPartition(topic: topic, partition: partition),
                logger: logger)
            var first: Int64?
            while let batch = try reader.next(maxMessages: 10_000, timeout: .seconds(1)) {
                first = first ?? batch.first?.offset
            }
            complete = complete && (first ?? 0) == 0
            records += reader.progress.records
            bytes += reader.progress.bytes
        }
        return (records, bytes, complete)
    }

    /// A consumer of `topic` that is already assigned its partitions, so group-join time is not
    /// counted against the system under test.
    func observer(_ topic: String) throws -> Observer {
        try Observer(bootstrap: cluster.bootstrapServers, topic: topic, logger: logger)
    }

    /// Throughput: `start` launches the system; times from the first to the last of `expected`
    /// outputs (steady state, without client start-up) and from `start` to the last (wall).
    /// `isAssigned`, when given, is asked between polls until it first holds (the daemon's log says it has
    /// its partitions): the `assigned` rate runs from then to the last output.
    func throughput(
        inputs: Int, expected: Int, observed: String, timeout: Double, isAlive: () -> Bool = { true },
        isAssigned: (() -> Bool)? = nil, start: () throws -> Void
    ) throws -> Throughput {
        let observer = try observer(observed)
        let started = monotonicNanoseconds()
        try start()
        var first: UInt64?
        var assignedAt: UInt64?
        var last: UInt64 = 0
        var count = 0
        let deadline = started + UInt64(timeout * 1e9)
        while count < expected && monotonicNanoseconds() < deadline && isAlive() {
            if assignedAt == nil, let isAssigned, isAssigned() { assignedAt = monotonicNanoseconds() }
            let batch = try observer.consumer.poll(maxMessages: 10_000, timeout: .milliseconds(50))
            guard !batch.isEmpty else { continue }
            let now = monotonicNanoseconds()
            if first == nil { first = now }
            last = now
            count += batch.count
        }
        guard count >= expected, let first, last > first else { return Throughput(observed: count, rates: nil) }
        func rate(since start: UInt64) -> Double { Double(inputs) / (Double(last - start) / 1e9) }
        return Throughput(
            observed: count, rates: (rate(since: first), rate(since: started), assignedAt.map { rate(since: $0) }))
    }

    struct Throughput {
        /// Outputs seen on the observed topic.
        var observed: Int
        /// Input events per second between the first and the last output (steady), from the start of the
        /// system under test to the last output (wall), and from its assignment to the last output
        /// (assigned: restore and processing, without the group join); nil when not all outputs came.
        var rates: (steady: Double, wall: Double, assigned: Double?)?
    }

    /// Latency sweep against one running system under test: for each rate, a child process
    /// (`vigil-bench pace`, see `Pacer`) sends the next `seconds` worth of `events` at that rate and
    /// records when it handed each one to librdkafka; this process's observer records when each output
    /// arrived, matched by `event_id`. Both read CLOCK_MONOTONIC, which is system-wide. Keeping the load
    /// generator out of this process keeps its pacing and batching off the observer's threads.
    /// `expected` gives the outputs a slice should cause; a run also ends 5 s after its last arrival.
    func latencySweep(
        _ events: ArraySlice<GeneratedEvent>, rates: [Double], seconds: Double, input: String, observed: String,
        scratch: String, expected: (ArraySlice<GeneratedEvent>) -> Int
    ) throws -> [(rate: Double, latencies: [Double])] {
        let observer = try observer(observed)
        var results: [(rate: Double, latencies: [Double])] = []
        var next = events.startIndex
        // A first, unreported second at 500 ev/s: the system under test reports its assignment before
        // its fetchers have looked up their start offsets, and that start-up is not latency.
        for (index, rate) in ([500] + rates).enumerated() {
            let slice = events[next...].prefix(max(1, Int(rate * (index == 0 ? 1 : seconds))))
            next = slice.endIndex
            guard !slice.isEmpty else { break }
            let numbers = slice.map { eventNumber($0.bytes[...]) ?? -1 }
            let first = numbers.first { $0 >= 0 } ?? 0
            let eventsFile = scratch + "/pace-\(Int(rate)).events"
            let timesFile = scratch + "/pace-\(Int(rate)).times"
            try Pacer.write(slice, to: eventsFile)
            let pacer = try ChildProcess(
                URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath(),
                [
                    "pace", "--bootstrap", cluster.bootstrapServers, "--topic", input, "--rate", String(rate),
                    "--events", eventsFile, "--times", timesFile,
                ],
                directory: URL(fileURLWithPath: scratch))
            var arrivals = [UInt64](repeating: 0, count: slice.count)
            var count = 0
            let wanted = expected(slice)
            var lastArrival = monotonicNanoseconds()
            var childDone = false
            let deadline = monotonicNanoseconds() + UInt64((Double(slice.count) / rate + 60) * 1e9)
            while count < wanted && monotonicNanoseconds() < deadline
                && !(childDone && monotonicNanoseconds() - lastArrival > 5_000_000_000)
            {
                for message in try observer.consumer.poll(maxMessages: 1_000, timeout: .milliseconds(5)) {
                    let now = monotonicNanoseconds()
                    guard let number = eventNumber(message.value), number >= first, number - first < arrivals.count,
                        arrivals[number - first] == 0
                    else { continue }
                    arrivals[number - first] = now
                    lastArrival = now
                    count += 1
                }
                if !childDone { childDone = !pacer.isRunning }
            }
            try pacer.waitForExit(timeout: .seconds(60))
            let sent = Pacer.readTimes(timesFile)
            var latencies: [Double] = []
            for (position, number) in numbers.enumerated() where number >= first && number - first < arrivals.count {
                let arrival = arrivals[number - first]
                if arrival != 0, position < sent.count, sent[position] != 0, arrival >= sent[position] {
                    latencies.append(Double(arrival - sent[position]) / 1e6)
                }
            }
            if index > 0 { results.append((rate, latencies.sorted())) }
        }
        return results
    }
}

/// `vigil-bench pace --bootstrap B --topic T --rate R --events FILE --times FILE`: the load generator
/// of the latency figures, in a process of its own (standing for the IdP). It sends the events of
/// FILE at R per second with `linger.ms=0`, sleeping between sends rather than spinning (a spinning
/// pacer would take one of two cores from the system under test), and writes the CLOCK_MONOTONIC time
/// at which each event was handed to librdkafka to the times file.
enum Pacer {
    static func main(_ arguments: [String]) throws {
        var values: [String: String] = [:]
        var rest = arguments[...]
        while let name = rest.popFirst(), let value = rest.popFirst() { values[name] = value }
        guard let bootstrap = values["--bootstrap"], let topic = values["--topic"],
            let rate = values["--rate"].flatMap(Double.init), let eventsFile = values["--events"],
            let timesFile = values["--times"]
        else {
            progress("usage: vigil-bench pace --bootstrap B --topic T --rate R --events FILE --times FILE")
            exit(2)
        }
        var logger = Logger(label: "vigil-bench.pace")
        logger.logLevel = .error
        let events = try read(eventsFile)
        let producer = try KafkaProducer(
            configuration: KafkaConfiguration(["bootstrap.servers": bootstrap, "linger.ms": "0"]), logger: logger)
        // Warm-up: connect and learn the topic's metadata before the clock starts. The record is no
        // event (no event_id): the pass-through copies it, the daemon dead-letters it, observers skip it.
        try producer.produce(topic: topic, key: nil, value: Array(#"{"warm_up":true}"#.utf8))
        _ = producer.flush(timeout: .seconds(30))
        var times = [UInt64](repeating: 0, count: events.count)
        let begin = monotonicNanoseconds()
        var index = 0
        while index < events.count {
            let now = monotonicNanoseconds()
            let due = begin + UInt64(Double(index) / rate * 1e9)
            if due > now {
                _ = try producer.poll()
                var pause = timespec(tv_sec: 0, tv_nsec: Int(min(due - now, 1_000_000)))
                nanosleep(&pause, nil)
                continue
            }
            // Everything due by now goes out in one go, each stamped just before its produce call.
            while index < events.count, begin + UInt64(Double(index) / rate * 1e9) <= now {
                times[index] = monotonicNanoseconds()
                try producer.produce(topic: topic, key: events[index].key, value: events[index].value)
                index += 1
            }
        }
        _ = producer.flush(timeout: .seconds(60))
        try times.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: timesFile)) }
    }

    /// Length-prefixed records: key length (-1: no key), key, value length, value; native byte order.
    static func write(_ events: ArraySlice<GeneratedEvent>, to path: String) throws {
        var data = Data()
        func append(_ length: Int32) { withUnsafeBytes(of: length) { data.append(contentsOf: $0) } }
        for event in events {
            if let key = event.key {
                let bytes = Array(key.utf8)
                append(Int32(bytes.count))
                data.append(contentsOf: bytes)
            } else {
                append(-1)
            }
            append(Int32(event.bytes.count))
            data.append(contentsOf: event.bytes)
        }
        try data.write(to: URL(fileURLWithPath: path))
    }

    private static func read(_ path: String) throws -> [(key: [UInt8]?, value: [UInt8])] {
        let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var events: [(key: [UInt8]?, value: [UInt8])] = []
        var offset = 0
        func length() -> Int {
            defer { offset += 4 }
            return Int(data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: Int32.self) })
        }
        func bytes(_ count: Int) -> [UInt8] {
            defer { offset += count }
            return Array(data[offset..<offset + count])
        }
        while offset < data.count {
            let keyLength = length()
            let key = keyLength < 0 ? nil : bytes(keyLength)
            events.append((key, bytes(length())))
        }
        return events
    }

    static func readTimes(_ path: String) -> [UInt64] {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path)) else { return [] }
        return data.withUnsafeBytes { Array($0.bindMemory(to: UInt64.self)) }
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
                "auto.offset.reset": "earliest", "enable.auto.commit": "false", "fetch.wait.max.ms": "1",
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

    init(bootstrap: String, input: String, output: String, consumerSettings: [(String, String)] = []) {
        // The daemon's latency defaults too (fetch.wait.max.ms, linger.ms), so both sides are tuned alike.
        consumer = Self.client(
            RD_KAFKA_CONSUMER,
            [
                ("bootstrap.servers", bootstrap), ("group.id", "raw-\(input)"), ("enable.auto.offset.store", "false"),
            ] + KafkaPipelineService.consumerDefaults.map { ($0.key, $0.value) } + consumerSettings)
        producer = Self.client(
            RD_KAFKA_PRODUCER,
            [
                ("bootstrap.servers", bootstrap), ("enable.idempotence", "true"), ("acks", "all"),
            ] + KafkaPipelineService.producerDefaults.map { ($0.key, $0.value) })
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
            fatalError(
                "rd_kafka_new: "
                    + String(decoding: error.prefix { $0 != 0 }.map(UInt8.init(bitPattern:)), as: UTF8.self))
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

/// A config for `vigil run` against the mock cluster; everything else keeps its default. `changelog` nil
/// runs without the changelog; otherwise the changelog `<prefix>-vigil-state-changelog` is written every
/// `flushInterval`, with local snapshots in `stateDirectory`. The caller creates the internal topics
/// (`KafkaBench.createInternalTopics`): the mock broker answers no admin request, so neither is their
/// configuration checked.
func writeDaemonConfig(
    to path: String, bootstrap: String, input: String, prefix: String, cityDatabase: String, asnDatabase: String,
    vpnList: String, changelog: (stateDirectory: String, flushInterval: String)? = nil,
    properties: [(String, String)] = [], keyedByUser: Bool = false, threads: Int? = nil
) throws {
    // The config lives in a scratch folder and its relative paths resolve against it: make ours
    // absolute against the working directory first.
    func absolute(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }
    let yaml = """
        geo:
          city_db: \(absolute(cityDatabase))
          asn_db: \(absolute(asnDatabase))
        reputation:
          cidr_lists:
            - {path: "\(absolute(vpnList))", category: vpn}
        kafka:
          bootstrap_servers: "\(bootstrap)"
          group_id: \(prefix)-vigil
          input_topics: [\(input)]
          decisions_topic: \(prefix).decisions
          alerts_topic: \(prefix).alerts
          dead_letter_topic: \(prefix).dlq
          properties: {\(properties.map { "\"\($0.0)\": \"\($0.1)\"" }.joined(separator: ", "))}
        http:
          enabled: false
        input:
          keyed_by_user: \(keyedByUser)
        engine:
          threads: \(threads ?? 0)
        state:
        \(changelog.map { "  dir: \"\($0.stateDirectory)\"\n  flush_interval: \($0.flushInterval)\n  verify_topic_config: false" }
            ?? "  changelog: false\n  verify_topic_config: false")
        """
    try yaml.write(toFile: path, atomically: true, encoding: .utf8)
}
