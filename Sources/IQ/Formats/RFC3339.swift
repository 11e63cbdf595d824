/// RFC 3339 timestamps (SigMF `core:datetime`, detection records), without Foundation's
/// formatter so that fractional seconds of any length and offsets parse the same everywhere.
public enum RFC3339 {
    /// Parses `2026-11-29T14:16:44Z`, `…44.123456Z`, `…44+01:00`. Returns seconds since 1970 UTC.
    public static func parse(_ text: String) -> Double? {
        let b = Array(text.utf8)
        func digits(_ at: Int, _ n: Int) -> Int? {
            guard at + n <= b.count else { return nil }
            var v = 0
            for k in at..<(at + n) {
                guard b[k] >= 48, b[k] <= 57 else { return nil }
                v = v * 10 + Int(b[k] - 48)
            }
            return v
        }
        guard b.count >= 19, let year = digits(0, 4), b[4] == 45, let month = digits(5, 2), b[7] == 45,
              let day = digits(8, 2), b[10] == 84 || b[10] == 116 || b[10] == 32,
              let hour = digits(11, 2), b[13] == 58, let minute = digits(14, 2), b[16] == 58,
              let second = digits(17, 2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var pos = 19
        var fraction = 0.0
        if pos < b.count, b[pos] == 46 {
            pos += 1
            var scale = 0.1
            let start = pos
            while pos < b.count, b[pos] >= 48, b[pos] <= 57 {
                fraction += Double(b[pos] - 48) * scale
                scale /= 10
                pos += 1
            }
            if pos == start { return nil }
        }
        var offsetS = 0
        guard pos < b.count else { return nil }  // a zone is required
        if b[pos] == 90 || b[pos] == 122 {
            pos += 1
        } else if b[pos] == 43 || b[pos] == 45, let oh = digits(pos + 1, 2), b.count > pos + 3, b[pos + 3] == 58,
                  let om = digits(pos + 4, 2) {
            offsetS = (oh * 3600 + om * 60) * (b[pos] == 43 ? 1 : -1)
            pos += 6
        } else {
            return nil
        }
        guard pos == b.count else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        return Double(days * 86400 + hour * 3600 + minute * 60 + second - offsetS) + fraction
    }

    /// Formats seconds since 1970 as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (microseconds, UTC).
    public static func format(_ secondsSince1970: Double, fractionDigits: Int = 6) -> String {
        let scale = pow10(fractionDigits)
        let totalUnits = Int64((secondsSince1970 * Double(scale)).rounded())
        var units = totalUnits % scale
        if units < 0 { units += scale }
        let seconds = (totalUnits - units) / scale
        var days = seconds / 86400
        var rem = seconds % 86400
        if rem < 0 { rem += 86400; days -= 1 }
        let (y, m, d) = civilFromDays(Int(days))
        func pad(_ v: Int64, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        var out = "\(pad(Int64(y), 4))-\(pad(Int64(m), 2))-\(pad(Int64(d), 2))T"
            + "\(pad(rem / 3600, 2)):\(pad(rem % 3600 / 60, 2)):\(pad(rem % 60, 2))"
        if fractionDigits > 0 { out += "." + pad(units, fractionDigits) }
        return out + "Z"
    }

    private static func pow10(_ n: Int) -> Int64 {
        var v: Int64 = 1
        for _ in 0..<n { v *= 10 }
        return v
    }

    // Howard Hinnant's civil-calendar algorithms (public-domain arithmetic).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func civilFromDays(_ z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
