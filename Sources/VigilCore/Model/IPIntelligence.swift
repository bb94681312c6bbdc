/// Where an address is, who announces it, and how it is known to be used: everything the engine
/// learns about a source IP, whatever database it came from.
public struct IPIntelligence: Sendable, Equatable {
    /// Nil when no city database is configured or the address is not in it.
    public var location: GeoLocation?
    /// Nil when no ASN database is configured or the address is not in it.
    public var network: AutonomousSystem?
    /// Empty when no anonymous-IP database is configured or the address is not listed.
    public var anonymity: AnonymityFlags
    /// Categories from the operator's reputation table (ASN and CIDR lists), sorted, no duplicates.
    public var reputation: [ReputationMatch]

    /// Intelligence with whatever is known; the defaults mean "nothing known".
    public init(
        location: GeoLocation? = nil, network: AutonomousSystem? = nil,
        anonymity: AnonymityFlags = [], reputation: [ReputationMatch] = []
    ) {
        self.location = location
        self.network = network
        self.anonymity = anonymity
        self.reputation = reputation
    }

    /// Nothing known: what a failed or missing lookup gives, so signals that need data stay silent.
    public static let unknown = IPIntelligence()
}

/// A city-level position as GeoIP2 City reports it. The accuracy radius matters: the travel detector
/// subtracts it so that coarse locations do not look like movement.
public struct GeoLocation: Sendable, Equatable {
    /// ISO 3166-1 alpha-2, upper case.
    public var countryCode: String?
    /// English city name.
    public var city: String?
    /// Degrees, −90…90; see `coordinates` for a checked pair.
    public var latitude: Double?
    /// Degrees, −180…180.
    public var longitude: Double?
    /// Kilometres, as stored in the database (`location.accuracy_radius`).
    public var accuracyRadiusKm: Int?

    /// A location with whatever the database holds.
    public init(
        countryCode: String? = nil, city: String? = nil, latitude: Double? = nil,
        longitude: Double? = nil, accuracyRadiusKm: Int? = nil
    ) {
        self.countryCode = countryCode
        self.city = city
        self.latitude = latitude
        self.longitude = longitude
        self.accuracyRadiusKm = accuracyRadiusKm
    }

    /// Latitude and longitude when both are present and in range.
    public var coordinates: (latitude: Double, longitude: Double)? {
        guard let latitude, let longitude, abs(latitude) <= 90, abs(longitude) <= 180 else { return nil }
        return (latitude, longitude)
    }
}

/// The autonomous system announcing the address (GeoLite2 ASN).
public struct AutonomousSystem: Sendable, Equatable {
    /// The AS number.
    public var number: UInt32
    /// The registered organisation, as the database spells it.
    public var organization: String?

    /// An AS with its number and, when known, its organisation.
    public init(number: UInt32, organization: String? = nil) {
        self.number = number
        self.organization = organization
    }
}

/// Anonymous-IP database flags. Any of them makes a location untrustworthy for travel.
public struct AnonymityFlags: OptionSet, Sendable, Hashable {
    /// One bit per flag, in the order below.
    public let rawValue: UInt8
    /// The flags whose bits are set in `rawValue`.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Any anonymising service (the database's `is_anonymous`).
    public static let anonymous = AnonymityFlags(rawValue: 1 << 0)
    /// A commercial VPN exit.
    public static let vpn = AnonymityFlags(rawValue: 1 << 1)
    /// A Tor exit node; with an admin account it forces a hard rule.
    public static let torExit = AnonymityFlags(rawValue: 1 << 2)
    /// A hosting or cloud provider's range, where people rarely log in from.
    public static let hosting = AnonymityFlags(rawValue: 1 << 3)
    /// An open proxy.
    public static let publicProxy = AnonymityFlags(rawValue: 1 << 4)
    /// A residential proxy network (traffic relayed through home connections).
    public static let residentialProxy = AnonymityFlags(rawValue: 1 << 5)

    /// Wire names in a fixed order, for reasons and evidence.
    public var names: [String] {
        var out: [String] = []
        if contains(.anonymous) { out.append("anonymous") }
        if contains(.vpn) { out.append("vpn") }
        if contains(.torExit) { out.append("tor_exit") }
        if contains(.hosting) { out.append("hosting") }
        if contains(.publicProxy) { out.append("public_proxy") }
        if contains(.residentialProxy) { out.append("residential_proxy") }
        return out
    }
}

/// One hit in the operator's reputation table.
public struct ReputationMatch: Sendable, Hashable, Comparable {
    /// Which list matched: the ASN list or a CIDR list.
    public enum Source: String, Sendable, Hashable { case asn, cidr }
    /// Which list matched.
    public var source: Source
    /// Operator-chosen category, e.g. `hosting`, `vpn`, `tor`, `bad`.
    public var category: String

    /// The category that lowers risk instead of raising it (`trusted_network` signal).
    public static let trustedCategory = "trusted_network"

    /// True for a `trustedCategory` match.
    public var isTrusted: Bool { category == Self.trustedCategory }

    /// The category of mobile carriers' ranges: not a risk, but a coarse location (carrier-grade NAT and
    /// mobile gateways put a user's address hundreds of kilometres from the user), so travel from or to
    /// it is measured with `engine.signals.impossible_travel.mobile_tolerance_km` more error.
    public static let mobileCategory = "mobile"

    /// True for a category that says something is risky: every one but `trustedCategory` and
    /// `mobileCategory`, which describe a network.
    public var isRisk: Bool { category != Self.trustedCategory && category != Self.mobileCategory }

    /// A match of `category` from a list of kind `source`.
    public init(source: Source, category: String) {
        self.source = source
        self.category = category
    }

    /// By source, then category: the fixed order reasons and evidence list them in.
    public static func < (lhs: ReputationMatch, rhs: ReputationMatch) -> Bool {
        (lhs.source.rawValue, lhs.category) < (rhs.source.rawValue, rhs.category)
    }
}

extension IPIntelligence {
    /// The location travel is measured with: the address's, its accuracy radius widened by `mobileToleranceKm`
    /// when the address is in a `mobile` range of the operator's reputation table.
    func travelLocation(mobileToleranceKm: Double) -> GeoLocation? {
        guard var location, reputation.contains(where: { $0.category == ReputationMatch.mobileCategory }) else {
            return location
        }
        location.accuracyRadiusKm = (location.accuracyRadiusKm ?? 0) + Int(mobileToleranceKm.rounded())
        return location
    }
}
