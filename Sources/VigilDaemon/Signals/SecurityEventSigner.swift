import Crypto
import CryptoExtras
import Foundation
import JWTKit
import _VigilMachinery

/// Signs the engine's Security Event Token claims (`SecurityEventEncoder`) as compact JWS with the newest
/// key of `ssf.signing_keys`, and publishes every configured key's public half as the JWKS receivers verify
/// against. Keys and signatures are jwt-kit's (over swift-crypto); what is left here is the JOSE framing a
/// SET needs beyond a plain JWT: the header names `typ: secevent+jwt` and the key's `kid`, and the claims
/// are signed byte for byte as the engine wrote them, so the `jti` and claims a replay shows are the ones
/// a receiver gets.
///
/// Signing is synchronous, on the thread that produces the token: an RS256 signature costs well under a
/// millisecond and tokens are few (a fraction of verdicts), so no queue or task stands between a verdict
/// and its signed token.
public struct SecurityEventSigner: Sendable {
    /// One configured key.
    struct Key: Sendable {
        /// RFC 7638 thumbprint of the public key: stable across restarts and hosts, so receivers keep
        /// their cached JWKS.
        var kid: String
        var algorithm: SigningKeyFile.Algorithm
        /// The public JWK's members besides kid, alg and use, in RFC 7638 order.
        var publicMembers: [(String, String)]
        var signer: any JWTAlgorithm
    }

    let keys: [Key]
    private let header: [UInt8]

    /// The `kid` of the key that signs.
    public var signingKeyID: String { keys[keys.count - 1].kid }

    /// Loads every key of `files` (the last one signs). Throws for a file that cannot be read, is not a
    /// private key of its algorithm, or is an RSA key under 2048 bits.
    public init(files: [SigningKeyFile]) async throws(SigningKeyError) {
        guard !files.isEmpty else { throw .noKeys }
        var keys: [Key] = []
        for file in files {
            let pem: String
            do { pem = try String(contentsOfFile: file.path, encoding: .utf8) } catch {
                throw .unreadable(path: file.path, reason: "\(error.localizedDescription)")
            }
            keys.append(try await Self.load(pem: pem, file: file))
        }
        let kids = keys.map(\.kid)
        if let repeated = kids.enumerated().first(where: { kids[..<$0.offset].contains($0.element) }) {
            throw .duplicate(path: files[repeated.offset].path)
        }
        self.keys = keys
        let signing = keys[keys.count - 1]
        header = Array(
            Base64URL.encode(
                Array(#"{"alg":"\#(signing.algorithm.rawValue)","typ":"secevent+jwt","kid":"\#(signing.kid)"}"#.utf8)
            ).utf8)
    }

    private static func load(pem: String, file: SigningKeyFile) async throws(SigningKeyError) -> Key {
        let collection = JWTKeyCollection()
        let members: [(String, String)]
        do {
            switch file.algorithm {
            case .rs256:
                // swift-crypto refuses keys under 2048 bits; read without that rule only to say so.
                if let unchecked = try? _RSA.Signing.PrivateKey(unsafePEMRepresentation: pem),
                    unchecked.keySizeInBits < 2048
                {
                    throw SigningKeyError.weakKey(path: file.path)
                }
                let key = try Insecure.RSA.PrivateKey(pem: pem)
                let primitives = try key.publicKey.getKeyPrimitives()
                members = [
                    ("e", Base64URL.encode(Array(primitives.publicExponent))), ("kty", "RSA"),
                    ("n", Base64URL.encode(Array(primitives.modulus.drop(while: { $0 == 0 })))),
                ]
                await collection.add(rsa: key, digestAlgorithm: .sha256, kid: "signing")
            case .es256:
                let key = try ES256PrivateKey(pem: pem)
                guard let parameters = key.parameters else {
                    throw SigningKeyError.notAKey(path: file.path, file.algorithm)
                }
                members = [("crv", "P-256"), ("kty", "EC"), ("x", parameters.x), ("y", parameters.y)]
                await collection.add(ecdsa: key, kid: "signing")
            }
        } catch let error as SigningKeyError {
            throw error
        } catch {
            throw .notAKey(path: file.path, file.algorithm)
        }
        let signer: any JWTAlgorithm
        do { signer = try await collection.getKey(for: "signing") } catch {
            throw .notAKey(path: file.path, file.algorithm)
        }
        return Key(kid: thumbprint(members), algorithm: file.algorithm, publicMembers: members, signer: signer)
    }

    /// The compact JWS of `claims`: header, claims and signature, each base64url without padding.
    public func sign(claims: [UInt8]) throws(SigningKeyError) -> [UInt8] {
        var token = header
        token.append(UInt8(ascii: "."))
        token += Array(Base64URL.encode(claims).utf8)
        let signature: [UInt8]
        do { signature = try keys[keys.count - 1].signer.sign(token) } catch { throw .signingFailed("\(error)") }
        token.append(UInt8(ascii: "."))
        token += Array(Base64URL.encode(signature).utf8)
        return token
    }

    /// `{"keys": [...]}` with every key's public JWK (`kid`, `alg`, `use: sig`), oldest first.
    public var jwks: [UInt8] {
        let keys = keys.map { key in
            let members = [("kid", key.kid), ("alg", key.algorithm.rawValue), ("use", "sig")] + key.publicMembers
            return "{" + members.map { "\"\($0.0)\":\"\($0.1)\"" }.joined(separator: ",") + "}"
        }
        return Array(#"{"keys":[\#(keys.joined(separator: ","))]}"#.utf8)
    }

    /// RFC 7638: SHA-256 of the required members in lexicographic order, without white space.
    private static func thumbprint(_ members: [(String, String)]) -> String {
        let canonical = "{" + members.map { "\"\($0.0)\":\"\($0.1)\"" }.joined(separator: ",") + "}"
        return Base64URL.encode(Array(SHA256.hash(data: Array(canonical.utf8))))
    }
}

/// Why the signing keys cannot be used; each names the file and what to do.
public enum SigningKeyError: Error, Equatable, CustomStringConvertible {
    /// `ssf.signing_keys` is empty.
    case noKeys
    /// The file cannot be read.
    case unreadable(path: String, reason: String)
    /// The file holds no PEM private key of the algorithm.
    case notAKey(path: String, SigningKeyFile.Algorithm)
    /// An RSA key under 2048 bits.
    case weakKey(path: String)
    /// The same key twice.
    case duplicate(path: String)
    /// The signature could not be made.
    case signingFailed(String)

    /// What is wrong and what to do, naming the file.
    public var description: String {
        switch self {
        case .noKeys: "ssf.enabled needs at least one key in ssf.signing_keys"
        case .unreadable(let path, let reason): "cannot read the signing key \(path): \(reason)"
        case .notAKey(let path, let algorithm):
            "\(path) holds no \(algorithm.rawValue) private key in PEM form (RS256: an RSA key, ES256: a P-256 key)"
        case .weakKey(let path): "\(path) is an RSA key under 2048 bits: generate one of 2048 bits or more"
        case .duplicate(let path): "\(path) repeats a key listed before it in ssf.signing_keys"
        case .signingFailed(let reason): "signing a security event token failed: \(reason)"
        }
    }
}
