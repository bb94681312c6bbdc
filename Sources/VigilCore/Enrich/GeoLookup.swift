/// The seam between the engine and a geolocation database. VigilGeo implements it over libmaxminddb;
/// tests implement it with a table. Must be safe to call from the engine's thread while the database
/// is being swapped.
public protocol GeoLookup: Sendable {
    /// Location, network and anonymity of `address`; `.unknown` parts where the databases have nothing.
    func lookup(_ address: IPAddress) -> IPIntelligence
}
