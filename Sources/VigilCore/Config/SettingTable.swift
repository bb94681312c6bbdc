/// Every setting of a `Root` configuration in file order, plus a comment for the sections that need one.
/// Validation, the canonical rendering, the restart-only diff and live adoption are all walks over it, so
/// a new setting is one declaration (and the code that uses its value).
public struct SettingTable<Root>: Sendable {
    public let settings: [Setting<Root>]
    /// Comments on sections (`engine.signals`), shown above them in the generated example and schema.
    public let sectionDocs: [String: String]

    /// Settings sharing a key-path prefix must be adjacent: the renderings group them under one section.
    public init(_ settings: [Setting<Root>], sectionDocs: [String: String] = [:]) {
        self.settings = settings
        self.sectionDocs = sectionDocs
    }

    public static func + (lhs: SettingTable, rhs: SettingTable) -> SettingTable {
        SettingTable(lhs.settings + rhs.settings, sectionDocs: lhs.sectionDocs.merging(rhs.sectionDocs) { $1 })
    }

    public func lifted<Outer>(into keyPath: WritableKeyPath<Outer, Root>) -> SettingTable<Outer> {
        SettingTable<Outer>(settings.map { $0.lifted(into: keyPath) }, sectionDocs: sectionDocs)
    }

    /// Every rule `root` breaks, in table order; empty when it is usable.
    public func problems(in root: Root) -> [ConfigProblem] {
        settings.flatMap { $0.problems(in: root) }
    }

    /// The restart-only settings whose values differ, by key path.
    public func restartOnlyChanges(from old: Root, to new: Root) -> [String] {
        settings.filter { $0.reload == .restart && $0.value(old) != $0.value(new) }.map(\.path)
    }

    /// `running` with every live setting taken from `loaded`: what a reload puts in force.
    public func adoptingLiveSettings(of loaded: Root, into running: Root) -> Root {
        var adopted = running
        for setting in settings where setting.reload == .live {
            _ = setting.store(&adopted, setting.value(loaded))
        }
        return adopted
    }

    /// The configuration as one deterministic YAML text: every setting, defaults included, in table order,
    /// maps sorted by key, strings double-quoted, durations in their largest exact unit. It loads back to the
    /// same values, so two files that mean the same thing (comments, key order, `300s` for `5m`) render alike.
    public func canonicalYAML(of root: Root) -> String {
        var writer = NestedYAMLWriter()
        for setting in settings {
            writer.enter(setting.path)
            writer.put(setting.value(root), as: setting.type)
        }
        return writer.text
    }
}

/// Writes `key: value` lines under nested sections, opening a section line when a key path first enters it.
public struct NestedYAMLWriter {
    public private(set) var text = ""
    private var open: [Substring] = []
    private var key: Substring = ""

    public init() {}

    /// Opens the sections of `path` that are not open yet (after `comment` lines for them, if any) and makes
    /// its last component the key of the next `put`.
    public mutating func enter(_ path: String, sectionComment: (String) -> String? = { _ in nil }) {
        let parts = path.split(separator: ".")
        let sections = parts.dropLast()
        var shared = 0
        while shared < min(open.count, sections.count), open[shared] == sections[shared] { shared += 1 }
        open.removeLast(open.count - shared)
        for section in sections.dropFirst(shared) {
            let sectionPath = (open + [section]).joined(separator: ".")
            if let comment = sectionComment(sectionPath) { self.comment(comment) }
            line("\(section):")
            open.append(section)
        }
        key = parts.last ?? ""
    }

    /// An empty line, between top-level sections of a commented file.
    public mutating func blankLine() { text += "\n" }

    /// Comment lines at the current depth, wrapped at about 110 characters.
    public mutating func comment(_ text: String) {
        var current = "#"
        for word in text.split(separator: " ") {
            if current.count + word.count + 1 > 110 - 2 * open.count, current != "#" {
                line(current)
                current = "#"
            }
            current += " " + word
        }
        line(current)
    }

    /// The value of the key set by `enter`, in canonical form (record fields in the order `type` declares).
    public mutating func put(_ value: SettingValue, as type: SettingType) {
        switch value {
        case .integer(let number): line("\(key): \(number)")
        case .number(let number): line("\(key): \(number)")
        case .boolean(let flag): line("\(key): \(flag)")
        case .duration(let duration): line("\(key): \(duration.configString)")
        case .text(let text): line("\(key): \(Self.quoted(text))")
        case .null: line("\(key): null")
        case .textList(let list): line("\(key): [\(list.map(Self.quoted).joined(separator: ", "))]")
        case .textMap(let map) where map.isEmpty: line("\(key): {}")
        case .textMap(let map):
            line("\(key):")
            for (entry, value) in map.sorted(by: { $0.key < $1.key }) {
                line("  \(Self.quoted(entry)): \(Self.quoted(value))")
            }
        case .records(let records) where records.isEmpty: line("\(key): []")
        case .records(let records):
            line("\(key):")
            for record in records {
                guard case .records(let declared) = type else { continue }
                let fields = declared.compactMap { field in
                    record[field.name].map { "\(field.name): \(Self.quoted($0))" }
                }
                line("  - {\(fields.joined(separator: ", "))}")
            }
        }
    }

    private mutating func line(_ content: String) {
        text += String(repeating: "  ", count: open.count) + content + "\n"
    }

    /// A double-quoted string, the one form that needs no knowledge of YAML's plain-scalar rules. Its
    /// escapes (`\"`, `\\`, `\n`, `\t`, `\u00XX`) mean the same in YAML and JSON, so the schema uses it too.
    public static func quoted(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7f:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// 16 hex digits identifying what produced a decision. FNV-1a 64 is enough: it detects change, it is not a
/// security boundary. Fed in parts (settings text, then data files' bytes) so callers choose what it covers.
public struct PolicyVersionHasher {
    private var hash: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    public mutating func add(_ bytes: some Sequence<UInt8>) {
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
    }

    public var version: String {
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
