import Foundation
import VigilTestSupport

extension TestPaths {
    /// The replay scenarios: JSONL inputs with the attacks the engine must find.
    static var scenarios: URL { packageRoot.appendingPathComponent("Tests/VigilDaemonTests/Scenarios") }

    /// Writes a config with the MaxMind test databases at absolute paths (so VIGIL_MAXMIND_TESTDATA
    /// applies) and the given extra YAML appended.
    static func writeConfig(in directory: URL, anonymousDatabase: Bool, extra: String = "") throws -> URL {
        let anonymous = anonymousDatabase ? maxmind("GeoIP2-Anonymous-IP-Test.mmdb").path : "null"
        let yaml = """
            geo:
              city_db: \(maxmind("GeoIP2-City-Test.mmdb").path)
              asn_db: \(maxmind("GeoLite2-ASN-Test.mmdb").path)
              anonymous_db: \(anonymous)
            \(extra)
            """
        let url = directory.appendingPathComponent("vigil.yaml")
        try yaml.write(to: url, atomically: true, encoding: .utf8)
        return url
    }
}
