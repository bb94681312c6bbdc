import Foundation
import VigilCore

/// Walks the YAML tree (`YAMLTree`, one parse) along `DaemonConfig.settings`: each key is looked up in the table, its
/// value read as the setting's `SettingType` says and stored by the setting. Every problem is collected with its key
/// path and line instead of stopping at the first: wrong types, unknown keys (with the nearest known one), duplicate
/// keys. Ranges are checked afterwards by `DaemonConfig.validate()`, whose problems `located(_:)` places on the lines
/// recorded here.
final class ConfigDecoder {
    private(set) var problems: [ConfigProblem] = []
    /// Line of every key path read from the file.
    private var lines: [String: Int] = [:]
    private let baseDirectory: String
    private let table: SettingTable<DaemonConfig>

    init(baseDirectory: String, table: SettingTable<DaemonConfig> = DaemonConfig.settings) {
        self.baseDirectory = baseDirectory
        self.table = table
    }

    /// The sections and keys the table declares, as a tree; a leaf holds its setting.
    private final class KeyTree {
        var children: [String: KeyTree] = [:]
        var order: [String] = []
        var setting: Setting<DaemonConfig>?

        func child(_ name: String) -> KeyTree {
            if let existing = children[name] { return existing }
            let created = KeyTree()
            children[name] = created
            order.append(name)
            return created
        }
    }

    private lazy var tree: KeyTree = {
        let root = KeyTree()
        for setting in table.settings {
            setting.path.split(separator: ".").reduce(root) { $0.child(String($1)) }.setting = setting
        }
        return root
    }()

    func decode(_ root: YAMLNode) -> DaemonConfig {
        var config = DaemonConfig()
        walk(root, tree, path: "", into: &config)
        return config
    }

    /// A validation problem placed on the line of its key, or of the nearest enclosing key in the file.
    func located(_ problem: ConfigProblem) -> ConfigProblem {
        var located = problem
        var path = Substring(problem.keyPath)
        while located.line == nil, !path.isEmpty {
            located.line = lines[String(path)]
            path = path[..<(path.lastIndex { $0 == "." || $0 == "[" } ?? path.startIndex)]
        }
        return located
    }

    // MARK: Sections

    private func walk(_ node: YAMLNode, _ tree: KeyTree, path: String, into config: inout DaemonConfig) {
        for (name, key, value) in entries(of: node, path: path) {
            let keyPath = Self.join(path, name)
            guard let child = tree.children[name] else {
                let suggestion = Self.closest(to: name, in: tree.order).map { " (did you mean \($0)?)" } ?? ""
                fail(keyPath, key, "unknown key\(suggestion)")
                continue
            }
            if let setting = child.setting {
                guard let decoded = read(value, as: setting.type, path: keyPath) else { continue }
                for issue in setting.store(&config, decoded) {
                    problems.append(located(ConfigProblem(keyPath: keyPath + issue.suffix, message: issue.message)))
                }
            } else {
                walk(value, child, path: keyPath, into: &config)
            }
        }
    }

    /// The entries of a mapping in file order, each key's line recorded; a null node has none. A key set
    /// more than once is reported at each earlier occurrence and its last value counts; keys that are not
    /// strings are reported and skipped.
    private func entries(of node: YAMLNode, path: String) -> [(name: String, key: YAMLNode, value: YAMLNode)] {
        guard !Self.isNull(node) else { return [] }
        guard case .mapping(let mapping, _) = node else {
            fail(path, node, "expected a mapping, got \(Self.describe(node))")
            return []
        }
        var entries: [(name: String, key: YAMLNode, value: YAMLNode)] = []
        for (key, value) in mapping {
            guard let name = key.text else {
                fail(path, key, "keys must be plain strings, got \(Self.describe(key))")
                continue
            }
            entries.append((name, key, value))
        }
        var unique: [(name: String, key: YAMLNode, value: YAMLNode)] = []
        for (index, entry) in entries.enumerated() {
            if let again = entries[(index + 1)...].first(where: { $0.name == entry.name }) {
                fail(Self.join(path, entry.name), entry.key, "duplicate key, set again at line \(again.key.line)")
                continue
            }
            unique.append(entry)
            lines[Self.join(path, entry.name)] = entry.key.line
        }
        return unique
    }

    // MARK: Values

