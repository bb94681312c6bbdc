import Testing
import VigilKafka

/// Serialized: each test blocks a cooperative thread on librdkafka calls; run in parallel they starve
/// the async tests of other suites on a 2-core machine.
@Suite(.serialized) struct ClusterTests {
    @Test func producerToKcat() throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("out", partitions: 1)
        let producer = try makeProducer(cluster)
        for index in 0..<20 {
            try producer.produce(
                topic: "out", key: "user-\(index)", value: Array("value-\(index)".utf8),
                headers: [KafkaHeader(name: "source", value: Array("h\(index)".utf8))], opaque: 1000 + UInt64(index))
        }
        let reports = try deliveries(producer, count: 20)
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

        let output = try kcat(["-b", cluster.bootstrapServers, "-C", "-t", "out", "-o", "beginning", "-e", "-q",
                               "-f", "%k\t%s\t%h\n"])
        let expected = (0..<20).map { "user-\($0)\tvalue-\($0)\tsource=h\($0)" }
        #expect(output.split(separator: "\n").map(String.init) == expected)
        withExtendedLifetime(cluster) {}
    }

    @Test func kcatToConsumerInPartitionOrder() throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("in", partitions: 3)
        let input = (0..<60).map { "key-\($0 % 7):\($0)" }.joined(separator: "\n") + "\n"
        _ = try kcat(["-b", cluster.bootstrapServers, "-P", "-t", "in", "-K:"], input: input)

        let consumer = try makeConsumer(cluster, group: "readers")
        try consumer.subscribe(topics: ["in"])
        let messages = try consume(consumer, count: 60)
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
        #expect(try consumer.poll(maxMessages: 10, timeout: .milliseconds(200)).isEmpty)
        try consumer.close()
        withExtendedLifetime(cluster) {}
    }

    @Test func roundTripKeepsBytesHeadersAndNullKeys() throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("bytes", partitions: 1)
        let producer = try makeProducer(cluster)
        let binary: [UInt8] = [0, 255, 10, 9, 0]
        try producer.produce(
            topic: "bytes", key: binary, value: binary,
            headers: [KafkaHeader(name: "bin", value: binary), KafkaHeader(name: "null", value: nil)])
        try producer.produce(topic: "bytes", key: nil, value: Array("no key".utf8))
        _ = try deliveries(producer, count: 2)

        let consumer = try makeConsumer(cluster, group: "bytes")
        try consumer.subscribe(topics: ["bytes"])
        let messages = try consume(consumer, count: 2)
        #expect(Array(messages[0].value) == binary)
        #expect(messages[0].key == binary)
        #expect(messages[0].headers == [KafkaHeader(name: "bin", value: binary), KafkaHeader(name: "null", value: nil)])
        #expect(messages[1].key == nil)
        #expect(messages[1].keyString == nil)
        #expect(messages[1].headers.isEmpty)
        #expect(String(decoding: messages[1].value, as: UTF8.self) == "no key")
        try consumer.close()
        withExtendedLifetime(cluster) {}
    }

    @Test func newConsumerResumesAfterLastStoredOffset() throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("resume", partitions: 1)
        let producer = try makeProducer(cluster)
        for index in 0..<20 { try producer.produce(topic: "resume", key: nil, value: Array("\(index)".utf8)) }
        _ = try deliveries(producer, count: 20)

        let first = try makeConsumer(cluster, group: "resumers")
        try first.subscribe(topics: ["resume"])
        let all = try consume(first, count: 20)
        #expect(all.map(\.offset) == Array(0..<20))
        // Only the first half was "processed": store offset 9, i.e. resume at 10.
        try first.storeOffset(topic: "resume", partition: 0, offset: 9)
        try first.commit()
        let lag = try first.lag()
        #expect(lag.count == 1)
        #expect(lag.first?.position == 20)
        #expect(lag.first?.highWatermark == 20)
        #expect(lag.first?.lag == 0)
        try first.close()
        #expect(throws: KafkaError.self) { try first.poll(maxMessages: 1, timeout: .zero) }

        let second = try makeConsumer(cluster, group: "resumers")
        try second.subscribe(topics: ["resume"])
        let rest = try consume(second, count: 10)
        #expect(rest.map(\.offset) == Array(10..<20))
        #expect(try second.poll(maxMessages: 10, timeout: .milliseconds(300)).isEmpty)
        try second.close()
        withExtendedLifetime(cluster) {}
    }

    @Test func brokerDownThenUpLosesNothing() throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("flaky", partitions: 2)
        var producerWarnings: [KafkaWarning] = []
        let producer = try makeProducer(cluster) { producerWarnings.append($0) }
        let consumer = try makeConsumer(cluster, group: "flaky")
        try consumer.subscribe(topics: ["flaky"])

        for index in 0..<10 { try producer.produce(topic: "flaky", key: "k\(index)", value: Array("\(index)".utf8)) }
        _ = try deliveries(producer, count: 10)
        var received = try consume(consumer, count: 10)

        try cluster.setBrokerDown(id: 1)
        for index in 10..<20 { try producer.produce(topic: "flaky", key: "k\(index)", value: Array("\(index)".utf8)) }
        var reports: [KafkaDeliveryReport] = []
        // Stay down for at least 2 s and until the producer reported the outage.
        let downSince = ContinuousClock.now
        try waitUntil("the outage to be reported") {
            reports += try producer.poll(timeout: .milliseconds(100))
            received += try consumer.poll(maxMessages: 100, timeout: .milliseconds(100))
            return ContinuousClock.now - downSince > .seconds(2)
                && producerWarnings.contains { $0.code == .transport || $0.code == .allBrokersDown }
        }
        #expect(reports.isEmpty)
        #expect(received.count == 10)
        #expect(producer.pendingCount == 10)

        try cluster.setBrokerUp(id: 1)
        reports += try deliveries(producer, count: 10 - reports.count)
        #expect(reports.allSatisfy { if case .delivered = $0.outcome { true } else { false } })
        // Nothing was stored, so a group rejoin after the outage may redeliver 0..<10 first
        // (at-least-once); what must hold is that every message arrives.
        func values() -> Set<Int> { Set(received.map { Int(String(decoding: $0.value, as: UTF8.self))! }) }
        try waitUntil("every message to arrive after the outage") {
            received += try consumer.poll(maxMessages: 100, timeout: .milliseconds(100))
            return values().count >= 20
        }
        #expect(values() == Set(0..<20))
        try consumer.close()
        withExtendedLifetime(cluster) {}
    }

    @Test func fullQueueWaitsBoundedThenRecovers() throws {
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
        let started = ContinuousClock.now
        #expect {
            try producer.produce(topic: "narrow", key: nil, value: [5])
        } throws: { error in
            guard case let KafkaError.operationFailed(_, code) = error else { return false }
            return code == .queueFull
        }
        #expect(ContinuousClock.now - started >= .milliseconds(200))

        try cluster.setBrokerUp(id: 1)
        // Once deliveries free the queue, a blocked produce goes through within its timeout.
        producer.queueFullTimeout = .seconds(20)
        try producer.produce(topic: "narrow", key: nil, value: [5], opaque: 5)
        let reports = try deliveries(producer, count: 6)
        #expect(reports.map(\.opaque).last == 5)
        withExtendedLifetime(cluster) {}
    }

    @Test(arguments: ["range", "cooperative-sticky"])
    func rebalanceIsReportedAndRevocationCanCommit(strategy: String) throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("shared", partitions: 4)
        let producer = try makeProducer(cluster)
        for index in 0..<40 { try producer.produce(topic: "shared", key: "user-\(index)", value: Array("\(index)".utf8)) }
        _ = try deliveries(producer, count: 40)
        let extra: KeyValuePairs<String, String> = ["partition.assignment.strategy": strategy]

        var ownedByA: Set<KafkaTopicPartition> = []
        var revokedFromA: [KafkaTopicPartition] = []
        var lastOffsetsA: [KafkaTopicPartition: Int64] = [:]
        var commitErrors: [any Error] = []
        var consumerA: KafkaConsumer?
        consumerA = try makeConsumer(cluster, group: "sharers", extra: extra) { event in
            switch event {
            case let .assigned(partitions):
                ownedByA.formUnion(partitions)
            case let .revoked(partitions, _):
                revokedFromA += partitions
                ownedByA.subtract(partitions)
                // Revocation is reported before unassignment, so finished work can still be committed.
                do {
                    for partition in partitions {
                        if let offset = lastOffsetsA[partition] {
                            try consumerA?.storeOffset(topic: partition.topic, partition: partition.partition, offset: offset)
                        }
                    }
                    try consumerA?.commit()
                } catch {
                    commitErrors.append(error)
                }
            }
        }
        let a = try #require(consumerA)
        try a.subscribe(topics: ["shared"])
        var receivedA: [KafkaMessage] = []
        try waitUntil("A owns all partitions") {
            receivedA += try a.poll(maxMessages: 100, timeout: .milliseconds(100))
            return ownedByA.count == 4
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
        try waitUntil("A and B share the partitions") {
            for message in try a.poll(maxMessages: 100, timeout: .milliseconds(50)) {
                lastOffsetsA[message.topicPartition] = message.offset
                receivedA.append(message)
            }
            receivedB += try b.poll(maxMessages: 100, timeout: .milliseconds(50))
            return ownedByA.count == 2 && ownedByB.count == 2
        }
        #expect(ownedByA.isDisjoint(with: ownedByB))
        #expect(ownedByA.union(ownedByB).count == 4)
        #expect(!revokedFromA.isEmpty)
        // The broker may answer a commit made while the group is already rebalancing with
        // REBALANCE_IN_PROGRESS (a retriable outcome the daemon logs; the stored offsets are committed
        // on the next attempt). Any other failure is a bug.
        #expect(commitErrors.allSatisfy { "\($0)".contains("REBALANCE_IN_PROGRESS") }, "\(commitErrors)")
        if strategy == "cooperative-sticky" {
            // Incremental: A gives up only what B takes.
            #expect(Set(revokedFromA) == ownedByB)
        }
        // Everything A committed on revocation is not delivered to B again.
        for message in receivedB {
            #expect(lastOffsetsA[message.topicPartition].map { message.offset > $0 } ?? true)
        }
        try b.close()
        try a.close()
        withExtendedLifetime(cluster) {}
    }
}
