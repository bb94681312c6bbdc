import CMaxMindDB
import Synchronization
import VigilCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One memory-mapped MaxMind DB file, read through libmaxminddb.
///
/// The C handle never leaves this class: callers see `IPAddress` in and core enrichment types out.
/// libmaxminddb only reads an opened `MMDB_s`, so concurrent lookups are safe, which is why this class
/// is `@unchecked Sendable`. A broken data section never traps: the lookup yields nothing and
/// `lookupErrors` grows, so the daemon can export it as a metric.
public final class MaxMindDatabase: @unchecked Sendable {
    /// Which product a file must be; opening checks the file's `database_type` against it, so that an
    /// ASN file configured as the City database fails at startup instead of enriching nothing.
    public enum Kind: String, Sendable, CaseIterable {
        case city
        case asn
        case anonymousIP = "anonymous-ip"

        /// City also accepts Country and Enterprise (same record layout, fewer fields), ASN accepts ISP
        /// (a superset), Anonymous-IP accepts Anonymous Plus (a superset).
        func accepts(_ databaseType: String) -> Bool {
            switch self {
            case .city:
                databaseType.contains("City") || databaseType.contains("Country") || databaseType.contains("Enterprise")
            case .asn: databaseType.contains("ASN") || databaseType.contains("ISP")
            case .anonymousIP: databaseType.contains("Anonymous")
            }
        }
    }

    public let path: String
    /// The `database_type` metadata, e.g. `GeoIP2-City`.
    public let databaseType: String
    /// When MaxMind built the file (seconds since 1970), for a "database age" metric.
    public let buildEpoch: UInt64
    /// The file as it was just before opening; the hot-swap check compares against it.
    let identity: FileIdentity
    private let handle: UnsafeMutablePointer<MMDB_s>
    private let errorCount = Atomic<Int>(0)

    /// Opens `path` and checks that it is a `kind` database.
    public convenience init(path: String, kind: Kind) throws(GeoDatabaseError) {
        try self.init(path: path, expecting: kind)
    }

    /// `kind == nil` skips the type check (MaxMind's format test files have type `Test`).
    init(path: String, expecting kind: Kind?) throws(GeoDatabaseError) {
        // Checked first so that a missing or unreadable file gets the system's reason, not libmaxminddb's.
        let identity = try FileIdentity(path: path)
        guard access(path, R_OK) == 0 else { throw .unreadable(path: path, reason: systemError()) }
        let handle = UnsafeMutablePointer<MMDB_s>.allocate(capacity: 1)
        let status = MMDB_open(path, UInt32(MMDB_MODE_MMAP), handle)
        guard status == MMDB_SUCCESS else {
            // MMDB_open releases everything it allocated when it fails.
            let reason = String(cString: MMDB_strerror(status))
            handle.deallocate()
            if status == MMDB_FILE_OPEN_ERROR || status == MMDB_IO_ERROR {
                throw .unreadable(path: path, reason: "\(reason): \(systemError())")
            }
            throw .corrupt(path: path, reason: reason)
        }
        let databaseType = handle.pointee.metadata.database_type.map { String(cString: $0) } ?? ""
        if let kind, !kind.accepts(databaseType) {
            MMDB_close(handle)
            handle.deallocate()
            throw .wrongType(path: path, found: databaseType, expected: kind)
        }
        self.path = path
        self.identity = identity
        self.handle = handle
        self.databaseType = databaseType
        self.buildEpoch = handle.pointee.metadata.build_epoch
    }

    deinit {
        MMDB_close(handle)
        handle.deallocate()
    }

    /// Lookups that failed because the file is damaged (search tree or data section) since opening.
    public var lookupErrors: Int { errorCount.load(ordering: .relaxed) }

    /// City database fields; nil when the address is not in the database or its record has none of them.
    public func location(of address: IPAddress) -> GeoLocation? {
        guard let entry = entry(for: address) else { return nil }
        // City records are large (names in many languages); every path walk re-skips the maps before
        // its key, so `location` is found once and its three fields are read from there.
        let position = map(entry, .location)
        let location = GeoLocation(
            countryCode: string(entry, .countryISOCode) ?? string(entry, .registeredCountryISOCode),
            city: string(entry, .cityNameEnglish),
            latitude: position.flatMap { double($0, .latitude) },
            longitude: position.flatMap { double($0, .longitude) },
            accuracyRadiusKm: position.flatMap { unsigned($0, .accuracyRadius) }.map { Int($0) }
        )
        return location == GeoLocation() ? nil : location
    }

