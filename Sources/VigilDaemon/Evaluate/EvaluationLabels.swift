import Foundation

/// What an event is, as whoever recorded the traffic knows it: an attack of a kind (and the campaign it
/// belongs to), legitimate noise of a kind (a new phone, business travel, ...), or ordinary traffic.
enum EventLabel: Sendable, Hashable, CustomStringConvertible {
    case attack(String)
    case noise(String)
    case legitimate

    /// `attack:<kind>`, `noise:<kind>` or `legit`; nil for anything else. A kind is 1 to 64 lower-case
    /// letters, digits, `_`, `-` or `.`: it becomes a table row, so nothing in it may shape the table.
    init?(_ text: String) {
        func kind(_ rest: Substring) -> String? {
            guard (1...64).contains(rest.utf8.count),
                rest.utf8.allSatisfy({ (97...122).contains($0) || (48...57).contains($0) || "_-.".utf8.contains($0) })
            else { return nil }
            return String(rest)
        }
        if text == "legit" {
            self = .legitimate
        } else if text.hasPrefix("attack:"), let kind = kind(text.dropFirst(7)) {
            self = .attack(kind)
        } else if text.hasPrefix("noise:"), let kind = kind(text.dropFirst(6)) {
            self = .noise(kind)
        } else {
            return nil
        }
    }

    var description: String {
        switch self {
        case .attack(let kind): "attack:\(kind)"
        case .noise(let kind): "noise:\(kind)"
        case .legitimate: "legit"
        }
    }

    var isAttack: Bool {
        if case .attack = self { return true }
        return false
    }
}

/// One event's label and, for an attack, the campaign it is part of (one attacker's sequence: the unit
/// "every campaign alerted" counts). An attack event without a campaign is a campaign of its own.
struct LabelledEvent: Sendable, Equatable {
    var label: EventLabel
    var campaign: String?

    init(label: EventLabel, campaign: String? = nil) {
        self.label = label
        self.campaign = campaign
    }
}

/// Labels by event id, from a labels file or from the events themselves. An unlabelled event is
/// ordinary legitimate traffic.
struct EvaluationLabels: Sendable {
    private(set) var byEventID: [String: LabelledEvent] = [:]

    init() {}

    /// Why labels could not be read: the file and what is wrong, never a crash.
    struct LabelError: Error, CustomStringConvertible {
        var description: String
    }

    /// A labels file: one JSON object whose keys are event ids and whose values are a label
    /// (`"attack:push_bombing"`) or an object `{"label": ..., "campaign": ...}`.
    mutating func read(file path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LabelError(description: "cannot read the labels file \(path)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw LabelError(description: "\(path) is not one JSON object of event ids and labels")
        }
        for (eventID, value) in object {
            if let text = value as? String {
                byEventID[eventID] = LabelledEvent(label: try Self.label(text, eventID, path))
            } else if let entry = value as? [String: Any], let text = entry["label"] as? String {
                byEventID[eventID] = LabelledEvent(
                    label: try Self.label(text, eventID, path), campaign: Self.campaign(entry["campaign"]))
            } else {
                throw LabelError(
                    description: "\(path): the label of \(eventID) is neither a string nor {\"label\": ...}")
            }
        }
    }

    /// Labels inside the events: a top-level `label` (and `campaign`) beside the event's own fields,
    /// which the decoder ignores. Lines that are not JSON objects with an `event_id` are skipped: the
    /// replay dead-letters them.
    mutating func read(eventLine line: Data) throws {
        guard let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any],
            let eventID = object["event_id"] as? String, let text = object["label"] as? String
        else { return }
        byEventID[eventID] = LabelledEvent(
            label: try Self.label(text, eventID, "the events"), campaign: Self.campaign(object["campaign"]))
    }

    subscript(eventID: String) -> LabelledEvent {
        byEventID[eventID] ?? LabelledEvent(label: .legitimate)
    }

    private static func label(_ text: String, _ eventID: String, _ source: String) throws -> EventLabel {
        guard let label = EventLabel(text) else {
            throw LabelError(
                description:
                    "\(source): \(eventID.prefix(80)) is labelled '\(text.prefix(80))', expected legit, attack:<kind> or "
                    + "noise:<kind> (a kind is lower-case letters, digits, _, - or .)")
        }
        return label
    }

    private static func campaign(_ value: Any?) -> String? {
        switch value {
        case let text as String: text
        case let number as NSNumber: number.stringValue
        default: nil
        }
    }
}
