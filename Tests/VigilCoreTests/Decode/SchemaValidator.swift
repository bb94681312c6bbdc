import Foundation

/// Runs `scripts/validate-json.py` on JSONL lines, so tests can hold the decoder and the encoders to
/// the published schemas.
enum SchemaValidator {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// True when python3 with the jsonschema package can run here.
    static let isAvailable: Bool = (try? run(["-c", "import jsonschema"]).status) == 0

    struct Outcome {
        var status: Int32
        var output: String
    }

    /// Validates each element of `lines` as one JSONL line against `schemas/<schema>`.
    static func validate(_ lines: [[UInt8]], schema: String) throws -> Outcome {
        let file = FileManager.default.temporaryDirectory
            .appendingPathComponent("vigil-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(lines.map { $0 + [0x0A] }.joined()).write(to: file)
        return try run([
            packageRoot.appendingPathComponent("scripts/validate-json.py").path,
            packageRoot.appendingPathComponent("schemas/\(schema)").path,
            file.path,
        ])
    }

    private static func run(_ arguments: [String]) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }
}
