import Foundation

/// `kcat`, the independent Kafka client: tests produce input and read outputs with it, so what they
/// check does not depend on the client under test.
public enum Kcat {
    /// Runs kcat with `arguments` and returns its standard output; throws when it fails or hangs.
    public static func run(
        _ arguments: [String], input: String? = nil, timeout: Duration = .seconds(30)
    ) throws -> String {
        let result = try ChildProcess.run(
            tool: "kcat", arguments, stdin: input.map { Data($0.utf8) }, timeout: timeout)
        guard result.status == 0 else {
            throw TestFailure("kcat \(arguments.joined(separator: " ")) exited with \(result.status): \(result.stderr)")
        }
        return result.stdout
    }

    /// Produces `key<TAB>value` lines.
    public static func produce(_ brokers: String, topic: String, lines: [String]) throws {
        _ = try run(["-b", brokers, "-P", "-t", topic, "-K", "\t"], input: lines.joined(separator: "\n") + "\n")
    }

    /// Produces each of `values` as one message without key to `partition` of `topic`, byte for byte
    /// (any bytes but the delimiter `#vigil-end#`: newlines, invalid UTF-8); in order, so on an empty
    /// partition value i lands at offset i.
    public static func produce(_ brokers: String, topic: String, partition: Int, values: [[UInt8]]) throws {
        let delimiter = Array("#vigil-end#".utf8)
        guard values.allSatisfy({ $0.firstRange(of: delimiter) == nil }) else {
            throw TestFailure("a value contains kcat's delimiter #vigil-end#")
        }
        let file = try TestPaths.temporaryDirectory("kcat").appendingPathComponent("values.bin")
        try Data(values.flatMap { $0 + delimiter }).write(to: file)
        _ = try run(["-b", brokers, "-P", "-t", topic, "-p", "\(partition)", "-D", "#vigil-end#", "-l", file.path])
    }

    /// Every message currently in `topic`.
    public static func consume(_ brokers: String, topic: String) throws -> [Record] {
        let output = try run(["-b", brokers, "-C", "-t", topic, "-o", "beginning", "-e", "-J", "-q"])
        return output.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]).map(Record.init)
        }
    }

    /// One message as kcat's `-J` prints it, with its payload parsed as JSON.
    public struct Record {
        /// The message key; nil for a message without one.
        public var key: String?
        /// The payload parsed as a JSON object (empty when it is not one).
        public var payload: [String: Any]
        /// The payload as text (a signed token is no JSON object).
        public var text: String
        /// Kafka headers by name.
        public var headers: [String: String]
        /// The partition it was read from.
        public var partition: Int
        /// Its offset in that partition.
        public var offset: Int

        init(_ object: [String: Any]) {
            key = object["key"] as? String
            text = object["payload"] as? String ?? ""
            payload = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
            let flat = object["headers"] as? [String] ?? []
            headers = [:]
            partition = object["partition"] as? Int ?? -1
            offset = object["offset"] as? Int ?? -1
            for index in stride(from: 0, to: flat.count - 1, by: 2) { headers[flat[index]] = flat[index + 1] }
        }
    }
}
