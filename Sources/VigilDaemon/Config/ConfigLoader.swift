import Foundation
import VigilCore
import VigilGeo

/// A configuration as read from a file: what it says, where it came from, and the version stamped on the
/// decisions it produces.
public struct LoadedConfig: Sendable, Equatable {
    /// The validated settings.
    public var config: DaemonConfig
    /// The file as given to `ConfigLoader.load(path:)`.
    public var sourcePath: String
    /// The reputation data's part of `policyVersion`, read once at load: a reload keeps the running
    /// reputation table (it is restart-only), so it keeps this too.
    public var reputationContent: [UInt8]
    /// The geo databases' part of `policyVersion` (`GeoDatabases.dataIdentity`): read from the files at
    /// load, then taken from the databases the daemon opened, and renewed when one is hot-swapped.
    public var geoIdentity: String
    /// Identifies what decides verdicts (see `policyVersion(of:reputationContent:geoIdentity:)`).
    public var policyVersion: String
    /// The file's identity taken just before its content was read (nil when it was not read from a file):
    /// the reload service's starting point, so an edit made between this load and the service's start is
    /// still noticed by its first poll.
    public var fileIdentity: FileIdentity?

    /// Computes `policyVersion` from the settings, the reputation data and the geo data's identity.
    public init(
        config: DaemonConfig, sourcePath: String, reputationContent: [UInt8], geoIdentity: String,
        fileIdentity: FileIdentity? = nil
    ) {
        self.config = config
        self.sourcePath = sourcePath
        self.reputationContent = reputationContent
        self.geoIdentity = geoIdentity
        self.fileIdentity = fileIdentity
        self.policyVersion = Self.policyVersion(
            of: config.core, reputationContent: reputationContent, geoIdentity: geoIdentity)
    }

    /// `config` loaded at `sourcePath`, with the reputation files' content and the geo databases'
    /// identity read now.
    public init(config: DaemonConfig, sourcePath: String, fileIdentity: FileIdentity? = nil) {
        self.init(
            config: config, sourcePath: sourcePath, reputationContent: Self.reputationContent(config.reputation),
            geoIdentity: GeoDatabases.dataIdentity(of: config.geo), fileIdentity: fileIdentity)
    }

    /// This config with `geoIdentity` (the databases actually opened, or a hot-swapped one) and the
    /// policy version that follows.
    public func with(geoIdentity: String) -> LoadedConfig {
        LoadedConfig(
            config: config, sourcePath: sourcePath, reputationContent: reputationContent, geoIdentity: geoIdentity,
            fileIdentity: fileIdentity)
    }

    /// 16 hex digits stamped on every decision, so an analyst can tell which policy and data produced
    /// one, and two hosts running the same agree. It covers what changes a verdict: the engine's settings
    /// (`input`, `engine`, `policy`) in canonical form (so comments, key order and `300s` for `5m` do not
    /// count), the reputation data's content (the ASN table, each CIDR list's category and bytes) and the
    /// geo databases' identity (each one's `database_type` and `build_epoch`, so a weekly MaxMind update,
    /// hot-swapped without a reload, gives a new version). It leaves out file paths (the same files in
    /// another folder are the same policy), the Kafka, state, HTTP, logging and security settings,
    /// which change where output goes and how it is kept, not what it says, and the `ssf` section, which
    /// shapes the Security Event Tokens built from verdicts, not the verdicts.
    public static func policyVersion(
        of engine: VigilConfig, reputationContent: [UInt8], geoIdentity: String
    )
        -> String
    {
        var hasher = PolicyVersionHasher()
        hasher.add(engine.verdictCanonicalYAML.utf8)
        hasher.add(reputationContent)
        hasher.add("\ngeo:\(geoIdentity)".utf8)
        return hasher.version
    }

    /// The ASN table in canonical form, then per CIDR list its category and the file's bytes. A file that
    /// cannot be read contributes a marker only: startup then fails on it anyway (`EnrichmentLoader`), and
    /// `vigil check-config` still prints a version.
    static func reputationContent(_ reputation: ReputationSettings) -> [UInt8] {
        var content = Array("asn:".utf8)
        for (asn, category) in reputation.asnCategories.sorted(by: { $0.key < $1.key }) {
            content += Array("\(asn)=\(category);".utf8)
        }
        for list in reputation.cidrLists {
            content += Array("\ncidr_list \(list.category):".utf8)
            if let data = FileManager.default.contents(atPath: list.path) {
                content += Array("\(data.count)\n".utf8) + Array(data)
            } else {
                content += Array("unreadable\n".utf8)
            }
        }
        return content
    }
}

