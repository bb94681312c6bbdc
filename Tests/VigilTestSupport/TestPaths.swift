import Foundation

/// Locations tests need: the package root, MaxMind's test databases and the built `vigil` binary, and
/// fresh temporary directories.
public enum TestPaths {
    /// The checkout's root directory, found from this file's path.
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// MaxMind's own test databases: `../shared/testdata/maxmind` beside the checkout, or
    /// `$VIGIL_MAXMIND_TESTDATA`.
    public static var maxmind: URL {
        if let override = ProcessInfo.processInfo.environment["VIGIL_MAXMIND_TESTDATA"], !override.isEmpty {
            return URL(fileURLWithPath: override)
        }
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/testdata/maxmind")
    }

    /// One file of MaxMind's test data, e.g. `GeoIP2-City-Test.mmdb`.
    public static func maxmind(_ name: String) -> URL { maxmind.appendingPathComponent(name) }

    /// The `vigil` executable: tests run from the build products directory that also holds it.
    public static var vigilBinary: URL {
        let products = Bundle.main.bundleURL
        let candidates = [
            products.appendingPathComponent("vigil"),
            products.deletingLastPathComponent().appendingPathComponent("vigil"),
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[0]
    }

    /// A fresh empty directory under the system's temporary directory, named after `name`.
    public static func temporaryDirectory(_ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// Reads a JSONL file as JSON objects.
public func readJSONLines(_ url: URL) throws -> [[String: Any]] {
    let text = try String(contentsOf: url, encoding: .utf8)
    return try text.split(separator: "\n").map { line in
        guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw TestFailure("not a JSON object in \(url.path): \(line)")
        }
        return object
    }
}
