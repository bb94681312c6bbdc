import Foundation
import Testing

@testable import VigilCore

/// Shared inputs for the decoder tests and the schema cross-check, so both judge the same bytes.
enum DecodeCorpus {
    struct Valid: Sendable, CustomTestStringConvertible {
        var name: String
        var json: String
        var testDescription: String { name }
    }

    struct Invalid: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: [UInt8]
        var reason: String
        var testDescription: String { name }

        init(_ name: String, _ json: String, _ reason: String) {
            self.init(name, Array(json.utf8), reason)
        }

        init(_ name: String, _ bytes: [UInt8], _ reason: String) {
            self.name = name
            self.bytes = bytes
            self.reason = reason
        }

        /// Cases a JSON Schema can judge: one non-blank JSONL line, and not a limit the schema does
        /// not state (size, depth).
        var isSchemaExpressible: Bool {
            reason != "too_large" && reason != "too_deep" && !bytes.contains(0x0A)
                && bytes.contains { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }
        }
    }

    static let login =
        #"{"event_id":"e1","type":"login","time":"2024-05-01T12:00:00Z","user":{"id":"alice"},"ip":"203.0.113.7","outcome":"success"}"#

    /// `login` with one member replaced (or removed with nil) — keeps each invalid case to the point.
    static func login(replacing member: String, with value: String?) -> String {
        event(
            [
                "event_id": #""e1""#, "type": #""login""#, "time": #""2024-05-01T12:00:00Z""#,
                "user": #"{"id":"alice"}"#, "ip": #""203.0.113.7""#, "outcome": #""success""#,
            ],
            replacing: member, with: value)
    }

    static func event(_ members: KeyValuePairs<String, String>, replacing member: String, with value: String?) -> String
    {
        var parts: [String] = []
        var replaced = false
        for (key, original) in members {
            if key == member {
                replaced = true
                if let value { parts.append("\"\(key)\":\(value)") }
            } else {
                parts.append("\"\(key)\":\(original)")
            }
        }
        if !replaced, let value { parts.append("\"\(member)\":\(value)") }
        return "{" + parts.joined(separator: ",") + "}"
    }

    static let valid: [Valid] = [
        Valid(name: "minimal login", json: login),
        Valid(
            name: "full login, IPv6, offset, unknown members",
            json: #"""
                {"event_id":"evt-42","type":"login","time":"2024-03-10T08:15:00.123456+05:30","tenant":"acme","user":{"id":"u-1","role":"finance","email_domain":"Example.COM","nickname":"al"},"ip":"2001:db8::1","device":{"id":"d-9","managed":false,"user_agent":"Mozilla/5.0 (X11)","extra":[1,2,{"a":null}]},"outcome":"failure","failure_reason":"bad_password","credential":{"compromised":true,"source":"feed"},"session_id":"s-1","correlation_id":"c-1","idp_risk":"high","geo_hint":{"lat":1.5e3,"lon":-0.25,"tags":["x",true,false,null]},"n":-0}
                """#),
        Valid(
            name: "mfa_challenge",
            json:
                #"{"event_id":"e2","type":"mfa_challenge","time":"2024-05-01T12:00:00-08:00","user":{"id":"bob","role":"admin"},"ip":"198.51.100.1","mfa":{"factor":"push","challenge_id":"ch-1"}}"#
        ),
        Valid(
            name: "mfa_result with ignored outcome",
            json:
                #"{"event_id":"e3","type":"mfa_result","time":"2024-05-01T12:00:00.5Z","user":{"id":"bob"},"ip":"::ffff:198.51.100.1","mfa":{"factor":"push_number_match","result":"approved"},"outcome":"failure"}"#
        ),
        Valid(
            name: "password_reset_request",
            json:
                #"{"event_id":"e4","type":"password_reset_request","time":"2024-05-01T12:00:00+23:59","user":{"id":"carol","role":"contractor"},"ip":"192.0.2.1"}"#
        ),
        Valid(
            name: "password_reset_complete, default outcome",
            json:
                #"{"event_id":"e5","type":"password_reset_complete","time":"2024-05-01T12:00:00-23:59","user":{"id":"carol"},"ip":"192.0.2.1"}"#
        ),
        Valid(
            name: "password_reset_complete failure",
            json:
                #"{"event_id":"e6","type":"password_reset_complete","time":"2024-05-01T12:00:00Z","user":{"id":"carol"},"ip":"192.0.2.1","outcome":"failure"}"#
        ),
        Valid(
            name: "sensitive_action without ip",
            json:
                #"{"event_id":"e7","type":"sensitive_action","time":"2024-05-01T12:00:00Z","user":{"id":"dave","role":"service"},"action":"api_key_create"}"#
        ),
        Valid(
            name: "sensitive_action unknown action",
            json:
                #"{"event_id":"e8","type":"sensitive_action","time":"2024-05-01T12:00:00Z","user":{"id":"dave"},"ip":"fe80::1:2:3:4","action":"export_all_the_things"}"#
        ),
        Valid(
            name: "nulls mean absent",
            json:
                #"{"event_id":"e9","type":"login","time":"2024-05-01T12:00:00Z","tenant":null,"user":{"id":"erin","role":null,"email_domain":null},"ip":"203.0.113.7","device":null,"outcome":"success","failure_reason":null,"mfa":null,"action":null,"credential":null,"session_id":null,"correlation_id":null,"idp_risk":null}"#
        ),
        Valid(
            name: "escapes and non-ASCII",
            json:
                #"{"event_id":"\u00e9\ud83d\ude00-\"q\"\\\/\b\f\n\r\t","type":"l\u006fgin","time":"2024-05-01T12:00:00Z","user":{"id":"zoë 用户"},"ip":"203.0.113.7","outcome":"success"}"#
        ),
        Valid(
            name: "whitespace everywhere",
            json:
                " \t\r{ \"event_id\" : \"e10\" ,\t\"type\":\"login\" , \"time\":\"2024-05-01T12:00:00Z\",\"user\" :{ \"id\":\"f\" } ,\"ip\":\"203.0.113.7\",\"outcome\":\"success\" } \r\t "
        ),
        Valid(
            name: "128 two-byte characters in event_id",
            json: login(replacing: "event_id", with: "\"" + String(repeating: "é", count: 128) + "\"")),
        Valid(
            name: "empty user_agent and failure_reason",
            json:
                #"{"event_id":"e11","type":"login","time":"2024-05-01T12:00:00Z","user":{"id":"g"},"ip":"203.0.113.7","outcome":"failure","failure_reason":"","device":{"user_agent":""}}"#
        ),
        Valid(name: "mfa on a login is ignored", json: login(replacing: "mfa", with: #"{"result":"denied"}"#)),
        Valid(
            name: "leap second and nine fraction digits",
            json: login(replacing: "time", with: #""2016-12-31T23:59:60.123456789Z""#)),
        Valid(
            name: "huge numbers in unknown members",
            json: login(replacing: "score", with: "-123456789012345678901234567890.5e-999999")),
    ]

    static let invalid: [Invalid] = syntax + encoding + shape + fields

    static let syntax: [Invalid] = [
        Invalid("empty", "", "invalid_json"),
        Invalid("whitespace only", " \n\t ", "invalid_json"),
        Invalid("byte order mark", [0xEF, 0xBB, 0xBF] + Array(login.utf8), "invalid_json"),
        Invalid("truncated", String(login.dropLast()), "invalid_json"),
        Invalid("truncated in a string", #"{"event_id":"e1"#, "invalid_json"),
        Invalid("truncated after colon", #"{"event_id":"#, "invalid_json"),
        Invalid("trailing garbage", login + " x", "invalid_json"),
        Invalid("two objects", login + login, "invalid_json"),
        Invalid("trailing comma", #"{"event_id":"e1",}"#, "invalid_json"),
        Invalid("trailing comma in array", login(replacing: "x", with: "[1,]"), "invalid_json"),
        Invalid("single quotes", #"{'event_id':'e1'}"#, "invalid_json"),
        Invalid("unquoted key", #"{event_id:"e1"}"#, "invalid_json"),
        Invalid("raw tab in string", login(replacing: "event_id", with: "\"e\t1\""), "invalid_json"),
        Invalid("NUL byte in string", login(replacing: "event_id", with: "\"e\u{0}1\""), "invalid_json"),
        Invalid("NUL byte outside strings", login + "\u{0}", "invalid_json"),
        Invalid("bad escape", login(replacing: "event_id", with: #""e\x41""#), "invalid_json"),
        Invalid("short unicode escape", login(replacing: "event_id", with: #""e\u12""#), "invalid_json"),
        Invalid("lone high surrogate", login(replacing: "event_id", with: #""e\ud800""#), "invalid_json"),
        Invalid("lone low surrogate", login(replacing: "event_id", with: #""e\udc00""#), "invalid_json"),
        Invalid(
            "high surrogate then non-surrogate", login(replacing: "event_id", with: #""\ud800\u0041""#), "invalid_json"),
        Invalid("leading zero", login(replacing: "n", with: "01"), "invalid_json"),
        Invalid("NaN", login(replacing: "n", with: "NaN"), "invalid_json"),
        Invalid("Infinity", login(replacing: "n", with: "Infinity"), "invalid_json"),
        Invalid("negative Infinity", login(replacing: "n", with: "-Infinity"), "invalid_json"),
        Invalid("plus sign", login(replacing: "n", with: "+1"), "invalid_json"),
        Invalid("no digits after point", login(replacing: "n", with: "1."), "invalid_json"),
        Invalid("no digits before point", login(replacing: "n", with: ".5"), "invalid_json"),
        Invalid("empty exponent", login(replacing: "n", with: "1e"), "invalid_json"),
        Invalid("hex number", login(replacing: "n", with: "0x10"), "invalid_json"),
        Invalid("misspelled literal", login(replacing: "n", with: "nul"), "invalid_json"),
        Invalid("upper-case literal", login(replacing: "n", with: "True"), "invalid_json"),
        Invalid("missing colon", #"{"event_id" "e1"}"#, "invalid_json"),
        Invalid("unclosed array", login(replacing: "x", with: "[1,2"), "invalid_json"),
        Invalid("mismatched brackets", login(replacing: "x", with: "[1}"), "invalid_json"),
        Invalid("comment", login + " // hi", "invalid_json"),
        Invalid("broken array at top level", "[1,", "invalid_json"),
        Invalid("field problem before a syntax error", #"{"event_id":1,"type":}"#, "invalid_json"),
    ]

    static let encoding: [Invalid] = {
        let prefix = Array(#"{"event_id":""#.utf8)
        let suffix = Array(
            #"","type":"login","time":"2024-05-01T12:00:00Z","user":{"id":"a"},"ip":"203.0.113.7","outcome":"success"}"#
                .utf8)
        func id(_ name: String, _ bad: [UInt8]) -> Invalid {
            Invalid("invalid UTF-8: \(name)", prefix + bad + suffix, "invalid_utf8")
        }
        return [
            id("lone continuation byte", [0x80]),
            id("overlong slash", [0xC0, 0xAF]),
            id("overlong two-byte lead C1", [0xC1, 0xBF]),
            id("overlong three-byte", [0xE0, 0x80, 0xAF]),
            id("encoded surrogate", [0xED, 0xA0, 0x80]),
            id("above U+10FFFF", [0xF4, 0x90, 0x80, 0x80]),
            id("F5 lead byte", [0xF5, 0x80, 0x80, 0x80]),
            id("FF byte", [0xFF]),
            id("truncated sequence", [0xE2, 0x82]),
            id("missing continuation", [0xC3, 0x41]),
            Invalid("invalid UTF-8 beats broken JSON", Array(#"{"a":"#.utf8) + [0xFF], "invalid_utf8"),
            Invalid("truncated sequence at the end", Array(login.utf8) + [0xF0, 0x9F, 0x98], "invalid_utf8"),
        ]
    }()

    static let shape: [Invalid] = [
        Invalid("array at top level", "[1,2]", "not_an_object"),
        Invalid("string at top level", #""login""#, "not_an_object"),
        Invalid("number at top level", "42", "not_an_object"),
        Invalid("null at top level", "null", "not_an_object"),
        Invalid("true at top level", " true ", "not_an_object"),
        Invalid(
            "depth 17 in an unknown member",
            login(replacing: "x", with: String(repeating: "[", count: 16) + String(repeating: "]", count: 16)),
            "too_deep"),
        Invalid(
            "deep objects in an unknown member",
            login(
                replacing: "x", with: String(repeating: #"{"a":"#, count: 16) + "1" + String(repeating: "}", count: 16)),
            "too_deep"),
        Invalid("60 000 open brackets", String(repeating: "[", count: 60_000), "too_deep"),
        Invalid("60 000 open brackets in a member", "{\"x\":" + String(repeating: "[", count: 60_000), "too_deep"),
        Invalid("10 MB line", String(repeating: "[", count: 10 * 1024 * 1024), "too_large"),
    ]

    static let fields: [Invalid] = [
        // duplicate_field
        Invalid("duplicate type", login(replacing: "type", with: #""login","type":"login""#), "duplicate_field:type"),
        Invalid(
            "duplicate via escape", login(replacing: "type", with: #""login","typ\u0065":"mfa_result""#),
            "duplicate_field:type"),
        Invalid(
            "duplicate null member", login(replacing: "tenant", with: #"null,"tenant":"acme""#),
            "duplicate_field:tenant"),
        Invalid(
            "duplicate user.id", login(replacing: "user", with: #"{"id":"alice","id":"mallory"}"#),
            "duplicate_field:user.id"),
        Invalid(
            "duplicate user", login(replacing: "user", with: #"{"id":"alice"},"user":{"id":"mallory"}"#),
            "duplicate_field:user"),
        Invalid(
            "duplicate device.managed", login(replacing: "device", with: #"{"managed":true,"managed":false}"#),
            "duplicate_field:device.managed"),
        Invalid(
            "duplicate mfa.factor", login(replacing: "mfa", with: #"{"factor":"sms","factor":"passkey"}"#),
            "duplicate_field:mfa.factor"),
        Invalid(
            "duplicate credential.compromised",
            login(replacing: "credential", with: #"{"compromised":true,"compromised":false}"#),
            "duplicate_field:credential.compromised"),
        // missing_field
        Invalid("missing event_id", login(replacing: "event_id", with: nil), "missing_field:event_id"),
        Invalid("null event_id", login(replacing: "event_id", with: "null"), "missing_field:event_id"),
        Invalid("missing type", login(replacing: "type", with: nil), "missing_field:type"),
        Invalid("missing time", login(replacing: "time", with: nil), "missing_field:time"),
        Invalid("missing user", login(replacing: "user", with: nil), "missing_field:user"),
        Invalid("null user", login(replacing: "user", with: "null"), "missing_field:user"),
        Invalid("missing user.id", login(replacing: "user", with: #"{"role":"admin"}"#), "missing_field:user.id"),
        Invalid("null user.id", login(replacing: "user", with: #"{"id":null}"#), "missing_field:user.id"),
        Invalid("missing ip", login(replacing: "ip", with: nil), "missing_field:ip"),
        Invalid("null ip", login(replacing: "ip", with: "null"), "missing_field:ip"),
        Invalid("missing outcome on login", login(replacing: "outcome", with: nil), "missing_field:outcome"),
        Invalid(
            "missing mfa",
            #"{"event_id":"e","type":"mfa_challenge","time":"2024-05-01T12:00:00Z","user":{"id":"a"},"ip":"192.0.2.1"}"#,
            "missing_field:mfa"),
        Invalid(
            "missing mfa.factor",
            #"{"event_id":"e","type":"mfa_challenge","time":"2024-05-01T12:00:00Z","user":{"id":"a"},"ip":"192.0.2.1","mfa":{"challenge_id":"c"}}"#,
            "missing_field:mfa.factor"),
        Invalid(
            "missing mfa.result",
            #"{"event_id":"e","type":"mfa_result","time":"2024-05-01T12:00:00Z","user":{"id":"a"},"ip":"192.0.2.1","mfa":{"factor":"totp"}}"#,
            "missing_field:mfa.result"),
        Invalid(
            "missing action",
            #"{"event_id":"e","type":"sensitive_action","time":"2024-05-01T12:00:00Z","user":{"id":"a"}}"#,
            "missing_field:action"),
        Invalid("empty object", "{}", "missing_field:event_id"),
        // invalid_type
        Invalid("number event_id", login(replacing: "event_id", with: "42"), "invalid_type:event_id"),
        Invalid("huge number event_id", login(replacing: "event_id", with: "1e999999"), "invalid_type:event_id"),
        Invalid("array type", login(replacing: "type", with: #"["login"]"#), "invalid_type:type"),
        Invalid("number time", login(replacing: "time", with: "1714564800"), "invalid_type:time"),
        Invalid("string user", login(replacing: "user", with: #""alice""#), "invalid_type:user"),
        Invalid("number user.id", login(replacing: "user", with: #"{"id":7}"#), "invalid_type:user.id"),
        Invalid("bool role", login(replacing: "user", with: #"{"id":"a","role":true}"#), "invalid_type:user.role"),
        Invalid("number ip", login(replacing: "ip", with: "3405803783"), "invalid_type:ip"),
        Invalid("array device", login(replacing: "device", with: "[]"), "invalid_type:device"),
        Invalid(
            "string managed", login(replacing: "device", with: #"{"managed":"yes"}"#), "invalid_type:device.managed"),
        Invalid("bool outcome", login(replacing: "outcome", with: "true"), "invalid_type:outcome"),
        Invalid("string mfa", login(replacing: "mfa", with: #""push""#), "invalid_type:mfa"),
        Invalid(
            "string compromised", login(replacing: "credential", with: #"{"compromised":"true"}"#),
            "invalid_type:credential.compromised"),
        Invalid("object tenant", login(replacing: "tenant", with: #"{"deep":[[[]]]}"#), "invalid_type:tenant"),
        Invalid(
            "first problem wins",
            login(replacing: "event_id", with: "1").replacingFirst(#""login""#, with: #""logon""#),
            "invalid_type:event_id"),
        // invalid_value
        Invalid("empty event_id", login(replacing: "event_id", with: #""""#), "invalid_value:event_id"),
        Invalid(
            "129-character event_id",
            login(replacing: "event_id", with: "\"" + String(repeating: "é", count: 129) + "\""),
            "invalid_value:event_id"),
        Invalid(
            "257-character user.id",
            login(replacing: "user", with: #"{"id":""# + String(repeating: "u", count: 257) + #""}"#),
            "invalid_value:user.id"),
        Invalid("unknown type", login(replacing: "type", with: #""logon""#), "invalid_value:type"),
        Invalid("type in upper case", login(replacing: "type", with: #""LOGIN""#), "invalid_value:type"),
        Invalid("unknown type beats missing fields", #"{"type":"bogus"}"#, "invalid_value:type"),
        Invalid(
            "unknown role", login(replacing: "user", with: #"{"id":"a","role":"root"}"#), "invalid_value:user.role"),
        Invalid("unknown outcome", login(replacing: "outcome", with: #""ok""#), "invalid_value:outcome"),
        Invalid("unknown IdP rating", login(replacing: "idp_risk", with: #""extreme""#), "invalid_value:idp_risk"),
        Invalid("IdP rating as a number", login(replacing: "idp_risk", with: "3"), "invalid_type:idp_risk"),
        Invalid("unknown factor", login(replacing: "mfa", with: #"{"factor":"pigeon"}"#), "invalid_value:mfa.factor"),
        Invalid(
            "unknown result", login(replacing: "mfa", with: #"{"factor":"sms","result":"maybe"}"#),
            "invalid_value:mfa.result"),
        Invalid(
            "email_domain with space", login(replacing: "user", with: #"{"id":"a","email_domain":"not a domain"}"#),
            "invalid_value:user.email_domain"),
        Invalid(
            "email_domain single label", login(replacing: "user", with: #"{"id":"a","email_domain":"localhost"}"#),
            "invalid_value:user.email_domain"),
        Invalid(
            "email_domain leading hyphen", login(replacing: "user", with: #"{"id":"a","email_domain":"-a.com"}"#),
            "invalid_value:user.email_domain"),
        Invalid(
            "email_domain trailing dot", login(replacing: "user", with: #"{"id":"a","email_domain":"a.com."}"#),
            "invalid_value:user.email_domain"),
        Invalid(
            "email_domain with @", login(replacing: "user", with: #"{"id":"a","email_domain":"bob@a.com"}"#),
            "invalid_value:user.email_domain"),
        Invalid(
            "email_domain 64-character label",
            login(
                replacing: "user", with: #"{"id":"a","email_domain":""# + String(repeating: "a", count: 64) + #".com"}"#
            ), "invalid_value:user.email_domain"),
        Invalid(
            "1025-character user_agent",
            login(replacing: "device", with: #"{"user_agent":""# + String(repeating: "m", count: 1025) + #""}"#),
            "invalid_value:device.user_agent"),
        Invalid(
            "empty action",
            #"{"event_id":"e","type":"sensitive_action","time":"2024-05-01T12:00:00Z","user":{"id":"a"},"action":""}"#,
            "invalid_value:action"),
        Invalid("empty tenant", login(replacing: "tenant", with: #""""#), "invalid_value:tenant"),
        // invalid_ip
        Invalid("three octets", login(replacing: "ip", with: #""1.2.3""#), "invalid_ip"),
        Invalid("octet over 255", login(replacing: "ip", with: #""256.1.1.1""#), "invalid_ip"),
        Invalid("octal-looking octet", login(replacing: "ip", with: #""01.2.3.4""#), "invalid_ip"),
        Invalid("zone id", login(replacing: "ip", with: #""fe80::1%eth0""#), "invalid_ip"),
        Invalid("brackets", login(replacing: "ip", with: #""[::1]""#), "invalid_ip"),
        Invalid("two double colons", login(replacing: "ip", with: #""1::2::3""#), "invalid_ip"),
        Invalid("nine groups", login(replacing: "ip", with: #""1:2:3:4:5:6:7:8:9""#), "invalid_ip"),
        Invalid("empty ip", login(replacing: "ip", with: #""""#), "invalid_ip"),
        Invalid("trailing space", login(replacing: "ip", with: #""1.2.3.4 ""#), "invalid_ip"),
        Invalid("hostname", login(replacing: "ip", with: #""example.com""#), "invalid_ip"),
        // invalid_time
        Invalid("no offset", login(replacing: "time", with: #""2024-05-01T12:00:00""#), "invalid_time"),
        Invalid("date only", login(replacing: "time", with: #""2024-05-01""#), "invalid_time"),
        Invalid("February 30", login(replacing: "time", with: #""2024-02-30T12:00:00Z""#), "invalid_time"),
        Invalid(
            "February 29 in a common year", login(replacing: "time", with: #""2023-02-29T12:00:00Z""#), "invalid_time"),
        Invalid("February 29 in 2100", login(replacing: "time", with: #""2100-02-29T12:00:00Z""#), "invalid_time"),
        Invalid("April 31", login(replacing: "time", with: #""2024-04-31T12:00:00Z""#), "invalid_time"),
        Invalid("month 13", login(replacing: "time", with: #""2024-13-01T12:00:00Z""#), "invalid_time"),
        Invalid("hour 24", login(replacing: "time", with: #""2024-05-01T24:00:00Z""#), "invalid_time"),
        Invalid("minute 60", login(replacing: "time", with: #""2024-05-01T12:60:00Z""#), "invalid_time"),
        Invalid("second 61", login(replacing: "time", with: #""2024-05-01T12:00:61Z""#), "invalid_time"),
        Invalid("year 1969", login(replacing: "time", with: #""1969-12-31T23:59:59Z""#), "invalid_time"),
        Invalid("five-digit year", login(replacing: "time", with: #""10000-01-01T00:00:00Z""#), "invalid_time"),
        Invalid("space separator", login(replacing: "time", with: #""2024-05-01 12:00:00Z""#), "invalid_time"),
        Invalid("lower-case z", login(replacing: "time", with: #""2024-05-01T12:00:00z""#), "invalid_time"),
        Invalid("empty fraction", login(replacing: "time", with: #""2024-05-01T12:00:00.Z""#), "invalid_time"),
        Invalid("offset hour 24", login(replacing: "time", with: #""2024-05-01T12:00:00+24:00""#), "invalid_time"),
        Invalid("offset without colon", login(replacing: "time", with: #""2024-05-01T12:00:00+0530""#), "invalid_time"),
        Invalid(
            "trailing newline escape", login(replacing: "time", with: #""2024-05-01T12:00:00Z\n""#), "invalid_time"),
        Invalid("epoch number as string", login(replacing: "time", with: #""1714564800""#), "invalid_time"),
    ]
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        return replacingCharacters(in: range, with: replacement)
    }
}
