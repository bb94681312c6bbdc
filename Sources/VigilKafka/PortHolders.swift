import Foundation

/// Who holds a TCP port on this machine, read from `/proc`: the mock cluster's last words.
///
/// When a mock broker goes down, librdkafka's mock closes its listener and binds the same port again at
/// once; if that bind fails it logs `Failed to bind mock broker socket to <error>: <address>` and aborts the
/// whole process. It happened with the Kafka test suites side by side (`Address already in use`), and
/// which socket held the port is not known yet. So the log line is followed by every socket bound to the
/// port, its state and the processes that have it open, while they still exist.
enum PortHolders {
    /// The port of a mock broker's failed bind, from the mock's log message; nil for any other message.
    static func failedMockBind(in message: String) -> Int? {
        guard message.contains("Failed to bind mock broker socket"), let colon = message.lastIndex(of: ":") else {
            return nil
        }
        return Int(message[message.index(after: colon)...].trimmingCharacters(in: .whitespaces))
    }

    /// One line per TCP socket (IPv4 and IPv6) whose local port is `port`: its local and remote address
    /// (hex, as `/proc/net/tcp` writes them), its state, and the processes (pid, command) holding it;
    /// "none" when no socket has the port.
    static func describe(port: Int) -> String {
        let wanted = String(format: "%04X", port)
        var sockets: [(local: String, remote: String, state: String, inode: String)] = []
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = try? String(contentsOfFile: table, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 9, fields[1].hasSuffix(":" + wanted) else { continue }
                sockets.append((String(fields[1]), String(fields[2]), stateName(String(fields[3])), String(fields[9])))
            }
        }
        guard !sockets.isEmpty else { return "none" }
        let owners = socketOwners(inodes: Set(sockets.map(\.inode)))
        return sockets.map { socket in
            "\(socket.local) -> \(socket.remote) \(socket.state) inode \(socket.inode) held by "
                + (owners[socket.inode]?.joined(separator: ", ") ?? "no process (kernel-owned, e.g. TIME_WAIT)")
        }.joined(separator: "; ")
    }

    /// `/proc/net/tcp`'s hexadecimal state as its name.
    private static func stateName(_ hex: String) -> String {
        let names = [
            "01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1", "05": "FIN_WAIT2",
            "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING",
        ]
        return names[hex] ?? "state \(hex)"
    }

    /// For each socket inode, the processes with a descriptor on it (`pid command`).
    private static func socketOwners(inodes: Set<String>) -> [String: [String]] {
        let files = FileManager.default
        var owners: [String: [String]] = [:]
        for pid in (try? files.contentsOfDirectory(atPath: "/proc")) ?? [] where pid.allSatisfy(\.isNumber) {
            let descriptors = (try? files.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
            for descriptor in descriptors {
                guard let target = try? files.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(descriptor)"),
                    target.hasPrefix("socket:["), target.hasSuffix("]")
                else { continue }
                let inode = String(target.dropFirst("socket:[".count).dropLast())
                guard inodes.contains(inode) else { continue }
                let command =
                    (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?
                    .trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
                owners[inode, default: []].append("\(pid) \(command)")
            }
        }
        return owners
    }
}
