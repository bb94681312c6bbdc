import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Keeps the loopback ports of mock brokers that are down, so that nothing else takes them meanwhile.
///
/// librdkafka's mock closes a broker's listening socket when the broker goes down and binds the same
/// port again when it comes back, and it aborts the whole process when that bind fails. While the port
/// is free, any socket bound to an ephemeral port (an outgoing connection, a test server asking for
/// port 0) can be given it. A socket bound to the port but not listening holds it: connections to it
/// are still refused, as they are by a broker that is down. It holds it against every socket but one
/// that also sets `SO_REUSEADDR` and binds port 0 (Linux may then share the port): a test server asking
/// for port 0 must not set it (Python's `http.server` does by default).
final class LoopbackPortHold: Sendable {
    private let sockets = Mutex<[Int32: Int32]>([:])

    init() {}

    /// Binds a socket to 127.0.0.1:`port` for `broker`; does nothing when the bind fails (the port is
    /// held by someone else already, and the broker's return would fail as before).
    func hold(port: UInt16, for broker: Int32) {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return }
        var reuse: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else {
            close(descriptor)
            return
        }
        let previous = sockets.withLock { $0.updateValue(descriptor, forKey: broker) }
        if let previous { close(previous) }
    }

    /// Frees the port held for `broker`, right before the broker binds it again.
    func release(broker: Int32) {
        if let descriptor = sockets.withLock({ $0.removeValue(forKey: broker) }) { close(descriptor) }
    }

    deinit {
        for descriptor in sockets.withLock({ $0.values }) { close(descriptor) }
    }
}
