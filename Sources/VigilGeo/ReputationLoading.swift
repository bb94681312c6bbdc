import VigilCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension ReputationTable {
    /// Reads every CIDR list named in `settings` and builds the table. Fails on the first unreadable
    /// file or bad line, naming the file (and line), so a broken list never half-loads.
    public static func load(_ settings: ReputationSettings) throws(CIDRListError) -> ReputationTable {
        var networks: [(CIDR, category: String)] = []
        for list in settings.cidrLists {
            let text = try readText(atPath: list.path)
            for cidr in try parseCIDRList(text: text, source: list.path) {
                networks.append((cidr, list.category))
            }
        }
        return ReputationTable(asnCategories: settings.asnCategories, networks: networks)
    }

    private static func readText(atPath path: String) throws(CIDRListError) -> String {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw .unreadable(source: path, reason: systemError()) }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .unreadable(source: path, reason: systemError())
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[..<count])
        }
        // Invalid UTF-8 becomes U+FFFD and then fails to parse on its own line, with its line number.
        return String(decoding: bytes, as: UTF8.self)
    }
}
