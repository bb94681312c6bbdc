import Foundation
import VigilCore

/// Figure 5: resident bytes per user of engine state after each user's baseline is built.
enum MemoryBench {
    /// Resident set now, from /proc/self/statm (second field, in pages).
    static func residentBytes() -> Int {
        let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
        let pages = statm.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return pages * sysconf(Int32(_SC_PAGESIZE))
    }

    /// Peak resident set of this process (VmHWM).
    static func peakResidentBytes() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }
        return (line?.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0) * 1024
    }

    /// Resets the peak resident set (VmHWM) to the current one (`/proc/self/clear_refs`, Linux ≥ 4.0);
    /// false when that is not possible, and VmHWM stays the peak since the process started.
    static func resetPeakResident() -> Bool {
        let file = open("/proc/self/clear_refs", O_WRONLY)
        guard file >= 0 else { return false }
        defer { close(file) }
        return write(file, "5", 1) == 1
    }

    /// What building the baselines cost: the resident set's growth that stays, and its peak growth
    /// while building (transient copies included).
    struct Growth {
        var resident: Int
        var peak: Int
        /// False when the peak could not be reset first: `peak` is then since the process started.
        var peakIsOwn: Bool
    }

    /// Builds baselines for `users` users through `RiskEngine` — two successful logins each (a managed
    /// laptop and a phone, from their home address) — and returns the growth of the resident set.
    /// Events are made on the fly and dropped, so only engine state stays resident.
    ///
    /// Realistic on purpose, so the figure does not flatter the state layout: event ids are 36-character
    /// UUIDs (too long for an inline small string), and every event carries its own fresh copies of a real
    /// city name and AS organisation (as a decoded, enriched event does), so whatever state keeps of them
    /// is counted.
    static func residentGrowth(users: Int, sources: [(IPAddress, IPIntelligence)], config: VigilConfig) -> Growth {
        let sources = located(sources)
        _ = mallocTrim(0)  // return what earlier figures freed, so it is not reused and hidden from the delta
        let peakIsOwn = resetPeakResident()
        let before = residentBytes()
        var engine = RiskEngine(config: config, policyVersion: "bench", deviceKey: .publicDefault)
        learnBaselines(users: users, locatedSources: sources, into: &engine)
        let after = residentBytes()
        let peak = peakResidentBytes()
        precondition(engine.userCount == users, "every user should have state")
        return Growth(resident: after - before, peak: peak - before, peakIsOwn: peakIsOwn)
    }

    /// Two successful logins per user (a managed laptop, then a phone) from `locatedSources` in turn, one
    /// millisecond apart: the baselines figures 5 and 6 measure.
    static func learnBaselines(
        users: Int, locatedSources sources: [(IPAddress, IPIntelligence)], into engine: inout RiskEngine
    ) {
        var time = Timestamp(seconds: 1_772_409_600)
        for user in 0..<users {
            let id = "user-\(user)"
            let (address, intelligence) = sources[user % sources.count]
            for (slot, kind) in ["laptop", "phone"].enumerated() {
                let event = AuthEvent(
                    eventID: uuid(user, slot), type: .login, time: time, tenant: "acme",
                    user: User(id: id, emailDomain: "example.com"), ip: address,
                    device: Device(id: "\(id)-\(kind)", managed: slot == 0, userAgent: "Mozilla/5.0"), outcome: .success
                )
                _ = engine.process(event, intel: freshCopy(intelligence))
                time = time + EventDuration(microseconds: 1_000)
            }
        }
    }

    /// The sources, each with a city name and an AS organisation: where the database has none, one it has
    /// for another address (or a real organisation when the test database has none at all).
    static func located(_ sources: [(IPAddress, IPIntelligence)]) -> [(IPAddress, IPIntelligence)] {
        let cities = sources.compactMap { $0.1.location?.city }
        let networks = sources.compactMap { $0.1.network }.filter { $0.organization != nil }
        let fallbackNetworks =
            networks.isEmpty
            ? [
                AutonomousSystem(number: 3320, organization: "Deutsche Telekom AG"),
                AutonomousSystem(number: 7922, organization: "Comcast Cable Communications, LLC"),
            ]
            : networks
        return sources.enumerated().map { index, source in
            var intel = source.1
            var location =
                intel.location
                ?? GeoLocation(countryCode: "DE", latitude: 50.1109, longitude: 8.6821, accuracyRadiusKm: 20)
            if location.city == nil {
                location.city = cities.isEmpty ? "Frankfurt am Main" : cities[index % cities.count]
            }
            intel.location = location
            if intel.network?.organization == nil { intel.network = fallbackNetworks[index % fallbackNetworks.count] }
            return (source.0, intel)
        }
    }

    /// The intelligence with its strings in new heap storage, as a per-event lookup would produce.
    static func freshCopy(_ intel: IPIntelligence) -> IPIntelligence {
        var copy = intel
        copy.location?.city = intel.location?.city.map(heapCopy)
        copy.network?.organization = intel.network?.organization.map(heapCopy)
        return copy
    }

    /// A new string from the bytes, as a decoder makes it: on the heap when longer than 15 bytes.
    private static func heapCopy(_ string: String) -> String {
        String(decoding: Array(string.utf8), as: UTF8.self)
    }

    /// A UUID-formatted event id (36 characters), distinct per user and slot.
    static func uuid(_ user: Int, _ slot: Int) -> String {
        let value = UInt64(user) &* 2 &+ UInt64(slot)
        let hex = String(value, radix: 16)
        let digits = String(repeating: "0", count: max(0, 12 - hex.count)) + hex
        return "6f1c2d3e-4b5a-8c7d-9e0f-" + digits
    }
}

/// glibc's `malloc_trim`, which the Glibc module does not export.
@_silgen_name("malloc_trim")
private func mallocTrim(_ pad: Int) -> Int32
