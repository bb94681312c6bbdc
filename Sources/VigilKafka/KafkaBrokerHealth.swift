import Foundation

/// Whether a client can reach the brokers it needs, as librdkafka's statistics say (every
/// `statistics.interval.ms`; an outage once two documents in a row show it) or, sooner, an
/// `_ALL_BROKERS_DOWN` error. A broker counts as needed when
/// it leads a partition the client uses; a consumer also needs its group coordinator. A client that
/// reaches some broker but not a partition's leader is not reachable either: that partition cannot
/// be fetched or produced to.
public struct KafkaBrokerHealth: Sendable, Equatable {
    /// Brokers the client is connected to.
    public var brokersUp: Int
    /// What the client needs and cannot reach: `host:port/id` of each leader not connected, and
    /// `group coordinator` while a consumer has none.
    public var unreachable: [String]

    /// Reachable: some broker is connected and nothing needed is missing.
    public var isReachable: Bool { brokersUp > 0 && unreachable.isEmpty }

    /// `brokersUp` connected brokers, none of `unreachable` missing.
    public init(brokersUp: Int, unreachable: [String]) {
        self.brokersUp = brokersUp
        self.unreachable = unreachable
    }

    /// What to report after a statistics document that read `self`, given the previous document's
    /// reading and what was reported so far: an unreachable reading counts only when the previous
    /// document's was unreachable too, so a broker caught between two connections (one sample) is no
    /// outage. A reachable reading counts at once.
    func confirmed(previous: KafkaBrokerHealth?, reported: KafkaBrokerHealth?) -> KafkaBrokerHealth? {
        isReachable || previous?.isReachable == false ? self : reported
    }

    /// What librdkafka's `_ALL_BROKERS_DOWN` error means: nothing is reachable.
    static func allBrokersDown(_ reason: String) -> KafkaBrokerHealth {
        KafkaBrokerHealth(brokersUp: 0, unreachable: ["all brokers (\(reason))"])
    }

    /// The health a statistics document describes; nil when it is not one (librdkafka's JSON, see its
    /// STATISTICS.md: `brokers.*.state`, `.source`, `.toppars`, and `cgrp.state`).
    init?(statistics: UnsafeRawBufferPointer) {
        guard let document = try? JSONDecoder().decode(Statistics.self, from: Data(statistics)) else { return nil }
        var up = 0
        var unreachable: [String] = []
        for (name, broker) in document.brokers.sorted(by: { $0.key < $1.key }) where broker.source != "internal" {
            if broker.state == "UP" {
                up += 1
            } else if !(broker.toppars ?? [:]).isEmpty {
                unreachable.append(name)
            }
        }
        if let group = document.cgrp, group.state != "up" { unreachable.append("group coordinator") }
        self.init(brokersUp: up, unreachable: unreachable)
    }

    /// The part of librdkafka's statistics this reads.
    private struct Statistics: Decodable {
        struct Broker: Decodable {
            /// `UP` once connected; `INIT`, `DOWN`, `CONNECT`, ... otherwise.
            var state: String
            /// `configured` (bootstrap), `learned` (from metadata) or `internal`.
            var source: String
            /// The partitions this broker leads for the client.
            var toppars: [String: Empty]?
        }
        struct Group: Decodable {
            /// `up` while the coordinator is known and connected.
            var state: String
        }
        struct Empty: Decodable {}
        var brokers: [String: Broker]
        var cgrp: Group?
    }
}
