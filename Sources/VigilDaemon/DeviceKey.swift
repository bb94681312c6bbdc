import VigilCore
import _VigilMachinery

/// Resolves the secret for hashing device ids from the environment variable the config names.
enum DeviceKey {
    struct Resolved: Sendable {
        var key: SipHashKey
        var isPublicDefault: Bool
    }

    enum KeyError: Error, CustomStringConvertible {
        case missing(variable: String)
        case tooShort(variable: String, length: Int)

        var description: String {
            switch self {
            case .missing(let variable):
                "device hash key: environment variable \(variable) is not set (set it to at least 16 random bytes, "
                    + "or set security.allow_default_device_key: true for non-production use)"
            case .tooShort(let variable, let length):
                "device hash key: \(variable) holds \(length) bytes; at least 16 are required"
            }
        }
    }

    /// `allowPublicDefault`: replay and demo may fall back to the public key so runs are reproducible.
    static func resolve(
        _ settings: SecuritySettings, environment: [String: String], allowPublicDefault: Bool
    ) throws -> Resolved {
        guard let secret = environment[settings.deviceHashKeyEnv], !secret.isEmpty else {
            if allowPublicDefault || settings.allowDefaultDeviceKey {
                return Resolved(key: .publicDefault, isPublicDefault: true)
            }
            throw KeyError.missing(variable: settings.deviceHashKeyEnv)
        }
        guard secret.utf8.count >= 16 else {
            throw KeyError.tooShort(variable: settings.deviceHashKeyEnv, length: secret.utf8.count)
        }
        return Resolved(key: SipHashKey(secret: Array(secret.utf8)), isPublicDefault: false)
    }
}
