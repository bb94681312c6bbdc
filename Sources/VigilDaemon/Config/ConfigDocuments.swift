import VigilCore

/// The two files generated from `DaemonConfig.settings`: `schemas/config.schema.json` (for editors) and the
/// commented `Examples/vigil.yaml`. `vigil config-docs schema|example` prints them; a test fails when the
/// committed files differ from what the table generates.
public enum ConfigDocuments {
    static let table = DaemonConfig.settings

    // MARK: Example

    /// The commented `Examples/vigil.yaml`: every key at its default (or example value) under its doc line.
    public static var exampleYAML: String {
        var writer = NestedYAMLWriter()
        for line in exampleHeader + [exampleValuesNote, reloadNote] { writer.comment(line) }
        let defaults = DaemonConfig()
        var section = ""
        for setting in table.settings {
            let top = String(setting.path.prefix { $0 != "." })
            if top != section {
                writer.blankLine()
                section = top
            }
            writer.enter(setting.path, sectionComment: { table.sectionDocs[$0] })
            writer.comment(setting.doc + rangeNote(setting.type))
            writer.put(setting.example ?? setting.value(defaults), as: setting.type)
        }
        return writer.text
    }

    private static let exampleHeader = [
        """
        Vigil configuration: every key, with its value and the reason for it. Generated from the setting \
        declarations (DaemonConfig.settings, VigilConfig.settings): regenerate with `swift run vigil config-docs \
        example > Examples/vigil.yaml`.
        """,
        """
        Every key is optional; omit one to get its default. Check a file with `vigil check-config \
        Examples/vigil.yaml [--print-effective]`.
        """,
        """
        Durations are an integer with a unit: 250ms, 90s, 5m, 24h, 30d (also us). A bare number is refused: \"300\" \
        could mean seconds or milliseconds. Relative paths are resolved against the directory of this file, not the \
        working directory; absolute paths are used as they are; \"~\" is not expanded. YAML anchors and aliases are \
        refused, and so are unknown and duplicate keys.
        """,
    ]

    /// The keys the example sets to something else than their default, named from the declarations.
    private static var exampleValuesNote: String {
        let keys = table.settings.filter { $0.example != nil }.map(\.path)
        return "Each key shows its default, except these, which show an example value: \(keys.joined(separator: ", "))."
    }

    /// Which sections apply on reload (those with a live setting), and their settings that do not, named
    /// from the declarations.
    private static var reloadNote: String {
        func section(_ setting: Setting<DaemonConfig>) -> String { String(setting.path.prefix { $0 != "." }) }
        var live: [String] = []
        for setting in table.settings where setting.reload == .live && !live.contains(section(setting)) {
            live.append(section(setting))
        }
        let exceptions = table.settings.filter { $0.reload == .restart && live.contains(section($0)) }.map(\.path)
        return """
            Settings of \(live.joined(separator: ", ")) apply on reload (SIGHUP or a change to the file), except \
            \(exceptions.joined(separator: ", ")); those and every other section need a restart.
            """
    }

    /// The range or choices, as the comment above a key states them.
    private static func rangeNote(_ type: SettingType) -> String {
        switch type {
        case .integer(let range): " (\(range.lowerBound)–\(range.upperBound))"
        case .number(let range): " (\(range.lowerBound)–\(range.upperBound))"
        case .duration(let range): " (\(SettingType.durationFloor(range)), at most \(range.upperBound.configString))"
        case .choice(let choices): " (\(choices.joined(separator: ", ")))"
        default: ""
        }
    }

    // MARK: Schema

    /// `schemas/config.schema.json` (JSON Schema 2020-12), for editors that complete and check the file.
    public static var schemaJSON: String {
        var root: [(String, JSONValue)] = [
            ("$schema", .string("https://json-schema.org/draft/2020-12/schema")),
            ("$id", .string("https://vigil.example/schemas/config.schema.json")),
            ("title", .string("Vigil configuration file (YAML)")),
            (
                "description",
                .string(
                    """
                    Generated from the setting declarations: regenerate with `swift run vigil config-docs schema > \
                    schemas/config.schema.json`. Every key is optional; see Examples/vigil.yaml for defaults and \
                    reasons. vigil check-config is the authority: it also checks cross-field rules (medium_from < \
                    high_from, output topics not inputs). YAML anchors, aliases and duplicate keys are refused.
                    """
                )
            ),
            ("type", .string("object")),
            ("additionalProperties", .bool(false)),
        ]
        root.append(("properties", .object(properties(prefix: ""))))
        return JSONValue.object(root).rendered(indent: "") + "\n"
    }

