import _VigilMachinery

/// What a state entry holds. The raw value is the first byte of the entry's key.
public enum StateEntryKind: UInt8, Sendable, CaseIterable {
    /// One user's record (baseline, last login, seen sets, rarely used windows and holds).
    case user = 1
    /// One source address's (IPv6: /64's) cross-user windows.
    case source = 2
    /// One email domain's cross-user windows.
    case domain = 3
    /// The shard-wide scalars: watermark, sweep schedule, counters, the global window's length and
    /// newest bucket (its buckets are entries of their own).
    case shard = 4
    /// The shard's interned city and AS organisation names in id order, so a restore keeps their ids
    /// (snapshots only: user entries carry their names as strings and stand alone without it).
    case names = 5
    /// One slot of the global windows' ring; the key's hash is the slot number (0..<60).
    case globalBucket = 6
    /// Opens a changelog flush; its applied offset is the flush's stamp (changelog only, hash 0).
    case flushBegin = 7
    /// Closes a changelog flush: the shard's state up to its stamp is all in the changelog before it
    /// (changelog only, hash 0).
    case checkpoint = 8
    /// The decode stage's newest accepted event time for one input partition, which its lateness
    /// verdicts trail (changelog only, hash 0, scoped by the input topic: `DecodeStage.changelogRecord`).
    case decodeWatermark = 9
    /// One autonomous system's or tenant's campaign windows and baseline (format version 5).
    case campaign = 10
}

/// The key of a state entry: the kind byte, then the keyed hash the state already uses (little endian;
/// the slot number for a global bucket, 0 for the other shard-wide entries and the changelog markers).
/// Raw user ids, device ids and addresses never appear in it.
public struct StateEntryKey: Sendable, Hashable {
    /// Every key is this long: the kind byte and the 8-byte hash.
    public static let byteCount = 9

    /// What the entry holds.
    public var kind: StateEntryKind
    /// The keyed hash the state indexes the record by; the slot of a global bucket; else 0.
    public var hash: UInt64

    /// The key of the record of `kind` at `hash`.
    public init(kind: StateEntryKind, hash: UInt64) {
        self.kind = kind
        self.hash = hash
    }

    /// The key as stored: `byteCount` bytes.
    public var bytes: [UInt8] {
        var writer = StateWriter()
        writer.u8(kind.rawValue)
        writer.u64(hash)
        return writer.bytes
    }

    /// A key read back from its stored bytes; throws unless they are exactly `byteCount` of a known kind.
    public init(bytes: [UInt8]) throws(StateDecodingError) {
        guard bytes.count == Self.byteCount else {
            throw .invalidValue(field: "entry key", detail: "\(bytes.count) bytes, expected \(Self.byteCount)")
        }
        var reader = StateReader(bytes)
        try self.init(reading: &reader)
    }

    init(reading reader: inout StateReader) throws(StateDecodingError) {
        let raw = try reader.u8("entry kind")
        guard let kind = StateEntryKind(rawValue: raw) else { throw .unknownEntryKind(raw) }
        self.kind = kind
        self.hash = try reader.u64("entry key hash")
    }
}

