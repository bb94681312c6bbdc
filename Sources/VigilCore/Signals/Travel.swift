#if canImport(Glibc)
import Glibc  // the platform's libm: sin, cos, asin, sqrt
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif

/// Great-circle distance on a spherical Earth (haversine). Good to ~0.5 %, far below GeoIP error.
public enum Geodesy {
    static let earthRadiusKm = 6371.0088

    /// Kilometres between two points given in degrees.
    public static func distanceKm(
        _ a: (latitude: Double, longitude: Double), _ b: (latitude: Double, longitude: Double)
    ) -> Double {
        let toRadians = Double.pi / 180
        let dLat = (b.latitude - a.latitude) * toRadians
        let dLon = (b.longitude - a.longitude) * toRadians
        let sinLat = sin(dLat / 2)
        let sinLon = sin(dLon / 2)
        let cosProduct = cos(a.latitude * toRadians) * cos(b.latitude * toRadians)
        let h = sinLat * sinLat + cosProduct * sinLon * sinLon
        return 2 * earthRadiusKm * asin(min(1, sqrt(h)))
    }
}

/// How fast a user would have had to travel between two logins. Both accuracy radii are subtracted
/// from the distance first, so two coarse locations that might overlap never look like movement.
struct TravelAssessment: Sendable, Equatable {
    var distanceKm: Double
    var previousRadiusKm: Double
    var currentRadiusKm: Double
    /// Distance minus both radii, never below zero.
    var adjustedDistanceKm: Double
    var elapsedSeconds: Double
    var speedKmh: Double

    /// Elapsed time below this counts as this (two logins in the same second are not infinitely fast).
    static let minimumElapsedSeconds = 1.0

    init?(from previous: GeoLocation?, at previousTime: Timestamp, to current: GeoLocation?, at time: Timestamp) {
        // A location without a city is a country's or region's centroid (accuracy radius of hundreds of
        // kilometres, often a default one): no verdict from it.
        guard let a = previous?.coordinates, let b = current?.coordinates, previous?.city != nil, current?.city != nil
        else { return nil }
        distanceKm = Geodesy.distanceKm(a, b)
        previousRadiusKm = Double(max(0, previous?.accuracyRadiusKm ?? 0))
        currentRadiusKm = Double(max(0, current?.accuracyRadiusKm ?? 0))
        adjustedDistanceKm = max(0, distanceKm - previousRadiusKm - currentRadiusKm)
        elapsedSeconds = max(Self.minimumElapsedSeconds, abs(time.since(previousTime).seconds))
        speedKmh = adjustedDistanceKm / (elapsedSeconds / 3600)
    }

    /// The rule: faster than `maxSpeedKmh` over more than `minDistanceKm` (after radii).
    func isImpossible(maxSpeedKmh: Double, minDistanceKm: Double) -> Bool {
        adjustedDistanceKm > minDistanceKm && speedKmh > maxSpeedKmh
    }
}
