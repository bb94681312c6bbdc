import Foundation
import Testing
import VigilCore
import VigilGeo
import VigilTestSupport

@Suite("Reputation list files")
struct ReputationLoadingTests {
    @Test func loadsListsAndASNs() throws {
        let directory = try TestPaths.temporaryDirectory("geo")
        defer { try? FileManager.default.removeItem(at: directory) }
        let tor = directory.appendingPathComponent("tor.txt")
        let hosting = directory.appendingPathComponent("hosting.txt")
        try "# exit nodes\n198.51.100.7\n2001:db8::/32  # lab\n".write(to: tor, atomically: true, encoding: .utf8)
        try "198.51.100.0/24\r\n\r\n".write(to: hosting, atomically: true, encoding: .utf8)
        var settings = ReputationSettings()
        settings.asnCategories = [64500: "bad"]
        settings.cidrLists = [.init(path: tor.path, category: "tor"), .init(path: hosting.path, category: "hosting")]
        let table = try ReputationTable.load(settings)
        #expect(
            table.matches(address: IPAddress("198.51.100.7")!, asn: 64500).map(\.category) == ["bad", "hosting", "tor"])
        #expect(table.categories(containing: IPAddress("198.51.100.8")!) == ["hosting"])
        #expect(table.categories(containing: IPAddress("2001:db8:ffff::1")!) == ["tor"])
    }

    @Test func badLineIsReportedWithFileAndLine() throws {
        let directory = try TestPaths.temporaryDirectory("geo")
        defer { try? FileManager.default.removeItem(at: directory) }
        let list = directory.appendingPathComponent("bad.txt")
        try "10.0.0.0/8\n\n10.0.0.1/8\n".write(to: list, atomically: true, encoding: .utf8)
        var settings = ReputationSettings()
        settings.cidrLists = [.init(path: list.path, category: "x")]
        let error = try #require(throws: CIDRListError.self) { try ReputationTable.load(settings) }
        #expect(error == .invalidLine(source: list.path, line: 3, .hostBitsSet("10.0.0.1/8", network: "10.0.0.0/8")))
        #expect(error.description.hasPrefix("\(list.path):3: "))
    }

    @Test func missingFileIsNamed() throws {
        var settings = ReputationSettings()
        settings.cidrLists = [.init(path: "/nonexistent/list.txt", category: "x")]
        let error = try #require(throws: CIDRListError.self) { try ReputationTable.load(settings) }
        guard case .unreadable(let source, let reason) = error else {
            Issue.record("unexpected \(error)")
            return
        }
        #expect(source == "/nonexistent/list.txt")
        #expect(reason.contains("No such file"))
    }
}