    /// `node` read as `type`, or nil after reporting why it is not one.
    private func read(_ node: YAMLNode, as type: SettingType, path: String) -> SettingValue? {
        switch type {
        case .integer:
            guard let text = plain(node, path, expecting: "an integer") else { return nil }
            guard let value = Int(text.replacingOccurrences(of: "_", with: "")) else {
                return failed(path, node, "expected an integer, got \(Self.describe(node))")
            }
            return .integer(value)
        case .number:
            guard let text = plain(node, path, expecting: "a number") else { return nil }
            guard let value = Double(text.replacingOccurrences(of: "_", with: "")), value.isFinite else {
                return failed(path, node, "expected a number, got \(Self.describe(node))")
            }
            return .number(value)
        case .boolean:
            switch plain(node, path, expecting: "true or false")?.lowercased() {
            case "true": return .boolean(true)
            case "false": return .boolean(false)
            case nil: return nil
            default: return failed(path, node, "expected true or false, got \(Self.describe(node))")
            }
        case .duration:
            guard let text = string(node, path, expecting: "a duration") else { return nil }
            guard let value = EventDuration(configString: text) else {
                return failed(
                    path, node, "expected a duration with a unit (250ms, 90s, 5m, 24h, 30d), got \(Self.describe(node))"
                )
            }
            return .duration(value)
        case .text, .choice:
            return string(node, path, expecting: "a string").map(SettingValue.text)
        case .filePath:
            if Self.isNull(node) { return .null }
            return string(node, path, expecting: "a file path").map { .text(resolve($0)) }
        case .textList:
            guard case .sequence(let sequence, _) = node else {
                return failed(path, node, "expected a list of strings, got \(Self.describe(node))")
            }
            return .textList(
                sequence.enumerated().compactMap { index, element in
                    let elementPath = "\(path)[\(index)]"
                    lines[elementPath] = element.line
                    return string(element, elementPath, expecting: "a string")
                })
        case .textMap:
            if Self.isNull(node) { return nil }
            var map: [String: String] = [:]
            for (name, _, value) in entries(of: node, path: path) {
                if let text = string(value, Self.join(path, name), expecting: "a string") { map[name] = text }
            }
            return .textMap(map)
        case .records(let fields):
            return readRecords(node, fields, path: path)
        }
    }

    /// A list of mappings with exactly `fields`, all required. An entry with a problem is left out.
    private func readRecords(_ node: YAMLNode, _ fields: [SettingType.RecordField], path: String) -> SettingValue? {
        if Self.isNull(node) { return nil }
        let names = fields.map(\.name)
        guard case .sequence(let sequence, _) = node else {
            return failed(
                path, node, "expected a list of {\(names.joined(separator: ", "))}, got \(Self.describe(node))")
        }
        var records: [[String: String]] = []
        for (index, element) in sequence.enumerated() {
            let elementPath = "\(path)[\(index)]"
            lines[elementPath] = element.line
            guard case .mapping = element else {
                fail(
                    elementPath, element,
                    "expected a mapping of \(names.joined(separator: " and ")), got \(Self.describe(element))")
                continue
            }
            var record: [String: String] = [:]
            var present: Set<String> = []
            for (name, key, value) in entries(of: element, path: elementPath) {
                let fieldPath = Self.join(elementPath, name)
                guard let field = fields.first(where: { $0.name == name }) else {
                    let suggestion = Self.closest(to: name, in: names).map { " (did you mean \($0)?)" } ?? ""
                    fail(fieldPath, key, "unknown key\(suggestion)")
                    continue
                }
                present.insert(name)
                switch read(value, as: field.type, path: fieldPath) {
                case .text(let text)?: record[name] = text
                case nil: break  // already reported
                case .some: fail(fieldPath, value, "expected text, got \(Self.describe(value))")
                }
            }
            let missing = names.filter { !present.contains($0) }
            if !missing.isEmpty {
                fail(elementPath, element, "missing required key \(missing.joined(separator: " and "))")
            }
            if record.count == fields.count { records.append(record) }
        }
        return .records(records)
    }

    /// The text of a plain (unquoted) scalar: numbers and booleans are never quoted.
    private func plain(_ node: YAMLNode, _ path: String, expecting: String) -> String? {
        guard case .scalar(let text, plain: true, _) = node, !Self.isNull(node) else {
            return failed(path, node, "expected \(expecting), got \(Self.describe(node))")
        }
        return text
    }

    /// The text of any non-null scalar.
    private func string(_ node: YAMLNode, _ path: String, expecting: String) -> String? {
        guard case .scalar(let text, _, _) = node, !Self.isNull(node) else {
            return failed(path, node, "expected \(expecting), got \(Self.describe(node))")
        }
        return text
    }

    /// A relative file path taken from the config file's directory, so a config works from any working directory.
    private func resolve(_ path: String) -> String {
        guard !path.isEmpty, !path.hasPrefix("/") else { return path }
        return URL(fileURLWithPath: baseDirectory, isDirectory: true).appendingPathComponent(path).standardizedFileURL
            .path
    }

    private func fail(_ path: String, _ node: YAMLNode, _ message: String) {
        problems.append(ConfigProblem(keyPath: path, line: node.line, message: message))
    }

    private func failed<Value>(_ path: String, _ node: YAMLNode, _ message: String) -> Value? {
        fail(path, node, message)
        return nil
    }

    static func join(_ prefix: String, _ key: String) -> String { prefix.isEmpty ? key : "\(prefix).\(key)" }

    static func isNull(_ node: YAMLNode) -> Bool {
        guard case .scalar(let text, plain: true, _) = node else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(text)
    }

    /// How a wrong value is shown in a message: its kind, or its text quoted and cut short.
    static func describe(_ node: YAMLNode) -> String {
        switch node {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        case .scalar(let text, _, _): isNull(node) ? "null" : ConfigValues.quoted(text)
        }
    }

    // MARK: Suggestions

    /// The known key nearest to `name` by edit distance, if near enough to be a typo.
    private static func closest(to name: String, in known: [String]) -> String? {
        let scored = known.map { ($0, editDistance(name, $0)) }.min { $0.1 < $1.1 }
        guard let (best, distance) = scored, distance <= max(2, name.count / 3) else { return nil }
        return best
    }

    private static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return a.isEmpty ? b.count : row[b.count]
    }
}