    /// The schema objects of the sections and settings directly under `prefix`, in table order.
    private static func properties(prefix: String) -> [(String, JSONValue)] {
        let defaults = DaemonConfig()
        var names: [String] = []
        for setting in table.settings where prefix.isEmpty || setting.path.hasPrefix(prefix + ".") {
            let rest = prefix.isEmpty ? setting.path : String(setting.path.dropFirst(prefix.count + 1))
            let name = String(rest.prefix { $0 != "." })
            if !names.contains(name) { names.append(name) }
        }
        return names.map { name in
            let path = prefix.isEmpty ? name : "\(prefix).\(name)"
            if let setting = table.settings.first(where: { $0.path == path }) {
                return (name, schema(setting.type, doc: setting.doc, default: setting.value(defaults)))
            }
            var section: [(String, JSONValue)] = [("type", .array([.string("object"), .string("null")]))]
            if let doc = table.sectionDocs[path] { section.append(("description", .string(doc))) }
            section += [("additionalProperties", .bool(false)), ("properties", .object(properties(prefix: path)))]
            return (name, .object(section))
        }
    }

    private static func schema(_ type: SettingType, doc: String?, default value: SettingValue?) -> JSONValue {
        var fields: [(String, JSONValue)]
        switch type {
        case .integer(let range):
            fields = [
                ("type", .string("integer")), ("minimum", .integer(range.lowerBound)),
                ("maximum", .integer(range.upperBound)),
            ]
        case .number(let range):
            fields = [
                ("type", .string("number")), ("minimum", .number(range.lowerBound)),
                ("maximum", .number(range.upperBound)),
            ]
        case .boolean:
            fields = [("type", .string("boolean"))]
        case .duration:
            fields = [("type", .string("string")), ("pattern", .string("^[0-9]{1,12}(us|ms|s|m|h|d)$"))]
        case .text(let nonEmpty):
            fields = [("type", .string("string"))] + (nonEmpty ? [("minLength", .integer(1))] : [])
        case .choice(let choices):
            fields = [("enum", .array(choices.map(JSONValue.string)))]
        case .filePath:
            fields = [("type", .array([.string("string"), .string("null")])), ("minLength", .integer(1))]
        case .textList:
            fields = [("type", .string("array")), ("items", .object([("type", .string("string"))]))]
        case .textMap:
            fields = [
                ("type", .array([.string("object"), .string("null")])),
                (
                    "additionalProperties",
                    .object([("type", .array([.string("string"), .string("number"), .string("boolean")]))])
                ),
            ]
        case .records(let recordFields):
            let item: [(String, JSONValue)] = [
                ("type", .string("object")), ("additionalProperties", .bool(false)),
                ("required", .array(recordFields.map { .string($0.name) })),
                ("properties", .object(recordFields.map { ($0.name, schema($0.type, doc: nil, default: nil)) })),
            ]
            fields = [("type", .array([.string("array"), .string("null")])), ("items", .object(item))]
        }
        if let doc { fields.append(("description", .string(doc + rangeNote(type)))) }
        if let value { fields.append(("default", JSONValue(value))) }
        return .object(fields)
    }
}

/// JSON with its object keys in the order given, so the generated schema is stable and reads in file order.
private indirect enum JSONValue {
    case object([(String, JSONValue)])
    case array([JSONValue])
    case string(String)
    case integer(Int)
    case number(Double)
    case bool(Bool)
    case null

    init(_ value: SettingValue) {
        switch value {
        case .integer(let number): self = .integer(number)
        case .number(let number): self = .number(number)
        case .boolean(let flag): self = .bool(flag)
        case .duration(let duration): self = .string(duration.configString)
        case .text(let text): self = .string(text)
        case .null: self = .null
        case .textList(let list): self = .array(list.map(JSONValue.string))
        case .textMap(let map): self = .object(map.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })
        case .records(let records):
            self = .array(records.map { .object($0.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }) })
        }
    }

    func rendered(indent: String) -> String {
        let inner = indent + "  "
        switch self {
        case .object(let fields) where fields.isEmpty: return "{}"
        case .object(let fields):
            let lines = fields.map { "\(inner)\(NestedYAMLWriter.quoted($0.0)): \($0.1.rendered(indent: inner))" }
            return "{\n" + lines.joined(separator: ",\n") + "\n\(indent)}"
        case .array(let values) where values.isEmpty: return "[]"
        case .array(let values):
            return "[\n" + values.map { inner + $0.rendered(indent: inner) }.joined(separator: ",\n") + "\n\(indent)]"
        case .string(let text): return NestedYAMLWriter.quoted(text)
        case .integer(let number): return "\(number)"
        case .number(let number):
            return number == number.rounded() && abs(number) < 1e15 ? "\(Int(number))" : "\(number)"
        case .bool(let flag): return "\(flag)"
        case .null: return "null"
        }
    }
}
