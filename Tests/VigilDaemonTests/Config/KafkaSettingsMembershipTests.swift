import Testing
import VigilCore

@testable import VigilDaemon

/// `kafka.static_membership` and `kafka.group_instance_id`: the id a daemon joins its group with.
@Suite struct KafkaSettingsMembershipTests {
    @Test func byDefaultTheIdIsTheHostNameAndADigestOfTheStateDirectory() throws {
        let config = DaemonConfig()
        let id = try #require(config.groupInstanceID(hostName: "vigil-0"))
        #expect(id.hasPrefix("vigil-0-"))
        let digest = id.dropFirst("vigil-0-".count)
        #expect(digest.count == 8 && digest.allSatisfy(\.isHexDigit), "\(id)")
        // Stable: the same host and state directory give the same id on every start.
        #expect(DaemonConfig().groupInstanceID(hostName: "vigil-0") == id)
        #expect(config.groupInstanceID(hostName: "vigil-1") != id, "two pods of a StatefulSet")
        var beside = DaemonConfig()
        beside.state.directory = "/var/lib/vigil/second"
        #expect(beside.groupInstanceID(hostName: "vigil-0") != id, "two instances on one host")
        #expect(beside.groupInstanceID(hostName: "vigil-0")?.hasPrefix("vigil-0-") == true)
    }

    /// Pinned: the derivation is a contract across releases, or an upgrade would give every instance a new
    /// id, and each old one would hold its partitions until its session timed out. The digits are the last 8
    /// of the 64-bit FNV-1a hash of the default `state.dir`, `/var/lib/vigil/state`.
    @Test func theDerivationIsPinned() {
        #expect(DaemonConfig().groupInstanceID(hostName: "vigil-0") == "vigil-0-5e06ef39")
    }

    @Test func hostNameCharactersKafkaRefusesAreReplaced() throws {
        let config = DaemonConfig()
        let id = try #require(config.groupInstanceID(hostName: "host name/ü"))
        #expect(id.hasPrefix("host-name--"))
        #expect(ConfigValues.groupInstanceIDProblem(id) == nil, "\(id)")
        #expect(config.groupInstanceID(hostName: "")?.hasPrefix("vigil-") == true)
        #expect(
            ConfigValues.groupInstanceIDProblem(config.groupInstanceID(hostName: String(repeating: "h", count: 300))!)
                == nil)
    }

    @Test func aConfiguredIdIsUsedAsIsAndDynamicMembershipHasNone() {
        var config = DaemonConfig()
        config.kafka.groupInstanceID = "vigil-eu-1"
        #expect(config.groupInstanceID(hostName: "anything") == "vigil-eu-1")
        config = DaemonConfig()
        config.kafka.staticMembership = false
        #expect(config.groupInstanceID(hostName: "anything") == nil)
    }

    @Test func decodedFromTheFile() throws {
        let config = try ConfigLoader.parse(
            yaml: "kafka:\n  group_instance_id: vigil-eu-1\n", baseDirectory: "/etc/vigil")
        #expect(config.kafka.groupInstanceID == "vigil-eu-1" && config.kafka.staticMembership)
        let dynamic = try ConfigLoader.parse(yaml: "kafka:\n  static_membership: false\n", baseDirectory: "/etc/vigil")
        #expect(!dynamic.kafka.staticMembership && dynamic.groupInstanceID(hostName: "h") == nil)
    }

    @Test func refusedValues() {
        #expect(
            problems("kafka:\n  group_instance_id: \"two words\"\n") == [
                #"kafka.group_instance_id (line 2): invalid group.instance.id "two words" (1–249 characters of A-Z a-z 0-9 . _ -)"#
            ])
        #expect(
            problems("kafka:\n  static_membership: false\n  group_instance_id: vigil-1\n") == [
                "kafka.group_instance_id (line 3): is set but kafka.static_membership is false: remove it or turn that on"
            ])
        #expect(
            problems("kafka:\n  properties:\n    group.instance.id: vigil-1\n") == [
                "kafka.properties.group.instance.id (line 3): set kafka.group_instance_id (or kafka.static_membership: false) instead"
            ])
    }
}
