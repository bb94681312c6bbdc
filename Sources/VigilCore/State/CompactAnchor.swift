/// An event id as state keeps it: the UTF-8 bytes inline when they fit in `inlineCapacity` (UUIDs,
/// ULIDs and most producer ids do), a heap string only beyond. Round-trips exactly.
enum CompactEventID: Sendable, Equatable {
    static let inlineCapacity = 40

    case inline(count: UInt8, bytes: InlineArray<40, UInt8>)
    case heap(String)

    init(_ id: String) {
        let utf8 = id.utf8
        guard utf8.count <= Self.inlineCapacity else {
            self = .heap(id)
            return
        }
        var bytes = InlineArray<40, UInt8>(repeating: 0)
        var count = 0
        for byte in utf8 {
            bytes[count] = byte
            count += 1
        }
        self = .inline(count: UInt8(count), bytes: bytes)
    }

    var string: String {
        switch self {
        case .heap(let id): return id
        case .inline(let count, let bytes):
            return String(unsafeUninitializedCapacity: Int(count)) { out in
                for index in 0..<Int(count) { out[index] = bytes[index] }
                return Int(count)
            }
        }
    }

    /// The result of `body` on the id's UTF-8 bytes, without building a `String` for an inline id.
    func withUTF8<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        switch self {
        case .heap(var id): return id.withUTF8 { body(UnsafeRawBufferPointer($0)) }
        case .inline(let count, let bytes):
            return withUnsafeBytes(of: bytes) { body(UnsafeRawBufferPointer(rebasing: $0.prefix(Int(count)))) }
        }
    }

    /// True when the id lives inside the value (no heap storage).
    var isInline: Bool {
        if case .inline = self { return true }
        return false
    }

    static func == (lhs: CompactEventID, rhs: CompactEventID) -> Bool {
        switch (lhs, rhs) {
        case let (.heap(a), .heap(b)): return a == b
        case let (.inline(countA, a), .inline(countB, b)):
            guard countA == countB else { return false }
            for index in 0..<Int(countA) where a[index] != b[index] { return false }
            return true
        default: return false
        }
    }
}

/// Where and how a user last logged in successfully, as state stores it: fixed-size fields, city and AS
/// organisation as ids into the shard's `NameTable`, the event id inline. `LoginAnchor` is the decoded form.
///
/// Coordinates are kept as integer 1e-7 degrees: a value with at most seven decimals (GeoIP stores four)
/// decodes to exactly the same `Double`; anything finer moves by less than a centimetre.
struct CompactAnchor: Sendable, Equatable {
    struct Presence: OptionSet, Sendable, Equatable {
        let rawValue: UInt8
        static let location = Presence(rawValue: 1 << 0)
        static let latitude = Presence(rawValue: 1 << 1)
        static let longitude = Presence(rawValue: 1 << 2)
        static let radius = Presence(rawValue: 1 << 3)
        /// `country` holds two packed ASCII letters.
        static let packedCountry = Presence(rawValue: 1 << 4)
        /// `country` holds a `NameTable` id (a code that is not two bytes long).
        static let internedCountry = Presence(rawValue: 1 << 5)
        static let network = Presence(rawValue: 1 << 6)
    }

    // Declared in this order so the fields pack into 96 bytes.
    var eventID: CompactEventID
    var anonymity: AnonymityFlags
    var presence: Presence = []
    var latitudeE7: Int32 = 0
    var time: Timestamp
    var ip: IPAddress
    var longitudeE7: Int32 = 0
    var asn: UInt32 = 0
    var city: NameTable.ID = NameTable.none
    var organization: NameTable.ID = NameTable.none
    var country: UInt32 = 0
    var accuracyRadiusKm: Int32 = 0

    /// Encodes an anchor, interning its city name and AS organisation into `names`.
    init(
        time: Timestamp, eventID: String, ip: IPAddress, location: GeoLocation?, network: AutonomousSystem?,
        anonymity: AnonymityFlags, names: inout NameTable
    ) {
        self.time = time
        self.eventID = CompactEventID(eventID)
        self.ip = ip
        self.anonymity = anonymity
        if let location {
            presence.insert(.location)
            if let code = location.countryCode {
                var packed: UInt32 = 0
                var length = 0
                for byte in code.utf8.prefix(3) {
                    packed = packed << 8 | UInt32(byte)
                    length += 1
                }
                if length == 2 {
                    country = packed
                    presence.insert(.packedCountry)
                } else {
                    country = names.intern(code)
                    presence.insert(.internedCountry)
                }
            }
            city = names.intern(location.city)
            if let value = Self.scaled(location.latitude) {
                latitudeE7 = value
                presence.insert(.latitude)
            }
            if let value = Self.scaled(location.longitude) {
                longitudeE7 = value
                presence.insert(.longitude)
            }
            if let radius = location.accuracyRadiusKm {
                accuracyRadiusKm = Int32(clamping: radius)
                presence.insert(.radius)
            }
        }
        if let network {
            presence.insert(.network)
            asn = network.number
            organization = names.intern(network.organization)
        }
    }

    /// The location as it was given (city `nil` if the name table was full when it was stored).
    func location(names: NameTable) -> GeoLocation? {
        guard presence.contains(.location) else { return nil }
        var code: String?
        if presence.contains(.packedCountry) {
            code = String(unsafeUninitializedCapacity: 2) { out in
                out[0] = UInt8(truncatingIfNeeded: country >> 8)
                out[1] = UInt8(truncatingIfNeeded: country)
                return 2
            }
        } else if presence.contains(.internedCountry) {
            code = names[country]
        }
        return GeoLocation(
            countryCode: code, city: names[city],
            latitude: presence.contains(.latitude) ? Double(latitudeE7) / 1e7 : nil,
            longitude: presence.contains(.longitude) ? Double(longitudeE7) / 1e7 : nil,
            accuracyRadiusKm: presence.contains(.radius) ? Int(accuracyRadiusKm) : nil)
    }

    func network(names: NameTable) -> AutonomousSystem? {
        guard presence.contains(.network) else { return nil }
        return AutonomousSystem(number: asn, organization: names[organization])
    }

    /// Degrees in 1e-7 units; `nil` for values an `Int32` cannot hold (never a valid coordinate).
    private static func scaled(_ degrees: Double?) -> Int32? {
        guard let degrees, degrees.isFinite, abs(degrees) <= 214 else { return nil }
        return Int32((degrees * 1e7).rounded())
    }
}

/// Where and how a user last logged in successfully, decoded: the anchor for travel and the evidence
/// for alerts.
struct LoginAnchor: Sendable, Equatable {
    var time: Timestamp
    var storedEventID: CompactEventID
    var ip: IPAddress
    var location: GeoLocation?
    var network: AutonomousSystem?
    /// The address was anonymous (VPN, Tor, proxy, hosting) by database or reputation table.
    var anonymity: AnonymityFlags

    init(
        time: Timestamp, eventID: String, ip: IPAddress, location: GeoLocation?, network: AutonomousSystem?,
        anonymity: AnonymityFlags
    ) {
        self.time = time
        self.storedEventID = CompactEventID(eventID)
        self.ip = ip
        self.location = location
        self.network = network
        self.anonymity = anonymity
    }

    init(_ compact: CompactAnchor, names: NameTable) {
        time = compact.time
        storedEventID = compact.eventID
        ip = compact.ip
        location = compact.location(names: names)
        network = compact.network(names: names)
        anonymity = compact.anonymity
    }

    /// Decoded on demand: only alerts need it.
    var eventID: String {
        get { storedEventID.string }
        set { storedEventID = CompactEventID(newValue) }
    }
}
