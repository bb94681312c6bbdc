import Foundation
import Testing
import VigilCore
import VigilTestSupport

@testable import VigilDaemon

/// The setting table is the one source of the generated files, the reload rules and the policy version.
@Suite struct ConfigDeclarationTests {
    private let repository = TestPaths.packageRoot

    @Test(arguments: [
        ("schemas/config.schema.json", "schema"), ("Examples/vigil.yaml", "example"),
    ])
    func committedFilesMatchTheDeclarations(file: String, document: String) throws {
        let committed = try String(contentsOf: repository.appendingPathComponent(file), encoding: .utf8)
        let generated = document == "schema" ? ConfigDocuments.schemaJSON : ConfigDocuments.exampleYAML
        #expect(
            committed == generated,
            "\(file) is out of date: regenerate it with `swift run vigil config-docs \(document) > \(file)`")
    }

    @Test func everySettingIsDeclaredOnceWithADoc() {
        let paths = DaemonConfig.settings.settings.map(\.path)
        #expect(Set(paths).count == paths.count)
        #expect(DaemonConfig.settings.settings.allSatisfy { !$0.doc.isEmpty })
    }

    /// A record keeps its values as text, so a record key of any other type could never be read.
    @Test func everyRecordKeyIsReadAsOneString() {
        let recordKeys = DaemonConfig.settings.settings.flatMap { setting -> [SettingType.RecordField] in
            if case .records(let fields) = setting.type { fields } else { [] }
        }
        #expect(!recordKeys.isEmpty)
        for field in recordKeys {
            switch field.type {
            case .text, .choice, .filePath: continue
            default: Issue.record("record key \(field.name) is of type \(field.type), which is not read as text")
            }
        }
    }

    @Test func wrongTypesOfEveryKindAreLocated() {
        let yaml = """
            geo: {city_db: [a], reload_check_interval: 5}
            reputation: {asn: [1], cidr_lists: {path: a}}
            engine: {signals: {impossible_travel: {max_speed_kmh: fast}}}
            policy: {roles: {admin: {low: maybe}}, oidc: {acr_soft: {a: 1}}}
            kafka: {input_topics: [a, [b]], properties: {linger.ms: [5]}}
            logging: {format: xml}
            """
        #expect(
            problems(yaml) == [
                "geo.city_db (line 1): expected a file path, got a list",
                #"geo.reload_check_interval (line 1): expected a duration with a unit (250ms, 90s, 5m, 24h, 30d), got "5""#,
                "reputation.asn (line 2): expected a mapping, got a list",
                "reputation.cidr_lists (line 2): expected a list of {path, category}, got a mapping",
                #"engine.signals.impossible_travel.max_speed_kmh (line 3): expected a number, got "fast""#,
                #"policy.roles.admin.low (line 4): must be one of allow, step_up_soft, step_up_hard, deny, got "maybe""#,
                "policy.oidc.acr_soft (line 4): expected a string, got a mapping",
                "kafka.input_topics[1] (line 5): expected a string, got a list",
                "kafka.properties.linger.ms (line 5): expected a string, got a list",
                #"logging.format (line 6): must be one of text, json, got "xml""#,
            ])
    }

    @Test func outOfRangeValuesOfEveryKind() {
        let yaml = """
            engine:
              signals: {impossible_travel: {max_speed_kmh: 0.5}}
              allowed_lateness: 25h
            policy: {saml: {soft: ""}}
            geo: {city_db: ""}
            """
        #expect(
            problems(yaml) == [
                "engine.signals.impossible_travel.max_speed_kmh (line 2): must be between 1.0 and 10000.0, got 0.5",
                "engine.allowed_lateness (line 3): must be at least 0s and at most 1d, got 25h",
                "policy.saml.soft (line 4): must not be empty",
                "geo.city_db (line 5): must not be empty",
            ])
    }

    @Test func restartOnlyDiffFollowsTheTable() {
        let defaults = DaemonConfig()
        for setting in DaemonConfig.settings.settings {
            var changed = defaults
            _ = setting.store(&changed, Self.otherValue(setting.value(defaults)))
            #expect(setting.value(changed) != setting.value(defaults), "\(setting.path)")
            let diff = DaemonConfig.settings.restartOnlyChanges(from: defaults, to: changed)
            #expect(diff == (setting.reload == .restart ? [setting.path] : []), "\(setting.path)")
            let adopted = DaemonConfig.settings.adoptingLiveSettings(of: changed, into: defaults)
            #expect(adopted == (setting.reload == .live ? changed : defaults), "\(setting.path)")
        }
    }

    /// A value of the same kind that differs from `value`.
    private static func otherValue(_ value: SettingValue) -> SettingValue {
        switch value {
        case .integer(let number): .integer(number + 1)
        case .number(let number): .number(number + 1)
        case .boolean(let flag): .boolean(!flag)
        case .duration(let duration): .duration(EventDuration(microseconds: duration.microseconds + 1))
        case .text(let text) where ["allow", "step_up_soft", "step_up_hard", "deny"].contains(text):
            .text(text == "deny" ? "allow" : "deny")
        case .text(let text) where ["text", "json"].contains(text): .text(text == "text" ? "json" : "text")
        case .text(let text) where ["auto", "opaque"].contains(text): .text(text == "auto" ? "opaque" : "auto")
        case .text(let text) where ["low", "medium", "high"].contains(text): .text(text == "high" ? "medium" : "high")
        case .text(let text): .text(text + "x")
        case .null: .text("/somewhere")
        case .textList(let list): .textList(list + ["other"])
        case .textMap(let map): .textMap(map.merging(["64500": "vigil"]) { $1 })
        case .records(let records):
            .records(
                records + [
                    [
                        "path": "/list.txt", "category": "x", "algorithm": "ES256", "url": "https://r.example/push",
                        "authorization": "",
                    ]
                ])
        }
    }

    @Test func policyVersionIgnoresTheCheckoutPathButNotListContent() throws {
        let config = "reputation:\n  cidr_lists: [{path: lists/tor.txt, category: tor}]\n"
        func install(_ list: String) throws -> String {
            let directory = try TestPaths.temporaryDirectory("policy-version")
            try FileManager.default.createDirectory(
                at: directory.appendingPathComponent("lists"), withIntermediateDirectories: true)
            try list.write(to: directory.appendingPathComponent("lists/tor.txt"), atomically: true, encoding: .utf8)
            let file = directory.appendingPathComponent("vigil.yaml")
            try config.write(to: file, atomically: true, encoding: .utf8)
            return try ConfigLoader.load(path: file.path).policyVersion
        }
        let here = try install("192.0.2.0/24\n")
        let there = try install("192.0.2.0/24\n")
        let edited = try install("192.0.2.0/24\n198.51.100.7/32\n")
        #expect(here == there)
        #expect(edited != here)
        #expect(here.count == 16)
    }

    private func problems(_ yaml: String) -> [String] {
        do {
            _ = try ConfigLoader.parse(yaml: yaml, baseDirectory: "/etc/vigil")
            return []
        } catch {
            return error.problems.map(\.description)
        }
    }
}
