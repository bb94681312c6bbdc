import Foundation
import Logging
import VigilCore
import VigilKafka

/// Figure 6: how fast a shard's state comes back. One engine learns `users` users (two logins each, as
/// in figure 5) with change recording on; one flush writes every entry; a fresh engine applies every
/// record (the changelog path), and the same state goes through a snapshot's encode and decode (the
/// local snapshot path).
struct RestoreBench {
    let users: Int
    let sources: [(IPAddress, IPIntelligence)]
    let config: VigilConfig
    /// Any topic name: the scope tag every record key carries.
    let scope = ChangelogScope(inputTopic: "bench.in")

    /// What one restore of the learned state measured.
    struct Figures {
        var users: Int
        var records: Int
        /// Key and value bytes of every record, what the changelog partition holds after compaction.
        var recordBytes: Int
        var flushSeconds: Double
        var applySeconds: Double
        var snapshotBytes: Int
        var snapshotEncodeSeconds: Double
        var snapshotDecodeSeconds: Double
    }

    /// An engine that has learned `count` users and recorded every change since it started.
    func learnedEngine(count: Int) -> RiskEngine {
        var engine = RiskEngine(config: config, policyVersion: "bench", deviceKey: .publicDefault)
        engine.recordsChanges = true
        MemoryBench.learnBaselines(users: count, locatedSources: MemoryBench.located(sources), into: &engine)
        precondition(engine.userCount == count, "every user should have state")
        return engine
    }

    /// The in-process figures: no broker, so what the engine itself costs per record.
    func inProcess() -> Figures {
        var engine = learnedEngine(count: users)
        let stamp = Int64(users * 2 - 1)
        var records: [ChangelogRecord] = []
        let flushSeconds = measure { records = engine.takeChangelogFlush(stamp: stamp, scope: scope) }
        let recordBytes = records.reduce(0) { $0 + $1.key.count + ($1.value?.count ?? 0) }
        var restored = RiskEngine(config: config, policyVersion: "bench", deviceKey: .publicDefault)
        let applySeconds = measure {
            for record in records {
                do { try restored.applyChangelogRecord(key: record.key, value: record.value, scope: scope) } catch {
                    fatalError("restore failed: \(error)")
                }
            }
        }
        precondition(restored.userCount == users, "the changelog restore lost users")
        let recordCount = records.count
        records = []  // before the snapshot: peak memory holds one copy of the state's bytes at a time
        var snapshot: [UInt8] = []
        let encodeSeconds = measure { snapshot = engine.stateSnapshot(appliedOffset: stamp) }
        var decoded = RiskEngine(config: config, policyVersion: "bench", deviceKey: .publicDefault)
        let decodeSeconds = measure {
            do { try decoded.restoreState(snapshot: snapshot) } catch {
                fatalError("snapshot restore failed: \(error)")
            }
        }
        precondition(decoded.userCount == users, "the snapshot restore lost users")
        return Figures(
            users: users, records: recordCount, recordBytes: recordBytes,
            flushSeconds: flushSeconds, applySeconds: applySeconds, snapshotBytes: snapshot.count,
            snapshotEncodeSeconds: encodeSeconds, snapshotDecodeSeconds: decodeSeconds)
    }

    /// What reading a changelog partition back through Kafka measured.
    struct KafkaFigures {
        var users: Int
        var records: Int
        var bytes: Int
        var seconds: Double
    }

    /// The Kafka path: the records of `count` users produced to a one-partition topic of `cluster`, then
    /// read back through `KafkaPartitionReader` (as the daemon's restore reads) and applied to a fresh
    /// engine. `count` must keep the partition within what the mock broker keeps (about 5 MiB).
    func throughKafka(cluster: MockKafkaCluster, count: Int, logger: Logger) throws -> KafkaFigures {
        let topic = "bench.restore-changelog"
        try cluster.createTopic(topic, partitions: 1)
        var engine = learnedEngine(count: count)
        let records = engine.takeChangelogFlush(stamp: Int64(count * 2 - 1), scope: scope)
        let configuration = KafkaConfiguration(["bootstrap.servers": cluster.bootstrapServers])
        let producer = try KafkaProducer(configuration: configuration, logger: logger)
        for record in records {
            try producer.produce(topic: topic, partition: 0, key: record.key, value: record.value)
        }
        _ = producer.flush(timeout: .seconds(120))
        precondition(producer.pendingCount == 0, "the changelog records were not all delivered")
        var restored = RiskEngine(config: config, policyVersion: "bench", deviceKey: .publicDefault)
        var read = 0
        var bytes = 0
        let seconds = try measure {
            let reader = try KafkaPartitionReader(
                configuration: configuration, partition: KafkaTopicPartition(topic: topic, partition: 0),
                logger: logger)
            // The daemon's default `state.restore_batch`.
            while let batch = try reader.next(maxMessages: 10_000, timeout: .seconds(1)) {
                for message in batch {
                    let value = message.isNullValue ? nil : Array(message.value)
                    do {
                        try restored.applyChangelogRecord(key: message.key ?? [], value: value, scope: scope)
                    } catch {
                        fatalError("restore failed: \(error)")
                    }
                }
            }
            read = reader.progress.records
            bytes = reader.progress.bytes
        }
        precondition(read == records.count, "read \(read) of \(records.count) records: the mock dropped some")
        precondition(restored.userCount == count, "the changelog restore through Kafka lost users")
        return KafkaFigures(users: count, records: read, bytes: bytes, seconds: seconds)
    }
}