/// Encodes and decodes the entries of one shard's state: the unit of a snapshot and of a changelog
/// record. Every value starts with its format version, the low 32 bits of the key fingerprint
/// (`EngineKeys.fingerprint`: a record written under another secret holds hashes that never match, so
/// it is refused on its own, without a snapshot header around it) and the input offset of the last
/// event applied to the entry (-1 when unknown, as in replay), so a restore can skip input the entry
/// already reflects. The last login's address is enciphered (`AddressCipher`); every other identifier
/// is already a keyed hash in memory. Integers are little endian; strings a `UInt32` length and UTF-8.
///
/// Value layout, format version 5 (byte counts; `n` a count, `s` a string). Version 1 lacks the rare part's
/// risk fields (a user of version 1 was never signalled), version 2 its verification lists (a user of
/// version 2 has no login waiting for verification and no MFA success waiting for its login), version 3
/// the login model's profile and a waiting login's features (a user of version 3 has an empty profile; its
/// waiting logins teach the profile their hour only). Every value is written in the oldest version that
/// holds it, so a Vigil that reads only version 1 can take the state back unless Shared Signals raised a
/// user's level, a login waits for its MFA success, an MFA success for its login, or the user has a profile:
///
/// | kind | fields |
/// |---|---|
/// | every | version 1 · key fingerprint 4 · applied offset 8 |
/// | user | last seen 8 · successful logins 4 · seen devices, countries, networks: 3 × (4 + n × (key 8 + last seen 8)) · anchor? 1 · rare? 1 |
/// | anchor | time 8 · event id s · anonymity 1 · presence 1 · latitude, longitude (1e-7°), radius, ASN 4 each · country 4 or name · city name · organisation name · enciphered address 16 |
/// | name | tag 1 (0 none, 1 did not fit the table, 2 given) · the name s when given |
/// | rare | last reset? 1 (+8) · push bombing until? 1 (+8) · failures, pushes sent, push failures, reset requests: 4 × event window · holds · signalled risk 1 · raised risk? 1 (+ level 1 · until 8) (version 2) · pending logins: 4 + n × pending login · remembered MFA successes: 4 + n × (time 8 · links · origin) (version 3) |
/// | user, version 4 | after the rare part: profile? 1 (+ hour counts 8 + 8 · address blocks 8 · cities 4 · browsers 2 · systems 1 · logins 1) |
/// | pending login | time 8 · links · origin · score 1 · device?, replaced device?, country?, network?: 4 × (1 + 8) · anchor? 1 · (version 4) features: hour of week 1 · address block 2 · city 2 · browser 1 · system 1 |
/// | links | session, correlation, challenge hashes: 3 × 8 (0: absent) |
/// | origin | source key, network, device key: 3 × 8 (0: unknown) |
/// | event window | 4 + n × (time 8 + event id s) |
/// | distinct window | 4 + n × (key hash 8 + time 8 + event id s) |
/// | holds | 4 + n × (alert kind 1, its index in `AlertKind.allCases` · until 8) |
/// | source | last seen 8 · failures event window · failing users, reset accounts: distinct windows · holds |
/// | domain | last seen 8 · reset accounts distinct window · holds |
/// | campaign (versions 5, 6) | last seen 8 · slot 8 · slot length (µs) 8 · slot counts · folded slots 4 · baseline: 4 + n × float 4 · stuffing?, reset wave?: 2 × (1 + start 8 + until 8) · from version 6: previous slot? 1 (+ slot counts) |
/// | slot counts | failures, unknown-user failures, resets: 4 each · users sketch: 4 + 0 or 1,024 registers |
/// | shard | newest event? 1 (+8) · next sweep? 1 (+8) · next rare sweep? 1 (+8) · counters · global window 8 · newest bucket? 1 (+8) · input marks: 4 + n × (partition hash 8 · offset 8), absent in entries written before them |
/// | counters | late, evicted users, evicted sources, dropped at capacity: 8 each |
/// | global bucket | number 8 · failures 8 · resets 8 · 4 + 0 or 1,024 sketch registers |
/// | names | 4 + n × s, in id order |
/// | flush begin | counters offset 8 · counters (the shard's as of that input offset) |
/// | checkpoint | settings digest 8 (`EngineSettings.stateDigest`) |
///
/// A flush begin carries the counters so that a restore from a flush cut short still ends with the
/// counters of the uninterrupted run (`ReplayGuard`): as of the flush's stamp, or as of a further
/// offset a restore found and the input has not passed again yet.
///
/// Decoding validates every field (lengths, counts against `StateLimits` and the engine's own caps,
/// enum raw values and flag bits, time order of windows) and throws a `StateDecodingError` naming the
/// field; it never traps on any input.
struct StateEntryCodec {
    static let formatVersion: UInt8 = 6
    /// The version campaign entries are written in: 5 introduced them, 6 added the previous slot.
    static let campaignVersion: UInt8 = 6
    /// The first version with campaign entries.
    static let firstCampaignVersion: UInt8 = 5
    /// Baseline values a campaign entry may hold: 5-minute slots, four metrics, mean and deviation.
    static let maxBaselineValues = 288 * 4 * 2
    /// The first format, still written for every value that needs nothing newer.
    static let firstVersion: UInt8 = 1
    /// The versions a restore reads: every one since the first, so an upgrade keeps its state.
    static let readableVersions: ClosedRange<UInt8> = firstVersion...formatVersion
    /// Input partitions a stage shard may keep a mark for: far above any real input's partition count.
    static let maxInputMarks = 65_536

    let cipher: AddressCipher
    /// The low 32 bits of the key fingerprint every value carries.
    let fingerprint: UInt32

    init(keys: EngineKeys) {
        cipher = AddressCipher(key: keys.stateAddress)
        fingerprint = UInt32(truncatingIfNeeded: keys.fingerprint)
    }

    // MARK: Encoding

    func encodeUser(_ user: UserState, names: NameTable, appliedOffset: Int64) -> [UInt8] {
        // The oldest version that holds the user: 4 with a profile or a login waiting (whose features
        // version 3 lacks), 3 with remembered MFA successes, 2 with a risk Shared Signals raised or
        // signalled, else 1.
        let version: UInt8 =
            if !user.profile.isEmpty || user.rare?.pendingLogins.isEmpty == false {
                4
            } else if let rare = user.rare, !rare.verifiedLinks.isEmpty {
                3
            } else if let rare = user.rare, rare.signalledRisk != .low || rare.raisedRisk != nil {
                2
            } else {
                Self.firstVersion
            }
        var out = header(appliedOffset, version: version, reserving: Self.userBytesHint(user))
        out.time(user.lastSeen)
        out.u32(user.successfulLogins)
        for kind in SeenSets.Kind.allCases {
            out.count(user.seen.count(kind))
            user.seen.forEachEntry(kind) { entry in
                out.u64(entry.key)
                out.time(entry.lastSeen)
            }
        }
        out.bool(user.anchor != nil)
        if let anchor = user.anchor { encodeAnchor(anchor, names: names, into: &out) }
        out.bool(user.rare != nil)
        if let rare = user.rare {
            out.optionalTime(rare.lastResetCompleted)
            out.optionalTime(rare.pushBombingUntil)
            // One call each, not a loop over an array literal: that would allocate and copy the windows.
            encodeWindow(rare.failures, into: &out)
            encodeWindow(rare.pushesSent, into: &out)
            encodeWindow(rare.pushFailures, into: &out)
            encodeWindow(rare.resetRequests, into: &out)
            encodeHolds(rare.holds, into: &out)
            if version >= 2 {
                out.u8(UInt8(rare.signalledRisk.index))
                out.bool(rare.raisedRisk != nil)
                if let raised = rare.raisedRisk {
                    out.u8(UInt8(raised.level.index))
                    out.time(raised.until)
                }
            }
            if version >= 3 {
                out.count(rare.pendingLogins.count)
                for login in rare.pendingLogins {
                    out.time(login.time)
                    encodeLinks(login.links, into: &out)
                    encodeOrigin(login.origin, into: &out)
                    out.u8(login.score)
                    out.optionalU64(login.device)
                    out.optionalU64(login.replacedDevice)
                    out.optionalU64(login.country)
                    out.optionalU64(login.network)
                    out.bool(login.anchor != nil)
                    if let anchor = login.anchor { encodeAnchor(anchor, names: names, into: &out) }
                    if version >= 4 {
                        let features = login.features
                        out.u8(UInt8(features.hourOfWeek))
                        out.u16(features.network)
                        out.u16(features.city)
                        out.u8(features.browser.rawValue)
                        out.u8(features.system.rawValue)
                    }
                }
                out.count(rare.verifiedLinks.count)
                for link in rare.verifiedLinks {
                    out.time(link.time)
                    encodeLinks(link.links, into: &out)
                    encodeOrigin(link.origin, into: &out)
                }
            }
        }
        if version >= 4 {
            let profile = user.profile
            out.bool(!profile.isEmpty)
            if !profile.isEmpty {
                out.u64(profile.hoursLow)
                out.u64(profile.hoursHigh)
                out.u64(profile.networks)
                out.u32(profile.cities)
                out.u16(profile.browsers)
                out.u8(profile.systems)
                out.u8(profile.logins)
            }
        }
        return out.bytes
    }

