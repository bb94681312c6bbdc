/// How a setting is written in the config file. The one description from which the file reader, the range
/// checks, the canonical rendering, the JSON schema and the commented example all follow.
public indirect enum SettingType: Sendable, Equatable {
    /// A plain integer (`1_000` allowed) within the range.
    case integer(ClosedRange<Int>)
    /// A plain finite number within the range.
    case number(ClosedRange<Double>)
    case boolean
    /// `<integer><unit>` (see `EventDuration(configString:)`) within the range; a lower bound of 1µs reads
    /// "more than 0s".
    case duration(ClosedRange<EventDuration>)
    /// Any string; `nonEmpty` refuses "".
    case text(nonEmpty: Bool)
    /// One of these words.
    case choice([String])
    /// A file path or null (not used); relative paths are resolved against the config file's directory.
    case filePath
    /// A list of strings.
    case textList
    /// A mapping of string keys to scalar values, kept as text.
    case textMap
    /// A list of mappings, each with exactly these keys, all required.
    case records([RecordField])

    /// One key of a `records` entry.
    public struct RecordField: Sendable, Equatable {
        /// The key inside each record.
        public var name: String
        /// How the key's value is written: a type read as one string (text, a choice, a file path), since a
        /// record keeps its values as text; any other value, null included, is reported as a problem.
        public var type: SettingType
        /// A required record key `name` of `type`.
        public init(_ name: String, _ type: SettingType) {
            self.name = name
            self.type = type
        }
    }
}

/// A setting's value as the file holds it, before it becomes its Swift type.
public enum SettingValue: Sendable, Equatable {
    case integer(Int)
    case number(Double)
    case boolean(Bool)
    case duration(EventDuration)
    case text(String)
    /// An optional setting left unset (`null`).
    case null
    case textList([String])
    case textMap([String: String])
    case records([[String: String]])

    /// The string of a `.text` value.
    public var text: String? {
        if case .text(let text) = self { text } else { nil }
    }
}

/// Whether a running daemon adopts a changed value on reload, or only at its next start (because what the
/// value configures, such as a Kafka consumer or a listening socket, is built once at startup).
public enum SettingReload: String, Sendable {
    case live
    case restart
}

/// Something wrong with one setting's value: `suffix` extends the setting's key path for a part of it
/// (`[1]`, `.64497`), empty for the value as a whole.
public struct SettingIssue: Sendable, Equatable {
    /// Appended to the setting's key path to name the offending part; empty for the whole value.
    public var suffix: String
    /// What is wrong, for the operator (see `ConfigProblem.message`).
    public var message: String
    /// An issue with the part of the value at `suffix` (`[1]`, `.64497`).
    public init(_ suffix: String, _ message: String) {
        self.suffix = suffix
        self.message = message
    }

    /// A problem with the value as a whole.
    public init(_ message: String) { self.init("", message) }
}

/// One setting of a `Root` configuration, declared once: where it sits in the file, how it is written, what
/// it defaults to (the value in `Root()`), its range, why it exists, and whether it reloads live.
///
/// Reading and writing go through closures built from a key path by the factory functions, so a setting of
/// any Swift type (an enum, a dictionary keyed by AS number) still shows the file's `SettingValue` form.
/// `@unchecked Sendable`: the closures only capture key paths and immutable rules, never mutable state.
public struct Setting<Root>: @unchecked Sendable {
    /// Dotted key path in the file: `engine.signals.new_device.points`.
    public let path: String
    /// How the file writes it, with its range: drives reading, range checks and the schema.
    public let type: SettingType
    /// Whether a reload adopts a change live or only reports it as needing a restart.
    public let reload: SettingReload
    /// One line for the schema's description and the example's comment: what it does and why its default.
    public let doc: String
    /// A value the generated example shows instead of the default (sample file paths, say).
    public let example: SettingValue?
    /// The value of this setting in a configuration.
    public let value: (Root) -> SettingValue
    /// Stores a value of this setting's type; problems when it does not fit the Swift type (an unknown
    /// enum case, a key that is no AS number). Range rules are not applied here but by `problems(in:)`.
    public let store: (inout Root, SettingValue) -> [SettingIssue]
    /// Rules beyond the type's range: value rules (topic names) and cross-field rules (medium < high),
    /// each stated once, on the setting whose key path the problem names.
    public let rules: (Root) -> [SettingIssue]

