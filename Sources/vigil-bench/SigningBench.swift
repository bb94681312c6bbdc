import CryptoExtras
import Dispatch
import Foundation
import VigilDaemon

/// The cost of signing a Security Event Token, per algorithm, with keys made for the run: what the Kafka
/// worker thread pays for each token (`KafkaLoop.output`). Tokens are a fraction of verdicts, so this
/// bounds how many tokens a second one thread can afford, not the event rate.
enum SigningBench {
    /// Tokens signed per second with a fresh RS256 (2048-bit) and a fresh ES256 key, in that order.
    static func tokensPerSecond(tokens: Int, scratch: URL) throws -> [(algorithm: String, perSecond: Double)] {
        let rsa = scratch.appendingPathComponent("bench-rs256.pem")
        let ec = scratch.appendingPathComponent("bench-es256.pem")
        try Data(try _RSA.Signing.PrivateKey(keySize: .bits2048).pemRepresentation.utf8).write(to: rsa)
        try Data(P256.Signing.PrivateKey().pemRepresentation.utf8).write(to: ec)
        defer {
            try? FileManager.default.removeItem(at: rsa)
            try? FileManager.default.removeItem(at: ec)
        }
        // A session-revoked token's claims as the engine writes them (about 480 bytes).
        let claims = Array(
            (#"{"iss":"https://vigil.example.com","jti":"8b7c0e0a-5d1e-8f00-9a00-0123456789ab","iat":1790000000,"#
                + #""aud":"https://acme.okta.com","txn":"3f2e1d0c-1b2a-8f00-9a00-0123456789ab","#
                + #""sub_id":{"format":"email","email":"carol@acme.example"},"events":{"#
                + #""https://schemas.openid.net/secevent/caep/event-type/session-revoked":{"#
                + #""event_timestamp":1790000000,"initiating_entity":"policy","#
                + #""reason_admin":{"en":"MFA push accepted after repeated denials"}}}}"#).utf8)
        var rates: [(String, Double)] = []
        for (name, file, algorithm) in [
            ("RS256", rsa, SigningKeyFile.Algorithm.rs256), ("ES256", ec, SigningKeyFile.Algorithm.es256),
        ] {
            let signer = try blockingSigner(SigningKeyFile(path: file.path, algorithm: algorithm))
            _ = try signer.sign(claims: claims)
            let started = DispatchTime.now().uptimeNanoseconds
            var bytes = 0
            for _ in 0..<tokens { bytes &+= try signer.sign(claims: claims).count }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            precondition(bytes > 0)
            rates.append((name, Double(tokens) / seconds))
        }
        return rates
    }

    /// The signer's loader is async (jwt-kit's key collection is an actor); the bench is not.
    private static func blockingSigner(_ file: SigningKeyFile) throws -> SecurityEventSigner {
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox()
        Task.detached {
            do {
                box.result = .success(try await SecurityEventSigner(files: [file]))
            } catch {
                box.result = .failure(error)
            }
            done.signal()
        }
        done.wait()
        return try box.result!.get()
    }

    /// Carries the loader's result to the waiting thread (written once before the semaphore signals).
    private final class ResultBox: @unchecked Sendable {
        var result: Result<SecurityEventSigner, any Error>?
    }
}
