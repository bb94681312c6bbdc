import Foundation
import Logging
import ServiceLifecycle
import VigilCore
import VigilKafka

/// `vigil run`'s Kafka side as a ServiceLifecycle service. The loop blocks in librdkafka calls, so it
/// runs on a dedicated thread rather than the cooperative pool; `run()` awaits that thread. Graceful
/// shutdown (or cancellation) asks the loop to stop: it drains outputs within
/// `kafka.shutdown_timeout`, commits finished offsets and leaves the group. A fatal Kafka error ends
/// the loop and `run()` throws, which ends the service group with a failure.
public struct KafkaPipelineService: Service {
    private let loop: KafkaLoop

    /// `properties` are the librdkafka properties with secrets already resolved
    /// (`KafkaSettings.resolveSecrets`); `bootstrapServers` overrides the config's when set.
    public init(
        config: LoadedConfig, properties: [String: String], bootstrapServers: String? = nil, enricher: Enricher?,
        deviceKey: SipHashKey, mailbox: ConfigMailbox, status: DaemonStatus, logger: Logger
    ) {
        let kafka = config.config.kafka
        var common = KafkaConfiguration()
        for (name, value) in properties.sorted(by: { $0.key < $1.key }) { common[name] = value }
        common["bootstrap.servers"] = bootstrapServers ?? kafka.bootstrapServers
        var consumer = common
        consumer["group.id"] = kafka.groupID
        if consumer["auto.offset.reset"] == nil { consumer["auto.offset.reset"] = "earliest" }
        loop = KafkaLoop(
            settings: .init(
                config: config, consumer: consumer, producer: common, enricher: enricher, deviceKey: deviceKey),
            mailbox: mailbox, status: status, logger: logger)
    }

    public func run() async throws {
        let loop = self.loop
        try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    let thread = Thread {
                        do {
                            try loop.run()
                            continuation.resume()
                        } catch {
                            continuation.resume(throwing: error)
                        }
                    }
                    thread.name = "vigil-kafka"
                    thread.start()
                }
            } onGracefulShutdown: {
                loop.requestStop()
            }
        } onCancel: {
            loop.requestStop()
        }
    }
}