    /// The general form behind the factories; use it directly only for a Swift type no factory covers.
    public init(
        _ path: String, _ type: SettingType, reload: SettingReload, doc: String, example: SettingValue? = nil,
        value: @escaping (Root) -> SettingValue, store: @escaping (inout Root, SettingValue) -> [SettingIssue],
        rules: @escaping (Root) -> [SettingIssue] = { _ in [] }
    ) {
        self.path = path
        self.type = type
        self.reload = reload
        self.doc = doc
        self.example = example
        self.value = value
        self.store = store
        self.rules = rules
    }

    /// The same setting in a configuration that holds a `Root` at `keyPath` (the daemon's config holds the
    /// engine's).
    public func lifted<Outer>(into keyPath: WritableKeyPath<Outer, Root>) -> Setting<Outer> {
        let value = self.value
        let store = self.store
        let rules = self.rules
        return Setting<Outer>(
            path, type, reload: reload, doc: doc, example: example,
            value: { value($0[keyPath: keyPath]) }, store: { store(&$0[keyPath: keyPath], $1) },
            rules: { rules($0[keyPath: keyPath]) })
    }

    /// The range problems of the value in `root`, then its rules' problems, with full key paths.
    public func problems(in root: Root) -> [ConfigProblem] {
        (type.rangeIssues(value(root)) + rules(root)).map {
            ConfigProblem(keyPath: path + $0.suffix, message: $0.message)
        }
    }
}

// MARK: Factories, one per Swift type a setting may have

extension Setting {
    /// A setting whose Swift value maps one to one onto a `SettingValue` case.
    private static func plain<Value>(
        _ path: String, _ type: SettingType, _ keyPath: WritableKeyPath<Root, Value>, _ reload: SettingReload,
        _ doc: String, rules: @escaping (Root) -> [SettingIssue], wrap: @escaping (Value) -> SettingValue,
        unwrap: @escaping (SettingValue) -> Value?
    ) -> Setting {
        Setting(
            path, type, reload: reload, doc: doc, value: { wrap($0[keyPath: keyPath]) },
            store: { root, value in
                if let unwrapped = unwrap(value) { root[keyPath: keyPath] = unwrapped }
                return []
            }, rules: rules)
    }

    /// An `Int` setting within `range`; `rules` adds checks the range cannot express.
    public static func integer(
        _ path: String, _ keyPath: WritableKeyPath<Root, Int>, _ range: ClosedRange<Int>, _ reload: SettingReload,
        _ doc: String, rules: @escaping (Root) -> [SettingIssue] = { _ in [] }
    ) -> Setting {
        plain(path, .integer(range), keyPath, reload, doc, rules: rules, wrap: SettingValue.integer) {
            if case .integer(let number) = $0 { number } else { nil }
        }
    }

    /// A finite `Double` setting within `range`.
    public static func number(
        _ path: String, _ keyPath: WritableKeyPath<Root, Double>, _ range: ClosedRange<Double>,
        _ reload: SettingReload, _ doc: String
    ) -> Setting {
        plain(path, .number(range), keyPath, reload, doc, rules: { _ in [] }, wrap: SettingValue.number) {
            if case .number(let number) = $0 { number } else { nil }
        }
    }

    /// A `Bool` setting, written `true` or `false`.
    public static func boolean(
        _ path: String, _ keyPath: WritableKeyPath<Root, Bool>, _ reload: SettingReload, _ doc: String
    ) -> Setting {
        plain(path, .boolean, keyPath, reload, doc, rules: { _ in [] }, wrap: SettingValue.boolean) {
            if case .boolean(let flag) = $0 { flag } else { nil }
        }
    }

    /// An `EventDuration` setting written `<integer><unit>` (`15m`, `90d`) within `range`.
    public static func duration(
        _ path: String, _ keyPath: WritableKeyPath<Root, EventDuration>, _ range: ClosedRange<EventDuration>,
        _ reload: SettingReload, _ doc: String, rules: @escaping (Root) -> [SettingIssue] = { _ in [] }
    ) -> Setting {
        plain(path, .duration(range), keyPath, reload, doc, rules: rules, wrap: SettingValue.duration) {
            if case .duration(let duration) = $0 { duration } else { nil }
        }
    }

    /// A `String` setting; `nonEmpty` (the default) refuses "".
    public static func text(
        _ path: String, _ keyPath: WritableKeyPath<Root, String>, nonEmpty: Bool = true, _ reload: SettingReload,
        _ doc: String, rules: @escaping (Root) -> [SettingIssue] = { _ in [] }
    ) -> Setting {
        plain(
            path, .text(nonEmpty: nonEmpty), keyPath, reload, doc, rules: rules, wrap: SettingValue.text, unwrap: \.text
        )
    }

