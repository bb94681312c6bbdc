import Testing

@testable import VigilCore

/// User agents as browsers and apps send them, and the system each names.
@Suite struct OSFamilyTests {
    @Test(arguments: [
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
            OSFamily.windows
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
            .macOS
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
            .iOS
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0 Mobile Safari/537.36",
            .android
        ),
        (
            "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
            .chromeOS
        ),
        ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", .linux),
        ("Okta Verify/9.30.0 (iOS 17.5; iPhone15,2)", .iOS),
        ("MOZILLA/5.0 (WINDOWS NT 10.0)", .windows),
        ("curl/8.5.0", .unknown), ("Mozilla/5.0 (compact; Windowsish)", .unknown), ("", .unknown),
        // Only the first comment names the platform: "(KHTML, like Gecko)" and later ones are not read.
        ("Mozilla/5.0 (Unknown) AppleWebKit (Windows; Android)", .unknown),
    ])
    func readsTheSystem(agent: String, expected: OSFamily) {
        #expect(OSFamily(userAgent: agent) == expected)
    }
}