    func encodeSource(_ source: SourceState, appliedOffset: Int64) -> [UInt8] {
        let windowEntries =
            source.failures.entries.count + source.failingUsers.entries.count
            + source.resetAccounts.entries.count
        var out = header(appliedOffset, reserving: 64 + 64 * windowEntries)
        out.time(source.lastSeen)
        encodeWindow(source.failures, into: &out)
        encodeDistinct(source.failingUsers, into: &out)
        encodeDistinct(source.resetAccounts, into: &out)
        encodeHolds(source.holds, into: &out)
        return out.bytes
    }

    func encodeDomain(_ domain: DomainState, appliedOffset: Int64) -> [UInt8] {
        var out = header(appliedOffset)
        out.time(domain.lastSeen)
        encodeDistinct(domain.resetAccounts, into: &out)
        encodeHolds(domain.holds, into: &out)
        return out.bytes
    }

    func encodeCampaign(_ campaign: CampaignState, appliedOffset: Int64) -> [UInt8] {
        var out = header(
            appliedOffset, version: Self.campaignVersion,
            reserving: 112 + campaign.current.users.registerBytes.count
                + (campaign.previous?.users.registerBytes.count ?? 0) + 4 * campaign.baseline.count)
        out.time(campaign.lastSeen)
        out.i64(campaign.slot)
        out.i64(campaign.slotLength)
        encodeSlotTally(campaign.current, into: &out)
        out.u32(campaign.foldedSlots)
        out.count(campaign.baseline.count)
        for value in campaign.baseline { out.u32(value.bitPattern) }
        for interval in [campaign.stuffing, campaign.resetWave] {
            out.bool(interval != nil)
            if let interval {
                out.time(interval.start)
                out.time(interval.until)
            }
        }
        out.bool(campaign.previous != nil)
        if let previous = campaign.previous { encodeSlotTally(previous, into: &out) }
        return out.bytes
    }

    private func encodeSlotTally(_ tally: CampaignState.SlotTally, into out: inout StateWriter) {
        out.u32(tally.counts.failures)
        out.u32(tally.counts.unknownUserFailures)
        out.u32(tally.counts.resets)
        out.count(tally.users.registerBytes.count)
        out.bytes.append(contentsOf: tally.users.registerBytes)
    }

    func encodeShard(_ state: ShardState, appliedOffset: Int64) -> [UInt8] {
        var out = header(appliedOffset)
        out.optionalTime(state.watermark.maxEventTime)
        out.optionalTime(state.nextSweep)
        out.optionalTime(state.nextRareSweep)
        encodeCounters(state.counters, into: &out)
        out.i64(state.global.window.microseconds)
        out.bool(state.global.newestBucket != nil)
        if let newest = state.global.newestBucket { out.i64(newest) }
        out.count(state.inputMarks.count)
        for (partition, offset) in state.inputMarks.sorted(by: { $0.key < $1.key }) {
            out.u64(partition)
            out.i64(offset)
        }
        return out.bytes
    }

    func encodeBucket(_ bucket: GlobalWindows.Bucket, appliedOffset: Int64) -> [UInt8] {
        let registers = bucket.failingUsers.registerBytes
        var out = header(appliedOffset, reserving: 48 + registers.count)
        out.i64(bucket.number)
        out.i64(Int64(bucket.failures))
        out.i64(Int64(bucket.resetRequests))
        out.count(registers.count)
        out.bytes.append(contentsOf: registers)
        return out.bytes
    }

    func encodeFlushBegin(counters: StateCounters, countersStamp: Int64, stamp: Int64) -> [UInt8] {
        var out = header(stamp)
        out.i64(countersStamp)
        encodeCounters(counters, into: &out)
        return out.bytes
    }

    func encodeCheckpoint(settingsDigest: UInt64, stamp: Int64) -> [UInt8] {
        var out = header(stamp)
        out.u64(settingsDigest)
        return out.bytes
    }

    private func encodeCounters(_ counters: StateCounters, into out: inout StateWriter) {
        for counter in [
            counters.lateEvents, counters.evictedUsers, counters.evictedSources, counters.droppedAtCapacity,
        ] {
            out.i64(Int64(counter))
        }
    }

    func encodeNames(_ names: NameTable, appliedOffset: Int64) -> [UInt8] {
        var out = header(appliedOffset)
        let all = names.allNames
        out.count(all.count)
        for name in all { out.string(name) }
        return out.bytes
    }

    /// About what a user's value takes (an anchor with its names, the seen sets, room for a small rare
    /// part), so that most values are written without reallocating.
    private static func userBytesHint(_ user: UserState) -> Int {
        192 + 16 * user.seen.totalCount + (user.rare == nil ? 0 : 128)
    }

