import Testing
import VigilCore

@testable import VigilWorkload

/// A geo lookup answering from the pool itself, so tests need no database file: the hosting network is
/// one autonomous system.
private struct PoolLookup: GeoLookup {
    var table: [IPAddress: GeoLocation] = [:]
    var hosting: Set<IPAddress>

    init(_ pool: IPPool) {
        hosting = Set(pool.hostingNetwork)
        for location in pool.locations {
            for address in location.addresses {
                table[address] = GeoLocation(
                    countryCode: location.countryCode, city: location.city, latitude: location.latitude,
                    longitude: location.longitude, accuracyRadiusKm: 20)
            }
        }
    }

    func lookup(_ address: IPAddress) -> IPIntelligence {
        IPIntelligence(
            location: table[address], network: hosting.contains(address) ? AutonomousSystem(number: 174) : nil)
    }
}

private func generate(_ configuration: WorkloadConfiguration, count: Int) -> [GeneratedEvent] {
    Array(TrafficGenerator(configuration: configuration, pool: .maxMindTestCity).prefix(count))
}

private func small(seed: UInt64 = 7, attackRate: Double = 0.001) -> WorkloadConfiguration {
    var configuration = WorkloadConfiguration()
    configuration.seed = seed
    configuration.users = 2_000
    configuration.attackRate = attackRate
    return configuration
}

@Suite struct TrafficGeneratorTests {
    @Test func sameSeedSameBytes() {
        let first = generate(small(), count: 5_000).map(\.bytes)
        #expect(first == generate(small(), count: 5_000).map(\.bytes))
        #expect(first != generate(small(seed: 8), count: 5_000).map(\.bytes))
    }

