import Foundation
import VigilCore
import VigilDaemon
import VigilGeo

/// What the changelog costs the engine, in process (no broker): the pipeline over the same events with
/// change recording off, then on with a flush every `eventsPerFlush` events (a daemon flushes on a
/// timer: at about 60,000 events/s, 6,000 events are 100 ms and 60,000 are 1 s). The flushes are timed
/// apart from the processing, so the difference splits into change tracking and flush encoding.
struct ChangelogCostBench {
    struct Figures {
        var offSeconds: Double
        var onSeconds: Double
        var flushSeconds: Double
        var records: Int
        var recordBytes: Int
    }

    let config: DaemonConfig
    let events: [[UInt8]]
    let scope = ChangelogScope(inputTopic: "bench.in")

    func run(eventsPerFlush: Int, passes: Int) throws -> Figures {
        var best = Figures(
            offSeconds: .infinity, onSeconds: .infinity, flushSeconds: .infinity, records: 0, recordBytes: 0)
        for _ in 0..<passes {
            best.offSeconds = min(best.offSeconds, try pass(eventsPerFlush: nil).offSeconds)
            let on = try pass(eventsPerFlush: eventsPerFlush)
            if on.onSeconds < best.onSeconds {
                best.onSeconds = on.onSeconds
                best.flushSeconds = on.flushSeconds
                best.records = on.records
                best.recordBytes = on.recordBytes
            }
        }
        return best
    }

    /// One pass; `eventsPerFlush` nil: change recording off.
    private func pass(eventsPerFlush: Int?) throws -> Figures {
        let geo = try GeoDatabases(settings: config.geo)
        var pipeline = Pipeline(
            config: config.core, policyVersion: "bench",
            enricher: Enricher(geo: geo, reputation: try ReputationTable.load(config.reputation)),
            deviceKey: .publicDefault)
        pipeline.recordsChanges = eventsPerFlush != nil
        var output: [OutputMessage] = []
        output.reserveCapacity(16)
        var flushSeconds = 0.0
        var records = 0
        var recordBytes = 0
        let start = monotonicNanoseconds()
        for (offset, bytes) in events.enumerated() {
            pipeline.process(
                bytes, origin: .kafka(topic: "bench.in", partition: 0, offset: Int64(offset)), into: &output)
            output.removeAll(keepingCapacity: true)
            if let eventsPerFlush, (offset + 1) % eventsPerFlush == 0 {
                var flush: [ChangelogRecord] = []
                flushSeconds += measure { flush = pipeline.takeChangelogFlush(stamp: Int64(offset), scope: scope) }
                records += flush.count
                for record in flush { recordBytes += record.key.count + (record.value?.count ?? 0) }
            }
        }
        let seconds = Double(monotonicNanoseconds() - start) / 1e9
        return Figures(
            offSeconds: seconds, onSeconds: seconds, flushSeconds: flushSeconds, records: records,
            recordBytes: recordBytes)
    }
}
