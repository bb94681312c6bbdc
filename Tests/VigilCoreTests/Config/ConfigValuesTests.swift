import Testing

@testable import VigilCore

@Suite struct ConfigDurationTests {
    @Test(arguments: [
        ("250ms", EventDuration(microseconds: 250_000)), ("90s", .seconds(90)), ("5m", .minutes(5)),
        ("24h", .hours(24)), ("30d", .days(30)), ("0s", .seconds(0)), ("15us", EventDuration(microseconds: 15)),
    ])
    func parsesDurations(text: String, expected: EventDuration) {
        #expect(EventDuration(configString: text) == expected)
    }

    @Test(arguments: ["300", "", "5 m", "5M", "1.5h", "-5m", "m", "5mins", "9999999999999d"])
    func refusesMalformedDurations(text: String) {
        #expect(EventDuration(configString: text) == nil)
    }

    @Test func durationsRenderInTheirLargestExactUnit() {
        #expect(EventDuration.seconds(300).configString == "5m")
        #expect(EventDuration.minutes(60).configString == "1h")
        #expect(EventDuration.seconds(90).configString == "90s")
        #expect(EventDuration(microseconds: 1_500).configString == "1500us")
        #expect(EventDuration.seconds(0).configString == "0s")
    }
}

@Suite struct EngineSettingsTests {
    @Test func defaultsAreValid() {
        #expect(VigilConfig().validate() == [])
    }

    @Test func everyEngineSettingIsLiveAndDeclaredOnce() {
        let paths = VigilConfig.settings.settings.map(\.path)
        #expect(Set(paths).count == paths.count)
        // Campaign detection alone adds a stage and its topics to vigil run: switching it takes a restart.
        #expect(
            VigilConfig.settings.settings.allSatisfy { $0.reload == .live || $0.path == "engine.campaigns.enabled" })
        #expect(
            paths.allSatisfy {
                $0.hasPrefix("input.") || $0.hasPrefix("engine.") || $0.hasPrefix("policy.") || $0.hasPrefix("ssf.")
            })
    }
}
