import Foundation

/// What `vigil replay` (the built binary, in a process of its own) makes of event lines: the reference
/// a daemon's outputs for the same input are compared with, whole payload for whole payload.
public struct ReplayReference {
    /// The exit status of `vigil replay`.
    public var status: Int32
    /// What it logged.
    public var stderr: String
    /// `decisions.jsonl`, in order.
    public var decisions: [[String: Any]]
    /// `alerts.jsonl`, in order.
    public var alerts: [[String: Any]]
    /// `dead-letter.jsonl`, in order.
    public var deadLetters: [[String: Any]]
    /// Users, sources and email domains in state at the end, from the summary.
    public var stateFigures: [Int]

    /// Replays `lines`, `key<TAB>value` lines as they are produced to Kafka (the value is replayed) or
    /// bare values, with `config`; the input file and outputs go to `directory`. Runs with the device
    /// key daemons under test get, so decisions compare with theirs.
    public init(lines: [String], config: URL, directory: URL) throws {
        let input = directory.appendingPathComponent("reference.jsonl")
        let values = lines.map { $0.split(separator: "\t", maxSplits: 1).last.map(String.init) ?? "" }
        try Data(values.map { $0 + "\n" }.joined().utf8).write(to: input)
        let out = directory.appendingPathComponent("reference")
        let result = try ChildProcess.run(
            TestPaths.vigilBinary, ["replay", "--config", config.path, "--out", out.path, input.path],
            environment: ["VIGIL_DEVICE_HASH_KEY": DaemonProcess.testDeviceKey], timeout: .seconds(120))
        func row(_ label: String) -> [Int] {
            let line = result.stdout.split(separator: "\n").first { $0.hasPrefix(label) } ?? ""
            return line.dropFirst(label.count).split(whereSeparator: { $0 == " " || $0 == "/" }).compactMap { Int($0) }
        }
        status = result.status
        stderr = result.stderr
        decisions = try readJSONLines(out.appendingPathComponent("decisions.jsonl"))
        alerts = try readJSONLines(out.appendingPathComponent("alerts.jsonl"))
        deadLetters = try readJSONLines(out.appendingPathComponent("dead-letter.jsonl"))
        stateFigures = row("users in state") + row("sources / email domains")
    }

    /// The object as JSON with sorted keys, so two payloads compare by content.
    public static func canonical(_ object: [String: Any]) -> String {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])).map {
            String(decoding: $0, as: UTF8.self)
        } ?? ""
    }
}
