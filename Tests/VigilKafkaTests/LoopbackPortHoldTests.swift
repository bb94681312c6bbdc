import Testing
import VigilTestSupport

@testable import VigilKafka

@Suite struct LoopbackPortHoldTests {
    /// A held port cannot be taken by a socket that does not share ports, and is free again once released.
    @Test func aHeldPortIsTakenUntilReleased() throws {
        let port = UInt16(try freeLoopbackPort())
        let hold = LoopbackPortHold()
        hold.hold(port: port, for: 1)
        #expect(!canBindLoopback(port: port))
        hold.release(broker: 1)
        #expect(canBindLoopback(port: port))
    }
}
