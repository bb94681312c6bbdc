import VigilCore

/// The places traffic comes from: cities with coordinates and addresses that resolve to them in the
/// geo database in use. The generator only emits addresses from a pool, so every event's IP enriches
/// to a known city, which is what makes travel, new-country and impossible-travel signals meaningful.
public struct IPPool: Sendable {
    /// One city and addresses inside it.
    public struct Location: Sendable, Equatable {
        /// City name as the geo database spells it, so enrichment and generator agree.
        public var city: String
        /// ISO 3166-1 alpha-2, upper case.
        public var countryCode: String
        /// Degrees north.
        public var latitude: Double
        /// Degrees east; also sets the location's working hours.
        public var longitude: Double
        /// Addresses that resolve to this city; never empty.
        public var addresses: [IPAddress]

        /// A location; traps when `addresses` is empty.
        public init(city: String, countryCode: String, latitude: Double, longitude: Double, addresses: [IPAddress]) {
            precondition(!addresses.isEmpty, "a location needs at least one address")
            self.city = city
            self.countryCode = countryCode
            self.latitude = latitude
            self.longitude = longitude
            self.addresses = addresses
        }

        var coordinates: (latitude: Double, longitude: Double) { (latitude, longitude) }
        /// Whole hours east of UTC, from the longitude: close enough for a working-day rhythm.
        var utcOffsetHours: Int { Int((longitude / 15).rounded()) }
    }

    /// Never empty.
    public let locations: [Location]
    /// Total addresses over all locations (stored: the generator draws from it for every user).
    public let addressCount: Int
    /// Exit addresses of commercial VPN services: the enrichment in use must flag them anonymous (the
    /// Anonymous-IP database or a `vpn` CIDR list), as production data does. VPN users log in through
    /// them; with none, the generator has no VPN users.
    public let vpnExits: [IPAddress]
    /// Addresses of one hosting provider's network, one autonomous system in the ASN database in use:
    /// what distributed campaigns spread over. Empty: they draw pool addresses instead (many networks).
    public let hostingNetwork: [IPAddress]

    /// A pool of `locations` (at least one; traps otherwise) and, optionally, VPN exits and a hosting
    /// network.
    public init(locations: [Location], vpnExits: [IPAddress] = [], hostingNetwork: [IPAddress] = []) {
        precondition(!locations.isEmpty, "an IP pool needs at least one location")
        self.locations = locations
        self.vpnExits = vpnExits
        self.hostingNetwork = hostingNetwork
        addressCount = locations.reduce(0) { $0 + $1.addresses.count }
    }

    /// Addresses from MaxMind's `GeoIP2-City-Test` database that carry a city and coordinates (checked
    /// against `GeoIP2-City-Test.json`): the pool for `vigil demo` and tests with the test databases.
    /// The VPN exits are flagged `is_anonymous_vpn` in `GeoIP2-Anonymous-IP-Test`.
    /// London (81.2.69.0/24) is left out: the Anonymous-IP test database flags that whole network as
    /// VPN, Tor exit, proxy and hosting at once, which would make every London user look like an attacker.
    public static let maxMindTestCity = IPPool(
        locations: [
            Location(
                city: "Boxford", countryCode: "GB", latitude: 51.75, longitude: -1.25,
                addresses: parse(["2.125.160.216", "2.125.160.219", "2.2.3.10"])),
            Location(
                city: "Linköping", countryCode: "SE", latitude: 58.4167, longitude: 15.6167,
                addresses: parse(["89.160.20.112", "89.160.20.120", "89.160.20.130", "89.160.20.200"])),
            Location(
                city: "Changchun", countryCode: "CN", latitude: 43.88, longitude: 125.3228,
                addresses: parse(["175.16.199.10", "175.16.199.77", "175.16.199.200"])),
            Location(
                city: "Milton", countryCode: "US", latitude: 47.2513, longitude: -122.3149,
                addresses: parse(["216.160.83.58", "216.160.83.60", "216.160.83.62"])),
            Location(
                city: "San Diego", countryCode: "US", latitude: 32.7203, longitude: -117.1552,
                addresses: parse(["2001:480:10::1", "2001:480:10::2a", "214.78.120.5", "214.78.121.9"])),
            Location(
                city: "Singapore", countryCode: "SG", latitude: 1.336, longitude: 103.7716,
                addresses: parse(["214.0.0.1", "214.0.0.77", "214.0.0.200"])),
            Location(
                city: "Melbourne", countryCode: "AU", latitude: -37.8159, longitude: 144.9669,
                addresses: parse(["214.0.1.1", "214.0.1.99", "214.0.1.250"])),
        ], vpnExits: parse(["1.2.0.10", "1.2.77.1", "1.2.200.33", "6.1.0.0", "6.1.0.1"]),
        // 38.0.0.0/10 is AS174 (Cogent) in `GeoLite2-ASN-Test`, and in no city of the City test database.
        hostingNetwork: (0..<1_000).map { IPAddress(ipv4: 0x2600_0000 | UInt32($0 / 250) << 8 | UInt32($0 % 250 + 1)) })

    /// Samples a real City database through `geo`: draws public IPv4 addresses from `seed`, keeps those
    /// with a city, a country and coordinates, and groups them by city. Stops after `addresses` hits or
    /// `maxAttempts` draws. Cities appear in the order first found, so the pool is deterministic for a
    /// given database and seed. Used by the benchmarks with GeoLite2-City, where a realistic spread of
    /// distinct addresses matters (it decides how often the lookup cache hits). The first `vpnExits`
    /// located addresses become VPN exits instead (the caller marks them, e.g. with a `vpn` CIDR list).
    public static func sample(
        from geo: any GeoLookup, addresses: Int, seed: UInt64, vpnExits exitCount: Int = 0, maxAttempts: Int? = nil
    ) -> IPPool? {
        var random = WorkloadRandom(seed: seed)
        var byCity: [String: Int] = [:]
        var locations: [Location] = []
        var exits: [IPAddress] = []
        var found = 0
        var attempts = 0
        let limit = maxAttempts ?? addresses * 20
        while found < addresses && attempts < limit {
            attempts += 1
            let candidate = UInt32(truncatingIfNeeded: random.next())
            guard isPublicUnicast(candidate) else { continue }
            let address = IPAddress(ipv4: candidate)
            guard let location = geo.lookup(address).location, let city = location.city,
                let country = location.countryCode, let (latitude, longitude) = location.coordinates
            else { continue }
            if exits.count < exitCount {
                exits.append(address)
                continue
            }
            let key = country + "/" + city
            if let index = byCity[key] {
                locations[index].addresses.append(address)
            } else {
                byCity[key] = locations.count
                locations.append(
                    Location(
                        city: city, countryCode: country, latitude: latitude, longitude: longitude, addresses: [address]
                    ))
            }
            found += 1
        }
        return locations.isEmpty ? nil : IPPool(locations: locations, vpnExits: exits)
    }

    /// Leaves out the blocks no login comes from (private, loopback, link-local, CGNAT, multicast,
    /// reserved), so the sample looks like the internet.
    private static func isPublicUnicast(_ value: UInt32) -> Bool {
        let a = value >> 24
        let b = (value >> 16) & 0xFF
        switch a {
        case 0, 10, 127, 224...255: return false
        case 100: return !(64...127).contains(b)
        case 169: return b != 254
        case 172: return !(16...31).contains(b)
        case 192: return b != 168
        default: return true
        }
    }

    /// Literal addresses for the built-in pool; a typo is a programming error.
    private static func parse(_ texts: [String]) -> [IPAddress] {
        texts.map { IPAddress($0)! }
    }
}
