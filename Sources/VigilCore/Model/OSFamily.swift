/// The operating system family a user agent names, read from its platform words ("Windows NT 10.0",
/// "iPhone", "Android 14", "CrOS"). A feature of the login model: a user's logins come from one or two
/// systems, and a new one is part of what makes a login unlike the user's. Versions are not told apart.
public enum OSFamily: UInt8, Sendable, CaseIterable {
    /// No user agent, or one that names no known system.
    case unknown = 0
    case windows, macOS, iOS, android, linux, chromeOS

    /// The family as explanations name it.
    public var displayName: String {
        switch self {
        case .unknown: "an unknown system"
        case .windows: "Windows"
        case .macOS: "macOS"
        case .iOS: "iOS"
        case .android: "Android"
        case .linux: "Linux"
        case .chromeOS: "ChromeOS"
        }
    }

    /// The family of `userAgent`; `unknown` when it names no system.
    public init(userAgent: String) {
        var agent = userAgent
        self = agent.withUTF8 { Self.family(of: UnsafeRawBufferPointer($0)) }
    }

    /// Platform words and the family each names, with its precedence: Android agents also say Linux,
    /// ChromeOS agents X11, and iPhone agents "like Mac OS X", so the more specific word wins whatever
    /// its position. iPadOS presents itself as a Macintosh and counts as one.
    private static let words: [UInt64: (family: OSFamily, precedence: Int)] = {
        var table: [UInt64: (OSFamily, Int)] = [:]
        for (names, family, precedence) in [
            (["iphone", "ipad", "ipod", "ios"], OSFamily.iOS, 3), (["android"], .android, 3), (["cros"], .chromeOS, 3),
            (["windows", "win64", "win32"], .windows, 2), (["macintosh", "macos"], .macOS, 2),
            (["linux", "x11", "ubuntu", "fedora"], .linux, 1),
        ] {
            for name in names {
                var key = WordKey()
                for byte in name.utf8 { key.append(byte) }
                table[key.value] = (family, precedence)
            }
        }
        return table
    }()

    /// The words of the agent's first comment (the parenthesised platform, "(Windows NT 10.0; Win64;
    /// x64)"), each looked up as an integer: a handful of lookups, nothing allocated.
    static func family(of agent: UnsafeRawBufferPointer) -> OSFamily {
        var best: (family: OSFamily, precedence: Int)?
        var inComment = false
        var key = WordKey()
        // A zero byte past the end looks the last word up when the comment is cut short ("(iPhone").
        for index in 0...agent.count {
            let byte = index < agent.count ? agent[index] : 0
            if !inComment {
                inComment = byte == UInt8(ascii: "(")
                continue
            }
            let lower = byte >= 65 && byte <= 90 ? byte | 0x20 : byte
            if (lower >= 97 && lower <= 122) || (lower >= 48 && lower <= 57) {
                key.append(lower)
                continue
            }
            if let found = words[key.value], found.precedence > best?.precedence ?? 0 { best = found }
            key = WordKey()
            if byte == UInt8(ascii: ")") { break }
        }
        return best?.family ?? .unknown
    }
}

/// A word as a table key: its first seven bytes and its length (up to 255), packed into one integer.
private struct WordKey {
    private(set) var value: UInt64 = 0
    private var length = 0

    mutating func append(_ byte: UInt8) {
        if length < 7 { value |= UInt64(byte) << (8 * UInt64(length + 1)) }
        length = min(length + 1, 255)
        value = value & ~0xFF | UInt64(length)
    }
}
