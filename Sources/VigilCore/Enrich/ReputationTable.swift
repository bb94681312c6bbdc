/// The operator's own reputation data: ASN → category and CIDR → category, for both address families.
///
/// Immutable once built, so a reload builds a new table and swaps it. CIDR lists may overlap and may
/// hold hundreds of thousands of networks, so they are flattened at build time into sorted disjoint
/// ranges, each pointing at the set of categories covering it; a lookup is one binary search.
public struct ReputationTable: Sendable {
    private let asnCategories: [UInt32: String]
    /// Start of each disjoint range, ascending; a range runs to the next start (or the top of the space).
    private let rangeStarts: [IPAddress]
    /// For each range, an index into `categorySets` (0 is the empty set).
    private let rangeSets: [Int32]
    private let categorySets: [[String]]

    public static let empty = ReputationTable()

    /// - Parameters:
    ///   - asnCategories: autonomous system number → category.
    ///   - networks: each network with the category it belongs to; overlaps and repeats are fine.
    public init(asnCategories: [UInt32: String] = [:], networks: [(CIDR, category: String)] = []) {
        self.asnCategories = asnCategories
        let categories = Array(Set(networks.map(\.category))).sorted()
        let categoryIndex = Dictionary(uniqueKeysWithValues: categories.enumerated().map { ($1, $0) })

        // Sweep over range boundaries, counting how many networks of each category cover the position.
        var events: [(position: IPAddress, category: Int, delta: Int)] = []
        events.reserveCapacity(networks.count * 2)
        let top = IPAddress(high: ~0, low: ~0)
        for (cidr, category) in networks {
            let index = categoryIndex[category]!
            events.append((cidr.network, index, 1))
            let last = cidr.last
            if last != top {
                let next =
                    last.low == ~0
                    ? IPAddress(high: last.high + 1, low: 0) : IPAddress(high: last.high, low: last.low + 1)
                events.append((next, index, -1))
            }
        }
        events.sort { $0.position < $1.position }

        var coverage = [Int](repeating: 0, count: categories.count)
        var setIDs: [[Int]: Int32] = [[]: 0]
        var sets: [[String]] = [[]]
        var starts: [IPAddress] = [IPAddress(high: 0, low: 0)]
        var rangeSets: [Int32] = [0]
        var eventIndex = 0
        while eventIndex < events.count {
            let position = events[eventIndex].position
            while eventIndex < events.count && events[eventIndex].position == position {
                coverage[events[eventIndex].category] += events[eventIndex].delta
                eventIndex += 1
            }
            let members = coverage.indices.filter { coverage[$0] > 0 }
            let id: Int32
            if let known = setIDs[members] {
                id = known
            } else {
                id = Int32(sets.count)
                setIDs[members] = id
                sets.append(members.map { categories[$0] })
            }
            if rangeSets[rangeSets.count - 1] == id { continue }
            if starts[starts.count - 1] == position {
                rangeSets[rangeSets.count - 1] = id  // only at ::, where the initial empty range starts
            } else {
                starts.append(position)
                rangeSets.append(id)
            }
        }
        self.rangeStarts = starts
        self.rangeSets = rangeSets
        self.categorySets = sets
    }

    /// Number of disjoint ranges after flattening (for sizing and metrics).
    public var rangeCount: Int { rangeStarts.count }

    /// CIDR-list categories covering `address`, sorted by name.
    public func categories(containing address: IPAddress) -> [String] {
        // Last range whose start is <= address; the first range starts at :: so one always exists.
        var low = 0
        var high = rangeStarts.count
        while high - low > 1 {
            let middle = (low + high) / 2
            if rangeStarts[middle] <= address { low = middle } else { high = middle }
        }
        return categorySets[Int(rangeSets[low])]
    }

    /// All matches for an address and its autonomous system: ASN match first, then CIDR matches by name.
    public func matches(address: IPAddress, asn: UInt32?) -> [ReputationMatch] {
        var out: [ReputationMatch] = []
        if let asn, let category = asnCategories[asn] { out.append(ReputationMatch(source: .asn, category: category)) }
        for category in categories(containing: address) {
            out.append(ReputationMatch(source: .cidr, category: category))
        }
        return out
    }

    /// Parses a CIDR list: one network per line, `#` starts a comment, blank lines are ignored.
    /// - Parameter source: names the list in errors (usually its path).
    public static func parseCIDRList(text: String, source: String) throws(CIDRListError) -> [CIDR] {
        var out: [CIDR] = []
        var lineNumber = 0
        // `isNewline` also splits "\r\n", which Swift treats as one Character.
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            lineNumber += 1
            var line = rawLine
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            line = line.drop(while: \.isWhitespace)
            while let last = line.last, last.isWhitespace { line = line.dropLast() }
            if line.isEmpty { continue }
            do {
                out.append(try CIDR(String(line)))
            } catch {
                throw .invalidLine(source: source, line: lineNumber, error)
            }
        }
        return out
    }
}

/// A CIDR list that could not be used, located precisely enough to fix by hand.
public enum CIDRListError: Error, Equatable, CustomStringConvertible {
    case invalidLine(source: String, line: Int, CIDRError)
    /// The list file could not be read; `reason` is the system's explanation.
    case unreadable(source: String, reason: String)

    public var description: String {
        switch self {
        case .invalidLine(let source, let line, let error): "\(source):\(line): \(error)"
        case .unreadable(let source, let reason): "\(source): cannot read CIDR list: \(reason)"
        }
    }
}
