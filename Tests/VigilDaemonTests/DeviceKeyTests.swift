import Testing
import _VigilMachinery

@testable import VigilDaemon

/// The rules for the device hash key: where it comes from, what is refused, and when the public
/// default stands in for it.
@Suite struct DeviceKeyTests {
    static let secret = "0123456789abcdef"

    static func resolve(
        _ environment: [String: String], variable: String? = nil, allowInConfig: Bool = false,
        allowPublicDefault: Bool = false
    ) throws -> DeviceKey.Resolved {
        var settings = SecuritySettings()
        if let variable { settings.deviceHashKeyEnv = variable }
        settings.allowDefaultDeviceKey = allowInConfig
        return try DeviceKey.resolve(settings, environment: environment, allowPublicDefault: allowPublicDefault)
    }

    @Test func theKeyIsDerivedFromTheSecretInTheVariable() throws {
        let resolved = try Self.resolve(["VIGIL_DEVICE_HASH_KEY": Self.secret])
        #expect(resolved.key == SipHashKey(secret: Array(Self.secret.utf8)))
        #expect(!resolved.isPublicDefault)
        #expect(resolved.key != .publicDefault)
        // Another secret, another key.
        #expect(try Self.resolve(["VIGIL_DEVICE_HASH_KEY": Self.secret + "!"]).key != resolved.key)
    }

    @Test func theConfiguredVariableIsTheOneRead() throws {
        let environment = ["VIGIL_DEVICE_HASH_KEY": "the-default-variable-secret", "MY_KEY": Self.secret]
        let resolved = try Self.resolve(environment, variable: "MY_KEY")
        #expect(resolved.key == SipHashKey(secret: Array(Self.secret.utf8)))
        #expect {
            try Self.resolve(["VIGIL_DEVICE_HASH_KEY": Self.secret], variable: "MY_KEY")
        } throws: { "\($0)".contains("environment variable MY_KEY is not set") }
    }

    @Test(arguments: [[:], ["VIGIL_DEVICE_HASH_KEY": ""]])
    func aMissingOrEmptyKeyIsRefusedWithWhatToDo(environment: [String: String]) {
        #expect {
            try Self.resolve(environment)
        } throws: { error in
            let text = "\(error)"
            return text.contains("environment variable VIGIL_DEVICE_HASH_KEY is not set")
                && text.contains("at least 16 random bytes") && text.contains("security.allow_default_device_key")
        }
    }

    /// At least 16 bytes of UTF-8, not characters: eight two-byte characters are enough, fifteen ASCII
    /// ones are not, and the message gives the length found without the secret.
    @Test func aKeyShorterThanSixteenBytesIsRefused() throws {
        let short = String(Self.secret.dropLast())
        #expect {
            try Self.resolve(["VIGIL_DEVICE_HASH_KEY": short])
        } throws: { error in
            let text = "\(error)"
            return text == "device hash key: VIGIL_DEVICE_HASH_KEY holds 15 bytes; at least 16 are required"
                && !text.contains(short)
        }
        let accented = String(repeating: "é", count: 8)
        #expect(try Self.resolve(["VIGIL_DEVICE_HASH_KEY": accented]).key == SipHashKey(secret: Array(accented.utf8)))
    }

    /// Without a key the public default stands in only where it was allowed: by the command (replay and
    /// demo, for reproducible output) or by `security.allow_default_device_key`.
    @Test func thePublicDefaultOnlyWhereAllowed() throws {
        let byCommand = try Self.resolve([:], allowPublicDefault: true)
        #expect(byCommand.isPublicDefault && byCommand.key == .publicDefault)
        let byConfig = try Self.resolve(["VIGIL_DEVICE_HASH_KEY": ""], allowInConfig: true)
        #expect(byConfig.isPublicDefault && byConfig.key == .publicDefault)
        // A key that is set wins over the allowance, and a short one is refused even then.
        let set = try Self.resolve(
            ["VIGIL_DEVICE_HASH_KEY": Self.secret], allowInConfig: true, allowPublicDefault: true)
        #expect(!set.isPublicDefault && set.key == SipHashKey(secret: Array(Self.secret.utf8)))
        #expect(throws: DeviceKey.KeyError.self) {
            try Self.resolve(["VIGIL_DEVICE_HASH_KEY": "short"], allowInConfig: true, allowPublicDefault: true)
        }
    }
}