    private func header(
        _ appliedOffset: Int64, version: UInt8 = firstVersion, reserving capacity: Int = 64
    ) -> StateWriter {
        var out = StateWriter(reservingCapacity: capacity)
        out.u8(version)
        out.u32(fingerprint)
        out.i64(appliedOffset)
        return out
    }

    private func encodeAnchor(_ anchor: CompactAnchor, names: NameTable, into out: inout StateWriter) {
        out.time(anchor.time)
        out.eventID(anchor.eventID)
        out.u8(anchor.anonymity.rawValue)
        out.u8(anchor.presence.rawValue)
        out.i32(anchor.latitudeE7)
        out.i32(anchor.longitudeE7)
        out.i32(anchor.accuracyRadiusKm)
        out.u32(anchor.asn)
        if anchor.presence.contains(.packedCountry) { out.u32(anchor.country) }
        if anchor.presence.contains(.internedCountry) { encodeName(anchor.country, names: names, into: &out) }
        encodeName(anchor.city, names: names, into: &out)
        encodeName(anchor.organization, names: names, into: &out)
        let (high, low) = cipher.encipher(anchor.ip)
        out.u64(high)
        out.u64(low)
    }

    /// A tag (0 no name, 1 a name the full table could not hold, 2 a name) and the name: ids are per shard.
    private func encodeName(_ id: NameTable.ID, names: NameTable, into out: inout StateWriter) {
        if id == NameTable.none {
            out.u8(0)
        } else if let name = names[id] {
            out.u8(2)
            out.string(name)
        } else {
            out.u8(1)
        }
    }

    private func encodeOrigin(_ origin: StepOrigin, into out: inout StateWriter) {
        out.u64(origin.source)
        out.u64(origin.network)
        out.u64(origin.device)
    }

    private func encodeLinks(_ links: LinkKeys, into out: inout StateWriter) {
        out.u64(links.session)
        out.u64(links.correlation)
        out.u64(links.challenge)
    }

    private func encodeWindow(_ window: EventWindow, into out: inout StateWriter) {
        out.count(window.entries.count)
        for entry in window.entries {
            out.time(entry.time)
            out.string(entry.eventID)
        }
    }

    private func encodeDistinct(_ window: DistinctWindow, into out: inout StateWriter) {
        out.count(window.entries.count)
        for entry in window.entries {
            out.u64(entry.key)
            out.time(entry.time)
            out.string(entry.eventID)
        }
    }

    private func encodeHolds(_ holds: [AlertHold], into out: inout StateWriter) {
        out.count(holds.count)
        for hold in holds {
            out.u8(UInt8(hold.kind.index))
            out.time(hold.until)
        }
    }

    // MARK: Decoding

    /// Decodes one entry and applies it to `state` (replacing what the state held under its key);
    /// returns the entry's applied input offset. On error `state` may hold a part of the entry's
    /// names, nothing else: callers discard the state on any error.
    @discardableResult
    func apply(key: StateEntryKey, value: [UInt8], to state: inout ShardState) throws(StateDecodingError) -> Int64 {
        try apply(key: key, reading: StateReader(value), to: &state)
    }

    /// `apply(key:value:to:)` for a value that `reader` spans exactly (a part of a larger buffer).
    @discardableResult
    func apply(
        key: StateEntryKey, reading value: StateReader, to state: inout ShardState
    ) throws(StateDecodingError) -> Int64 {
        var reader = value
        let version = try reader.u8("entry format version")
        guard Self.readableVersions.contains(version) else { throw .unknownEntryVersion(version) }
        let appliedOffset = try readFingerprintAndOffset(&reader)
        switch key.kind {
        case .user:
            state.users[key.hash] = try decodeUser(&reader, version: version, names: &state.names)
        case .source:
            state.sources[key.hash] = try decodeSource(&reader)
        case .domain:
            state.domains[key.hash] = try decodeDomain(&reader)
        case .campaign:
            guard version >= Self.firstCampaignVersion else {
                throw .invalidValue(
                    field: "campaign entry",
                    detail: "version \(version), campaign entries start at version \(Self.firstCampaignVersion)")
            }
            state.campaigns[key.hash] = try decodeCampaign(&reader, version: version)
        case .shard:
            try expectZeroHash(key)
            try decodeShard(&reader, into: &state)
        case .globalBucket:
            let slot = try Self.bucketSlot(key)
            state.global.restore(try decodeBucket(&reader, slot: slot), atSlot: slot)
        case .names:
            try expectZeroHash(key)
            guard state.names.count == 0 else {
                throw .misplaced(
                    field: "names entry",
                    detail: "names were already interned (a second names entry, or one after a user)")
            }
            state.names = try decodeNames(&reader)
        case .flushBegin, .checkpoint, .decodeWatermark:
            throw .misplaced(field: "\(key.kind) entry", detail: "a changelog marker holds no state")
        }
        guard reader.remaining == 0 else { throw .trailingBytes(count: reader.remaining) }
        return appliedOffset
    }

    /// The stamp, the counters and the offset they are as of, of a flush begin marker.
    func decodeFlushBegin(
        key: StateEntryKey, value: [UInt8]
    ) throws(StateDecodingError) -> (stamp: Int64, counters: StateCounters, countersStamp: Int64) {
        try expectZeroHash(key)
        var reader = StateReader(value)
        let stamp = try readHeader(&reader)
        let countersStamp = try reader.i64("flush begin counters offset")
        guard countersStamp >= stamp else {
            throw .invalidValue(
                field: "flush begin counters offset", detail: "\(countersStamp), before the flush's stamp")
        }
        let counters = try decodeCounters(&reader)
        guard reader.remaining == 0 else { throw .trailingBytes(count: reader.remaining) }
        return (stamp, counters, countersStamp)
    }

