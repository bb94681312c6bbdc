import Foundation
import VigilTestSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A raw HTTP/1.1 exchange over loopback TCP: the test sends exactly the bytes it means (oversized
/// heads, bodies, odd methods), which a client library would normalise away.
struct LoopbackHTTP {
    struct Response {
        var status: Int
        var headers: [String: String]
        var body: String
    }

    let port: Int

    func get(_ path: String, method: String = "GET") throws -> Response {
        try exchange("\(method) \(path) HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
    }

    /// Sends `request`, reads until the server closes, parses the response.
    func exchange(_ request: String) throws -> Response {
        let raw = try roundTrip(Array(request.utf8))
        guard let split = raw.firstRange(of: "\r\n\r\n") else {
            throw TestFailure("no response head in \(raw.debugDescription)")
        }
        let lines = raw[..<split.lowerBound].split(separator: "\r\n")
        let statusParts = lines.first?.split(separator: " ") ?? []
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
            throw TestFailure("bad status line in \(raw.debugDescription)")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmedSpaces()
        }
        return Response(status: status, headers: headers, body: String(raw[split.upperBound...]))
    }

    /// The sockets listening on 127.0.0.1 at the port, by inode, as Linux lists them in `/proc/net/tcp`.
    /// An inode names one socket for as long as it exists, where a freed port may be bound again at once
    /// by another test: that the inode of a listener is gone proves that this listener was closed.
    func listenerInodes() throws -> Set<String> {
        let table = try String(contentsOfFile: "/proc/net/tcp", encoding: .utf8)
        // The address as the kernel prints it: the network-order IPv4 word and the port, in hex.
        let hex = { (value: UInt32, digits: Int) in
            let text = String(value, radix: 16, uppercase: true)
            return String(repeating: "0", count: max(0, digits - text.count)) + text
        }
        let local = hex(inet_addr("127.0.0.1"), 8) + ":" + hex(UInt32(port), 4)
        let listening = "0A"
        var inodes: Set<String> = []
        for row in table.split(separator: "\n").dropFirst() {
            let fields = row.split(separator: " ")
            guard fields.count > 9, fields[1] == local, fields[3] == listening else { continue }
            inodes.insert(String(fields[9]))
        }
        return inodes
    }

    private func roundTrip(_ bytes: [UInt8]) throws -> String {
        try connected { fd in
            var sent = 0
            while sent < bytes.count {
                let count = bytes.withUnsafeBytes {
                    send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
                }
                guard count > 0 else { break }  // the server may close early on a rejected request
                sent += count
            }
            var response: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = recv(fd, &buffer, buffer.count, 0)
                guard count > 0 else { break }
                response += buffer[0..<count]
            }
            return String(decoding: response, as: UTF8.self)
        }
    }

    private func connected<T>(_ body: (Int32) throws -> T) throws -> T {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket failed") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else { throw TestFailure("connect to port \(port) failed") }
        return try body(fd)
    }
}

extension Substring {
    fileprivate func trimmedSpaces() -> String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
