import Testing
import _VigilMachinery

@testable import VigilCore

@Suite struct JSONWriterTimestampTests {
    func text(_ build: (inout JSONWriter) -> Void) -> String {
        var writer = JSONWriter()
        build(&writer)
        return String(decoding: writer.finish(), as: UTF8.self)
    }

    @Test func timestampsMatchRFC3339Text() {
        for microseconds: Int64 in [0, -1, 1_999, 1_714_566_896_789_999, 253_402_300_799_999_999] {
            let time = Timestamp(microseconds: microseconds)
            #expect(text { $0.timestamp(time) } == "\"\(time.rfc3339)\"")
            var appended: [UInt8] = [UInt8(ascii: "x")]
            time.appendRFC3339(to: &appended)
            #expect(String(decoding: appended, as: UTF8.self) == "x" + time.rfc3339)
        }
    }
}
