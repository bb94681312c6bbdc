/// The browser (or HTTP client) family a user agent names, read from its product tokens. A device id
/// that is a browser cookie or fingerprint belongs to one browser: the same id presented by another
/// family is a copied cookie or device token, not the user's device (`device_browser_changed`).
/// Versions, platforms and devices are not told apart: an update keeps the family.
public enum BrowserFamily: UInt8, Sendable, CaseIterable {
    /// No user agent, or one that names no product.
    case unknown = 0
    case chrome, edge, firefox, safari, opera, samsungInternet, internetExplorer
    /// A script or HTTP library (curl, python-requests, Go, Java, okhttp, ...), not a browser.
    case script
    /// Products that are none of the above.
    case other

    /// Product names (the word before a `/`, lower-case, at most 24 bytes) and the family each names,
    /// with its precedence: Edge, Opera and Samsung Internet also name Chrome and Safari, Chrome also
    /// names Safari, so the more specific product wins whatever its position.
    private static let products: [PackedName: (family: BrowserFamily, precedence: Int)] = {
        var table: [PackedName: (BrowserFamily, Int)] = [:]
        for (names, family, precedence) in [
            (["headlesschrome", "phantomjs"], BrowserFamily.script, 5),
            (["edg", "edge", "edga", "edgios"], .edge, 4), (["opr", "opera"], .opera, 4),
            (["samsungbrowser"], .samsungInternet, 4), (["trident"], .internetExplorer, 4),
            (["firefox", "fxios"], .firefox, 3), (["crios", "chrome", "chromium"], .chrome, 2),
            (["safari"], .safari, 1),
            (
                [
                    "curl", "wget", "python-requests", "python-urllib", "python", "aiohttp", "go-http-client",
                    "okhttp", "java", "axios", "node-fetch", "node", "postmanruntime", "libwww-perl", "httpclient",
                    "powershell", "windowspowershell",
                ], .script, 0
            ),
        ] {
            for name in names { table[PackedName(Array(name.utf8))!] = (family, precedence) }
        }
        return table
    }()

    /// The family as explanations name it.
    public var displayName: String {
        switch self {
        case .unknown: "an unknown browser"
        case .chrome: "Chrome"
        case .edge: "Edge"
        case .firefox: "Firefox"
        case .safari: "Safari"
        case .opera: "Opera"
        case .samsungInternet: "Samsung Internet"
        case .internetExplorer: "Internet Explorer"
        case .script: "a script or HTTP library"
        case .other: "another browser"
        }
    }

    /// The family of `userAgent`; `unknown` when it names no product.
    public init(userAgent: String) {
        var agent = userAgent
        self = agent.withUTF8 { Self.family(of: UnsafeRawBufferPointer($0)) }
    }

    /// One pass over the agent: at each `/`, the product name before it is looked up.
    static func family(of agent: UnsafeRawBufferPointer) -> BrowserFamily {
        var best: (family: BrowserFamily, precedence: Int)?
        var sawProduct = false
        var nameStart = 0
        for index in 0..<agent.count {
            let byte = agent[index]
            if byte == UInt8(ascii: "/") {
                if index > nameStart {
                    sawProduct = true
                    if let name = PackedName(agent, from: nameStart, to: index), let found = products[name],
                        found.precedence > best?.precedence ?? -1
                    {
                        best = found
                    }
                }
                nameStart = index + 1
            } else if !Self.isNameByte(byte) {
                nameStart = index + 1
            }
        }
        return best?.family ?? (sawProduct ? .other : .unknown)
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
            return true
        default:
            return false
        }
    }
}

/// Up to 24 bytes of a product name, lower-cased and packed into three integers: a table key built
/// without allocating.
private struct PackedName: Hashable {
    var words: (UInt64, UInt64, UInt64) = (0, 0, 0)

    static func == (lhs: PackedName, rhs: PackedName) -> Bool { lhs.words == rhs.words }

    func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
    }

    init?(_ bytes: [UInt8]) {
        guard let packed = bytes.withUnsafeBytes({ PackedName($0, from: 0, to: $0.count) }) else { return nil }
        self = packed
    }

    /// nil when the name is longer than 24 bytes (no product of the table is).
    init?(_ text: UnsafeRawBufferPointer, from start: Int, to end: Int) {
        guard end - start <= 24 else { return nil }
        for index in start..<end {
            var byte = text[index]
            if byte >= 65 && byte <= 90 { byte |= 0x20 }
            let position = index - start
            let shifted = UInt64(byte) << (8 * UInt64(position % 8))
            switch position / 8 {
            case 0: words.0 |= shifted
            case 1: words.1 |= shifted
            default: words.2 |= shifted
            }
        }
    }
}