    /// The stamp and the settings digest of a checkpoint marker.
    func decodeCheckpoint(key: StateEntryKey, value: [UInt8]) throws(StateDecodingError) -> (Int64, UInt64) {
        try expectZeroHash(key)
        var reader = StateReader(value)
        let stamp = try readHeader(&reader)
        let digest = try reader.u64("checkpoint settings digest")
        guard reader.remaining == 0 else { throw .trailingBytes(count: reader.remaining) }
        return (stamp, digest)
    }

    /// The applied offset of an entry value, its header checked, without decoding its body.
    func appliedOffset(of value: [UInt8]) throws(StateDecodingError) -> Int64 {
        var reader = StateReader(value)
        return try readHeader(&reader)
    }

    /// Reads and checks the version and fingerprint; returns the applied offset.
    private func readHeader(_ reader: inout StateReader) throws(StateDecodingError) -> Int64 {
        let version = try reader.u8("entry format version")
        guard Self.readableVersions.contains(version) else { throw .unknownEntryVersion(version) }
        return try readFingerprintAndOffset(&reader)
    }

    /// Reads and checks the fingerprint after the version; returns the applied offset.
    private func readFingerprintAndOffset(_ reader: inout StateReader) throws(StateDecodingError) -> Int64 {
        let written = try reader.u32("entry key fingerprint")
        guard written == fingerprint else { throw .foreignKeyFingerprint(written) }
        let appliedOffset = try reader.i64("applied offset")
        guard appliedOffset >= -1 else {
            throw .invalidValue(field: "applied offset", detail: "\(appliedOffset), expected -1 or more")
        }
        return appliedOffset
    }

    /// The ring slot a global bucket key names.
    static func bucketSlot(_ key: StateEntryKey) throws(StateDecodingError) -> Int {
        guard key.hash < UInt64(GlobalWindows.bucketCount) else {
            throw .invalidValue(
                field: "global bucket entry key",
                detail: "slot \(key.hash), expected below \(GlobalWindows.bucketCount)")
        }
        return Int(key.hash)
    }

    private func expectZeroHash(_ key: StateEntryKey) throws(StateDecodingError) {
        guard key.hash == 0 else { throw .invalidValue(field: "\(key.kind) entry key", detail: "hash must be 0") }
    }

    private func decodeUser(
        _ reader: inout StateReader, version: UInt8, names: inout NameTable
    ) throws(StateDecodingError) -> UserState {
        var user = UserState(lastSeen: try reader.time("user last seen"))
        user.successfulLogins = try reader.u32("user successful logins")
        var kinds: [[SeenSets.Entry]] = []
        for kind in SeenSets.Kind.allCases {
            let field = Self.seenFields[kind.rawValue]
            let count = try reader.count(field, limit: SeenSets.maxPerKind)
            var entries: [SeenSets.Entry] = []
            entries.reserveCapacity(count)
            var keys = Set<UInt64>(minimumCapacity: count)
            for _ in 0..<count {
                let entry = SeenSets.Entry(key: try reader.u64(field), lastSeen: try reader.time(field))
                guard keys.insert(entry.key).inserted else {
                    throw .invalidValue(field: field, detail: "a key appears twice")
                }
                entries.append(entry)
            }
            kinds.append(entries)
        }
        user.seen = SeenSets(restoring: kinds)
        if try reader.bool("user anchor presence") { user.anchor = try decodeAnchor(&reader, names: &names) }
        if try reader.bool("user rare part presence") {
            let rare = RareUserState()
            rare.lastResetCompleted = try reader.optionalTime("user last reset completed")
            rare.pushBombingUntil = try reader.optionalTime("user push bombing until")
            rare.failures = try decodeWindow(&reader, "user failures")
            rare.pushesSent = try decodeWindow(&reader, "user pushes sent")
            rare.pushFailures = try decodeWindow(&reader, "user push failures")
            rare.resetRequests = try decodeWindow(&reader, "user reset requests")
            rare.holds = try decodeHolds(&reader, "user holds")
            if version >= 2 {
                rare.signalledRisk = try decodeRiskLevel(&reader, "user signalled risk")
                if try reader.bool("user raised risk presence") {
                    rare.raisedRisk = RaisedRisk(
                        level: try decodeRiskLevel(&reader, "user raised risk level"),
                        until: try reader.time("user raised risk until"))
                }
            }
            if version >= 3 {
                let pending = try reader.count("user pending logins", limit: VerificationCapacity.pendingLogins)
                for _ in 0..<pending {
                    let time = try reader.time("pending login time")
                    let links = try decodeLinks(&reader, "pending login links")
                    let origin = try decodeOrigin(&reader, "pending login origin")
                    let score = try reader.u8("pending login score")
                    guard score <= 100 else {
                        throw .invalidValue(field: "pending login score", detail: "\(score), expected at most 100")
                    }
                    var keys: [UInt64?] = []
                    for field in Self.pendingKeyFields {
                        keys.append(try reader.bool(field) ? try reader.u64(field) : nil)
                    }
                    let anchor =
                        try reader.bool("pending login anchor presence")
                        ? try decodeAnchor(&reader, names: &names) : nil
                    let features =
                        version >= 4
                        ? try decodeFeatures(&reader) : LoginFeatures(hourOfWeek: LoginFeatures.hourOfWeek(time))
                    rare.pendingLogins.append(
                        PendingLogin(
                            time: time, links: links, origin: origin, score: score, device: keys[0],
                            replacedDevice: keys[1], country: keys[2], network: keys[3],
                            anchor: anchor, features: features))
                }
                let verified = try reader.count("user verified links", limit: VerificationCapacity.verifiedLinks)
                for _ in 0..<verified {
                    let time = try reader.time("verified link time")
                    rare.verifiedLinks.append(
                        VerifiedLink(
                            time: time, links: try decodeLinks(&reader, "verified link links"),
                            origin: try decodeOrigin(&reader, "verified link origin")))
                }
            }
            user.rare = rare
        }
        if version >= 4, try reader.bool("user profile presence") { user.profile = try decodeProfile(&reader) }
        return user
    }