    /// A string limited to `choices`, kept as a string (the range check names the choices).
    public static func choice(
        _ path: String, _ keyPath: WritableKeyPath<Root, String>, _ choices: [String], _ reload: SettingReload,
        _ doc: String
    ) -> Setting {
        plain(path, .choice(choices), keyPath, reload, doc, rules: { _ in [] }, wrap: SettingValue.text, unwrap: \.text)
    }

    /// An enum written as its raw value; a word that is no case is refused when read.
    public static func choice<Choice: RawRepresentable & CaseIterable>(
        _ path: String, _ keyPath: WritableKeyPath<Root, Choice>, _ reload: SettingReload, _ doc: String
    ) -> Setting where Choice.RawValue == String {
        let choices = Choice.allCases.map(\.rawValue)
        return Setting(
            path, .choice(choices), reload: reload, doc: doc, value: { .text($0[keyPath: keyPath].rawValue) },
            store: { root, value in
                guard case .text(let text) = value else { return [] }
                guard let choice = Choice(rawValue: text) else {
                    return [SettingIssue(SettingType.choiceMessage(choices, got: text))]
                }
                root[keyPath: keyPath] = choice
                return []
            })
    }

    /// An optional file path; null (nil) means the file is not used. `example` is shown in the generated
    /// example file instead of null.
    public static func filePath(
        _ path: String, _ keyPath: WritableKeyPath<Root, String?>, _ reload: SettingReload, _ doc: String,
        example: String? = nil
    ) -> Setting {
        Setting(
            path, .filePath, reload: reload, doc: doc, example: example.map(SettingValue.text),
            value: { $0[keyPath: keyPath].map(SettingValue.text) ?? .null },
            store: { root, value in
                switch value {
                case .text(let text): root[keyPath: keyPath] = text
                case .null: root[keyPath: keyPath] = nil
                default: break
                }
                return []
            })
    }

    /// A `[String]` setting, written as a YAML list.
    public static func textList(
        _ path: String, _ keyPath: WritableKeyPath<Root, [String]>, _ reload: SettingReload, _ doc: String,
        rules: @escaping (Root) -> [SettingIssue] = { _ in [] }
    ) -> Setting {
        plain(path, .textList, keyPath, reload, doc, rules: rules, wrap: SettingValue.textList) {
            if case .textList(let list) = $0 { list } else { nil }
        }
    }

    /// A `[String: String]` setting, written as a mapping of scalars (kept as text).
    public static func textMap(
        _ path: String, _ keyPath: WritableKeyPath<Root, [String: String]>, _ reload: SettingReload, _ doc: String,
        rules: @escaping (Root) -> [SettingIssue] = { _ in [] }
    ) -> Setting {
        plain(path, .textMap, keyPath, reload, doc, rules: rules, wrap: SettingValue.textMap) {
            if case .textMap(let map) = $0 { map } else { nil }
        }
    }
}

// MARK: Range rules of each type

extension SettingType {
    /// The longest any window may span: per-user state for longer than this would grow without bound.
    public static let maxWindow = EventDuration.days(30)
    /// The shortest "more than zero" duration, the usual lower bound of a window.
    public static let positive = EventDuration(microseconds: 1)

    /// What is wrong with `value` for this type's range or choices.
    public func rangeIssues(_ value: SettingValue) -> [SettingIssue] {
        switch (self, value) {
        case (.integer(let range), .integer(let number)) where !range.contains(number):
            [SettingIssue("must be between \(range.lowerBound) and \(range.upperBound), got \(number)")]
        case (.number(let range), .number(let number)) where !range.contains(number):
            [SettingIssue("must be between \(range.lowerBound) and \(range.upperBound), got \(number)")]
        case (.duration(let range), .duration(let duration)) where !range.contains(duration):
            [
                SettingIssue(
                    """
                    must be \(Self.durationFloor(range)) and at most \(range.upperBound.configString), got \
                    \(duration.configString)
                    """
                )
            ]
        case (.text(nonEmpty: true), .text("")), (.filePath, .text("")):
            [SettingIssue("must not be empty")]
        case (.choice(let choices), .text(let text)) where !choices.contains(text):
            [SettingIssue(Self.choiceMessage(choices, got: text))]
        default:
            []
        }
    }

    /// The problem text for `text` outside `choices`.
    public static func choiceMessage(_ choices: [String], got text: String) -> String {
        "must be one of \(choices.joined(separator: ", ")), got \(ConfigProblem.quoted(text))"
    }

    /// The lower bound as error messages and docs say it.
    public static func durationFloor(_ range: ClosedRange<EventDuration>) -> String {
        range.lowerBound == positive ? "more than 0s" : "at least \(range.lowerBound.configString)"
    }
}
