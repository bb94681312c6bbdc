import Foundation

/// A statistical model of a user's logins beside the rules (after Freeman et al., "Who Are You? A
/// Statistical Approach to Measuring User Authenticity", NDSS 2016): how much likelier a login's
/// features are under an attacker than under this user's own history, as a log-likelihood ratio in
/// bits. The rules name single novelties with fixed points; the model weighs them together, by how
/// settled the user's habits are and how rare the value is anywhere, so a login new in five ways at once
/// scores what no single rule gives.
///
/// Per feature, with `n` the user's learned logins (at most `settledLogins`) and `d` the values the user
/// is known with:
/// - the user's own distribution is smoothed with an escape probability `ε = (d + 1) / (n + d + 2)` (the
///   chance that their next login brings a value not seen yet: small for a settled user, ½ for a new one):
///   a known value has `(1 − ε) / d + ε·p`, a new one `ε·p`, where `p` is the value's share of all logins;
/// - an attacker's value is drawn half from the population and half uniformly over the feature's values
///   (rented infrastructure and tools choose without regard to what is common): `(p + 1/V) / 2`;
/// - the feature's bits are `log2(attacker / user)`, between `−familiarBits` and `maxBitsPerFeature`,
///   and the login's bits are their sum (naive Bayes: features are taken as independent).
///
/// Where no population share is known (device ids, networks, cities, countries, AS numbers: their
/// values are too many to have one) `p = 1/V`, and a new value's bits are `log2(1/ε)`; a known one
/// gives `−familiarBits`. Browser and system families use the world's shares below. The hour of the
/// week is one feature of two factors, hour of day and day of week, each smoothed over the user's
/// counts (an hour's neighbours count half) against a uniform attacker, their bits bounded together.
///
/// Everything is a function of the event, its enrichment and the user's state: deterministic in event
/// time, the same on every partition count.
struct LoginModel: Sendable {
    /// The most one feature adds: a single strange value never decides alone.
    static let maxBitsPerFeature = 6.0
    /// What one known value takes off: familiarity cancels some novelty elsewhere, never all of it.
    static let familiarBits = 2.0
    /// Pseudo-counts the clock features spread uniformly: a new user's hours are not yet unusual.
    static let clockPrior = 2.0
    /// Logins after which a user is as settled as the model takes anyone to be: people change phones
    /// and networks however long their history, so a new value never becomes rarer than about 1 in 32.
    static let settledLogins = 30

    /// A browser family's share of logins across the web (StatCounter's worldwide figures, all platforms,
    /// 2025, rounded); scripts and the rest set low: a login from an HTTP library is rare anywhere.
    static func share(of browser: BrowserFamily) -> Double {
        switch browser {
        case .chrome: 0.68
        case .safari: 0.17
        case .edge: 0.05
        case .firefox: 0.025
        case .samsungInternet, .opera: 0.02
        case .other: 0.013
        case .internetExplorer, .script, .unknown: 0.001
        }
    }

    /// An operating system family's share of logins (StatCounter, worldwide, all platforms, 2025, rounded).
    static func share(of system: OSFamily) -> Double {
        switch system {
        case .android: 0.45
        case .windows: 0.25
        case .iOS: 0.18
        case .macOS: 0.07
        case .linux: 0.03
        case .chromeOS: 0.02
        case .unknown: 0.001
        }
    }

    /// The login's bits, and each feature's (NaN where the login does not have the feature): kept
    /// inline, so scoring allocates nothing; an explanation is built only when the signal fires.
    struct Result: Sendable {
        var bits = 0.0
        var featureBits = InlineArray<8, Double>(repeating: .nan)

        subscript(feature: LoginFeature) -> Double? {
            let bits = featureBits[feature.rawValue]
            return bits.isNaN ? nil : bits
        }
    }