    @Test func everyEventDecodesInTimeOrderWithUniqueIDs() throws {
        let decoder = EventDecoder()
        var previous: Timestamp?
        var ids: Set<String> = []
        for event in generate(small(attackRate: 0.01), count: 30_000) {
            let decoded = try decoder.decode(event.bytes).get()
            #expect(decoded.type == event.type)
            #expect(decoded.time == event.time)
            #expect(decoded.user.id == event.key)
            #expect(ids.insert(decoded.eventID).inserted)
            if let previous { #expect(previous <= decoded.time) }
            previous = decoded.time
        }
    }

    @Test func malformedMessagesBecomeDeadLettersOnly() {
        var configuration = small()
        configuration.malformedRate = 0.05
        let decoder = EventDecoder()
        var malformed = 0
        for event in generate(configuration, count: 10_000) {
            let decodes = (try? decoder.decode(event.bytes).get()) != nil
            #expect(decodes == (event.type != nil))
            if event.type == nil { malformed += 1 }
        }
        // 5% of the steps; a step is 1.6 messages on average (logins bring their step-up's answer).
        #expect((200...450).contains(malformed))
    }

    /// The mix's shares hold for every event but the step-up answers (each other MFA result has its
    /// challenge); 97% of a person's successful logins have one.
    @Test func normalTrafficFollowsTheMix() {
        let events = generate(small(attackRate: 0), count: 60_000)
        let answers = events.count { $0.type == .mfaResult } - events.count { $0.type == .mfaChallenge }
        func share(_ types: EventType...) -> Double {
            let count = events.count { types.contains($0.type!) } - (types.contains(.mfaResult) ? answers : 0)
            return Double(count) / Double(events.count - answers)
        }
        let humanSuccesses = events.count {
            let text = String(decoding: $0.bytes, as: UTF8.self)
            return $0.type == .login && text.contains(#""outcome":"success""#) && !text.contains(#""role":"service""#)
        }
        #expect(abs(Double(answers) / Double(humanSuccesses) - 0.97) < 0.025)
        #expect(abs(share(.login) - 0.70) < 0.015)
        #expect(abs(share(.mfaChallenge, .mfaResult) - 0.20) < 0.015)
        #expect(abs(share(.passwordResetRequest, .passwordResetComplete) - 0.05) < 0.01)
        #expect(abs(share(.sensitiveAction) - 0.05) < 0.01)
        #expect(events.allSatisfy { $0.attack == nil })
    }

    @Test func loginsConcentrateInWorkingHours() throws {
        // One day of logins from the first pool city (Boxford, UTC+0): the hourly rate from 09:00 to
        // 17:00 UTC against the other 16 hours.
        var configuration = small(attackRate: 0)
        configuration.meanGap = EventDuration(microseconds: 2_000_000)
        let decoder = EventDecoder()
        var day = 0
        var night = 0
        for event in generate(configuration, count: 43_200) where event.type == .login {
            let decoded = try decoder.decode(event.bytes).get()
            guard decoded.ip.map({ IPPool.maxMindTestCity.locations[0].addresses.contains($0) }) == true else {
                continue
            }
            let hour = (decoded.time.microseconds / 3_600_000_000) % 24
            if (9..<17).contains(hour) { day += 1 } else { night += 1 }
        }
        #expect(Double(day) / 8 > 3 * Double(night) / 16, "day \(day), night \(night)")
    }

    @Test(arguments: AttackKind.allCases)
    func attackRaisesItsAlert(_ kind: AttackKind) {
        var configuration = small(attackRate: 0)
        configuration.meanGap = EventDuration(microseconds: 1_000_000)
        // Few enough users that the 5,000 events before the attack take its victim past learning (a
        // reset takeover alerts only against a baseline).
        configuration.users = 300
        var traffic = TrafficGenerator(configuration: configuration, pool: .maxMindTestCity)
        var pipeline = Pipeline(
            config: VigilConfig(), policyVersion: "test", enricher: Enricher(geo: PoolLookup(.maxMindTestCity)),
            deviceKey: .publicDefault)
        var output: [OutputMessage] = []
        let origin = MessageOrigin.file(path: "generated", line: 0)
        for _ in 0..<5_000 { pipeline.process(traffic.nextEvent().bytes, origin: origin, into: &output) }
        output.removeAll()
        traffic.inject(kind)
        var attackEvents = 0
        var attackDecisions: [String] = []
        var attackIDs: [String] = []
        var campaigns = Set<Int?>()
        var end: Timestamp?
        // The adaptive attacker waits for the victim's night, up to a day.
        let horizon: EventDuration = kind == .adaptiveLogin ? .hours(26) : .hours(3)
        while true {
            let event = traffic.nextEvent()
            let stop = end ?? event.time + horizon
            end = stop
            guard event.time < stop else { break }
            let before = output.count
            pipeline.process(event.bytes, origin: origin, into: &output)
            guard event.attack == kind else { continue }
            attackEvents += 1
            attackIDs.append(event.eventID)
            campaigns.insert(event.campaign)
            #expect(event.label == "attack:\(kind.rawValue)")
            attackDecisions += output[before...].filter { $0.stream == .decisions }.map(\.label)
        }
        #expect(attackEvents >= 1 && campaigns.count == 1 && campaigns.first! != nil)
        if let alert = kind.expectedAlert {
            // An alert of the kind that names one of the attack's events, not only one of the kind.
            #expect(
                output.contains { message in
                    message.stream == .alerts && message.label == alert.rawValue
                        && attackIDs.contains { String(decoding: message.payload, as: UTF8.self).contains("\"\($0)\"") }
                })
        } else {
            // A single login or three: each challenged.
            #expect(!attackDecisions.isEmpty && attackDecisions.allSatisfy { $0 != "allow" }, "\(attackDecisions)")
        }
    }

    @Test func samplingKeepsLocatedAddressesGroupedByCity() throws {
        // Even first octets are in one of three cities, odd ones are unknown.
        struct OctetLookup: GeoLookup {
            func lookup(_ address: IPAddress) -> IPIntelligence {
                let octet = address.ipv4Value! >> 24
                guard octet % 2 == 0 else { return .unknown }
                let city = Int(octet / 2 % 3)
                return IPIntelligence(
                    location: GeoLocation(
                        countryCode: "GB", city: "City \(city)", latitude: Double(city), longitude: 0,
                        accuracyRadiusKm: 5))
            }
        }
        let pool = try #require(IPPool.sample(from: OctetLookup(), addresses: 500, seed: 1))
        #expect(pool.addressCount == 500)
        #expect(Set(pool.locations.map(\.city)) == ["City 0", "City 1", "City 2"])
        for location in pool.locations {
            #expect(location.addresses.allSatisfy { OctetLookup().lookup($0).location?.city == location.city })
        }
    }

    @Test func samplingSetsAsideTheRequestedVPNExits() throws {
        struct EverywhereLookup: GeoLookup {
            func lookup(_ address: IPAddress) -> IPIntelligence {
                IPIntelligence(
                    location: GeoLocation(
                        countryCode: "GB", city: "Town", latitude: 1, longitude: 2, accuracyRadiusKm: 5))
            }
        }
        let pool = try #require(IPPool.sample(from: EverywhereLookup(), addresses: 100, seed: 3, vpnExits: 4))
        #expect(pool.vpnExits.count == 4)
        #expect(pool.addressCount == 100)
        #expect(Set(pool.vpnExits).isDisjoint(with: pool.locations.flatMap(\.addresses)))
    }

    @Test func vpnLoginsComeOnlyFromThePoolsExits() {
        var configuration = small()
        configuration.vpnUserShare = 0.5
        let events = generate(configuration, count: 20_000)
        let exits = Set(IPPool.maxMindTestCity.vpnExits.map(\.description))
        let cities = Set(IPPool.maxMindTestCity.locations.flatMap(\.addresses).map(\.description))
        var viaVPN = 0
        for event in events {
            let text = String(decoding: event.bytes, as: UTF8.self)
            guard event.attack == nil, event.type == .login,
                let start = text.firstRange(of: "\"ip\":\""), let end = text[start.upperBound...].firstIndex(of: "\"")
            else { continue }
            let ip = String(text[start.upperBound..<end])
            if exits.contains(ip) { viaVPN += 1 } else { #expect(cities.contains(ip), "\(ip)") }
        }
        #expect(viaVPN > 100)
    }

    @Test func randomIsUniformEnough() {
        var random = WorkloadRandom(seed: 42)
        var counts = [Int](repeating: 0, count: 10)
        for _ in 0..<100_000 { counts[random.below(10)] += 1 }
        #expect(counts.allSatisfy { (9_500...10_500).contains($0) })
    }
}

/// The same traffic in an identity provider's records: every record is read back by its adapter as the
/// canonical event's type, user, time and address, or skipped where the IdP has no such record (Keycloak
/// has no MFA events; Auth0 logs no unanswered push; Okta's challenge of a factor other than push is a
/// verification record Vigil skips; Entra's MFA challenge is the "MFA required" interrupt it skips, and its
/// answer a sign-in step that yields the challenge and the result).
@Suite struct IdPTrafficTests {
    @Test(arguments: [
        (InputFormat.keycloak, "CODE_TO_TOKEN", ""), (.auth0, "gd_start_auth", "auth0|"),
        (.okta, "user.authentication.verify", ""), (.entra, "SignInLogs:50074", ""),
    ])
    func everyRecordMapsBackToTheCanonicalEvent(format: InputFormat, skippedType: String, userPrefix: String) throws {
        var converted = small()
        converted.format = format
        let canonical = generate(small(), count: 3_000)
        let records = generate(converted, count: 3_000)
        var skipped = 0
        for (event, record) in zip(canonical, records) {
            let expected = try EventDecoder().decode(event.bytes).get()
            let decoded = try record.bytes.withUnsafeBytes { bytes in
                try RecordDecoder(format: format).decodeMessage(bytes)
            }
            #expect(decoded.count == 1)
            var result = try #require(decoded.first).result
            // An answer yields its challenge first: the answer is the event to compare.
            if case .success(.events(let events)) = result, let answer = events.last {
                result = .success(.event(answer))
            }
            switch try result.get() {
            case .events(let events): Issue.record("several events: \(events)")
            case .skipped(let type):
                #expect(type == skippedType)
                #expect(expected.type == .mfaChallenge || expected.type == .mfaResult)
                skipped += 1
            case .event(let mapped):
                #expect(mapped.type == expected.type, "\(expected.eventID)")
                #expect(mapped.user.id == userPrefix + expected.user.id)
                #expect(mapped.user.emailDomain == expected.user.emailDomain)
                #expect(mapped.time == expected.time)
                #expect(mapped.ip == expected.ip)
                #expect(mapped.outcome == expected.outcome)
                // Okta's unanswered push is a failed answer (`VERIFICATION_ERROR`), and only a push can be
                // denied: a refused code is a failed one.
                let readAsFailure =
                    format == .okta
                    && (expected.mfa?.result == .timeout
                        || (expected.mfa?.result == .denied && expected.mfa?.factor.isPush == false))
                #expect(mapped.mfa?.result == (readAsFailure ? .failed : expected.mfa?.result))
            }
        }
        #expect(skipped > 0)
        #expect(skipped < records.count / 2)
    }
}
