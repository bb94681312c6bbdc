/// Interned names (cities, AS organisations) for one shard, so a user's anchor holds a 4-byte id
/// instead of a string. The values come from the GeoIP databases, so the table is bounded by them.
///
/// It is still capped at `capacity` names: once full, a new name gets the `unknown` id, which decodes
/// to `nil` (the anchor then has no city or organisation; nothing else changes). Names are never
/// removed, so the table holds every name seen since the shard started, up to the cap; each shard has
/// its own table.
struct NameTable: Sendable {
    typealias ID = UInt32
    /// No name was given.
    static let none: ID = 0
    /// A name was given but the table was full.
    static let unknown: ID = .max
    /// Room for the English city names and AS organisations of the GeoLite2 City and ASN databases
    /// together, with headroom.
    static let defaultCapacity = 1 << 19

    let capacity: Int
    private var names: [String] = []
    private var ids: [String: ID] = [:]
    private(set) var utf8Bytes = 0

    init(capacity: Int = NameTable.defaultCapacity) {
        self.capacity = max(0, min(capacity, Int(ID.max) - 1))
    }

    var count: Int { names.count }

    /// Every name, in id order: interning them in this order into an empty table gives the same ids.
    var allNames: [String] { names }

    /// The id of `name`, adding it if there is room.
    mutating func intern(_ name: String?) -> ID {
        guard let name else { return Self.none }
        if let id = ids[name] { return id }
        guard names.count < capacity else { return Self.unknown }
        names.append(name)
        utf8Bytes += name.utf8.count
        let id = ID(names.count)
        ids[name] = id
        return id
    }

    /// The name behind `id`; `nil` for `none` and `unknown`.
    subscript(id: ID) -> String? {
        guard id != Self.none, id != Self.unknown, Int(id) <= names.count else { return nil }
        return names[Int(id) - 1]
    }

    /// Rough heap use: each name's bytes, its string header, an array slot and a dictionary slot.
    var approximateBytes: Int { utf8Bytes + names.capacity * 16 + ids.capacity * 24 + names.count * 32 }
}
