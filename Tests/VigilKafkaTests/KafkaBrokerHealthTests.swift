import Testing

@testable import VigilKafka

/// Broker health read from librdkafka statistics documents (the shape its STATISTICS.md gives), without
/// a broker; `KafkaHealthRunTests` checks the daemon's readiness follows it under real outages.
struct KafkaBrokerHealthTests {
    private static func health(_ json: String) -> KafkaBrokerHealth? {
        var json = json
        return json.withUTF8 { KafkaBrokerHealth(statistics: UnsafeRawBufferPointer($0)) }
    }

    /// A broker entry: its state, where it came from and the partitions it leads for the client.
    private static func broker(
        _ name: String, _ state: String, source: String = "learned", leads: [String] = []
    )
        -> String
    {
        let toppars = leads.map { "\"\($0)\": {\"topic\": \"t\", \"partition\": 0}" }.joined(separator: ", ")
        return "\"\(name)\": {\"name\": \"\(name)\", \"nodeid\": 1, \"state\": \"\(state)\", "
            + "\"source\": \"\(source)\", \"stateage\": 5, \"toppars\": {\(toppars)}}"
    }

    @Test func connectedLeadersAreReachableAndTheInternalBrokerIsIgnored() {
        let health = Self.health(
            """
            {"name": "rdkafka#producer-1", "type": "producer", "ts": 1, "brokers": {\
            \(Self.broker("a:9092/1", "UP", leads: ["auth.decisions-0"])), \
            \(Self.broker("b:9092/2", "INIT")), \
            \(Self.broker(":0/internal", "INIT", source: "internal", leads: ["auth.decisions-1"]))}, \
            "topics": {}}
            """)
        #expect(health == KafkaBrokerHealth(brokersUp: 1, unreachable: []))
        #expect(health?.isReachable == true)
    }

    @Test func aLeaderNotConnectedOrNoBrokerUpIsUnreachable() {
        let leaderDown = Self.health(
            """
            {"brokers": {\(Self.broker("a:9092/1", "UP", leads: ["auth.events-0"])), \
            \(Self.broker("b:9092/2", "CONNECT", leads: ["auth.decisions-0"]))}}
            """)
        #expect(leaderDown == KafkaBrokerHealth(brokersUp: 1, unreachable: ["b:9092/2"]))
        #expect(leaderDown?.isReachable == false)
        let noneUp = Self.health(#"{"brokers": {\#(Self.broker("a:9092/1", "DOWN"))}}"#)
        #expect(noneUp == KafkaBrokerHealth(brokersUp: 0, unreachable: []))
        #expect(noneUp?.isReachable == false)
    }

    @Test func aConsumerWithoutItsGroupCoordinatorIsUnreachable() {
        let broker = Self.broker("a:9092/1", "UP")
        #expect(
            Self.health(#"{"brokers": {\#(broker)}, "cgrp": {"state": "query-coord", "join_state": "init"}}"#)
                == KafkaBrokerHealth(brokersUp: 1, unreachable: ["group coordinator"]))
        #expect(Self.health(#"{"brokers": {\#(broker)}, "cgrp": {"state": "up"}}"#)?.isReachable == true)
    }

    @Test func anOutageCountsFromTheSecondDocumentInARowARecoveryAtOnce() {
        let up = KafkaBrokerHealth(brokersUp: 1, unreachable: [])
        let down = KafkaBrokerHealth(brokersUp: 0, unreachable: ["a:9092/1"])
        #expect(down.confirmed(previous: up, reported: up) == up)
        #expect(down.confirmed(previous: nil, reported: nil) == nil)
        #expect(down.confirmed(previous: down, reported: up) == down)
        #expect(up.confirmed(previous: down, reported: down) == up)
        // An outage librdkafka reported itself stays until a document shows a broker back.
        let allDown = KafkaBrokerHealth.allBrokersDown("1/1 brokers are down")
        #expect(down.confirmed(previous: up, reported: allDown) == allDown)
    }

    @Test func somethingElseIsNoHealth() {
        #expect(Self.health("not json") == nil)
        #expect(Self.health(#"{"name": "no brokers"}"#) == nil)
    }
}
