import Foundation
import Logging
import Synchronization
import VigilKafka
import VigilTestSupport

/// Figure 7, the Kafka side of the global source-risk table's propagation delay: facts produced one at a
/// time, paced, by a producer with the daemon's `linger.ms`, applied by a `KafkaGlobalTable` reading the
/// same topic (another client, as another instance's table would be). Each delay runs from the record's
/// Kafka timestamp (taken when it was produced) to its application, what the table's metric
/// `vigil_global_table_propagation_delay_seconds` measures in `vigil run`. The source stage's own time
/// before it produces is not included.
struct GlobalTableBench {
    let cluster: MockKafkaCluster
    let logger: Logger

    /// The delays collected from the table's reader thread.
    private final class Delays: Sendable {
        let values = Mutex<[Duration]>([])
    }

    /// Produces `records` facts, one every `interval`, and returns each one's delay in milliseconds, sorted.
    func delays(records: Int, interval: Duration) throws -> [Double] {
        let topic = "bench.source-risk"
        try cluster.createTopic(topic, partitions: 1)
        let connection = KafkaConfiguration(["bootstrap.servers": cluster.bootstrapServers])
        let delays = Delays()
        let table = try KafkaGlobalTable<[UInt8], ArraySlice<UInt8>>(
            configuration: connection, topic: topic, decodeKey: { $0 }, decodeValue: { $0 }, logger: logger,
            onUpdate: { update in delays.values.withLock { $0 += update.delays } })
        table.start()
        defer { table.stop() }
        try waitUntil("the table to read its empty topic", timeout: .seconds(60), pause: .milliseconds(10)) {
            table.status.isCaughtUp
        }
        var producerConfiguration = connection
        producerConfiguration["linger.ms"] = "1"  // the daemon's producer default
        let producer = try KafkaProducer(configuration: producerConfiguration, logger: logger)
        for index in 0..<records {
            // A keyed hash of 8 bytes and a fact of about 24, the shape of a source-risk record.
            let key = withUnsafeBytes(of: UInt64(index).bigEndian, Array.init)
            try producer.produce(topic: topic, partition: 0, key: key, value: Array(repeating: 1, count: 24))
            _ = try producer.poll(timeout: interval)
        }
        _ = producer.flush(timeout: .seconds(60))
        try waitUntil("every fact applied", timeout: .seconds(60), pause: .milliseconds(10)) {
            delays.values.withLock { $0.count } >= records
        }
        return delays.values.withLock { values in
            values.map { Double($0.components.seconds) * 1000 + Double($0.components.attoseconds) / 1e15 }.sorted()
        }
    }
}
