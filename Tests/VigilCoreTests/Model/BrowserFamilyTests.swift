import Testing

@testable import VigilCore

/// User agents as browsers and clients send them, and the family each names.
@Suite struct BrowserFamilyTests {
    static let chrome =
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

    @Test(arguments: [
        (chrome, BrowserFamily.chrome),
        (chrome + " Edg/131.0.2903.86", .edge),
        (chrome + " OPR/114.0.0.0", .opera),
        (
            "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
            .samsungInternet
        ),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:133.0) Gecko/20100101 Firefox/133.0", .firefox),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/133.0 Mobile/15E148 Safari/605.1.15",
            .firefox
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
            .safari
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
            .chrome
        ),
        ("Mozilla/5.0 (Windows NT 10.0; Trident/7.0; rv:11.0) like Gecko", .internetExplorer),
        ("python-requests/2.31", .script), ("curl/8.5.0", .script), ("Go-http-client/2.0", .script),
        ("okhttp/4.12.0", .script), ("CHROME/1 PYTHON-REQUESTS/2", .chrome),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
            .script
        ),
        ("Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.22621.4391", .script),
        ("Mozilla/5.0 (X11; Linux x86_64)", .other), ("Okta", .unknown), ("", .unknown),
    ])
    func aUserAgentNamesItsFamily(agent: String, family: BrowserFamily) {
        #expect(BrowserFamily(userAgent: agent) == family, "\(agent)")
    }

    /// A product name longer than any in the table is no product of it, and never traps.
    @Test func longAndOddProductsAreOther() {
        #expect(BrowserFamily(userAgent: String(repeating: "x", count: 300) + "/1") == .other)
        #expect(BrowserFamily(userAgent: "/////") == .unknown)
        #expect(BrowserFamily(userAgent: "Chrome/") == .chrome)
    }
}
