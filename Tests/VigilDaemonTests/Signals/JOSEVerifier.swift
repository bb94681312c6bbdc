import Foundation
import VigilTestSupport

/// Python's joserfc (over cryptography) as the independent receiver: makes keys (`scripts/ssf-key.py`)
/// and verifies tokens against a JWKS (`scripts/verify-set.py`).
enum JOSEVerifier {
    /// True when python3 with joserfc and cryptography can run here (`.ci/run` installs them).
    static let isAvailable: Bool =
        (try? ChildProcess.run(tool: "python3", ["-c", "import joserfc, cryptography"]).status) == 0

    /// A new private key file of `algorithm` ("RS256" or "ES256") in `directory`.
    static func makeKey(_ algorithm: String, in directory: URL, name: String) throws -> URL {
        let file = directory.appendingPathComponent(name)
        let result = try ChildProcess.run(tool: "python3", [script("ssf-key.py"), algorithm, file.path])
        guard result.status == 0 else { throw TestFailure("ssf-key.py failed: \(result.stderr)") }
        return file
    }

    /// Each token's header and claims as the receiver reads them, after verifying it against `jwks`;
    /// throws with the verifier's reasons when any token fails.
    static func verify(
        tokens: [[UInt8]], jwks: [UInt8], issuer: String
    ) throws -> [(
        header: [String: Any], claims: [String: Any]
    )] {
        let directory = try TestPaths.temporaryDirectory("verify-set")
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = directory.appendingPathComponent("jwks.json")
        let lines = directory.appendingPathComponent("tokens.txt")
        try Data(jwks).write(to: keys)
        try Data(tokens.map { $0 + [0x0A] }.joined()).write(to: lines)
        let result = try ChildProcess.run(tool: "python3", [script("verify-set.py"), keys.path, lines.path, issuer])
        guard result.status == 0 else { throw TestFailure("tokens refused: \(result.stderr)\(result.stdout)") }
        return try result.stdout.split(separator: "\n").map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            guard let header = object?["header"] as? [String: Any], let claims = object?["claims"] as? [String: Any]
            else { throw TestFailure("unexpected verifier output: \(line)") }
            return (header, claims)
        }
    }

    /// RFC 7638 thumbprints of a JWKS's keys as joserfc computes them, in order.
    static func thumbprints(of jwks: [UInt8]) throws -> [String] {
        let program = """
            import json, sys
            from joserfc.jwk import KeySet
            for key in KeySet.import_key_set(json.load(sys.stdin)).keys:
                print(key.thumbprint())
            """
        let result = try ChildProcess.run(tool: "python3", ["-c", program], stdin: Data(jwks))
        guard result.status == 0 else { throw TestFailure("thumbprint failed: \(result.stderr)") }
        return result.stdout.split(separator: "\n").map(String.init)
    }

    private static func script(_ name: String) -> String {
        TestPaths.packageRoot.appendingPathComponent("scripts/\(name)").path
    }
}
