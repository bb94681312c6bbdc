import Foundation
import Testing
import VigilTestSupport
import _VigilMachinery

@testable import VigilCore

/// Reason details are values formatted only when written out; the text must stay what decisions
/// carried when it was built by interpolation in the signals.
@Suite struct ReasonDetailTests {
    static let london = GeoLocation(countryCode: "GB", city: "London")
    static let longAction = String(repeating: "x", count: 70) + "\""

    static let cases: [(ReasonDetail, String)] = [
        (.text("free \"text\"\n"), "free \"text\"\n"),
        (.compromisedCredential, "credential flagged as compromised by the breach feed"),
        (
            .impossibleTravel(
                from: london, to: GeoLocation(countryCode: "CN"), adjustedDistanceKm: 8123, elapsedSeconds: 3600,
                speedKmh: 8123),
            "London, GB → CN: 8123 km after accuracy radii in 60m, 8123 km/h"
        ),
        (
            .impossibleTravel(
                from: GeoLocation(city: "Paris"), to: nil, adjustedDistanceKm: 0, elapsedSeconds: 59.4, speedKmh: -1),
            "Paris → unknown location: 0 km after accuracy radii in 59s, -1 km/h"
        ),
        (
            .travelNotAssessed(from: nil, previousAnonymity: [.vpn, .torExit]),
            "travel from unknown location not assessed: previous login via anonymous IP (vpn,tor_exit)"
        ),
        (.anonymousSource([.anonymous, .hosting]), "source is anonymous,hosting"),
        (.addressListed(categories: ["bad", "tor"]), "address listed as bad,tor"),
        (.networkListed(number: 64496, categories: ["hosting"]), "AS64496 listed as hosting"),
        (.firstLogin(seen: 2, required: 5), "no baseline yet: 2 of 5 successful logins seen"),
        (.noDeviceID, "no device id supplied"),
        (.deviceNotSeen(within: .days(90)), "device not seen for this user in 90 days"),
        (.newCountry("FR"), "first login from FR"),
        (.newNetwork(number: 64496, organization: "Example \"Net\""), "first login from AS64496 (Example \"Net\")"),
        (.newNetwork(number: 4_294_967_295, organization: nil), "first login from AS4294967295"),
        (.failedAttempts(count: 5, windowSeconds: 600), "5 failed attempts in 10m"),
        (.sourceSpraying(users: 20, windowSeconds: 119.6), "source failed for 20 users in 2m"),
        (.pushBurst(pushes: 3, failures: 4, windowSeconds: 7200), "3 pushes sent, 4 denied or unanswered in 2h"),
        (.recentPasswordReset(secondsAgo: 172_800), "password reset 2d ago"),
        (.recentPasswordReset(secondsAgo: 172_799), "password reset 47h ago"),
        (
            .unknownSensitiveAction(longAction),
            "unrecognised sensitive action \"" + String(repeating: "x", count: 64) + "\""
        ),
    ]

    @Test func textMatchesTheInterpolatedForm() {
        for (detail, text) in Self.cases {
            #expect(Reason(signal: .newDevice, points: 1, details: detail).detail == text)
        }
    }

    @Test func jsonIsTheEscapedText() {
        for (detail, text) in Self.cases {
            var pieces = JSONWriter()
            pieces.beginString()
            detail.write(to: &pieces)
            pieces.endString()
            var whole = JSONWriter()
            whole.string(text)
            let piecewise = String(decoding: pieces.finish(), as: UTF8.self)
            let direct = String(decoding: whole.finish(), as: UTF8.self)
            #expect(piecewise == direct)
        }
    }

    @Test func decisionEncoderWritesTheDetailText() throws {
        let decision = Decision(
            decisionID: "d", eventID: "e", eventType: .login, userID: "u", role: .standard, tenant: nil,
            time: Timestamp(seconds: 0), action: .allow, factors: [], score: 10, level: .low,
            reasons: [
                Reason(signal: .newCountry, points: 10, details: .newNetwork(number: 1, organization: "A \"B\""))
            ],
            rules: [], policyVersion: "v", expiresAt: Timestamp(seconds: 60))
        let json = String(decoding: DecisionEncoder(policy: PolicySettings()).encode(decision), as: UTF8.self)
        #expect(
            json.contains(
                #""reasons":[{"signal":"new_country","points":10,"detail":"first login from AS1 (A \"B\")"}]"#))
    }

    /// The decision schema names every signal a reason can carry, in declaration order, and no other.
    @Test func theDecisionSchemaNamesEverySignal() throws {
        let url = TestPaths.packageRoot.appendingPathComponent("schemas/decision.schema.json")
        let text = try String(contentsOf: url, encoding: .utf8)
        let start = try #require(text.range(of: #""signal": {"enum": ["#))
        let end = try #require(text[start.upperBound...].firstIndex(of: "]"))
        let names = text[start.upperBound..<end].split(separator: ",").map {
            $0.trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
        }
        #expect(names == SignalName.allCases.map(\.rawValue))
    }
}
