/// Auth events as the JSON lines an identity provider sends, for tests that feed the decoder, `vigil
/// replay` or a Kafka topic. Values go in as they are: keep them free of quotes and backslashes.
public enum EventLines {
    /// A login: absent `tenant` and `device` are left out of the line.
    public static func login(
        id: String, time: String, user: String, ip: String = "81.2.69.142", outcome: String = "success",
        tenant: String? = nil, device: String? = nil
    ) -> String {
        var line = #"{"event_id":"\#(id)","type":"login","time":"\#(time)","#
        if let tenant { line += #""tenant":"\#(tenant)","# }
        line += #""user":{"id":"\#(user)"},"ip":"\#(ip)","outcome":"\#(outcome)""#
        if let device { line += #","device":{"id":"\#(device)"}"# }
        return line + "}"
    }

    /// A TOTP success: it verifies the user's login just before it (`engine.verification`), as a user
    /// passing the step-up.
    public static func mfaSuccess(
        id: String, time: String, user: String, ip: String = "81.2.69.142", tenant: String? = nil
    ) -> String {
        var line = #"{"event_id":"\#(id)","type":"mfa_result","time":"\#(time)","#
        if let tenant { line += #""tenant":"\#(tenant)","# }
        return line + #""user":{"id":"\#(user)"},"ip":"\#(ip)","mfa":{"factor":"totp","result":"approved"}}"#
    }

    /// Each of `keyedLogins` (`key<TAB>login` lines of `keyedLogins(...)`, `login(...)` and the like)
    /// followed by the TOTP success that verifies it: same key, user, tenant, time and address, event id
    /// `<id>-mfa`. The users pass their step-ups, so the baseline learns the logins.
    public static func answered(_ keyedLogins: [String]) -> [String] {
        keyedLogins.flatMap { line -> [String] in
            let parts = line.split(separator: "\t", maxSplits: 1).map(String.init)
            let json = parts.last ?? line
            func field(_ name: String) -> String? {
                guard let start = json.range(of: #""\#(name)":""#) else { return nil }
                return String(json[start.upperBound...].prefix { $0 != "\"" })
            }
            guard let id = field("event_id"), let time = field("time"), let user = field("id") else { return [line] }
            let answer = mfaSuccess(
                id: "\(id)-mfa", time: time, user: user, ip: field("ip") ?? "81.2.69.142", tenant: field("tenant"))
            return [line, parts.count == 2 ? "\(parts[0])\t\(answer)" : answer]
        }
    }

    /// `count` logins from `users` users as `key<TAB>value` lines (the key is the user), with event ids
    /// `prefix-0`, `prefix-1`, ...; one a second from 2026-03-02T08:00:00Z, so they come before the
    /// scenarios' attacks (09:00) and none of those is late.
    public static func keyedLogins(prefix: String, count: Int, users: Int = 20) -> [String] {
        (0..<count).map { index in
            let user = "\(prefix)-user-\(index % users)"
            let minute = twoDigits(index / 60 % 60)
            let second = twoDigits(index % 60)
            let time = "2026-03-02T08:\(minute):\(second).000Z"
            return user + "\t"
                + login(
                    id: "\(prefix)-\(index)", time: time, user: user, ip: "216.160.83.58", tenant: "acme",
                    device: "\(user)-laptop")
        }
    }

    private static func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
