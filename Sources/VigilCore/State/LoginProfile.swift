/// What the login model (`LoginModel`) knows of a user's habits beyond the seen sets: when they log in
/// (hour of day and day of week, as small counts that halve when one fills, so old habits fade), from
/// which /24 (IPv6 /64) networks and cities, with which browser and operating system families, and how many logins it learned. 32
/// bytes, inline in `UserState`: every learned user has one, so it lives beside the seen sets, not
/// behind the rarely used part.
///
/// Networks and cities are kept as 16-bit fingerprints of keyed hashes (`EngineKeys.profile`), the most
/// recent four and two: enough to tell "one of the user's usual places" from "somewhere new" (a wrong
/// match needs a 1-in-16,384 collision within one user's handful), without addresses or names in state.
struct LoginProfile: Sendable, Equatable {
    /// Hours 0–15 of the day in `hoursLow`, 16–23 in nibbles 0–7 of `hoursHigh`, days Monday–Sunday
    /// in its nibbles 8–14: 4-bit counts (nibble 15 stays 0).
    private(set) var hoursLow: UInt64 = 0
    private(set) var hoursHigh: UInt64 = 0
    /// Four 16-bit fingerprints, most recent in the low bits; 0 is an empty slot.
    private(set) var networks: UInt64 = 0
    /// Two 16-bit fingerprints, most recent in the low bits; 0 is an empty slot.
    private(set) var cities: UInt32 = 0
    /// Bit `BrowserFamily.rawValue` set for each family seen.
    private(set) var browsers: UInt16 = 0
    /// Bit `OSFamily.rawValue` set for each family seen.
    private(set) var systems: UInt8 = 0
    /// Logins learned, stopping at 255: the evidence behind the profile and the seen sets, which the
    /// model reads only up to `LoginModel.settledLogins`. It starts at 0 for a user restored from state
    /// written before the profile existed, so the model stays quiet for them until it has learned again.
    private(set) var logins: UInt8 = 0

    static let hoursPerDay = 24
    static let daysPerWeek = 7
    /// A count fills at this; then every count of its kind halves.
    static let maxCount = 15
    static let networkSlots = 4
    static let citySlots = 2

    init() {}

    /// The profile as a snapshot or changelog record held it (validated by the caller).
    init(
        hoursLow: UInt64, hoursHigh: UInt64, networks: UInt64, cities: UInt32, browsers: UInt16, systems: UInt8,
        logins: UInt8
    ) {
        (self.hoursLow, self.hoursHigh, self.networks, self.cities) = (hoursLow, hoursHigh, networks, cities)
        (self.browsers, self.systems, self.logins) = (browsers, systems, logins)
    }

    var isEmpty: Bool { self == LoginProfile() }

    /// Logins counted on the clock, as the hour counts hold them now (halving lowers it): the evidence
    /// behind every share the model reads from this profile.
    var observations: Int { (0..<Self.hoursPerDay).reduce(0) { $0 + hourCount($1) } }

    func hourCount(_ hour: Int) -> Int { Int(nibble(hour < 16 ? hoursLow : hoursHigh, hour % 16)) }

    func dayCount(_ day: Int) -> Int { Int(nibble(hoursHigh, 8 + day)) }

    /// Days counted, as the day counts hold them now (they halve apart from the hours).
    var dayObservations: Int { (0..<Self.daysPerWeek).reduce(0) { $0 + dayCount($1) } }

    func knowsNetwork(_ fingerprint: UInt16) -> Bool { Self.slots(UInt64(networks), count: 4, hold: fingerprint) }

    func knowsCity(_ fingerprint: UInt16) -> Bool { Self.slots(UInt64(cities), count: 2, hold: fingerprint) }

    var networkCount: Int { Self.filled(UInt64(networks), count: 4) }

    var cityCount: Int { Self.filled(UInt64(cities), count: 2) }

    func knows(_ browser: BrowserFamily) -> Bool { browsers & 1 << browser.rawValue != 0 }

    func knows(_ system: OSFamily) -> Bool { systems & 1 << system.rawValue != 0 }

    var browserCount: Int { browsers.nonzeroBitCount }

    var systemCount: Int { systems.nonzeroBitCount }

    /// Learns one login's features.
    mutating func record(_ features: LoginFeatures) {
        if logins < .max { logins += 1 }
        let hour = features.hourOfWeek % Self.hoursPerDay
        let day = features.hourOfWeek / Self.hoursPerDay
        if hourCount(hour) == Self.maxCount { halveHours() }
        if hour < 16 { hoursLow += 1 << (4 * UInt64(hour)) } else { hoursHigh += 1 << (4 * UInt64(hour - 16)) }
        if dayCount(day) == Self.maxCount { halveDays() }
        hoursHigh += 1 << (4 * UInt64(8 + day))
        if features.network != 0 { networks = Self.remember(networks, features.network, count: 4) }
        if features.city != 0 { cities = UInt32(Self.remember(UInt64(cities), features.city, count: 2)) }
        if features.browser != .unknown { browsers |= 1 << features.browser.rawValue }
        if features.system != .unknown { systems |= 1 << features.system.rawValue }
    }

    private func nibble(_ word: UInt64, _ index: Int) -> UInt64 { word >> (4 * UInt64(index)) & 0xF }

    /// Halves the 24 hour counts (rounding down): the low word whole, the high word's low half.
    private mutating func halveHours() {
        hoursLow = hoursLow >> 1 & 0x7777_7777_7777_7777
        hoursHigh = hoursHigh & ~0xFFFF_FFFF | (hoursHigh & 0xFFFF_FFFF) >> 1 & 0x7777_7777
    }

    /// Halves the 7 day counts, nibbles 8–14 of the high word.
    private mutating func halveDays() {
        let days: UInt64 = 0x0FFF_FFFF << 32
        hoursHigh = hoursHigh & ~days | (hoursHigh & days) >> 1 & (0x0777_7777 << 32)
    }

    private static func slots(_ word: UInt64, count: Int, hold fingerprint: UInt16) -> Bool {
        guard fingerprint != 0 else { return false }
        for slot in 0..<count where UInt16(truncatingIfNeeded: word >> (16 * UInt64(slot))) == fingerprint {
            return true
        }
        return false
    }

    private static func filled(_ word: UInt64, count: Int) -> Int {
        (0..<count).reduce(0) { $0 + (UInt16(truncatingIfNeeded: word >> (16 * UInt64($1))) != 0 ? 1 : 0) }
    }

    /// Moves `fingerprint` to the most recent slot: removed where it was, else the oldest slot dropped.
    private static func remember(_ word: UInt64, _ fingerprint: UInt16, count: Int) -> UInt64 {
        var result = UInt64(fingerprint)
        var position: UInt64 = 1
        for slot in 0..<count {
            let held = UInt16(truncatingIfNeeded: word >> (16 * UInt64(slot)))
            guard held != 0, held != fingerprint, position < UInt64(count) else { continue }
            result |= UInt64(held) << (16 * position)
            position += 1
        }
        return result
    }
}
