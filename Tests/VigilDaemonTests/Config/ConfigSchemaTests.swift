import Foundation
import Testing
import VigilCore
import VigilDaemon

/// `schemas/config.schema.json` is written by hand for editors; this keeps it from drifting from the loader.
@Suite struct ConfigSchemaTests {
    private let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    @Test func schemaNamesExactlyTheKeysOfTheCanonicalRendering() throws {
        let data = try Data(contentsOf: repository.appendingPathComponent("schemas/config.schema.json"))
        let schema = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(leafPaths(schema, prefix: "") == canonicalPaths(DaemonConfig().canonicalYAML))
    }

    /// Dotted paths of schema objects that have no `properties` of their own.
    private func leafPaths(_ schema: [String: Any], prefix: String) -> Set<String> {
        guard let properties = schema["properties"] as? [String: [String: Any]] else { return [prefix] }
        return properties.reduce(into: []) { paths, entry in
            paths.formUnion(leafPaths(entry.value, prefix: prefix.isEmpty ? entry.key : "\(prefix).\(entry.key)"))
        }
    }

    /// Dotted paths of the `key: value` lines of a canonical rendering (two-space indentation).
    private func canonicalPaths(_ yaml: String) -> Set<String> {
        var stack: [String] = []
        var paths: Set<String> = []
        for line in yaml.split(separator: "\n") {
            let depth = line.prefix { $0 == " " }.count / 2
            let text = line.drop { $0 == " " }
            guard let colon = text.firstIndex(of: ":") else { continue }
            stack = Array(stack.prefix(depth)) + [String(text[..<colon])]
            if text.index(after: colon) != text.endIndex { paths.insert(stack.joined(separator: ".")) }
        }
        return paths
    }
}
