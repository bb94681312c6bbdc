/// The one spelling of durations in config files, shared by the loader and the canonical rendering.
extension EventDuration {
    /// Units a config duration may use, largest first (the canonical rendering picks the largest exact one).
    private static let configUnits: [(suffix: String, microseconds: Int64)] = [
        ("d", 86_400_000_000), ("h", 3_600_000_000), ("m", 60_000_000),
        ("s", 1_000_000), ("ms", 1_000), ("us", 1),
    ]

    /// Parses `<integer><unit>` with unit `us`, `ms`, `s`, `m`, `h` or `d` (`250ms`, `90s`, `5m`, `24h`, `30d`).
    /// A bare number is refused on purpose: `300` could mean seconds or milliseconds, and a wrong guess
    /// silently changes a window by a factor of 1000.
    public init?(configString text: String) {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        let unit = text.dropFirst(digits.count)
        guard !digits.isEmpty, digits.count <= 12, let value = Int64(digits),
            let scale = Self.configUnits.first(where: { $0.suffix == unit })?.microseconds
        else { return nil }
        self.init(microseconds: value * scale)
    }

    /// The shortest exact spelling `init(configString:)` reads back: `5m`, `24h`, `250ms`.
    public var configString: String {
        for (suffix, scale) in Self.configUnits where microseconds % scale == 0 && microseconds != 0 {
            return "\(microseconds / scale)\(suffix)"
        }
        return microseconds == 0 ? "0s" : "\(microseconds)us"
    }
}