    /// The bits of a login with `features`, presented with a device `deviceKnown` (nil without a device
    /// id), from a country and network (AS) known or not (nil: not located), against `user`'s profile
    /// and seen sets.
    static func evaluate(
        _ features: LoginFeatures, deviceKnown: Bool?, countryKnown: Bool?, networkKnown: Bool?, user: UserState
    ) -> Result {
        let profile = user.profile
        let n = Double(min(Int(profile.logins), settledLogins))
        var result = Result()
        func add(_ feature: LoginFeature, _ bits: Double) {
            let bounded = min(maxBitsPerFeature, max(-familiarBits, bits))
            result.bits += bounded
            result.featureBits[feature.rawValue] = bounded
        }
        func escape(_ distinct: Int) -> Double { (Double(distinct) + 1) / (n + Double(distinct) + 2) }
        // A value without a population share: new, the escape's bits; known, familiar.
        func novelty(_ known: Bool, distinct: Int) -> Double { known ? -familiarBits : -log2(escape(distinct)) }

        if let deviceKnown { add(.device, novelty(deviceKnown, distinct: user.seen.count(.device))) }
        if let countryKnown { add(.country, novelty(countryKnown, distinct: user.seen.count(.country))) }
        if let networkKnown { add(.asn, novelty(networkKnown, distinct: user.seen.count(.network))) }
        if features.network != 0 {
            add(.network, novelty(profile.knowsNetwork(features.network), distinct: profile.networkCount))
        }
        if features.city != 0 { add(.city, novelty(profile.knowsCity(features.city), distinct: profile.cityCount)) }
        // A family's bits: its share among the known families (the unknown one is never scored).
        func family(_ feature: LoginFeature, known: Bool, distinct: Int, share: Double, families: Int) {
            add(
                feature,
                familyBits(
                    known: known, distinct: distinct, share: share, values: families - 1, escape: escape(distinct)))
        }
        if features.browser != .unknown {
            family(
                .browser, known: profile.knows(features.browser), distinct: profile.browserCount,
                share: share(of: features.browser), families: BrowserFamily.allCases.count)
        }
        if features.system != .unknown {
            family(
                .system, known: profile.knows(features.system), distinct: profile.systemCount,
                share: share(of: features.system), families: OSFamily.allCases.count)
        }
        add(.hourOfWeek, clockBits(features.hourOfWeek, profile: profile))
        return result
    }

    /// The explanation of a login that fired: its bits and its three weightiest features that count
    /// against it, named.
    static func explain(_ result: Result, _ context: EventContext, user: UserState) -> UnusualLogin {
        let profile = user.profile
        func weighsMore(_ lhs: LoginFeature, _ rhs: LoginFeature) -> Bool {
            let (left, right) = (result[lhs] ?? 0, result[rhs] ?? 0)
            return left > right || (left == right && lhs.rawValue < rhs.rawValue)
        }
        let ranked = LoginFeature.allCases.filter { (result[$0] ?? 0) > 0 }.sorted(by: weighsMore)
        var findings: [UnusualFeature] = []
        for feature in ranked.prefix(3) {
            let features = context.features
            switch feature {
            case .device: findings.append(.device)
            case .country: findings.append(.country(context.intel.location?.countryCode ?? "?"))
            case .asn: findings.append(.asn(context.intel.network?.number ?? 0))
            case .network: findings.append(.network)
            case .city: findings.append(.city(context.intel.location?.city ?? "?"))
            case .browser:
                let family = features?.browser ?? .unknown
                findings.append(.browser(family, known: profile.knows(family), share: share(of: family)))
            case .system:
                let family = features?.system ?? .unknown
                findings.append(.system(family, known: profile.knows(family), share: share(of: family)))
            case .hourOfWeek:
                let hourOfWeek = features?.hourOfWeek ?? 0
                let hour = hourOfWeek % LoginProfile.hoursPerDay
                let near =
                    profile.hourCount(hour) + profile.hourCount((hour + 23) % 24)
                    + profile.hourCount((hour + 1) % 24)
                findings.append(.hour(hourOfWeek: hourOfWeek, near: near, of: profile.observations))
            }
        }
        return UnusualLogin(bits: result.bits, observations: profile.observations, findings: findings)
    }

    /// Bits of a family with a population share `share` among `values` families.
    static func familyBits(known: Bool, distinct: Int, share: Double, values: Int, escape: Double) -> Double {
        let attacker = (share + 1 / Double(values)) / 2
        let user = known ? (1 - escape) / Double(max(1, distinct)) + escape * share : escape * share
        return log2(attacker / user)
    }

    /// Bits of the hour of the week: hour of day and day of week, each against a uniform attacker.
    static func clockBits(_ hourOfWeek: Int, profile: LoginProfile) -> Double {
        let hour = hourOfWeek % LoginProfile.hoursPerDay
        let day = hourOfWeek / LoginProfile.hoursPerDay
        let hours = Double(LoginProfile.hoursPerDay)
        let days = Double(LoginProfile.daysPerWeek)
        // Each login counts once at its hour and half at each neighbour: the smoothed counts total 2n.
        let near =
            Double(profile.hourCount(hour))
            + 0.5 * Double(profile.hourCount((hour + 23) % 24) + profile.hourCount((hour + 1) % 24))
        let hourShare = (near + clockPrior / hours) / (2 * Double(profile.observations) + clockPrior)
        let dayShare =
            (Double(profile.dayCount(day)) + clockPrior / days) / (Double(profile.dayObservations) + clockPrior)
        return log2((1 / hours) / hourShare) + log2((1 / days) / dayShare)
    }
}

/// The features of the login model, in the order an explanation lists them among equals.
enum LoginFeature: Int, Sendable, CaseIterable {
    case device, country, asn
    /// The /24 (IPv6 /64) the login came from.
    case network
    case city, browser, system, hourOfWeek
}
