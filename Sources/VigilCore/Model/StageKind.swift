/// The keyed stages of Vigil's topology. Each runs on its own repartition topic, keyed so that every
/// event one detector reads lands on the same partition whatever the input's partitioning: per user
/// (baselines, per-user windows, decisions), per source address (credential stuffing, reset waves
/// from one address, the source-risk facts), per email domain (reset waves over one domain) and per
/// autonomous system or tenant (campaigns spread over many sources, the campaign facts).
public enum StageKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Keyed by the normalised user id.
    case user = 1
    /// Keyed by the source address (IPv4, or the IPv6 /64).
    case source = 2
    /// Keyed by the lower-cased email domain.
    case domain = 3
    /// Keyed by autonomous system (`asn:<number>`) or tenant (`tenant:<name>`).
    case campaign = 4

    /// The stage's name as topics and logs spell it (`user`, `source`, `domain`, `campaign`).
    public var description: String {
        switch self {
        case .user: "user"
        case .source: "source"
        case .domain: "domain"
        case .campaign: "campaign"
        }
    }
}
