import Testing
import VigilKafka
import VigilTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Every blocking librdkafka call (poll, flush, close, the waits, kcat) runs through `blocking`, on a
/// thread of its own, so these tests never hold a cooperative thread that other suites' async tests
/// need. Serialized anyway: each test runs a mock cluster and several clients, which is load enough
/// on a 2-core machine. Waits are for conditions, with generous deadlines, never fixed sleeps.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ClusterTests {
    @Test func producerToKcat() async throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("out", partitions: 1)
        let producer = try makeProducer(cluster)
        for index in 0..<20 {
            try producer.produce(
                topic: "out", key: "user-\(index)", value: Array("value-\(index)".utf8),
                headers: [KafkaHeader(name: "source", value: Array("h\(index)".utf8))], opaque: 1000 + UInt64(index))
        }
        let reports = try await blocking { try deliveries(producer, count: 20) }
        for report in reports {
            guard case let .delivered(partition, offset) = report.outcome else {
                Issue.record("not delivered: \(report)")
                continue
            }
            // One partition and an idempotent producer: offset i holds message i.
            #expect(partition == 0)
            #expect(report.opaque == 1000 + UInt64(offset))
        }
        #expect(Set(reports.map(\.opaque)) == Set((0..<20).map { 1000 + UInt64($0) }))
        #expect(producer.pendingCount == 0)

        let output = try await blocking {
            try Kcat.run([
                "-b", cluster.bootstrapServers, "-C", "-t", "out", "-o", "beginning", "-e", "-q",
                "-f", "%k\t%s\t%h\n",
            ])
        }
        let expected = (0..<20).map { "user-\($0)\tvalue-\($0)\tsource=h\($0)" }
        #expect(output.split(separator: "\n").map(String.init) == expected)
        withExtendedLifetime(cluster) {}
    }

    /// Changelog writes: records and tombstones (null values) to an explicit partition, whatever the
    /// key would hash to; an empty value stays an empty value; each partition's high watermark.
    @Test func producesToAnExplicitPartitionWithNullValues() async throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("changelog", partitions: 3)
        let producer = try makeProducer(cluster)
        try producer.produce(topic: "changelog", partition: 2, key: "user-a", value: Array("state-1".utf8), opaque: 1)
        try producer.produce(topic: "changelog", partition: 2, key: Array("user-a".utf8), value: nil, opaque: 2)
        try producer.produce(topic: "changelog", partition: 0, key: "user-a", value: nil, opaque: 3)
        try producer.produce(topic: "changelog", partition: 2, key: "user-b", value: [], opaque: 4)
        let reports = try await blocking { try deliveries(producer, count: 4) }
        var partitions: [UInt64: Int32] = [:]
        for report in reports {
            guard case let .delivered(partition, _) = report.outcome else {
                Issue.record("not delivered: \(report)")
                continue
            }
            partitions[report.opaque] = partition
        }
        #expect(partitions == [1: 2, 2: 2, 3: 0, 4: 2])

        // %S is the value's size, -1 for a null value.
        let read = { (partition: Int32) in
            try Kcat.run([
                "-b", cluster.bootstrapServers, "-C", "-t", "changelog", "-p", "\(partition)", "-o", "beginning", "-e",
                "-q", "-f", "%k %p %S\n",
            ])
        }
        let (two, zero, one) = try await blocking { (try read(2), try read(0), try read(1)) }
        #expect(two.split(separator: "\n") == ["user-a 2 7", "user-a 2 -1", "user-b 2 0"])
        #expect(zero.split(separator: "\n") == ["user-a 0 -1"])
        #expect(one.isEmpty)

        // Where each partition ends, asked by a group consumer that neither subscribed nor owns it (how
        // the Kafka loop learns whether a changelog partition was written since a known offset).
        let consumer = try makeConsumer(cluster, group: "watermarks")
        let ends = try await blocking {
            try (0..<3).map {
                try consumer.watermarks(
                    of: KafkaTopicPartition(topic: "changelog", partition: $0), timeout: .seconds(10)
                ).high
            }
        }
        #expect(ends == [1, 0, 3])
        try consumer.close()
        #expect(throws: KafkaError.self) {
            try consumer.watermarks(of: KafkaTopicPartition(topic: "changelog", partition: 0), timeout: .seconds(1))
        }
        withExtendedLifetime(cluster) {}
    }

    @Test func kcatToConsumerInPartitionOrder() async throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("in", partitions: 3)
        let input = (0..<60).map { "key-\($0 % 7):\($0)" }.joined(separator: "\n") + "\n"
        _ = try await blocking {
            try Kcat.run(["-b", cluster.bootstrapServers, "-P", "-t", "in", "-K:"], input: input)
        }

        let consumer = try makeConsumer(cluster, group: "readers")
        try consumer.subscribe(topics: ["in"])
        let messages = try await blocking { try consume(consumer, count: 60) }
        #expect(Set(messages.map { Int(String(decoding: $0.value, as: UTF8.self))! }) == Set(0..<60))
        for (_, inPartition) in Dictionary(grouping: messages, by: \.partition) {
            let values = inPartition.map { Int(String(decoding: $0.value, as: UTF8.self))! }
            #expect(values == values.sorted())
            #expect(inPartition.map(\.offset) == Array(0..<Int64(inPartition.count)))
            // The same key always lands in the same partition.
            for message in inPartition {
                #expect(message.keyString == "key-\(Int(String(decoding: message.value, as: UTF8.self))! % 7)")
                #expect(message.timestamp != nil)
            }
        }
        let extra = try await blocking {
            let extra = try consumer.poll(maxMessages: 10, timeout: .milliseconds(200))
            try consumer.close()
            return extra
        }
        #expect(extra.isEmpty)
        withExtendedLifetime(cluster) {}
    }

    @Test func roundTripKeepsBytesHeadersAndNullKeys() async throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("bytes", partitions: 1)
        let producer = try makeProducer(cluster)
        let binary: [UInt8] = [0, 255, 10, 9, 0]
        try producer.produce(
            topic: "bytes", key: binary, value: binary,
            headers: [KafkaHeader(name: "bin", value: binary), KafkaHeader(name: "null", value: nil)])
        try producer.produce(topic: "bytes", key: nil, value: Array("no key".utf8))
        _ = try await blocking { try deliveries(producer, count: 2) }

        let consumer = try makeConsumer(cluster, group: "bytes")
        try consumer.subscribe(topics: ["bytes"])
        let messages = try await blocking {
            let messages = try consume(consumer, count: 2)
            try consumer.close()
            return messages
        }
        #expect(Array(messages[0].value) == binary)
        #expect(messages[0].key == binary)
        #expect(
            messages[0].headers == [KafkaHeader(name: "bin", value: binary), KafkaHeader(name: "null", value: nil)])
        #expect(messages[1].key == nil)
        #expect(messages[1].keyString == nil)
        #expect(messages[1].headers.isEmpty)
        #expect(String(decoding: messages[1].value, as: UTF8.self) == "no key")
        withExtendedLifetime(cluster) {}
    }

    @Test func newConsumerResumesAfterLastStoredOffset() async throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("resume", partitions: 1)
        let producer = try makeProducer(cluster)
        for index in 0..<20 { try producer.produce(topic: "resume", key: nil, value: Array("\(index)".utf8)) }
        _ = try await blocking { try deliveries(producer, count: 20) }

        let first = try makeConsumer(cluster, group: "resumers")
        try first.subscribe(topics: ["resume"])
        let all = try await blocking { try consume(first, count: 20) }
        #expect(all.map(\.offset) == Array(0..<20))
        // Only the first half was "processed": store offset 9, i.e. resume at 10.
        try first.storeOffset(topic: "resume", partition: 0, offset: 9)
        let (lag, committed) = try await blocking {
            try first.commit()
            let committed = try first.committed(
                [KafkaTopicPartition(topic: "resume", partition: 0)], timeout: .seconds(30))
            let lag = try first.lag()
            try first.close()
            return (lag, committed)
        }
        #expect(committed == [KafkaTopicPartition(topic: "resume", partition: 0): 10])
        #expect(lag.count == 1)
        #expect(lag.first?.position == 20)
        #expect(lag.first?.highWatermark == 20)
        #expect(lag.first?.lag == 0)
        #expect(throws: KafkaError.self) { try first.poll(maxMessages: 1, timeout: .zero) }

        let second = try makeConsumer(cluster, group: "resumers")
        try second.subscribe(topics: ["resume"])
        let (rest, extra) = try await blocking {
            let rest = try consume(second, count: 10)
            let extra = try second.poll(maxMessages: 10, timeout: .milliseconds(300))
            try second.close()
            return (rest, extra)
        }
        #expect(rest.map(\.offset) == Array(10..<20))
        #expect(extra.isEmpty)
        withExtendedLifetime(cluster) {}
    }

    @Test func brokerDownThenUpLosesNothing() async throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("flaky", partitions: 2)
        var producerWarnings: [KafkaWarning] = []
        let producer = try makeProducer(cluster) { producerWarnings.append($0) }
        // Reconnect quickly once the broker is back (librdkafka backs off up to 10 s by default).
        let consumer = try makeConsumer(cluster, group: "flaky", extra: ["reconnect.backoff.max.ms": "500"])
        try consumer.subscribe(topics: ["flaky"])

        for index in 0..<10 { try producer.produce(topic: "flaky", key: "k\(index)", value: Array("\(index)".utf8)) }
        var received = try await blocking {
            _ = try deliveries(producer, count: 10)
            return try consume(consumer, count: 10)
        }

        try cluster.setBrokerDown(id: 1)
        // The mock keeps its port while it is down (bound again at once, not listening): connections are
        // refused, and nothing else can take the port the broker comes back on.
        let port = UInt16(cluster.bootstrapServers.split(separator: ":").last ?? "")
        #expect(port.map { !canBindLoopback(port: $0) } == true)
        for index in 10..<20 { try producer.produce(topic: "flaky", key: "k\(index)", value: Array("\(index)".utf8)) }
        var reports: [KafkaDeliveryReport] = []
        // Stay down for at least 2 s and until the producer reported the outage.
        try await blocking {
            let downSince = ContinuousClock.now
            try waitUntil("the outage to be reported", timeout: .seconds(60)) {
                reports += try producer.poll(timeout: .milliseconds(100))
                received += try consumer.poll(maxMessages: 100, timeout: .milliseconds(100))
                return ContinuousClock.now - downSince > .seconds(2)
                    && producerWarnings.contains { $0.code == .transport || $0.code == .allBrokersDown }
            }
        }
        #expect(reports.isEmpty)
        #expect(received.count == 10)
        #expect(producer.pendingCount == 10)

        try cluster.setBrokerUp(id: 1)
        // Nothing was stored, so a group rejoin after the outage may redeliver 0..<10 first
        // (at-least-once); what must hold is that every message arrives.
        func values() -> Set<Int> { Set(received.map { Int(String(decoding: $0.value, as: UTF8.self))! }) }
        try await blocking {
            reports += try deliveries(producer, count: 10 - reports.count, timeout: .seconds(60))
            try waitUntil("every message to arrive after the outage", timeout: .seconds(60)) {
                received += try consumer.poll(maxMessages: 100, timeout: .milliseconds(100))
                return values().count >= 20
            }
            try consumer.close()
        }
        #expect(reports.allSatisfy { if case .delivered = $0.outcome { true } else { false } })
        #expect(values() == Set(0..<20))
        withExtendedLifetime(cluster) {}
    }

    @Test func fullQueueWaitsBoundedThenRecovers() async throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("narrow", partitions: 1)
        let producer = try KafkaProducer(
            configuration: KafkaConfiguration([
                "bootstrap.servers": cluster.bootstrapServers, "queue.buffering.max.messages": "5",
            ]),
            logger: testLogger)
        producer.queueFullTimeout = .milliseconds(200)
        try cluster.setBrokerDown(id: 1)
        for index in 0..<5 { try producer.produce(topic: "narrow", key: nil, value: [UInt8(index)]) }
        let (error, waited): (KafkaError?, Duration) = try await blocking {
            let started = ContinuousClock.now
            do throws(KafkaError) {
                try producer.produce(topic: "narrow", key: nil, value: [5])
                return (nil, ContinuousClock.now - started)
            } catch {
                return (error, ContinuousClock.now - started)
            }
        }
        if case let .operationFailed(_, code) = error {
            #expect(code == .queueFull)
        } else {
            Issue.record("expected a queue-full failure, got \(String(describing: error))")
        }
        #expect(waited >= .milliseconds(200))

        try cluster.setBrokerUp(id: 1)
        // Once deliveries free the queue, a blocked produce goes through within its timeout.
        producer.queueFullTimeout = .seconds(60)
        let reports = try await blocking {
            try producer.produce(topic: "narrow", key: nil, value: [5], opaque: 5)
            return try deliveries(producer, count: 6, timeout: .seconds(60))
        }
        #expect(reports.map(\.opaque).last == 5)
        withExtendedLifetime(cluster) {}
    }

    /// A second member joins; the first is told what it gives up (revoked, not lost) before losing it,
    /// and commits what it stored for those partitions. With the eager protocol the mock coordinator
    /// rejects every commit made while the group is joining (REBALANCE_IN_PROGRESS), so the offsets
    /// stored on revocation reach the group only through KafkaConsumer's retry in the next assignment
    /// callback: they must be committed (it times out without that retry). With the cooperative
    /// protocol the mock may reject the revocation commit too, and librdkafka need not make another
    /// assignment callback, so nothing is retried: there each revoked partition's offset must be
    /// committed, or the commit's rejection reported as a warning (a skipped commit fails both ways).
    @Test(arguments: ["range", "cooperative-sticky"])
    func rebalanceIsReportedAndRevokedOffsetsAreCommitted(strategy: String) async throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("shared", partitions: 4)
        let producer = try makeProducer(cluster)
        for index in 0..<40 {
            try producer.produce(topic: "shared", key: "user-\(index)", value: Array("\(index)".utf8))
        }
        _ = try await blocking { try deliveries(producer, count: 40) }
        // No auto-commit: whatever is committed, the revocation commit (or its retry) did it.
        let extra: KeyValuePairs<String, String> = [
            "partition.assignment.strategy": strategy, "enable.auto.commit": "false",
        ]

        var ownedByA: Set<KafkaTopicPartition> = []
        var revokedFromA: [KafkaTopicPartition] = []
        var everLeftA: Set<KafkaTopicPartition> = []
        var lastOffsetsA: [KafkaTopicPartition: Int64] = [:]
        var storeErrors: [any Error] = []
        var revocationCommitWarnings: [KafkaWarning] = []
        var consumerA: KafkaConsumer?
        consumerA = try makeConsumer(cluster, group: "sharers", extra: extra) { event in
            switch event {
            case let .assigned(partitions):
                ownedByA.formUnion(partitions)
            case let .revoked(partitions, lost):
                ownedByA.subtract(partitions)
                everLeftA.formUnion(partitions)
                // Lost partitions (an evicted member) cannot be committed for; only revoked ones are checked.
                guard !lost else { return }
                revokedFromA += partitions
                // Revocation is reported before unassignment, so finished work can still be stored.
                do {
                    for partition in partitions {
                        if let offset = lastOffsetsA[partition] {
                            try consumerA?.storeOffset(
                                topic: partition.topic, partition: partition.partition, offset: offset)
                        }
                    }
                } catch {
                    storeErrors.append(error)
                }
            }
        } onWarning: { warning in
            if warning.reason.contains("revoked partitions") { revocationCommitWarnings.append(warning) }
        }
        let a = try #require(consumerA)
        try a.subscribe(topics: ["shared"])
        var receivedA: [KafkaMessage] = []
        try await blocking {
            try waitUntil("A owns all partitions and read everything", timeout: .seconds(60)) {
                receivedA += try a.poll(maxMessages: 100, timeout: .milliseconds(100))
                return ownedByA.count == 4 && receivedA.count >= 40
            }
        }
        for message in receivedA { lastOffsetsA[message.topicPartition] = message.offset }

        var ownedByB: Set<KafkaTopicPartition> = []
        let b = try makeConsumer(cluster, group: "sharers", extra: extra) { event in
            switch event {
            case let .assigned(partitions): ownedByB.formUnion(partitions)
            case let .revoked(partitions, _): ownedByB.subtract(partitions)
            }
        }
        try b.subscribe(topics: ["shared"])
        var receivedB: [KafkaMessage] = []
        let revoked = { Array(Set(revokedFromA)) }
        let committed = try await blocking {
            try waitUntil("A and B share the partitions", timeout: .seconds(90)) {
                receivedA += try a.poll(maxMessages: 100, timeout: .milliseconds(50))
                receivedB += try b.poll(maxMessages: 100, timeout: .milliseconds(50))
                return ownedByA.count == 2 && ownedByB.count == 2
            }
            // The eager retry runs inside A's next poll after the new assignment: poll A until the
            // group has A's offsets for what it gave up (or, cooperative, the rejection was reported).
            var committed: [KafkaTopicPartition: Int64?] = [:]
            try waitUntil("A's revoked offsets to be committed", timeout: .seconds(60)) {
                receivedA += try a.poll(maxMessages: 100, timeout: .milliseconds(50))
                receivedB += try b.poll(maxMessages: 100, timeout: .milliseconds(50))
                committed = try b.committed(revoked(), timeout: .seconds(10))
                let allCommitted = revoked().allSatisfy { committed[$0] == lastOffsetsA[$0].map { $0 + 1 } }
                return allCommitted || (strategy == "cooperative-sticky" && !revocationCommitWarnings.isEmpty)
            }
            return committed
        }
        #expect(storeErrors.isEmpty, "\(storeErrors)")
        #expect(ownedByA.isDisjoint(with: ownedByB))
        #expect(ownedByA.union(ownedByB).count == 4)
        // Given up, not lost: a lost partition has no commit to check, and none is lost here.
        #expect(!revokedFromA.isEmpty)
        #expect(everLeftA == Set(revokedFromA), "partitions lost instead of revoked")
        // Whatever B owns, A was told it gave up first (possibly over several rebalance rounds).
        #expect(everLeftA.isSuperset(of: ownedByB))
        // A read every partition, so each revoked one has an offset to commit.
        #expect(revoked().allSatisfy { lastOffsetsA[$0] != nil }, "\(revoked()) \(lastOffsetsA)")
        for partition in revoked() {
            let isCommitted = committed[partition] == lastOffsetsA[partition].map { $0 + 1 }
            if strategy == "range" {
                #expect(isCommitted, "\(partition): committed \(String(describing: committed[partition]))")
            } else {
                #expect(
                    isCommitted || !revocationCommitWarnings.isEmpty,
                    "\(partition): neither committed nor its rejection reported")
            }
        }
        try await blocking {
            try b.close()
            try a.close()
        }
        withExtendedLifetime(cluster) {}
    }
}

/// Whether a socket without `SO_REUSEADDR` (as an outgoing connection's or a port-0 bind would be)
/// can bind 127.0.0.1:`port` now.
func canBindLoopback(port: UInt16) -> Bool {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { return false }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
        }
    }
}