    /// ASN database fields; nil when the address is not in the database or has no AS number.
    public func autonomousSystem(of address: IPAddress) -> AutonomousSystem? {
        guard let entry = entry(for: address),
            let number = unsigned(entry, .asNumber), let number = UInt32(exactly: number)
        else { return nil }
        return AutonomousSystem(number: number, organization: string(entry, .asOrganization))
    }

    /// Anonymous-IP database flags; empty when the address is not in the database.
    public func anonymity(of address: IPAddress) -> AnonymityFlags {
        guard let entry = entry(for: address) else { return [] }
        var flags: AnonymityFlags = []
        for (path, flag) in LookupPath.anonymityFlags where boolean(entry, path) == true {
            flags.insert(flag)
        }
        return flags
    }

    // MARK: - libmaxminddb calls

    private func entry(for address: IPAddress) -> MMDB_entry_s? {
        var mmdbError: Int32 = MMDB_SUCCESS
        let result: MMDB_lookup_result_s
        if let v4 = address.ipv4Value {
            var socketAddress = sockaddr_in()
            socketAddress.sin_family = sa_family_t(AF_INET)
            socketAddress.sin_addr.s_addr = v4.bigEndian
            result = withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { MMDB_lookup_sockaddr(handle, $0, &mmdbError) }
            }
        } else {
            var socketAddress = sockaddr_in6()
            socketAddress.sin6_family = sa_family_t(AF_INET6)
            withUnsafeMutableBytes(of: &socketAddress.sin6_addr) {
                $0.storeBytes(of: address.high.bigEndian, toByteOffset: 0, as: UInt64.self)
                $0.storeBytes(of: address.low.bigEndian, toByteOffset: 8, as: UInt64.self)
            }
            result = withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { MMDB_lookup_sockaddr(handle, $0, &mmdbError) }
            }
        }
        guard mmdbError == MMDB_SUCCESS else {
            // An IPv6 address in an IPv4-only database is simply not there; anything else is damage.
            if mmdbError != MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR { recordError() }
            return nil
        }
        return result.found_entry ? result.entry : nil
    }

    /// The value at `path`, nil when absent; a libmaxminddb error or a value of another type is counted.
    /// `types` is a set of `MMDB_DATA_TYPE_*` bits (see `TypeBits`); a bit set, not an array, so the hot path
    /// does not allocate.
    private func value(_ entry: MMDB_entry_s, _ path: LookupPath, types: UInt32) -> MMDB_entry_data_s? {
        var start = entry
        var data = MMDB_entry_data_s()
        let status = MMDB_aget_value(&start, &data, path.components)
        guard status == MMDB_SUCCESS else {
            // libmaxminddb reports a key missing from the record this way; only other codes are damage.
            if status != MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR { recordError() }
            return nil
        }
        guard data.has_data else { return nil }
        guard data.type < 32, types & (1 << data.type) != 0 else {
            recordError()
            return nil
        }
        return data
    }

    /// A map inside the record, as a start point for shorter paths.
    private func map(_ entry: MMDB_entry_s, _ path: LookupPath) -> MMDB_entry_s? {
        value(entry, path, types: TypeBits.map).map { MMDB_entry_s(mmdb: handle, offset: $0.offset) }
    }

    private func string(_ entry: MMDB_entry_s, _ path: LookupPath) -> String? {
        guard let data = value(entry, path, types: TypeBits.string), let start = data.utf8_string else {
            return nil
        }
        // Strings in the data section are not NUL-terminated.
        let bytes = UnsafeRawBufferPointer(start: start, count: Int(data.data_size))
        return String(decoding: bytes, as: UTF8.self)
    }

    private func double(_ entry: MMDB_entry_s, _ path: LookupPath) -> Double? {
        value(entry, path, types: TypeBits.double)?.double_value
    }

    private func unsigned(_ entry: MMDB_entry_s, _ path: LookupPath) -> UInt64? {
        guard let data = value(entry, path, types: TypeBits.unsigned)
        else { return nil }
        switch Int32(bitPattern: data.type) {
        case MMDB_DATA_TYPE_UINT16: return UInt64(data.uint16)
        case MMDB_DATA_TYPE_UINT32: return UInt64(data.uint32)
        default: return data.uint64
        }
    }

    private func boolean(_ entry: MMDB_entry_s, _ path: LookupPath) -> Bool? {
        value(entry, path, types: TypeBits.boolean)?.boolean
    }

    private enum TypeBits {
        static let map: UInt32 = 1 << MMDB_DATA_TYPE_MAP
        static let string: UInt32 = 1 << MMDB_DATA_TYPE_UTF8_STRING
        static let double: UInt32 = 1 << MMDB_DATA_TYPE_DOUBLE
        static let boolean: UInt32 = 1 << MMDB_DATA_TYPE_BOOLEAN
        static let unsigned: UInt32 =
            1 << MMDB_DATA_TYPE_UINT16 | 1 << MMDB_DATA_TYPE_UINT32 | 1 << MMDB_DATA_TYPE_UINT64
    }

    private func recordError() { errorCount.add(1, ordering: .relaxed) }
}

