import Foundation
import VigilCore
import Yams

/// A `VigilConfig` as read from a file: what it says, where it came from, and the version stamped on the
/// decisions it produces.
public struct LoadedConfig: Sendable, Equatable {
    public var config: VigilConfig
    /// The file as given to `ConfigLoader.load(path:)`.
    public var sourcePath: String
    /// `config.policyVersion`, computed once at load.
    public var policyVersion: String

    public init(config: VigilConfig, sourcePath: String) {
        self.config = config
        self.sourcePath = sourcePath
        self.policyVersion = config.policyVersion
    }
}

/// Reads the one YAML config file. Every problem is reported at once, each with its key path and line;
/// relative paths in the file are resolved against the file's own directory so a config works from any
/// working directory. Secrets stay `${env:NAME}` references until `KafkaSettings.resolveSecrets`.
public enum ConfigLoader {
    /// A config file is a page of settings; anything bigger is a mistake or an attack on the parser.
    public static let maxFileBytes = 1 << 20

    public static func load(path: String) throws(ConfigError) -> LoadedConfig {
        let url = URL(fileURLWithPath: path)
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
        if let size, size > maxFileBytes {
            throw ConfigError(source: path, problems: [tooLarge(size)])
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(source: path, problems: [ConfigProblem(keyPath: "", message: "cannot read the file")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(source: path, problems: [ConfigProblem(keyPath: "", message: "the file is not UTF-8 text")])
        }
        do throws(ConfigError) {
            let config = try parse(yaml: text, baseDirectory: url.deletingLastPathComponent().path)
            return LoadedConfig(config: config, sourcePath: path)
        } catch {
            throw ConfigError(source: path, problems: error.problems)
        }
    }

    /// Decodes and validates `yaml`; relative paths in it are resolved against `baseDirectory`.
    public static func parse(yaml: String, baseDirectory: String) throws(ConfigError) -> VigilConfig {
        if yaml.utf8.count > maxFileBytes { throw ConfigError(problems: [tooLarge(yaml.utf8.count)]) }
        let (parser, root) = try compose(yaml)
        return try withExtendedLifetime(parser) { () throws(ConfigError) -> VigilConfig in
            guard let root else {
                throw ConfigError(problems: [ConfigProblem(keyPath: "", message: "the file is empty (write {} to use every default)")])
            }
            let anchors = anchoredNodes(root, path: "")
            if !anchors.isEmpty { throw ConfigError(problems: anchors) }
            guard case .mapping = root else {
                throw ConfigError(problems: [ConfigProblem(
                    keyPath: "", line: root.mark?.line, message: "expected a mapping of settings at the top level, got \(ConfigDecoder.describe(root))")])
            }
            let decoder = ConfigDecoder(baseDirectory: baseDirectory)
            let config = decoder.decode(root)
            let problems = decoder.problems + config.validate().map(decoder.located)
            guard problems.isEmpty else {
                throw ConfigError(problems: problems.enumerated().sorted { a, b in
                    (a.element.line ?? .max, a.offset) < (b.element.line ?? .max, b.offset)
                }.map(\.element))
            }
            return config
        }
    }

    private static func tooLarge(_ size: Int) -> ConfigProblem {
        ConfigProblem(keyPath: "", message: "the file is \(size) bytes; a config file may be at most \(maxFileBytes) bytes")
    }

    /// Builds the node tree. libyaml's composer stops at the first duplicate key; to report every
    /// duplicate with its key path, each one found is renamed in place with `ConfigDecoder.duplicateMarker`
    /// and the text composed again (bounded), and the decoder reports the renamed keys.
    private static func compose(_ yaml: String) throws(ConfigError) -> (Parser?, Node?) {
        var text = yaml
        for renamed in 0...maxDuplicateReports {
            do {
                let parser = try Parser(yaml: text)
                return (parser, try parser.singleRoot())
            } catch YamlError.duplicatedKeysInMapping(_, let context) where renamed < maxDuplicateReports {
                guard let marked = markKey(in: text, at: context.mark, number: renamed) else { break }
                text = marked
            } catch {
                throw ConfigError(problems: [problem(from: error)])
            }
        }
        throw ConfigError(problems: [ConfigProblem(keyPath: "", message: "too many duplicate keys")])
    }

    private static let maxDuplicateReports = 20

    /// `text` with a marker inserted at the start of the key at `mark` (inside its quote, if quoted).
    private static func markKey(in text: String, at mark: Mark, number: Int) -> String? {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard mark.line >= 1, mark.line <= lines.count else { return nil }
        var scalars = Array(lines[mark.line - 1].unicodeScalars)
        var column = mark.column - 1
        guard column >= 0, column < scalars.count else { return nil }
        if scalars[column] == "\"" || scalars[column] == "'" { column += 1 }
        scalars.insert(contentsOf: ConfigDecoder.duplicateMarker(number).unicodeScalars, at: column)
        lines[mark.line - 1] = String(String.UnicodeScalarView(scalars))
        return lines.joined(separator: "\n")
    }

    /// Anchors are refused outright: nothing in a config needs them, and aliases are how a small file
    /// expands into an exponential tree ("billion laughs"). Anchored nodes are not descended into.
    /// `line` is where the node is used: an alias carries its anchor's position, its key does not.
    private static func anchoredNodes(_ node: Node, path: String, line: Int? = nil) -> [ConfigProblem] {
        if node.anchor != nil {
            return [ConfigProblem(keyPath: path, line: line ?? node.mark?.line, message: "YAML anchors and aliases (&name, *name) are not allowed")]
        }
        switch node {
        case .mapping(let mapping):
            return mapping.flatMap { key, value in
                anchoredNodes(key, path: path) + anchoredNodes(value, path: ConfigDecoder.join(path, key.scalar?.string ?? "?"), line: key.mark?.line)
            }
        case .sequence(let sequence):
            return sequence.enumerated().flatMap { index, element in anchoredNodes(element, path: "\(path)[\(index)]") }
        case .scalar, .alias:
            return []
        }
    }

    private static func problem(from error: any Error) -> ConfigProblem {
        switch error as? YamlError {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            ConfigProblem(keyPath: "", line: mark.line, message: "invalid YAML: \(problem)")
        case .reader(let problem, _, _, _):
            ConfigProblem(keyPath: "", message: "invalid YAML: \(problem)")
        default:
            ConfigProblem(keyPath: "", message: "invalid YAML: \(error)")
        }
    }
}
