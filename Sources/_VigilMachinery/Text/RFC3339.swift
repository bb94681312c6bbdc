/// RFC 3339 `date-time` over plain integers: parsing to microseconds and formatting milliseconds,
/// with the calendar done by the proleptic Gregorian days-from-civil conversion. No Foundation date
/// APIs and no time zone database, so the answer is the same on every platform, and the formatter
/// writes through a pointer with one store per byte and no capacity checks, for encoders that
/// reserve `maxLength` bytes once and write the text in place.
public enum RFC3339 {
    /// Microseconds since the Unix epoch of `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±hh:mm)` (RFC 3339
    /// `date-time`, explicit offset), or nil when the text is not one.
    ///
    /// Accepted: years 1970–9999 (as written, before the offset is applied), real calendar dates,
    /// offsets up to ±23:59, any number of fraction digits (kept to the microsecond, the rest
    /// truncated) and the leap second `:60`, clamped to `:59.999999` because the epoch count has no
    /// place for it. Rejected: lower-case `t`/`z`, a space instead of `T`, missing offset, hour 24.
    @inlinable public static func microseconds(parsing bytes: UnsafeRawBufferPointer) -> Int64? {
        // Shortest form: 2024-01-01T00:00:00Z (20 bytes).
        guard bytes.count >= 20, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            bytes[10] == UInt8(ascii: "T"), bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":")
        else { return nil }
        // The value of the decimal digits at `start..<start + count`, or -1 when one is not a digit.
        func digits(_ start: Int, _ count: Int) -> Int64 {
            var value: Int64 = 0
            var invalid: UInt8 = 0
            for index in start..<start + count {
                let digit = bytes[index] &- UInt8(ascii: "0")
                invalid |= digit > 9 ? 1 : 0
                value = value &* 10 &+ Int64(digit)
            }
            return invalid == 0 ? value : -1
        }
        let year = digits(0, 4)
        let month = digits(5, 2)
        let day = digits(8, 2)
        let hour = digits(11, 2)
        let minute = digits(14, 2)
        var second = digits(17, 2)
        guard (1970...9999).contains(year), (1...12).contains(month),
            day >= 1, day <= daysInMonth(year: year, month: month),
            (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second)
        else { return nil }

        var index = 19
        var fraction: Int64 = 0
        if bytes[index] == UInt8(ascii: ".") {
            index += 1
            var fractionDigits = 0
            while index < bytes.count, case let digit = bytes[index] &- UInt8(ascii: "0"), digit < 10 {
                if fractionDigits < 6 { fraction = fraction * 10 + Int64(digit) }
                fractionDigits += 1
                index += 1
            }
            guard fractionDigits > 0 else { return nil }
            for _ in min(fractionDigits, 6)..<6 { fraction *= 10 }
        }

        guard index < bytes.count else { return nil }
        var offsetSeconds: Int64 = 0
        switch bytes[index] {
        case UInt8(ascii: "Z"):
            guard index + 1 == bytes.count else { return nil }
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard index + 6 == bytes.count, bytes[index + 3] == UInt8(ascii: ":") else { return nil }
            let offsetHours = digits(index + 1, 2)
            let offsetMinutes = digits(index + 4, 2)
            guard (0...23).contains(offsetHours), (0...59).contains(offsetMinutes) else { return nil }
            offsetSeconds = (offsetHours * 3600 + offsetMinutes * 60) * (bytes[index] == UInt8(ascii: "-") ? -1 : 1)
        default:
            return nil
        }

        if second == 60 {
            second = 59
            fraction = 999_999
        }
        let days = daysFromCivil(year: year, month: month, day: day)
        let localSeconds = days * 86_400 + hour * 3600 + minute * 60 + second
        return (localSeconds - offsetSeconds) * 1_000_000 + fraction
    }

    /// The longest formatted text: a 24-byte four-digit-year form, or a signed year of up to six
    /// digits outside 0–9999 (the range of an Int64 count of microseconds).
    public static let maxLength = 28

    /// Writes `totalMilliseconds` since the epoch as UTC with exactly three fraction digits
    /// (`2024-05-01T12:00:00.250Z`) into `out`, which has room for `maxLength` bytes; returns the
    /// number of bytes written. `totalMilliseconds` is within the range of an Int64 count of
    /// microseconds divided by 1000, which keeps the year to six digits.
    @inlinable public static func write(
        milliseconds totalMilliseconds: Int64, into out: UnsafeMutablePointer<UInt8>
    ) -> Int {
        var seconds = totalMilliseconds / 1000
        var millisecond = totalMilliseconds % 1000
        if millisecond < 0 {
            millisecond += 1000
            seconds -= 1
        }
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        let (year, month, day) = civilFromDays(days)

        @inline(__always)
        func two(_ value: Int64, at offset: Int) {
            out[offset] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value / 10)
            out[offset + 1] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value % 10)
        }
        var position: Int
        if (0...9999).contains(year) {
            two(year / 100, at: 0)
            two(year % 100, at: 2)
            position = 4
        } else {
            // Outside RFC 3339's range; still readable, never produced from a decoded event.
            position = JSONWriter.formatInteger(year, into: out)
        }
        out[position] = UInt8(ascii: "-")
        two(month, at: position + 1)
        out[position + 3] = UInt8(ascii: "-")
        two(day, at: position + 4)
        out[position + 6] = UInt8(ascii: "T")
        two(secondOfDay / 3600, at: position + 7)
        out[position + 9] = UInt8(ascii: ":")
        two(secondOfDay / 60 % 60, at: position + 10)
        out[position + 12] = UInt8(ascii: ":")
        two(secondOfDay % 60, at: position + 13)
        out[position + 15] = UInt8(ascii: ".")
        out[position + 16] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: millisecond / 100)
        two(millisecond % 100, at: position + 17)
        out[position + 19] = UInt8(ascii: "Z")
        return position + 20
    }

    @inlinable public static func isLeapYear(_ year: Int64) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    @inlinable public static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date, counting in 400-year eras that start on
    /// 1 March so the leap day falls at the end of each year.
    @inlinable public static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let marchYear = month <= 2 ? year - 1 : year
        let era = (marchYear >= 0 ? marchYear : marchYear - 399) / 400
        let yearOfEra = marchYear - era * 400
        let monthFromMarch = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * monthFromMarch + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The inverse of `daysFromCivil`.
    @inlinable public static func civilFromDays(_ days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthFromMarch = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
        let month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