/// A NULL-terminated array of C strings for `MMDB_aget_value`, built once per path and kept for the
/// life of the process, so lookups neither allocate nor go through the variadic `MMDB_get_value`.
struct LookupPath: @unchecked Sendable {
    let components: UnsafePointer<UnsafePointer<CChar>?>

    private init(_ names: String...) {
        let array = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: names.count + 1)
        for (index, name) in names.enumerated() { array[index] = UnsafePointer(strdup(name)) }
        array[names.count] = nil
        components = UnsafePointer(array)
    }

    static let countryISOCode = LookupPath("country", "iso_code")
    static let registeredCountryISOCode = LookupPath("registered_country", "iso_code")
    static let cityNameEnglish = LookupPath("city", "names", "en")
    static let location = LookupPath("location")
    /// Relative to the `location` map.
    static let latitude = LookupPath("latitude")
    static let longitude = LookupPath("longitude")
    static let accuracyRadius = LookupPath("accuracy_radius")
    static let asNumber = LookupPath("autonomous_system_number")
    static let asOrganization = LookupPath("autonomous_system_organization")
    static let anonymityFlags: [(LookupPath, AnonymityFlags)] = [
        (LookupPath("is_anonymous"), .anonymous),
        (LookupPath("is_anonymous_vpn"), .vpn),
        (LookupPath("is_tor_exit_node"), .torExit),
        (LookupPath("is_hosting_provider"), .hosting),
        (LookupPath("is_public_proxy"), .publicProxy),
        (LookupPath("is_residential_proxy"), .residentialProxy),
    ]
}

/// Why a MaxMind database could not be used. Every case names the file, so the operator knows which
/// setting to fix.
public enum GeoDatabaseError: Error, Equatable, CustomStringConvertible {
    case fileMissing(path: String)
    case unreadable(path: String, reason: String)
    /// libmaxminddb rejected the file; `reason` is its `MMDB_strerror` text.
    case corrupt(path: String, reason: String)
    case wrongType(path: String, found: String, expected: MaxMindDatabase.Kind)

    public var path: String {
        switch self {
        case .fileMissing(let path), .unreadable(let path, _), .corrupt(let path, _), .wrongType(let path, _, _): path
        }
    }

    public var description: String {
        switch self {
        case .fileMissing(let path): "\(path): no such file"
        case .unreadable(let path, let reason): "\(path): cannot read: \(reason)"
        case .corrupt(let path, let reason): "\(path): not a valid MaxMind database: \(reason)"
        case .wrongType(let path, let found, let expected):
            "\(path): database type is '\(found)', but it is configured as the \(expected.rawValue) database"
        }
    }
}

/// The last system error as text.
func systemError() -> String { String(cString: strerror(errno)) }