    private func decodeFeatures(_ reader: inout StateReader) throws(StateDecodingError) -> LoginFeatures {
        let hourOfWeek = Int(try reader.u8("pending login hour of week"))
        guard hourOfWeek < LoginFeatures.hoursPerWeek else {
            throw .invalidValue(field: "pending login hour of week", detail: "\(hourOfWeek), expected below 168")
        }
        let network = try reader.u16("pending login address block")
        let city = try reader.u16("pending login city")
        let browserValue = try reader.u8("pending login browser")
        guard let browser = BrowserFamily(rawValue: browserValue) else {
            throw .invalidValue(field: "pending login browser", detail: "unknown family \(browserValue)")
        }
        let systemValue = try reader.u8("pending login system")
        guard let system = OSFamily(rawValue: systemValue) else {
            throw .invalidValue(field: "pending login system", detail: "unknown family \(systemValue)")
        }
        return LoginFeatures(hourOfWeek: hourOfWeek, network: network, city: city, browser: browser, system: system)
    }

    private func decodeProfile(_ reader: inout StateReader) throws(StateDecodingError) -> LoginProfile {
        let hoursLow = try reader.u64("user profile hours")
        let hoursHigh = try reader.u64("user profile hours")
        // Nibble 15 of the high word is unused (seven days in nibbles 8–14).
        guard hoursHigh & 0xF000_0000_0000_0000 == 0 else {
            throw .invalidValue(field: "user profile hours", detail: "bits set outside the hour and day counts")
        }
        let networks = try reader.u64("user profile address blocks")
        let cities = try reader.u32("user profile cities")
        let browsers = try reader.u16("user profile browsers")
        guard browsers & 1 == 0, browsers >> BrowserFamily.allCases.count == 0 else {
            throw .invalidValue(field: "user profile browsers", detail: "bits set outside the known families")
        }
        let systems = try reader.u8("user profile systems")
        guard systems & 1 == 0, systems >> OSFamily.allCases.count == 0 else {
            throw .invalidValue(field: "user profile systems", detail: "bits set outside the known families")
        }
        let profile = LoginProfile(
            hoursLow: hoursLow, hoursHigh: hoursHigh, networks: networks, cities: cities, browsers: browsers,
            systems: systems, logins: try reader.u8("user profile logins"))
        guard !profile.isEmpty else { throw .invalidValue(field: "user profile", detail: "present but empty") }
        return profile
    }

    private func decodeRiskLevel(_ reader: inout StateReader, _ field: String) throws(StateDecodingError) -> RiskLevel {
        let index = Int(try reader.u8(field))
        guard index < RiskLevel.allCases.count else {
            throw .invalidValue(field: field, detail: "\(index), expected below \(RiskLevel.allCases.count)")
        }
        return RiskLevel.allCases[index]
    }

    private func decodeAnchor(
        _ reader: inout StateReader, names: inout NameTable
    ) throws(StateDecodingError) -> CompactAnchor {
        let time = try reader.time("anchor time")
        let eventID = try reader.string("anchor event id")
        let anonymity = try reader.u8("anchor anonymity")
        guard anonymity & ~Self.knownAnonymityBits == 0 else {
            throw .invalidValue(field: "anchor anonymity", detail: "unknown flag bits \(anonymity)")
        }
        let presence = CompactAnchor.Presence(rawValue: try reader.u8("anchor presence"))
        guard presence.rawValue & ~Self.knownPresenceBits == 0 else {
            throw .invalidValue(field: "anchor presence", detail: "unknown flag bits \(presence.rawValue)")
        }
        guard !presence.isSuperset(of: [.packedCountry, .internedCountry]) else {
            throw .invalidValue(field: "anchor presence", detail: "country both packed and interned")
        }
        var anchor = CompactAnchor(
            time: time, eventID: eventID, ip: IPAddress(high: 0, low: 0), location: nil, network: nil,
            anonymity: AnonymityFlags(rawValue: anonymity), names: &names)
        anchor.presence = presence
        anchor.latitudeE7 = try reader.i32("anchor latitude")
        anchor.longitudeE7 = try reader.i32("anchor longitude")
        anchor.accuracyRadiusKm = try reader.i32("anchor accuracy radius")
        anchor.asn = try reader.u32("anchor AS number")
        if presence.contains(.packedCountry) { anchor.country = try reader.u32("anchor country") }
        if presence.contains(.internedCountry) {
            anchor.country = try decodeName(&reader, "anchor country", names: &names)
        }
        anchor.city = try decodeName(&reader, "anchor city", names: &names)
        anchor.organization = try decodeName(&reader, "anchor organisation", names: &names)
        let high = try reader.u64("anchor address")
        anchor.ip = cipher.decipher(high, try reader.u64("anchor address"))
        return anchor
    }

    private func decodeOrigin(_ reader: inout StateReader, _ field: String) throws(StateDecodingError) -> StepOrigin {
        StepOrigin(source: try reader.u64(field), network: try reader.u64(field), device: try reader.u64(field))
    }

    private func decodeLinks(_ reader: inout StateReader, _ field: String) throws(StateDecodingError) -> LinkKeys {
        LinkKeys(session: try reader.u64(field), correlation: try reader.u64(field), challenge: try reader.u64(field))
    }

    /// Field names built once, not per entry.
    static let seenFields = SeenSets.Kind.allCases.map { "seen \($0) entries" }
    static let pendingKeyFields = [
        "pending login device", "pending login replaced device", "pending login country", "pending login network",
    ]
    static let knownAnonymityBits: UInt8 = 0x3F
    static let knownPresenceBits: UInt8 = 0x7F

