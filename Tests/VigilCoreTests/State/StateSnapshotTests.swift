import Testing
import _VigilMachinery

@testable import VigilCore

/// The state's binary form: exact round trips, restores that continue exactly where the state was
/// written, no raw identifier in any byte, and refusal (never a trap) of every damaged input.
@Suite struct StateSnapshotTests {
    static let rawUser = "alice.raw-user-7f3a9c@example.org"
    static let rawDevice = "raw-device-9c1e55b2"
    /// Session ids start with it; only their keyed hashes may reach state.
    static let sessionPrefix = "raw-session-4b8d2e-"
    static let ipv6Source = "2001:db8:77:1::42"

    /// A stream touching every part of the state: learned users with anchors (IPv4 and IPv6), seen
    /// sets spilled to the heap, failures and credential stuffing from one source (source windows and
    /// holds), push bombing (rare part, holds), reset waves per source and email domain, impossible travel.
    static func events() -> [AuthEvent] {
        var events: [AuthEvent] = []
        var counter = 0
        // A successful login has a session; unless `verified` is false, a TOTP success of that session
        // follows it (the user passes the step-up), so the baseline learns it.
        func add(
            _ type: EventType, _ user: String, _ minutes: Double, ip: String? = Places.london, device: String? = nil,
            outcome: Outcome? = nil, mfa: MFA? = nil, domain: String? = nil, verified: Bool = true
        ) {
            counter += 1
            let session = type == .login && outcome == .success ? InputText("\(sessionPrefix)\(counter)") : nil
            events.append(
                AuthEvent(
                    eventID: "ev-\(counter)", type: type, time: EngineHarness.at(minutes),
                    user: User(id: user, emailDomain: domain), ip: ip.flatMap { IPAddress($0) },
                    device: device.map { Device(id: $0) }, outcome: outcome, mfa: mfa, sessionID: session))
            if let session, verified {
                events.append(
                    AuthEvent(
                        eventID: "ev-\(counter).mfa", type: .mfaResult, time: EngineHarness.at(minutes),
                        user: User(id: user), ip: ip.flatMap { IPAddress($0) },
                        mfa: MFA(factor: .totp, result: .approved), sessionID: session))
            }
        }
        for i in 0..<4 { add(.login, rawUser, Double(i), device: rawDevice, outcome: .success) }
        for i in 0..<6 { add(.login, "spilled", 5 + Double(i), ip: Places.boxford, device: "d\(i)", outcome: .success) }
        add(.login, "v6", 6, ip: ipv6Source, device: "p", outcome: .success)
        for i in 0..<16 { add(.login, "victim\(i % 6)", 10 + Double(i) * 0.1, ip: "203.0.113.9", outcome: .failure) }
        for i in 0..<6 { add(.mfaResult, rawUser, 20 + Double(i) * 0.5, mfa: MFA(factor: .push, result: .denied)) }
        for i in 0..<12 {
            add(.passwordResetRequest, "reset\(i)", 30 + Double(i) * 0.2, ip: "198.51.100.7", domain: "corp.example")
        }
        add(.login, rawUser, 40, ip: Places.changchun, device: rawDevice, outcome: .success)
        add(.login, "spilled", 45, ip: Places.milton, device: "d1", outcome: .success)
        add(.login, rawUser, 50, ip: Places.london, device: rawDevice, outcome: .success)
        add(.login, "v6", 52, ip: ipv6Source, device: "p", outcome: .success)
        for i in 0..<4 { add(.login, "late\(i)", 60 + Double(i), ip: Places.milton, device: "x", outcome: .failure) }
        // Left waiting for its MFA success: the state holds a pending login.
        add(.login, "spilled", 75, ip: Places.boxford, device: "d2", outcome: .success, verified: false)
        return events
    }

    static func engine(key: SipHashKey = .publicDefault, config: VigilConfig = VigilConfig()) -> RiskEngine {
        RiskEngine(config: config, policyVersion: "test", deviceKey: key)
    }

    static func feed(_ events: some Sequence<AuthEvent>, to engine: inout RiskEngine) -> [RiskEngine.Verdict] {
        let geo = Dictionary(uniqueKeysWithValues: Places.table.map { (IPAddress($0.key)!, $0.value) })
        return events.map { engine.process($0, intel: $0.ip.map { geo[$0] ?? .unknown }) }
    }

