import Foundation
import Testing
import VigilTestSupport
import _VigilMachinery

@testable import VigilDaemon

/// The signer's tokens as an independent receiver (joserfc) sees them: signatures verify against the
/// published JWKS for both algorithms, the header is a SET's, the claims are the engine's bytes, and the
/// `kid` is the key's RFC 7638 thumbprint. Keys that cannot sign are refused at load with the file named.
@Suite(.enabled(if: JOSEVerifier.isAvailable, "needs python3 with joserfc and cryptography (see .ci/run)"))
struct SecurityEventSignerTests {
    static let claims = Array(
        #"{"iss":"https://vigil.test","jti":"8b7c0e0a-0000-8000-8000-000000000001","iat":1790000000,"txn":"t1","sub_id":{"format":"email","email":"carol@acme.test"},"events":{"https://schemas.openid.net/secevent/caep/event-type/session-revoked":{"event_timestamp":1790000000}}}"#
            .utf8)

    @Test func bothAlgorithmsVerifyAndTheNewestKeySigns() async throws {
        let directory = try TestPaths.temporaryDirectory("signer")
        let old = try JOSEVerifier.makeKey("ES256", in: directory, name: "old.pem")
        let new = try JOSEVerifier.makeKey("RS256", in: directory, name: "new.pem")
        let rotated = try await SecurityEventSigner(files: [
            SigningKeyFile(path: old.path, algorithm: .es256), SigningKeyFile(path: new.path, algorithm: .rs256),
        ])
        let ecOnly = try await SecurityEventSigner(files: [SigningKeyFile(path: old.path, algorithm: .es256)])
        let thumbprints = try JOSEVerifier.thumbprints(of: rotated.jwks)
        #expect(thumbprints == rotated.keys.map(\.kid))
        #expect(rotated.signingKeyID == thumbprints[1])

        for (signer, algorithm) in [(rotated, "RS256"), (ecOnly, "ES256")] {
            let token = try signer.sign(claims: Self.claims)
            let verified = try JOSEVerifier.verify(tokens: [token], jwks: rotated.jwks, issuer: "https://vigil.test")
            let header = try #require(verified.first?.header)
            #expect(header["alg"] as? String == algorithm)
            #expect(header["typ"] as? String == "secevent+jwt")
            #expect(header["kid"] as? String == signer.signingKeyID)
            // The claims are the engine's bytes, unchanged.
            let payload = String(decoding: token, as: UTF8.self).split(separator: ".")[1]
            #expect(payload == Substring(Base64URL.encode(Self.claims)))
        }
        // A token signed by a key the receiver was never given does not verify.
        let stranger = try await SecurityEventSigner(files: [
            SigningKeyFile(
                path: try JOSEVerifier.makeKey("RS256", in: directory, name: "x.pem").path, algorithm: .rs256)
        ])
        #expect(throws: TestFailure.self) {
            try JOSEVerifier.verify(
                tokens: [try stranger.sign(claims: Self.claims)], jwks: rotated.jwks, issuer: "https://vigil.test")
        }
    }

    @Test func keysThatCannotSignAreRefusedNamingTheFile() async throws {
        let directory = try TestPaths.temporaryDirectory("signer-bad")
        let ec = try JOSEVerifier.makeKey("ES256", in: directory, name: "ec.pem")
        let missing = directory.appendingPathComponent("missing.pem").path
        let text = directory.appendingPathComponent("text.pem")
        try "not a key\n".write(to: text, atomically: true, encoding: .utf8)
        // A 1024-bit RSA key, written by cryptography.
        let weak = directory.appendingPathComponent("weak.pem")
        let program = """
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import rsa
            key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
            open(\"\(weak.path)\", "wb").write(key.private_bytes(serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
            """
        #expect(try ChildProcess.run(tool: "python3", ["-c", program]).status == 0)

        func refusal(_ files: [SigningKeyFile]) async -> SigningKeyError? {
            do {
                _ = try await SecurityEventSigner(files: files)
                return nil
            } catch { return error }
        }
        #expect(await refusal([]) == .noKeys)
        let unreadable = await refusal([SigningKeyFile(path: missing, algorithm: .rs256)])
        #expect(unreadable?.description.hasPrefix("cannot read the signing key \(missing)") == true)
        #expect(
            await refusal([SigningKeyFile(path: text.path, algorithm: .rs256)]) == .notAKey(path: text.path, .rs256))
        #expect(await refusal([SigningKeyFile(path: ec.path, algorithm: .rs256)]) == .notAKey(path: ec.path, .rs256))
        let weakRefusal = await refusal([SigningKeyFile(path: weak.path, algorithm: .rs256)])
        #expect(weakRefusal == .weakKey(path: weak.path), "\(String(describing: weakRefusal))")
        #expect(
            await refusal([
                SigningKeyFile(path: ec.path, algorithm: .es256), SigningKeyFile(path: ec.path, algorithm: .es256),
            ])
                == .duplicate(path: ec.path))
    }
}
