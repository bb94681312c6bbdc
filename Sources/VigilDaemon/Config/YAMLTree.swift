// libyaml (Debian's libyaml-dev). Its event parser is used directly rather than a YAML library's composer,
// which refuses a mapping with duplicate keys outright: built from the events, the tree keeps every key with
// its line, so one parse reports every duplicate with its key path.
import CYAML

/// A YAML document as the config reader needs it: scalars keep their text and whether they were written
/// plain (unquoted), every node its 1-based line, mappings every key in file order (duplicates included),
/// and anchors and aliases are marked, never expanded.
indirect enum YAMLNode {
    case scalar(String, plain: Bool, Position)
    case mapping([(key: YAMLNode, value: YAMLNode)], Position)
    case sequence([YAMLNode], Position)
    /// `*name`: refused by the loader, so never resolved.
    case alias(Position)

    struct Position {
        var line: Int
        /// The node carries `&name`.
        var anchored = false
    }

    var position: Position {
        switch self {
        case .scalar(_, _, let position), .mapping(_, let position), .sequence(_, let position), .alias(let position):
            position
        }
    }

    var line: Int { position.line }

    /// Carries `&name` or is a `*name`.
    var involvesAnchor: Bool {
        if case .alias = self { return true }
        return position.anchored
    }

    /// The text of a scalar, nil for other nodes.
    var text: String? {
        if case .scalar(let text, _, _) = self { text } else { nil }
    }
}

/// A problem libyaml found: the reason and the 1-based line.
struct YAMLSyntaxError: Error {
    var message: String
    var line: Int?
}

enum YAMLTree {
    /// The single document in `text`, nil when the stream has none (empty, or only comments).
    static func parse(_ text: String) throws(YAMLSyntaxError) -> YAMLNode? {
        var bytes = Array(text.utf8)
        if bytes.isEmpty { bytes = [0x0A] }
        return try bytes.withUnsafeBufferPointer { buffer throws(YAMLSyntaxError) -> YAMLNode? in
            var reader = EventReader(buffer)
            defer { reader.close() }
            return try reader.document()
        }
    }

    /// Reads libyaml events one at a time and builds nodes from them.
    private struct EventReader {
        /// On the heap: libyaml keeps a pointer to the parser inside it, so it must never move.
        private let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)

        init(_ buffer: UnsafeBufferPointer<UInt8>) {
            parser.initialize(to: yaml_parser_t())
            yaml_parser_initialize(parser)
            yaml_parser_set_input_string(parser, buffer.baseAddress, buffer.count)
        }

        func close() {
            yaml_parser_delete(parser)
            parser.deallocate()
        }

        mutating func document() throws(YAMLSyntaxError) -> YAMLNode? {
            try expect(YAML_STREAM_START_EVENT)
            var event = try next()
            if event.type == YAML_STREAM_END_EVENT { return nil }
            guard event.type == YAML_DOCUMENT_START_EVENT else { throw unexpected(event) }
            let root = try node(from: try next())
            try expect(YAML_DOCUMENT_END_EVENT)
            event = try next()
            guard event.type == YAML_STREAM_END_EVENT else {
                throw YAMLSyntaxError(message: "expected a single document, found another", line: event.line)
            }
            return root
        }

        /// A config is a few levels deep; a hostile file of `[[[[…` must not recurse until the stack ends.
        static let maximumDepth = 64

        private mutating func node(from event: Event, depth: Int = 0) throws(YAMLSyntaxError) -> YAMLNode {
            if depth >= Self.maximumDepth,
                event.type == YAML_SEQUENCE_START_EVENT || event.type == YAML_MAPPING_START_EVENT
            {
                throw YAMLSyntaxError(message: "nested deeper than \(Self.maximumDepth) levels", line: event.line)
            }
            switch event.type {
            case YAML_SCALAR_EVENT:
                return .scalar(event.scalarText, plain: event.isPlain, event.position)
            case YAML_ALIAS_EVENT:
                return .alias(event.position)
            case YAML_SEQUENCE_START_EVENT:
                var elements: [YAMLNode] = []
                var next = try self.next()
                while next.type != YAML_SEQUENCE_END_EVENT {
                    elements.append(try node(from: next, depth: depth + 1))
                    next = try self.next()
                }
                return .sequence(elements, event.position)
            case YAML_MAPPING_START_EVENT:
                var entries: [(key: YAMLNode, value: YAMLNode)] = []
                var next = try self.next()
                while next.type != YAML_MAPPING_END_EVENT {
                    let key = try node(from: next, depth: depth + 1)
                    let value = try node(from: try self.next(), depth: depth + 1)
                    entries.append((key, value))
                    next = try self.next()
                }
                return .mapping(entries, event.position)
            default:
                throw unexpected(event)
            }
        }

        private mutating func expect(_ type: yaml_event_type_t) throws(YAMLSyntaxError) {
            let event = try next()
            guard event.type == type else { throw unexpected(event) }
        }

        private func unexpected(_ event: Event) -> YAMLSyntaxError {
            YAMLSyntaxError(message: "unexpected event \(event.type.rawValue)", line: event.line)
        }

        /// The next event, copied out of libyaml's buffer so it can be released at once.
        private mutating func next() throws(YAMLSyntaxError) -> Event {
            var raw = yaml_event_t()
            guard yaml_parser_parse(parser, &raw) == 1 else {
                let problem = parser.pointee.problem.map { String(cString: $0) } ?? "malformed YAML"
                throw YAMLSyntaxError(message: problem, line: Int(parser.pointee.problem_mark.line) + 1)
            }
            defer { yaml_event_delete(&raw) }
            return Event(raw)
        }
    }

    /// What the tree keeps of one libyaml event.
    private struct Event {
        var type: yaml_event_type_t
        var line: Int
        var anchored: Bool
        var scalarText = ""
        var isPlain = false

        init(_ raw: yaml_event_t) {
            type = raw.type
            line = Int(raw.start_mark.line) + 1
            switch raw.type {
            case YAML_SCALAR_EVENT:
                let scalar = raw.data.scalar
                anchored = scalar.anchor != nil
                scalarText = String(
                    decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
                isPlain = scalar.style == YAML_PLAIN_SCALAR_STYLE
            case YAML_SEQUENCE_START_EVENT: anchored = raw.data.sequence_start.anchor != nil
            case YAML_MAPPING_START_EVENT: anchored = raw.data.mapping_start.anchor != nil
            default: anchored = false
            }
        }

        var position: YAMLNode.Position { YAMLNode.Position(line: line, anchored: anchored) }
    }
}