    private func decodeName(
        _ reader: inout StateReader, _ field: String, names: inout NameTable
    ) throws(StateDecodingError) -> NameTable.ID {
        switch try reader.u8(field) {
        case 0: return NameTable.none
        case 1: return NameTable.unknown
        case 2: return names.intern(try reader.string(field))
        case let tag: throw .invalidValue(field: field, detail: "name tag \(tag), expected 0, 1 or 2")
        }
    }

    private func decodeWindow(_ reader: inout StateReader, _ field: String) throws(StateDecodingError) -> EventWindow {
        let count = try reader.count(field, limit: StateLimits.maxWindowEntries)
        var entries: [EventWindow.Entry] = []
        entries.reserveCapacity(min(count, reader.remaining / 12))
        for _ in 0..<count {
            let entry = EventWindow.Entry(time: try reader.time(field), eventID: try reader.string(field))
            if let last = entries.last, last.time > entry.time { throw .outOfOrder(field: field) }
            entries.append(entry)
        }
        return EventWindow(restoring: entries)
    }

    private func decodeDistinct(
        _ reader: inout StateReader, _ field: String
    ) throws(StateDecodingError) -> DistinctWindow {
        let count = try reader.count(field, limit: StateLimits.maxWindowEntries)
        var entries: [DistinctWindow.Entry] = []
        entries.reserveCapacity(min(count, reader.remaining / 20))
        var keys = Set<UInt64>(minimumCapacity: min(count, reader.remaining / 20))
        for _ in 0..<count {
            let entry = DistinctWindow.Entry(
                key: try reader.u64(field), time: try reader.time(field), eventID: try reader.string(field))
            guard keys.insert(entry.key).inserted else {
                throw .invalidValue(field: field, detail: "a key appears twice")
            }
            entries.append(entry)
        }
        return DistinctWindow(restoring: entries)
    }

    private func decodeHolds(_ reader: inout StateReader, _ field: String) throws(StateDecodingError) -> [AlertHold] {
        let count = try reader.count(field, limit: AlertKind.allCases.count)
        var holds: [AlertHold] = []
        for _ in 0..<count {
            let raw = try reader.u8(field)
            guard Int(raw) < AlertKind.allCases.count else {
                throw .invalidValue(
                    field: field, detail: "alert kind \(raw), expected below \(AlertKind.allCases.count)")
            }
            let kind = AlertKind.allCases[Int(raw)]
            guard !holds.contains(where: { $0.kind == kind }) else {
                throw .invalidValue(field: field, detail: "\(kind.rawValue) held twice")
            }
            holds.append(AlertHold(kind: kind, until: try reader.time(field)))
        }
        return holds
    }

    private func decodeSource(_ reader: inout StateReader) throws(StateDecodingError) -> SourceState {
        var source = SourceState(lastSeen: try reader.time("source last seen"))
        source.failures = try decodeWindow(&reader, "source failures")
        source.failingUsers = try decodeDistinct(&reader, "source failing users")
        source.resetAccounts = try decodeDistinct(&reader, "source reset accounts")
        source.holds = try decodeHolds(&reader, "source holds")
        return source
    }

    private func decodeDomain(_ reader: inout StateReader) throws(StateDecodingError) -> DomainState {
        var domain = DomainState(lastSeen: try reader.time("domain last seen"))
        domain.resetAccounts = try decodeDistinct(&reader, "domain reset accounts")
        domain.holds = try decodeHolds(&reader, "domain holds")
        return domain
    }

    private func decodeCampaign(
        _ reader: inout StateReader, version: UInt8
    ) throws(StateDecodingError) -> CampaignState {
        let lastSeen = try reader.time("campaign last seen")
        let slot = try reader.i64("campaign slot")
        let slotLength = try reader.i64("campaign slot length")
        let day = EventDuration.days(1).microseconds
        guard CampaignSettings.slotRange.contains(EventDuration(microseconds: slotLength)), day % slotLength == 0
        else {
            throw .invalidValue(
                field: "campaign slot length", detail: "\(slotLength) µs is no slot length Vigil allows")
        }
        // The slot's start must be a storable time: alerts name it.
        let (start, overflow) = slot.multipliedReportingOverflow(by: slotLength)
        guard !overflow, StateReader.storableMicroseconds.contains(start) else {
            throw .invalidValue(field: "campaign slot", detail: "\(slot) is no slot of a storable time")
        }
        var campaign = CampaignState(lastSeen: lastSeen, slot: slot, slotLength: slotLength)
        campaign.current = try decodeSlotTally(&reader, "campaign")
        campaign.foldedSlots = try reader.u32("campaign folded slots")
        let valueCount = try reader.count("campaign baseline", limit: Self.maxBaselineValues)
        let perDay = Int(day / slotLength)
        let whole = perDay * CampaignMetric.allCases.count * 2
        guard valueCount == 0 || valueCount == whole else {
            throw .invalidValue(
                field: "campaign baseline",
                detail: "\(valueCount) values, expected 0 or \(whole) (\(perDay) slots a day)")
        }
        var baseline: [Float] = []
        baseline.reserveCapacity(valueCount)
        for _ in 0..<valueCount {
            let value = Float(bitPattern: try reader.u32("campaign baseline"))
            guard value.isFinite, value >= 0 else {
                throw .invalidValue(field: "campaign baseline", detail: "\(value) is no count")
            }
            baseline.append(value)
        }
        campaign.baseline = baseline
        var intervals: [CampaignInterval?] = []
        for field in ["campaign stuffing", "campaign reset wave"] {
            guard try reader.bool(field) else {
                intervals.append(nil)
                continue
            }
            let start = try reader.time(field)
            let until = try reader.time(field)
            guard start <= until else { throw .invalidValue(field: field, detail: "ends before it starts") }
            intervals.append(CampaignInterval(start: start, until: until))
        }
        campaign.stuffing = intervals[0]
        campaign.resetWave = intervals[1]
        // Before version 6 the previous slot was folded when the current one began.
        if version >= 6, try reader.bool("campaign previous slot") {
            // Its start must be a storable time too: an alert may name it.
            guard StateReader.storableMicroseconds.contains(start - slotLength) else {
                throw .invalidValue(
                    field: "campaign previous slot", detail: "slot \(slot - 1) is no slot of a storable time")
            }
            campaign.previous = try decodeSlotTally(&reader, "campaign previous slot")
        }
        return campaign
    }

