#if canImport(Glibc)
import Glibc  // log
#elseif canImport(Musl)
import Musl
#endif

/// An approximate count of distinct 64-bit keys in fixed memory (HyperLogLog, 1,024 registers: about
/// 3% standard error, 1 KiB), for counting keys an attacker chooses (an exact set would be memory
/// the attacker controls). Keys must already be uniformly distributed, such as keyed hashes.
public struct DistinctSketch: Sendable, Equatable {
    @inlinable static var indexBits: Int { 10 }
    /// Registers in a sketch: the count `init(registerBytes:)` accepts.
    @inlinable public static var registerCount: Int { 1 << indexBits }

    /// Allocated on the first insert, so an empty sketch costs one pointer.
    @usableFromInline var registers: [UInt8]

    /// An empty sketch; its registers are allocated on the first insert.
    @inlinable public init() { registers = [] }

    /// Whether nothing has been inserted.
    @inlinable public var isEmpty: Bool { registers.isEmpty }

    /// The registers (empty until the first insert), for storing the sketch.
    public var registerBytes: [UInt8] { registers }

    /// A sketch from stored registers; `nil` unless they are empty or exactly `registerCount` ranks a
    /// 64-bit key can produce.
    public init?(registerBytes: [UInt8]) {
        let maxRank = 64 - Self.indexBits + 1
        guard
            registerBytes.isEmpty
                || (registerBytes.count == Self.registerCount && registerBytes.allSatisfy { $0 <= maxRank })
        else { return nil }
        registers = registerBytes
    }

    /// Counts `key`; inserting the same key again changes nothing.
    @inlinable public mutating func insert(_ key: UInt64) {
        if registers.isEmpty { registers = Array(repeating: 0, count: Self.registerCount) }
        let index = Int(key >> UInt64(64 - Self.indexBits))
        // The rank of the remaining bits; the sentinel bit caps it when they are all zero.
        let rest = (key << UInt64(Self.indexBits)) | (1 << UInt64(Self.indexBits - 1))
        let rank = UInt8(rest.leadingZeroBitCount + 1)
        if registers[index] < rank { registers[index] = rank }
    }

    /// Adds every key of `other` (register-wise maximum).
    public mutating func formUnion(_ other: DistinctSketch) {
        guard !other.registers.isEmpty else { return }
        guard !registers.isEmpty else {
            registers = other.registers
            return
        }
        for index in registers.indices where registers[index] < other.registers[index] {
            registers[index] = other.registers[index]
        }
    }

    /// The estimated number of distinct keys inserted, with the small-range (linear counting) correction.
    public var estimate: Int {
        guard !registers.isEmpty else { return 0 }
        let m = Double(Self.registerCount)
        var sum = 0.0
        var zeros = 0
        for register in registers {
            sum += 1 / Double(UInt64(1) << UInt64(register))
            if register == 0 { zeros += 1 }
        }
        let alpha = 0.7213 / (1 + 1.079 / m)
        let raw = alpha * m * m / sum
        if raw <= 2.5 * m, zeros > 0 {
            return Int((m * log(m / Double(zeros))).rounded())
        }
        return Int(raw.rounded())
    }
}
