import Foundation
import VigilCore

extension DaemonConfig {
    /// The `group.instance.id` this instance joins its group with; nil with `kafka.static_membership: false`
    /// (dynamic membership). Unless `kafka.group_instance_id` names one, it is derived from what keeps an
    /// instance's identity across restarts: the host name (a StatefulSet's pod keeps its name, and a
    /// container's host name is its pod's), then 8 hex digits of `state.dir`'s text, so that instances on
    /// one host differ too (each needs its own state directory, which the lock in it enforces). Characters
    /// Kafka refuses in an id become `-`.
    func groupInstanceID(hostName: String) -> String? {
        guard kafka.staticMembership else { return nil }
        guard kafka.groupInstanceID.isEmpty else { return kafka.groupInstanceID }
        let host = String(hostName.map { ConfigValues.isKafkaNameCharacter($0) ? $0 : "-" }.prefix(200))
        // FNV-1a, like policy_version: the same on every run, platform and release, unlike `Hasher`.
        var digest = PolicyVersionHasher()
        digest.add(state.directory.utf8)
        return (host.isEmpty ? "vigil" : host) + "-" + digest.version.suffix(8)
    }

    /// This machine's host name as the kernel has it (no DNS lookup); empty when it cannot be read.
    static var hostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
