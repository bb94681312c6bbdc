import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A loopback port that was free a moment ago, for a daemon's listener (config validation refuses
/// port 0). Taken below the kernel's ephemeral range, which `bind` to port 0 and outgoing connections
/// draw from: a mock broker (it binds port 0, and binds its port again each time it goes down) can then
/// never be given a port handed to a daemon, nor the other way round. Never the same port twice in one
/// process.
public func freeLoopbackPort() throws -> Int {
    let ephemeralStart = ephemeralPortRangeStart()
    let candidates = max(1_024, ephemeralStart / 2)..<ephemeralStart
    for _ in 0..<200 {
        let port = Int.random(in: candidates)
        guard handedOutPorts.withLock({ $0.insert(port).inserted }) else { continue }
        if (try? bindLoopback(port: port)) == port { return port }
    }
    return try bindLoopback(port: 0)
}

private let handedOutPorts = Mutex(Set<Int>())

/// The first port of `net.ipv4.ip_local_port_range` (32768 when it cannot be read).
private func ephemeralPortRangeStart() -> Int {
    let text = try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)
    let first = text?.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first
    return first.flatMap { Int($0) }.map { min(max($0, 2_048), 65_535) } ?? 32_768
}

/// Binds a socket to 127.0.0.1:`port` (0: any) without `SO_REUSEADDR`, then closes it; the port bound.
private func bindLoopback(port: Int) throws -> Int {
    let (socket, bound) = try boundLoopbackSocket(port: port)
    close(socket)
    return bound
}

/// A socket listening on a loopback port the kernel chose, and that port; the caller closes it.
public func listeningLoopbackSocket() throws -> (socket: Int32, port: Int) {
    let (socket, port) = try boundLoopbackSocket(port: 0)
    guard listen(socket, 1) == 0 else {
        close(socket)
        throw TestFailure("listen on 127.0.0.1:\(port) failed")
    }
    return (socket, port)
}

/// A socket bound to 127.0.0.1:`port` (0: any) without `SO_REUSEADDR`, and the port bound.
private func boundLoopbackSocket(port: Int) throws -> (socket: Int32, port: Int) {
    let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard socket >= 0 else { throw TestFailure("socket failed") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0
        }
    }
    guard bound else {
        close(socket)
        throw TestFailure("bind to 127.0.0.1:\(port) failed")
    }
    return (socket, Int(UInt16(bigEndian: address.sin_port)))
}
