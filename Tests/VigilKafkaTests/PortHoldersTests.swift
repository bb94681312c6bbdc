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

    /// A socket listening on a loopback port the kernel chose, and that port.
    private func loopbackListener() throws -> (socket: Int32, port: Int) {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(listener >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        guard listening, listen(listener, 1) == 0 else {
            close(listener)
            throw TestFailure("cannot listen on a loopback port")
        }
        return (listener, Int(UInt16(bigEndian: address.sin_port)))
    }

    @Test func aListeningSocketIsNamedWithThisProcess() throws {
        let (listener, port) = try loopbackListener()
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
        let (listener, port) = try loopbackListener()
        let child = try ChildProcess(URL(fileURLWithPath: "/bin/sleep"), ["30"])
        defer { child.signal(SIGKILL) }
        #expect(child.isRunning)
        #expect(!PortHolders.describe(port: port).contains("held by \(child.processIdentifier) "))
        close(listener)
        #expect(PortHolders.describe(port: port) == "none")
    }
}
