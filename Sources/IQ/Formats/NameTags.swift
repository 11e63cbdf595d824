/// Sample rate and centre frequency carried in a raw file's name, rtl_433 style:
/// `g001_433.92M_250k.cu8`, `drone_915M_2400k.cu8`, `ble_2426M_2.4M.cs8`.
///
/// Tokens are separated by anything that is not a letter, digit or '.'; matching is
/// case-insensitive. Rules:
/// - `Hz`, `kHz`, `MHz`, `GHz`, `G` suffixes are frequencies.
/// - `sps`, `ksps`, `Msps`, `Gsps` and `k` suffixes are sample rates (`2400k` = 2.4 MS/s).
/// - A bare `M` is a frequency (rtl_433's rule) unless its value is below 50 and no other tag
///   gave the rate: `_2.4M` and `_20M` name sample rates, `_915M` a frequency. No radio we
///   read tunes below 50 MHz for drone links, and no sample rate reaches 50 MS/s.
public struct NameTags: Equatable, Sendable {
    public var sampleRateHz: Double?
    public var centerFrequencyHz: Double?

    public init(sampleRateHz: Double? = nil, centerFrequencyHz: Double? = nil) {
        self.sampleRateHz = sampleRateHz
        self.centerFrequencyHz = centerFrequencyHz
    }

    /// Parses the tags of a path's last component (directories and extension ignored).
    public init(path: String) {
        var name = Substring(path.split(separator: "/", omittingEmptySubsequences: false).last ?? "")
        if let dot = name.lastIndex(of: ".") { name = name[..<dot] }
        var bareMegas: [Double] = []
        for token in name.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == ".") }) {
            guard let (value, unit) = Self.split(token) else { continue }
            switch unit {
            case "hz": centerFrequencyHz = centerFrequencyHz ?? value
            case "khz": centerFrequencyHz = centerFrequencyHz ?? value * 1e3
            case "mhz": centerFrequencyHz = centerFrequencyHz ?? value * 1e6
            case "g", "ghz": centerFrequencyHz = centerFrequencyHz ?? value * 1e9
            case "sps": sampleRateHz = sampleRateHz ?? value
            case "k", "ksps": sampleRateHz = sampleRateHz ?? value * 1e3
            case "msps": sampleRateHz = sampleRateHz ?? value * 1e6
            case "gsps": sampleRateHz = sampleRateHz ?? value * 1e9
            case "m": bareMegas.append(value)
            default: continue
            }
        }
        for value in bareMegas {
            if value < 50, sampleRateHz == nil {
                sampleRateHz = value * 1e6
            } else if centerFrequencyHz == nil {
                centerFrequencyHz = value * 1e6
            }
        }
    }

    /// "433.92M" → (433.92, "m"); nil when the token is not a number with a suffix.
    private static func split(_ token: Substring) -> (Double, String)? {
        guard let unitStart = token.firstIndex(where: { $0.isLetter }), unitStart != token.startIndex else { return nil }
        let number = token[..<unitStart]
        let unit = token[unitStart...].lowercased()
        guard number.first?.isNumber == true, let value = Double(number), value > 0 else { return nil }
        return (value, unit)
    }
}
