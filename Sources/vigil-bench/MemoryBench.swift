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

    /// Builds baselines for `users` users through `RiskEngine` — two successful logins each (a managed
    /// laptop and a phone, from their home address) — and returns the growth of the resident set.
    /// Events are made on the fly and dropped, so only engine state stays resident.
    static func residentGrowth(users: Int, sources: [(IPAddress, IPIntelligence)], config: VigilConfig) -> Int {
        _ = mallocTrim(0)  // return what earlier figures freed, so it is not reused and hidden from the delta
        let before = residentBytes()
        var engine = RiskEngine(config: config, policyVersion: "bench", deviceKey: .publicDefault)
        var time = Timestamp(seconds: 1_772_409_600)
        for user in 0..<users {
            let id = "user-\(user)"
            let (address, intelligence) = sources[user % sources.count]
            for (slot, kind) in ["laptop", "phone"].enumerated() {
                let event = AuthEvent(
                    eventID: "m-\(user)-\(slot)", type: .login, time: time, tenant: "acme",
                    user: User(id: id, emailDomain: "example.com"), ip: address,
                    device: Device(id: "\(id)-\(kind)", managed: slot == 0, userAgent: "Mozilla/5.0"), outcome: .success)
                _ = engine.process(event, intel: intelligence)
                time = time + Duration(microseconds: 1_000)
            }
        }
        let after = residentBytes()
        precondition(engine.userCount == users, "every user should have state")
        return after - before
    }
}

/// glibc's `malloc_trim`, which the Glibc module does not export.
@_silgen_name("malloc_trim")
private func mallocTrim(_ pad: Int) -> Int32
