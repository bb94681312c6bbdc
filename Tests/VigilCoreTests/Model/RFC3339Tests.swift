import Testing
import _VigilMachinery

@testable import VigilCore

@Suite struct RFC3339Tests {
    @Test(arguments: [
        ("1970-01-01T00:00:00Z", Int64(0)),
        ("1970-01-01T00:00:00+23:59", -86_340_000_000),
        ("1970-01-01T00:00:00-23:59", 86_340_000_000),
        ("2000-02-29T00:00:00Z", 951_782_400_000_000),
        ("2400-02-29T12:00:00Z", 13_574_606_400_000_000),
        ("2024-03-10T08:15:00+05:30", 1_710_038_700_000_000),
        ("2024-05-01T12:34:56.789Z", 1_714_566_896_789_000),
        ("9999-12-31T23:59:59.999999Z", 253_402_300_799_999_999),
        ("9999-12-31T23:59:59-23:59", 253_402_387_139_000_000),
        ("2016-12-31T23:59:60Z", 1_483_228_799_999_999),
        ("2016-12-31T23:59:60.5+00:00", 1_483_228_799_999_999),
        ("2024-05-01T12:00:00-00:00", 1_714_564_800_000_000),
    ])
    func parses(text: String, microseconds: Int64) {
        #expect(Timestamp(rfc3339: text)?.microseconds == microseconds)
    }

    @Test func fractionDigitsOneToNine() {
        let expected: [Int64] = [100_000, 120_000, 123_000, 123_400, 123_450, 123_456, 123_456, 123_456, 123_456]
        for digits in 1...9 {
            let text = "1970-01-01T00:00:00." + String("123456789".prefix(digits)) + "Z"
            #expect(Timestamp(rfc3339: text)?.microseconds == expected[digits - 1], "\(digits) digits")
        }
    }

    @Test(arguments: [
        "", "2024-05-01T12:00:00", "2024-05-01T12:00:00+05", "2024-05-01T12:00:00+05:60", "2024-05-01T12:00:00+24:00",
        "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2100-02-29T00:00:00Z", "2024-00-10T00:00:00Z",
        "2024-01-00T00:00:00Z", "2024-06-31T00:00:00Z", "2024-01-01T24:00:00Z", "2024-01-01T23:60:00Z",
        "2024-01-01T23:59:61Z", "1969-12-31T23:59:59Z", "0000-01-01T00:00:00Z", "2024-1-01T00:00:00Z",
        "2024-01-01t00:00:00Z", "2024-01-01T00:00:00z", "2024-01-01T00:00:00.Z", "2024-01-01T00:00:00ZZ",
        "2024-01-01T00:00:00+05:30 ", "+2024-01-01T00:00:00Z", "2024-01-01T00:00:00,5Z", "２０２４-01-01T00:00:00Z",
    ])
    func rejects(text: String) {
        #expect(Timestamp(rfc3339: text) == nil)
    }

    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        (1_714_566_896_789_999, "2024-05-01T12:34:56.789Z"),
        (951_782_400_000_000, "2000-02-29T00:00:00.000Z"),
        (253_402_300_799_999_999, "9999-12-31T23:59:59.999Z"),
        (1_483_228_799_999_999, "2016-12-31T23:59:59.999Z"),
    ])
    func formats(microseconds: Int64, text: String) {
        #expect(Timestamp(microseconds: microseconds).rfc3339 == text)
    }

    @Test func formatRoundTripsAtMillisecondPrecision() throws {
        // One instant every ~116 days from 1970 to 9999, at varying times of day.
        var microseconds: Int64 = 0
        while microseconds < 253_402_300_799_999_999 {
            let text = Timestamp(microseconds: microseconds).rfc3339
            let parsed = try #require(Timestamp(rfc3339: text))
            #expect(parsed.microseconds == microseconds / 1000 * 1000, "\(text)")
            microseconds += 10_000_000_007_777
        }
    }

    @Test func civilDaysRoundTrip() {
        for days in stride(from: Int64(-800_000), through: 3_000_000, by: 373) {
            let (year, month, day) = RFC3339.civilFromDays(days)
            #expect(RFC3339.daysFromCivil(year: year, month: month, day: day) == days)
            #expect((1...12).contains(month) && day >= 1 && day <= RFC3339.daysInMonth(year: year, month: month))
        }
    }

    @Test func millisecondsRoundDownAndNeverTrap() {
        #expect(Timestamp(microseconds: 1_999).milliseconds == 1)
        #expect(Timestamp(microseconds: -1).milliseconds == -1)
        #expect(Timestamp(microseconds: -1_000).milliseconds == -1)
        #expect(Timestamp(microseconds: -1_001).milliseconds == -2)
        #expect(Timestamp(microseconds: .min).milliseconds == Int64.min / 1000 - 1)
        #expect(Timestamp(microseconds: .max).milliseconds == Int64.max / 1000)
        #expect(!Timestamp(microseconds: .min).rfc3339.isEmpty)
    }
}

@Suite struct RFC3339WriterTests {
    static func at(_ year: Int64, _ month: Int64, _ day: Int64, seconds: Int64 = 0) -> Timestamp {
        Timestamp(
            microseconds: (RFC3339.daysFromCivil(year: year, month: month, day: day) * 86_400 + seconds) * 1_000_000)
    }

    @Test func yearsBelowOneThousandArePadded() {
        #expect(Self.at(999, 6, 15, seconds: 3723).rfc3339 == "0999-06-15T01:02:03.000Z")
        #expect(Self.at(1, 1, 1).rfc3339 == "0001-01-01T00:00:00.000Z")
        #expect(Self.at(0, 2, 29).rfc3339 == "0000-02-29T00:00:00.000Z")
    }

    @Test func yearsOutsideFourDigitsAreWrittenWhole() {
        #expect(Self.at(-1, 12, 31, seconds: 86_399).rfc3339 == "-1-12-31T23:59:59.000Z")
        #expect(Self.at(-2024, 3, 1).rfc3339 == "-2024-03-01T00:00:00.000Z")
        #expect(Self.at(10_000, 1, 1).rfc3339 == "10000-01-01T00:00:00.000Z")
        // The extremes of the microsecond range fit the declared maximum length.
        for extreme in [Timestamp(microseconds: .max), Timestamp(microseconds: .min + 999)] {
            #expect(extreme.rfc3339.utf8.count <= Timestamp.maxRFC3339Length)
        }
        #expect(Timestamp(microseconds: .max).rfc3339 == "294247-01-10T04:00:54.775Z")
    }

    @Test func subMillisecondDigitsAreTruncatedTowardsThePast() {
        #expect(Timestamp(microseconds: 1_999).rfc3339 == "1970-01-01T00:00:00.001Z")
        #expect(Timestamp(microseconds: 999).rfc3339 == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp(microseconds: -1).rfc3339 == "1969-12-31T23:59:59.999Z")
        #expect(Timestamp(microseconds: -1_000).rfc3339 == "1969-12-31T23:59:59.999Z")
        #expect(Timestamp(microseconds: -1_001).rfc3339 == "1969-12-31T23:59:59.998Z")
        #expect(Timestamp(microseconds: 86_399_999_999).rfc3339 == "1970-01-01T23:59:59.999Z")
    }
}
