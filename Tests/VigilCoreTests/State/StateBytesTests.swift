import Testing

@testable import VigilCore

/// The state format's primitive layout: what every snapshot and changelog value is built from, so a
/// faster writer cannot change a stored byte.
@Suite struct StateBytesTests {
    /// Little endian, byte by byte, as the format tables say.
    static func littleEndian(_ value: UInt64, width: Int) -> [UInt8] {
        (0..<width).map { UInt8(truncatingIfNeeded: value >> UInt64(8 * $0)) }
    }

    @Test func integersAreLittleEndian() {
        let value: UInt64 = 0x0102_0304_0506_0708
        var writer = StateWriter()
        writer.u8(0xAB)
        writer.u16(UInt16(truncatingIfNeeded: value))
        writer.u32(UInt32(truncatingIfNeeded: value))
        writer.u64(value)
        writer.i32(-2)
        writer.i64(-3)
        writer.bool(true)
        #expect(
            writer.bytes
                == [0xAB] + Self.littleEndian(value, width: 2) + Self.littleEndian(value, width: 4)
                + Self.littleEndian(value, width: 8) + [0xFE, 0xFF, 0xFF, 0xFF]
                + [0xFD, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF] + [1])
    }

    @Test(arguments: ["", "a", "0b6a9c4e-57f5-4a55-9a4b-8f1a1f1c2d3e", String(repeating: "é", count: 30)])
    func eventIDIsWrittenAsItsString(_ id: String) {
        var asString = StateWriter()
        asString.string(id)
        var asEventID = StateWriter(reservingCapacity: 8)
        asEventID.eventID(CompactEventID(id))
        #expect(asEventID.bytes == asString.bytes)
        #expect(asString.bytes == Self.littleEndian(UInt64(id.utf8.count), width: 4) + Array(id.utf8))
    }

    @Test func readerReadsWhatTheWriterWrote() throws {
        var writer = StateWriter()
        writer.u16(0xBEEF)
        writer.u32(0xDEAD_BEEF)
        writer.u64(.max - 1)
        writer.string("név")
        var reader = StateReader(writer.bytes)
        #expect(try reader.u16("u16") == 0xBEEF)
        #expect(try reader.u32("u32") == 0xDEAD_BEEF)
        #expect(try reader.u64("u64") == .max - 1)
        #expect(try reader.string("string") == "név")
        #expect(reader.remaining == 0)
    }
}