/// Reads the one YAML config file. Every problem is reported at once, each with its key path and line;
/// relative paths in the file are resolved against the file's own directory so a config works from any
/// working directory. Secrets stay `${env:NAME}` references until `KafkaSettings.resolveSecrets`.
public enum ConfigLoader {
    /// A config file is a page of settings; anything bigger is a mistake or an attack on the parser.
    public static let maxFileBytes = 1 << 20

    /// Reads, decodes and validates the file at `path`, reporting every problem at once with its line.
    public static func load(path: String) throws(ConfigError) -> LoadedConfig {
        let url = URL(fileURLWithPath: path)
        // Taken before the content: a change in between then shows as a changed identity on the next poll.
        let identity = try? FileIdentity(path: path)
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
        if let size, size > maxFileBytes {
            throw ConfigError(source: path, problems: [tooLarge(size)])
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(source: path, problems: [ConfigProblem(keyPath: "", message: "cannot read the file")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(
                source: path, problems: [ConfigProblem(keyPath: "", message: "the file is not UTF-8 text")])
        }
        do throws(ConfigError) {
            let config = try parse(yaml: text, baseDirectory: url.deletingLastPathComponent().path)
            return LoadedConfig(config: config, sourcePath: path, fileIdentity: identity)
        } catch {
            throw ConfigError(source: path, problems: error.problems)
        }
    }

    /// Decodes and validates `yaml`; relative paths in it are resolved against `baseDirectory`.
    public static func parse(yaml: String, baseDirectory: String) throws(ConfigError) -> DaemonConfig {
        if yaml.utf8.count > maxFileBytes { throw ConfigError(problems: [tooLarge(yaml.utf8.count)]) }
        let root: YAMLNode?
        do {
            root = try YAMLTree.parse(yaml)
        } catch {
            throw ConfigError(problems: [
                ConfigProblem(keyPath: "", line: error.line, message: "invalid YAML: \(error.message)")
            ])
        }
        guard let root else {
            throw ConfigError(problems: [
                ConfigProblem(keyPath: "", message: "the file is empty (write {} to use every default)")
            ])
        }
        let anchors = anchoredNodes(root, path: "")
        if !anchors.isEmpty { throw ConfigError(problems: anchors) }
        guard case .mapping = root else {
            throw ConfigError(problems: [
                ConfigProblem(
                    keyPath: "", line: root.line,
                    message: "expected a mapping of settings at the top level, got \(ConfigDecoder.describe(root))")
            ])
        }
        let decoder = ConfigDecoder(baseDirectory: baseDirectory)
        let config = decoder.decode(root)
        let problems = decoder.problems + config.validate().map(decoder.located)
        guard problems.isEmpty else {
            throw ConfigError(
                problems: problems.enumerated().sorted { a, b in
                    (a.element.line ?? .max, a.offset) < (b.element.line ?? .max, b.offset)
                }.map(\.element))
        }
        return config
    }

    private static func tooLarge(_ size: Int) -> ConfigProblem {
        ConfigProblem(
            keyPath: "", message: "the file is \(size) bytes; a config file may be at most \(maxFileBytes) bytes")
    }

    /// Anchors are refused outright: nothing in a config needs them, and aliases are how a small file
    /// expands into an exponential tree ("billion laughs"). Anchored nodes are not descended into.
    /// `line` is where the node is used: an alias carries its anchor's position, its key does not.
    private static func anchoredNodes(_ node: YAMLNode, path: String, line: Int? = nil) -> [ConfigProblem] {
        if node.involvesAnchor {
            return [
                ConfigProblem(
                    keyPath: path, line: line ?? node.line,
                    message: "YAML anchors and aliases (&name, *name) are not allowed")
            ]
        }
        switch node {
        case .mapping(let mapping, _):
            return mapping.flatMap { key, value in
                anchoredNodes(key, path: path)
                    + anchoredNodes(value, path: ConfigDecoder.join(path, key.text ?? "?"), line: key.line)
            }
        case .sequence(let sequence, _):
            return sequence.enumerated().flatMap { index, element in anchoredNodes(element, path: "\(path)[\(index)]") }
        case .scalar, .alias:
            return []
        }
    }
}
