import Foundation

/// Locations tests need: the package root, MaxMind's test data (overridable with
/// VIGIL_MAXMIND_TESTDATA) and the built `vigil` binary.
enum TestPaths {
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var maxmind: URL {
        if let override = ProcessInfo.processInfo.environment["VIGIL_MAXMIND_TESTDATA"], !override.isEmpty {
            return URL(fileURLWithPath: override)
        }
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/testdata/maxmind")
    }

    static var scenarios: URL { packageRoot.appendingPathComponent("Tests/VigilDaemonTests/Scenarios") }

    static var vigilBinary: URL {
        // Tests run from the build products directory that also holds the `vigil` executable.
        let products = Bundle.main.bundleURL
        let candidates = [products.appendingPathComponent("vigil"), products.deletingLastPathComponent().appendingPathComponent("vigil")]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[0]
    }

    static func temporaryDirectory(_ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Writes a config with the MaxMind test databases at absolute paths (so VIGIL_MAXMIND_TESTDATA
    /// applies) and the given extra YAML appended.
    static func writeConfig(in directory: URL, anonymousDatabase: Bool, extra: String = "") throws -> URL {
        let anonymous = anonymousDatabase ? maxmind.appendingPathComponent("GeoIP2-Anonymous-IP-Test.mmdb").path : "null"
        let yaml = """
            geo:
              city_db: \(maxmind.appendingPathComponent("GeoIP2-City-Test.mmdb").path)
              asn_db: \(maxmind.appendingPathComponent("GeoLite2-ASN-Test.mmdb").path)
              anonymous_db: \(anonymous)
            \(extra)
            """
        let url = directory.appendingPathComponent("vigil.yaml")
        try yaml.write(to: url, atomically: true, encoding: .utf8)
        return url
    }
}

/// Runs a program and captures its output, with a deadline so a hung child fails the test.
struct ProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

func runProcess(_ executable: String, _ arguments: [String], stdin: Data? = nil, timeout: TimeInterval = 120) throws -> ProcessResult {
    let directory = try TestPaths.temporaryDirectory("process")
    let outURL = directory.appendingPathComponent("stdout"), errURL = directory.appendingPathComponent("stderr")
    FileManager.default.createFile(atPath: outURL.path, contents: nil)
    FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardOutput = try FileHandle(forWritingTo: outURL)
    process.standardError = try FileHandle(forWritingTo: errURL)
    let input = Pipe()
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(stdin) }
    try input.fileHandleForWriting.close()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning {
        if Date() > deadline {
            process.terminate()
            throw ProcessTimeout(command: executable)
        }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return ProcessResult(
        status: process.terminationStatus, stdout: try String(contentsOf: outURL, encoding: .utf8),
        stderr: try String(contentsOf: errURL, encoding: .utf8))
}

struct ProcessTimeout: Error, CustomStringConvertible {
    var command: String
    var description: String { "\(command) did not finish in time" }
}

/// Reads a JSONL file as JSON objects.
func readJSONLines(_ url: URL) throws -> [[String: Any]] {
    let text = try String(contentsOf: url, encoding: .utf8)
    return try text.split(separator: "\n").map {
        try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
    }
}