    static func built() -> RiskEngine {
        var engine = engine()
        _ = feed(events(), to: &engine)
        return engine
    }

    @Test func roundTripGivesTheSameStateAndBytes() throws {
        let original = Self.built()
        #expect(original.state.sources.count >= 3 && original.state.domains.count == 1)
        let bytes = original.stateSnapshot()
        var restored = Self.engine()
        let header = try restored.restoreState(snapshot: bytes)
        #expect(
            header.entryCount
                == 2 + original.state.global.occupiedSlots.count + original.state.userCount
                + original.state.sourceCount + original.state.domainCount + original.state.campaignCount)
        #expect(!original.state.global.occupiedSlots.isEmpty)
        #expect(restored.state.global == original.state.global)
        #expect(header.settingsDigest == VigilConfig().engine.stateDigest)
        #expect(restored.stateSnapshot() == bytes)
        var expected = original.figures
        var actual = restored.figures
        expected.approximateBytes = 0
        actual.approximateBytes = 0
        #expect(actual == expected)
    }

    @Test(arguments: [1, 11, 20, 33, 45, 50, 53, 68])
    func splitAtAnyPointGivesTheSameVerdictsAndState(split: Int) throws {
        let events = Self.events()
        #expect(events.count == 69)
        var whole = Self.engine()
        let expected = Self.feed(events, to: &whole)

        var first = Self.engine()
        var verdicts = Self.feed(events.prefix(split), to: &first)
        var second = Self.engine()
        try second.restoreState(snapshot: first.stateSnapshot())
        verdicts += Self.feed(events.dropFirst(split), to: &second)

        #expect(verdicts.map(\.decision) == expected.map(\.decision))
        #expect(verdicts.map(\.alerts) == expected.map(\.alerts))
        #expect(second.stateSnapshot() == whole.stateSnapshot())
    }

    @Test func learnedUserIsNotNewAfterARestore() throws {
        var engine = Self.engine()
        try engine.restoreState(snapshot: Self.built().stateSnapshot())
        let verdicts = Self.feed(
            [
                AuthEvent(
                    eventID: "after", type: .login, time: EngineHarness.at(76), user: User(id: Self.rawUser),
                    ip: IPAddress(Places.london), device: Device(id: Self.rawDevice), outcome: .success)
            ], to: &engine)
        #expect(verdicts[0].decision?.action == .allow)
        #expect(!verdicts[0].signals.contains(.firstLogin))
    }

    @Test func noRawIdentifierInAnyByte() {
        let bytes = Self.built().stateSnapshot()
        var needles: [[UInt8]] = [
            Array(Self.rawUser.utf8), Array(Self.rawDevice.utf8), Array("victim1".utf8), Array(Self.sessionPrefix.utf8),
        ]
        for text in [Places.london, Places.changchun, "203.0.113.9", "198.51.100.7", Self.ipv6Source] {
            let address = IPAddress(text)!
            needles.append(Array(text.utf8))
            needles.append(address.bytes)
            if let v4 = address.ipv4Value {
                needles.append(withUnsafeBytes(of: v4.bigEndian, Array.init))
                needles.append(withUnsafeBytes(of: v4.littleEndian, Array.init))
            } else {
                needles.append(Array(address.bytes.prefix(8)))
                needles.append(withUnsafeBytes(of: address.high.littleEndian, Array.init))
            }
        }
        for needle in needles {
            #expect(!Self.contains(bytes, needle), "\(needle) found in the snapshot")
        }
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        return (0...(haystack.count - needle.count)).contains { haystack[$0..<$0 + needle.count].elementsEqual(needle) }
    }

    @Test func everyTruncationIsCorrupt() {
        let bytes = Self.built().stateSnapshot()
        for length in 0..<bytes.count {
            #expect(throws: StateSnapshotError.self) {
                _ = try StateSnapshot.decode(Array(bytes.prefix(length)), keys: Self.keys, into: Self.empty)
            }
            if case .corrupt = Self.refusal(Array(bytes.prefix(length))) {
            } else {
                Issue.record("length \(length) not corrupt")
            }
        }
    }

    @Test func everyFlippedByteIsRefused() {
        let bytes = Self.built().stateSnapshot()
        for index in bytes.indices {
            var changed = bytes
            changed[index] ^= 0x5A
            switch Self.refusal(changed) {
            case .unknownVersion(let version): #expect(index == 8 && version == 1 ^ 0x5A)
            case .corrupt: #expect(index != 8)
            case .foreignKey, nil: Issue.record("byte \(index) flipped: \(String(describing: Self.refusal(changed)))")
            }
        }
    }

    /// Past the checksum: each entry value mutated (bytes flipped, cut, counts raised) and decoded on
    /// its own must be applied or refused with a `StateDecodingError`, never trap.
    @Test func mutatedEntriesNeverTrap() throws {
        let engine = Self.built()
        let codec = StateEntryCodec(keys: engine.keys)
        var values: [(StateEntryKey, [UInt8])] = [
            (StateEntryKey(kind: .shard, hash: 0), codec.encodeShard(engine.state, appliedOffset: 7)),
            (StateEntryKey(kind: .names, hash: 0), codec.encodeNames(engine.state.names, appliedOffset: 7)),
        ]
        engine.state.users.forEach { key, user in
            values.append(
                (
                    StateEntryKey(kind: .user, hash: key),
                    codec.encodeUser(user, names: engine.state.names, appliedOffset: 7)
                ))
        }
        for (key, source) in engine.state.sources {
            values.append((StateEntryKey(kind: .source, hash: key), codec.encodeSource(source, appliedOffset: 7)))
        }
        for (key, domain) in engine.state.domains {
            values.append((StateEntryKey(kind: .domain, hash: key), codec.encodeDomain(domain, appliedOffset: 7)))
        }
        #expect(!engine.state.campaigns.isEmpty)
        for (key, campaign) in engine.state.campaigns {
            values.append((StateEntryKey(kind: .campaign, hash: key), codec.encodeCampaign(campaign, appliedOffset: 7)))
        }
        for slot in engine.state.global.occupiedSlots {
            values.append(
                (
                    StateEntryKey(kind: .globalBucket, hash: UInt64(slot)),
                    codec.encodeBucket(engine.state.global.bucket(atSlot: slot)!, appliedOffset: 7)
                ))
        }
        var random = SplitMix64(seed: 42)
        var refused = 0
        var applied = 0
        for (key, value) in values {
            var state = Self.empty
            #expect(try codec.apply(key: key, value: value, to: &state) == 7)
            for round in 0..<300 {
                var mutated = value
                switch round % 3 {
                case 0:
                    mutated[Int(random.next() % UInt64(mutated.count))] ^= UInt8(truncatingIfNeeded: random.next() | 1)
                case 1: mutated.removeLast(1 + Int(random.next() % UInt64(mutated.count)))
                default: for _ in 0..<4 { mutated[Int(random.next() % UInt64(mutated.count))] = 0xFF }
                }
                var target = Self.empty
                do {
                    try codec.apply(key: key, value: mutated, to: &target)
                    applied += 1
                } catch {
                    refused += 1
                }
            }
        }
        #expect(refused > applied)
    }

    @Test func namedErrorsForInvalidFields() {
        let engine = Self.built()
        let codec = StateEntryCodec(keys: engine.keys)
        var state = Self.empty
        let userKey = StateEntryKey(kind: .user, hash: 1)
        var user = UserState(lastSeen: EngineHarness.at(0))
        user.holds.hold(.pushBombing, until: EngineHarness.at(1))
        user.failures.record(EngineHarness.at(1), eventID: "a", capacity: 5)
        user.failures.record(EngineHarness.at(2), eventID: "b", capacity: 5)
        let good = codec.encodeUser(user, names: engine.state.names, appliedOffset: -1)

        var version = good
        version[0] = 9
        #expect(throws: StateDecodingError.unknownEntryVersion(9)) {
            try codec.apply(key: userKey, value: version, to: &state)
        }
        #expect(throws: StateDecodingError.unknownEntryKind(77)) {
            _ = try StateEntryKey(bytes: [77, 0, 0, 0, 0, 0, 0, 0, 0])
        }
        #expect(throws: StateDecodingError.truncated(field: "user last seen")) {
            try codec.apply(key: userKey, value: Array(good.prefix(16)), to: &state)
        }

        // Layout: version, fingerprint, offset, last seen, logins, three empty seen kinds, no anchor, rare
        // part: two absent times, then the failures window (count, time, id length, id, ...).
        let failures = 1 + 4 + 8 + 8 + 4 + 12 + 1 + 1 + 2
        var order = good
        // The first entry's time a day later: after the second.
        let first = (0..<8).reduce(Int64(0)) { $0 | Int64(order[failures + 4 + $1]) << (8 * $1) } + 86_400_000_000
        for index in 0..<8 { order[failures + 4 + index] = UInt8(truncatingIfNeeded: first >> (8 * index)) }
        #expect(throws: StateDecodingError.outOfOrder(field: "user failures")) {
            try codec.apply(key: userKey, value: order, to: &state)
        }
        // A forged time beyond the year 9999 would make every later event late: refused, never applied.
        var future = good
        future[failures + 11] = 0x7F
        let refused = #expect(throws: StateDecodingError.self) {
            try codec.apply(key: userKey, value: future, to: &state)
        }
        #expect(refused?.description.hasSuffix("is outside the years 1970–9999") == true)
        var many = good
        many[failures + 3] = 0x7F
        #expect(
            throws: StateDecodingError.tooMany(
                field: "user failures", count: 0x7F00_0002, limit: StateLimits.maxWindowEntries)
        ) {
            try codec.apply(key: userKey, value: many, to: &state)
        }
        var kind = good
        kind[good.count - 9] = 200  // the hold's alert kind (a version-1 value: no risk fields after it)
        #expect(
            throws: StateDecodingError.invalidValue(
                field: "user holds", detail: "alert kind 200, expected below \(AlertKind.allCases.count)")
        ) {
            try codec.apply(key: userKey, value: kind, to: &state)
        }
        #expect(throws: StateDecodingError.trailingBytes(count: 1)) {
            try codec.apply(key: userKey, value: good + [0], to: &state)
        }
    }

    /// A campaign entry's baseline, sketch, slot and intervals are checked before any is kept: a forged
    /// NaN or negative mean would make every later slot a spike (or none), and an entry of a version before
    /// campaigns existed is no campaign.
    @Test func campaignEntriesRefuseWhatNoEngineWrites() {
        let codec = StateEntryCodec(keys: Self.built().keys)
        let key = StateEntryKey(kind: .campaign, hash: 3)
        var campaign = CampaignState(lastSeen: EngineHarness.at(0), length: .hours(1))
        campaign.current.counts.failures = 5
        campaign.baseline = [Float](repeating: 1, count: 24 * CampaignMetric.allCases.count * 2)
        campaign.foldedSlots = 48
        campaign.stuffing = CampaignInterval(start: EngineHarness.at(1), until: EngineHarness.at(121))
        var previous = CampaignState.SlotTally()
        previous.counts.resets = 2
        previous.users.insert(11)
        campaign.previous = previous
        let good = codec.encodeCampaign(campaign, appliedOffset: 7)
        var state = Self.empty
        #expect(throws: Never.self) { try codec.apply(key: key, value: good, to: &state) }
        #expect(state.campaigns[3] == campaign)

        // version, fingerprint, offset, last seen, slot, slot length, three counts, an empty sketch (count
        // 0), folded slots, then the baseline's count and values.
        let slot = 1 + 4 + 8 + 8
        let baseline = slot + 8 + 8 + 12 + 4 + 4
        for forged in [Float.nan, -1, .infinity] {
            var bytes = good
            let pattern = forged.bitPattern
            for index in 0..<4 { bytes[baseline + 4 + index] = UInt8(truncatingIfNeeded: pattern >> (8 * index)) }
            #expect(
                throws: StateDecodingError.invalidValue(field: "campaign baseline", detail: "\(forged) is no count")
            ) {
                try codec.apply(key: key, value: bytes, to: &state)
            }
        }
        var partial = good
        partial[baseline] = 7  // 7 values: no whole day of four metrics' means and deviations
        #expect(
            throws: StateDecodingError.invalidValue(
                field: "campaign baseline", detail: "7 values, expected 0 or 192 (24 slots a day)")
        ) {
            try codec.apply(key: key, value: partial, to: &state)
        }
        // A slot far beyond its entity's time (its start beyond the storable years) would overflow where
        // an alert names it; a slot length Vigil never allows, or that does not divide a day, is refused.
        var farSlot = good
        for index in 0..<8 { farSlot[slot + index] = index == 7 ? 0x10 : 0 }
        #expect(throws: StateDecodingError.self) { try codec.apply(key: key, value: farSlot, to: &state) }
        for length: Int64 in [0, -3_600_000_000, 7 * 60_000_000, 7_200_000_000 * 12] {
            var bytes = good
            for index in 0..<8 { bytes[slot + 8 + index] = UInt8(truncatingIfNeeded: length >> (8 * Int64(index))) }
            #expect(throws: StateDecodingError.self, "\(length)") {
                try codec.apply(key: key, value: bytes, to: &state)
            }
        }
        // Version 5 had no previous slot (its encoding ends where version 6's presence byte is): it restores
        // with that slot folded.
        var noPrevious = campaign
        noPrevious.previous = nil
        var version5 = codec.encodeCampaign(noPrevious, appliedOffset: 7)
        #expect(version5.last == 0)
        version5.removeLast()
        version5[0] = 5
        #expect(throws: Never.self) { try codec.apply(key: key, value: version5, to: &state) }
        #expect(state.campaigns[3] == noPrevious)
        var older = good
        older[0] = 4
        #expect(
            throws: StateDecodingError.invalidValue(
                field: "campaign entry", detail: "version 4, campaign entries start at version 5")
        ) {
            try codec.apply(key: key, value: older, to: &state)
        }
        var sketch = good
        sketch[baseline - 8] = 3  // a sketch of 3 registers
        #expect(throws: StateDecodingError.self) { try codec.apply(key: key, value: sketch, to: &state) }
        var backwards = campaign
        backwards.stuffing = CampaignInterval(start: EngineHarness.at(5), until: EngineHarness.at(1))
        #expect(
            throws: StateDecodingError.invalidValue(field: "campaign stuffing", detail: "ends before it starts")
        ) {
            try codec.apply(key: key, value: codec.encodeCampaign(backwards, appliedOffset: 7), to: &state)
        }
        #expect(throws: StateDecodingError.trailingBytes(count: 1)) {
            try codec.apply(key: key, value: good + [0], to: &state)
        }
    }

    @Test func foreignKeyIsRefused() {
        var other = Self.engine(key: SipHashKey(k0: 1, k1: 2))
        #expect(throws: StateSnapshotError.foreignKey) {
            try other.restoreState(snapshot: Self.built().stateSnapshot())
        }
        #expect(other.state.userCount == 0)
    }

    @Test func settingsDigestFollowsStateShapingSettingsOnly() {
        var config = VigilConfig()
        let base = config.engine.stateDigest
        config.policy.highFrom = 90
        config.engine.signals.newDevice.points = 1
        #expect(config.engine.stateDigest == base)
        config.engine.maxDevicesPerUser = 3
        #expect(config.engine.stateDigest != base)
    }

    @Test func addressCipherRoundTripsAndHides() {
        let cipher = AddressCipher(key: SipHashKey(k0: 3, k1: 4))
        for text in [Places.london, Self.ipv6Source, "0.0.0.0", "::"] {
            let address = IPAddress(text)!
            let (high, low) = cipher.encipher(address)
            #expect(cipher.decipher(high, low) == address)
            #expect(high != address.high && low != address.low)
        }
    }

    static let keys = EngineKeys(secret: .publicDefault)
    static var empty: ShardState { ShardState(allowedLateness: .minutes(5), globalWindow: .minutes(15)) }

    static func refusal(_ bytes: [UInt8]) -> StateSnapshotError? {
        do {
            _ = try StateSnapshot.decode(bytes, keys: keys, into: empty)
            return nil
        } catch {
            return error
        }
    }
}
