import Foundation
import VigilTestSupport

/// Runs `scripts/validate-json.py` on JSONL lines, so tests can hold the decoder and the encoders to
/// the published schemas.
enum SchemaValidator {
    /// True when python3 with the jsonschema package can run here.
    static let isAvailable: Bool = (try? run(["-c", "import jsonschema"]).status) == 0

    struct Outcome {
        var status: Int32
        var output: String
    }

    /// Validates each element of `lines` as one JSONL line against `schemas/<schema>`.
    static func validate(_ lines: [[UInt8]], schema: String) throws -> Outcome {
        let directory = try TestPaths.temporaryDirectory("schema")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("lines.jsonl")
        try Data(lines.map { $0 + [0x0A] }.joined()).write(to: file)
        return try run([
            TestPaths.packageRoot.appendingPathComponent("scripts/validate-json.py").path,
            TestPaths.packageRoot.appendingPathComponent("schemas/\(schema)").path,
            file.path,
        ])
    }

    private static func run(_ arguments: [String]) throws -> Outcome {
        let result = try ChildProcess.run(tool: "python3", arguments)
        // Warnings go to stderr before the first line is checked; the summary ends stdout.
        return Outcome(status: result.status, output: result.stderr + result.stdout)
    }
}
