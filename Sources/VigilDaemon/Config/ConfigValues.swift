import Foundation
import VigilCore

/// Rules for the daemon's config values (listen addresses, Kafka topic names, environment references),
/// used by the setting declarations in `DaemonConfig+Settings.swift`.
public enum ConfigValues {
    /// swift-log's levels, by the names `Logger.Level` uses.
    public static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    /// A `host:port` to listen on: IPv4, a name, or a bracketed IPv6 (`[::1]:9464`). Returns a reason when
    /// it is not one.
    public static func listenAddressProblem(_ text: String) -> String? {
        guard let (host, port) = splitHostPort(text) else {
            return "expected host:port (IPv6 in brackets, e.g. [::1]:9464), got \(quoted(text))"
        }
        if host.isEmpty { return "missing host in \(quoted(text)) (use 0.0.0.0 or [::] to listen everywhere)" }
        guard let port, (1...65_535).contains(port) else { return "port must be 1–65535 in \(quoted(text))" }
        return nil
    }

    /// A librdkafka bootstrap list: comma-separated `host[:port]`, optionally `scheme://host:port`.
    public static func bootstrapServersProblem(_ text: String) -> String? {
        for entry in text.split(separator: ",", omittingEmptySubsequences: false) {
            var server = entry.trimmingSpaces()
            if let scheme = server.firstRange(of: "://") { server = String(server[scheme.upperBound...]) }
            guard !server.isEmpty, !server.contains(" ") else {
                return "expected comma-separated host:port entries, got \(quoted(text))"
            }
            let hasPort = server.hasPrefix("[") ? server.contains("]:") : server.contains(":")
            guard hasPort else { continue }
            guard let (host, port) = splitHostPort(server), !host.isEmpty, let port, (1...65_535).contains(port)
            else { return "invalid host:port \(quoted(server)) in bootstrap servers" }
        }
        return nil
    }

    /// Kafka's own rule: 1–249 characters of `[A-Za-z0-9._-]`, not `.` or `..`.
    public static func topicNameProblem(_ name: String) -> String? { kafkaNameProblem(name, "Kafka topic name") }

    /// Kafka checks a `group.instance.id` as it checks a topic name: 1–249 characters of A-Z a-z 0-9 . _ -.
    public static func groupInstanceIDProblem(_ id: String) -> String? { kafkaNameProblem(id, "group.instance.id") }

    private static func kafkaNameProblem(_ name: String, _ what: String) -> String? {
        guard !name.isEmpty, name.count <= 249, name.allSatisfy(isKafkaNameCharacter), name != ".", name != ".."
        else { return "invalid \(what) \(quoted(name)) (1–249 characters of A-Z a-z 0-9 . _ -)" }
        return nil
    }

    /// The characters Kafka allows in topic names and group instance ids.
    static func isKafkaNameCharacter(_ character: Character) -> Bool {
        character.isASCII && (character.isLetter || character.isNumber || "._-".contains(character))
    }

    /// Reputation categories end up in decisions and metrics labels: keep them short plain tokens.
    public static func categoryProblem(_ category: String) -> String? {
        let legal = category.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || "_-".contains($0)) }
        guard !category.isEmpty, category.count <= 64, legal else {
            return "category must be 1–64 characters of a-z 0-9 _ -, got \(quoted(category))"
        }
        return nil
    }

    /// POSIX-style environment variable names (`KAFKA_PASSWORD`).
    public static func isEnvironmentName(_ name: String) -> Bool {
        guard let first = name.first, first == "_" || (first.isASCII && first.isLetter) else { return false }
        return name.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
    }

    /// The variable named by a whole-value `${env:NAME}` reference, or nil when the value is a literal.
    public static func environmentReference(_ value: String) -> String? {
        guard value.hasPrefix("${env:"), value.hasSuffix("}") else { return nil }
        let name = String(value.dropFirst(6).dropLast())
        return isEnvironmentName(name) ? name : nil
    }

    /// Why `url` cannot be a push endpoint, or nil: https with a host, or http to a loopback host (a local
    /// relay): a credential must not cross a network in clear. No user and password in the URL: they would
    /// travel with every request and end in logs.
    public static func pushURLProblem(_ url: String) -> String? {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            scheme == "https" || scheme == "http", let host = components.host, !host.isEmpty
        else { return "must be an https URL with a host, got \(quoted(redactedURL(url)))" }
        guard components.user == nil, components.password == nil else {
            return "must not hold a user or password: use authorization"
        }
        let loopback = ["127.0.0.1", "::1", "[::1]", "localhost"].contains(host.lowercased())
        guard scheme == "https" || loopback else {
            return "must be https (http only to a loopback host), got \(quoted(redactedURL(url)))"
        }
        return nil
    }

    /// A URL as errors and logs show it: scheme, host, port and path; no user, password, query or
    /// fragment (any of them could hold a key).
    public static func redactedURL(_ url: String) -> String {
        guard var components = URLComponents(string: url) else {
            return "(an unparsable URL of \(url.utf8.count) bytes)"
        }
        components.query = nil
        components.fragment = nil
        components.user = nil
        components.password = nil
        return components.string ?? "(an unparsable URL of \(url.utf8.count) bytes)"
    }

    /// A value as error messages show it: quoted and cut short.
    public static func quoted(_ text: String) -> String { ConfigProblem.quoted(text) }

    /// Splits `host:port` or `[v6]:port`; the port is nil when it is not a number.
    private static func splitHostPort(_ text: String) -> (host: String, port: Int?)? {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[close...].hasPrefix("]:") else { return nil }
            let host = text[text.index(after: text.startIndex)..<close]
            guard host.contains(":") else { return nil }
            return (String(host), Int(text[text.index(close, offsetBy: 2)...]))
        }
        guard let colon = text.lastIndex(of: ":") else { return nil }
        let host = text[..<colon]
        guard !host.contains(":") else { return nil }  // unbracketed IPv6
        return (String(host), Int(text[text.index(after: colon)...]))
    }
}

extension StringProtocol {
    fileprivate func trimmingSpaces() -> String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
