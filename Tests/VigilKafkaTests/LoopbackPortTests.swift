import Foundation
import Testing
import VigilTestSupport

/// Ports handed to daemons in tests stay out of the range mock brokers and outgoing connections draw
/// from, and are never handed out twice.
@Suite struct LoopbackPortTests {
    @Test func portsComeFromBelowTheEphemeralRangeAndNeverTwice() throws {
        let range = try String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)
        let ephemeralStart = try #require(range.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) })
        let ports = try (0..<50).map { _ in try freeLoopbackPort() }
        #expect(ports.allSatisfy { $0 < ephemeralStart && $0 >= 1_024 })
        #expect(Set(ports).count == ports.count)
    }
}