    private func decodeSlotTally(
        _ reader: inout StateReader, _ field: String
    ) throws(StateDecodingError) -> CampaignState.SlotTally {
        var tally = CampaignState.SlotTally()
        tally.counts.failures = try reader.u32("\(field) failures")
        tally.counts.unknownUserFailures = try reader.u32("\(field) unknown-user failures")
        tally.counts.resets = try reader.u32("\(field) resets")
        tally.users = try decodeSketch(&reader, "\(field) users sketch")
        return tally
    }

    /// A distinct-count sketch: its register count (0 for an empty one), then its registers.
    private func decodeSketch(_ reader: inout StateReader, _ field: String) throws(StateDecodingError) -> DistinctSketch
    {
        let registerCount = try reader.count(field, limit: DistinctSketch.registerCount)
        let range = try reader.take(registerCount, field)
        guard let sketch = DistinctSketch(registerBytes: Array(reader.bytes[range])) else {
            throw .invalidValue(field: field, detail: "not a sketch's registers")
        }
        return sketch
    }

    private func decodeShard(_ reader: inout StateReader, into state: inout ShardState) throws(StateDecodingError) {
        var watermark = Watermark(allowedLateness: state.watermark.allowedLateness)
        if let maxEventTime = try reader.optionalTime("watermark") { watermark.observe(maxEventTime) }
        let nextSweep = try reader.optionalTime("next sweep")
        let nextRareSweep = try reader.optionalTime("next rare sweep")
        let counters = try decodeCounters(&reader)
        let window = EventDuration(microseconds: try reader.i64("global window"))
        guard window.microseconds > 0 else { throw .invalidValue(field: "global window", detail: "not positive") }
        let newest = try reader.bool("global newest bucket") ? try reader.i64("global newest bucket") : nil
        // A bucket number is an event time divided by a width of at least 1 µs: bounded like a time, so
        // the ring arithmetic in `GlobalWindows` cannot overflow.
        if let newest, !StateReader.storableMicroseconds.contains(newest) {
            throw .invalidValue(field: "global newest bucket", detail: "\(newest) is no bucket of a storable time")
        }
        // Absent from a shard entry written before stage shards kept them: no copies are recognised then.
        var inputMarks: [UInt64: Int64] = [:]
        if reader.remaining > 0 {
            let count = try reader.count("input marks", limit: StateEntryCodec.maxInputMarks)
            for _ in 0..<count {
                let partition = try reader.u64("input mark partition")
                let offset = try reader.i64("input mark offset")
                guard offset >= 0, inputMarks.updateValue(offset, forKey: partition) == nil else {
                    throw .invalidValue(field: "input marks", detail: "a negative offset, or a partition twice")
                }
            }
        }
        state.inputMarks = inputMarks
        state.watermark = watermark
        state.nextSweep = nextSweep
        state.nextRareSweep = nextRareSweep
        state.counters = counters
        state.global.restore(window: window, newest: newest)
    }

    private func decodeCounters(_ reader: inout StateReader) throws(StateDecodingError) -> StateCounters {
        var counters = StateCounters()
        for (field, path) in [
            ("late events", \StateCounters.lateEvents), ("evicted users", \.evictedUsers),
            ("evicted sources", \.evictedSources), ("dropped at capacity", \.droppedAtCapacity),
        ] {
            let value = try reader.i64(field)
            guard value >= 0 else { throw .invalidValue(field: field, detail: "negative count \(value)") }
            counters[keyPath: path] = Int(value)
        }
        return counters
    }

    private func decodeBucket(_ reader: inout StateReader, slot: Int) throws(StateDecodingError) -> GlobalWindows.Bucket
    {
        let number = try reader.i64("global bucket number")
        guard StateReader.storableMicroseconds.contains(number) else {
            throw .invalidValue(field: "global bucket number", detail: "\(number) is no bucket of a storable time")
        }
        guard GlobalWindows.slot(ofBucket: number) == slot else {
            throw .invalidValue(field: "global bucket number", detail: "\(number) does not belong in slot \(slot)")
        }
        var bucket = GlobalWindows.Bucket(number: number)
        let failures = try reader.i64("global bucket failures")
        let resets = try reader.i64("global bucket reset requests")
        guard failures >= 0, resets >= 0 else { throw .invalidValue(field: "global bucket", detail: "negative count") }
        bucket.failures = Int(failures)
        bucket.resetRequests = Int(resets)
        bucket.failingUsers = try decodeSketch(&reader, "global bucket registers")
        return bucket
    }

    private func decodeNames(_ reader: inout StateReader) throws(StateDecodingError) -> NameTable {
        let count = try reader.count("names", limit: NameTable.defaultCapacity)
        var names = NameTable()
        for index in 0..<count {
            let name = try reader.string("names")
            guard names.intern(name) == NameTable.ID(index + 1) else {
                throw .invalidValue(field: "names", detail: "a name appears twice")
            }
        }
        return names
    }
}
