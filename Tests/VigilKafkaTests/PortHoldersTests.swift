import Foundation
import Testing
import VigilTestSupport

@testable import VigilKafka

#if canImport(Glibc)
import Glibc
#endif

/// The mock's failed bind is recognised, and the sockets on its port are named with their owner.
@Suite struct PortHoldersTests {
    @Test func theMocksFailedBindNamesItsPort() {
        #expect(
            PortHolders.failedMockBind(
                in: "librdkafka MOCK: [thrd:mock]: Failed to bind mock broker socket to Address already in use: "
                    + "127.0.0.1:43509") == 43509)
        #expect(PortHolders.failedMockBind(in: "librdkafka MOCK: Broker 1: down") == nil)
    }

    @Test func aListeningSocketIsNamedWithThisProcess() throws {
        let (listener, port) = try listeningLoopbackSocket()
        var isOpen = true
        defer { if isOpen { close(listener) } }
        let described = PortHolders.describe(port: port)
        #expect(described.contains("LISTEN") && described.contains("held by \(getpid()) "), "\(described)")
        // A port no socket has.
        close(listener)
        isOpen = false
        #expect(PortHolders.describe(port: port) == "none")
    }

    /// What `MockKafkaCluster.startingChildProcess` relies on: once a child's start returns, the child
    /// holds no copy of this process's listeners (Foundation closes every descriptor above the standard
    /// three before the exec; the mock's listeners are close-on-exec besides), so a listener closed
    /// afterwards frees its port. Only a child between fork and exec (inside the start) holds one.
    @Test func aStartedChildHoldsNoCopyOfAListener() throws {
        let (listener, port) = try listeningLoopbackSocket()
        let child = try ChildProcess(URL(fileURLWithPath: "/bin/sleep"), ["30"])
        defer { child.signal(SIGKILL) }
        #expect(child.isRunning)
        #expect(!PortHolders.describe(port: port).contains("held by \(child.processIdentifier) "))
        close(listener)
        #expect(PortHolders.describe(port: port) == "none")
    }
}
