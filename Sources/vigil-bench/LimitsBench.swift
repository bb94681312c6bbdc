import CMaxMindDB
import Foundation
import VigilCore

/// Figure 2: what the libraries under the engine can do alone, as yardsticks.
enum LimitsBench {
    /// libmaxminddb through its C API only: one `MMDB_lookup_sockaddr` per database and
    /// `MMDB_aget_value` for each field `MaxMindDatabase` reads (country, city name, latitude,
    /// longitude, accuracy radius; AS number and organisation). Returns seconds for all `addresses`.
    static func rawMaxMind(cityPath: String, asnPath: String, addresses: [IPAddress]) -> Double {
        var city = MMDB_s()
        var asn = MMDB_s()
        guard MMDB_open(cityPath, UInt32(MMDB_MODE_MMAP), &city) == MMDB_SUCCESS,
            MMDB_open(asnPath, UInt32(MMDB_MODE_MMAP), &asn) == MMDB_SUCCESS
        else { fatalError("cannot open \(cityPath) or \(asnPath)") }
        defer {
            MMDB_close(&city)
            MMDB_close(&asn)
        }
        let cityPaths = [
            ["country", "iso_code"], ["city", "names", "en"], ["location", "latitude"], ["location", "longitude"],
            ["location", "accuracy_radius"],
        ].map(CPath.init)
        let asnPaths = [["autonomous_system_number"], ["autonomous_system_organization"]].map(CPath.init)
        var checksum = 0
        let seconds = measure {
            for address in addresses {
                withSocketAddress(address) { socketAddress in
                    checksum &+= read(&city, socketAddress, cityPaths)
                    checksum &+= read(&asn, socketAddress, asnPaths)
                }
            }
        }
        precondition(checksum != 0, "no field was found")
        return seconds
    }

    /// Looks `socketAddress` up and reads each path; returns the bytes seen, so nothing is optimised away.
    private static func read(
        _ database: inout MMDB_s, _ socketAddress: UnsafePointer<sockaddr>, _ paths: [CPath]
    ) -> Int {
        var error: Int32 = 0
        var result = MMDB_lookup_sockaddr(&database, socketAddress, &error)
        guard error == MMDB_SUCCESS, result.found_entry else { return 0 }
        var seen = 0
        for path in paths {
            var data = MMDB_entry_data_s()
            guard MMDB_aget_value(&result.entry, &data, path.pointer) == MMDB_SUCCESS, data.has_data else { continue }
            seen &+= Int(data.data_size) &+ 1
        }
        return seen
    }

    private static func withSocketAddress<T>(_ address: IPAddress, _ body: (UnsafePointer<sockaddr>) -> T) -> T {
        if let v4 = address.ipv4Value {
            var socketAddress = sockaddr_in()
            socketAddress.sin_family = sa_family_t(AF_INET)
            socketAddress.sin_addr.s_addr = v4.bigEndian
            return withUnsafePointer(to: &socketAddress) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1, body) }
        }
        var socketAddress = sockaddr_in6()
        socketAddress.sin6_family = sa_family_t(AF_INET6)
        withUnsafeMutableBytes(of: &socketAddress.sin6_addr) {
            $0.storeBytes(of: address.high.bigEndian, toByteOffset: 0, as: UInt64.self)
            $0.storeBytes(of: address.low.bigEndian, toByteOffset: 8, as: UInt64.self)
        }
        return withUnsafePointer(to: &socketAddress) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1, body) }
    }

    /// Seconds for `RecordDecoder` of `format` over `records` (messages: a batch format's are decoded
    /// record by record), best of three passes; every record must decode (to events or a skipped type).
    static func recordDecode(_ records: [[UInt8]], format: InputFormat) -> Double {
        let decoder = RecordDecoder(format: format)
        var best = Double.infinity
        for _ in 0..<3 {
            var decoded = 0
            let seconds = measure {
                for record in records {
                    let parts = record.withUnsafeBytes { try? decoder.decodeMessage($0) } ?? []
                    if !parts.isEmpty, parts.allSatisfy({ if case .success = $0.result { true } else { false } }) {
                        decoded += 1
                    }
                }
            }
            precondition(decoded == records.count, "\(records.count - decoded) \(format) records refused")
            best = min(best, seconds)
        }
        return best
    }

    /// Foundation's JSONSerialization over the same messages: the general-purpose parse rate, for
    /// reference. Returns seconds for all `events`.
    static func foundationParse(_ events: [[UInt8]]) -> Double {
        let data = events.map { Data($0) }
        var objects = 0
        let seconds = measure {
            for message in data where (try? JSONSerialization.jsonObject(with: message)) != nil { objects += 1 }
        }
        precondition(objects > 0, "JSONSerialization parsed nothing")
        return seconds
    }
}

/// A NULL-terminated `const char *const *` lookup path, built once and kept for the whole run.
private final class CPath {
    let pointer: UnsafeMutablePointer<UnsafePointer<CChar>?>

    init(_ components: [String]) {
        pointer = .allocate(capacity: components.count + 1)
        for (index, component) in components.enumerated() { pointer[index] = UnsafePointer(strdup(component)) }
        pointer[components.count] = nil
    }

    deinit {
        var index = 0
        while let component = pointer[index] {
            free(UnsafeMutablePointer(mutating: component))
            index += 1
        }
        pointer.deallocate()
    }
}
