import _VigilMachinery

/// The features of one login the model compares with the user's profile, computed once per event
/// (`EventContext.features`) and kept with a login waiting for verification so that it is learned as it
/// was seen.
struct LoginFeatures: Sendable, Equatable {
    /// 0 (Monday 00h UTC) to 167 (Sunday 23h UTC).
    var hourOfWeek: Int
    /// Fingerprint of the /24 (IPv6 /64) the login came from; 0 without an address.
    var network: UInt16 = 0
    /// Fingerprint of the city (with its country); 0 when the location names none.
    var city: UInt16 = 0
    var browser: BrowserFamily = .unknown
    var system: OSFamily = .unknown

    init(
        hourOfWeek: Int, network: UInt16 = 0, city: UInt16 = 0, browser: BrowserFamily = .unknown,
        system: OSFamily = .unknown
    ) {
        (self.hourOfWeek, self.network, self.city, self.browser, self.system) =
            (hourOfWeek, network, city, browser, system)
    }

    /// The hour of the week of `time` in UTC (the epoch was a Thursday).
    static func hourOfWeek(_ time: Timestamp) -> Int {
        let hours = time.microseconds / 3_600_000_000 - (time.microseconds % 3_600_000_000 < 0 ? 1 : 0)
        let week = Int64(Self.hoursPerWeek)
        return Int(((hours + 3 * 24) % week + week) % week)
    }

    static let hoursPerWeek = 168

    /// A keyed hash folded into 16 bits, never 0 (the empty slot).
    static func fingerprint(_ hash: UInt64) -> UInt16 {
        let folded = UInt16(truncatingIfNeeded: hash ^ hash >> 16 ^ hash >> 32 ^ hash >> 48)
        return folded == 0 ? 1 : folded
    }
}

extension LoginFeatures {
    /// The features of a login or sensitive action: its hour, its address block and city as keyed
    /// fingerprints, its browser and system families.
    init(_ event: AuthEvent, intel: IPIntelligence, key: SipHashKey, browser: BrowserFamily, system: OSFamily) {
        self.init(hourOfWeek: Self.hourOfWeek(event.time), browser: browser, system: system)
        if let ip = event.ip {
            let block = ip.isIPv4 ? ip.masked(toPrefix: 120) : ip.masked(toPrefix: 64)
            network = Self.fingerprint(key.hash(block.high, tweak: block.low))
        }
        if let location = intel.location, let city = location.city {
            var hasher = SipHashState(key: key)
            hasher.append(location.countryCode ?? "")
            hasher.append(city)
            self.city = Self.fingerprint(hasher.finalize())
        }
    }
}
