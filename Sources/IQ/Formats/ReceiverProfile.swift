import Foundation

/// What sits between the antenna and the SDR: a downconverter's local oscillator and whether it
/// mirrors the spectrum, plus the tuner corrections a deployment has measured. Loaded from a
/// small JSON file in `calibration/receivers/`.
///
/// An RTL-SDR tunes to 1.77 GHz at most, so 2.4 GHz Bluetooth reaches it through a mixer. The SDR
/// is tuned to the intermediate frequency (IF); the profile turns that back into the sky (RF)
/// frequency so everything downstream — burst frequencies, the BLE channel picked from the centre,
/// `freq_hz` in detections — speaks of what was in the air.
///
/// - Low-side injection (LO below the sky frequency): sky = LO + IF, spectrum upright.
/// - High-side injection (LO above the sky frequency): sky = LO − IF, spectrum mirrored: a signal
///   δ above the sky frequency arrives δ *below* the IF. Conjugating every sample (Q → −Q)
///   mirrors it back; `spectral_inversion: true` asks for that.
///
/// File format (every unit in the field name; unknown fields are refused, so a typo cannot be
/// silently ignored):
/// ```json
/// {
///     "name": "rtlsdr-downconverter-2g4-highside",
///     "description": "2.4 GHz downconverter, LO 3.2 GHz above the band: 2402 MHz arrives at 798 MHz, mirrored",
///     "lo_hz": 3200000000,
///     "spectral_inversion": true,
///     "tuner_ppm": 0,
///     "tuner_gain_db": 40
/// }
/// ```
/// - `name` (required): a short id, written into SigMF metadata as `uasense:receiver_profile`.
/// - `description` (optional): free text for people.
/// - `lo_hz` (required): the downconverter's LO in Hz, as measured (a known LO error goes here).
/// - `spectral_inversion` (required): true for high-side injection (sky = LO − IF), false for
///   low-side (sky = LO + IF).
/// - `tuner_ppm` (optional): the SDR's crystal correction, a whole number of ppm (±1000); live
///   sources use it when `--ppm` is not given. Recordings already carry whatever was applied.
/// - `tuner_gain_db` (optional): tuner gain, 0–60 dB; live sources use it when `--gain` is not
///   given (absent = AGC).
public struct ReceiverProfile: Sendable, Equatable {
    public var name: String
    public var description: String?
    public var loFrequencyHz: Double
    /// True for high-side injection: the spectrum at the SDR is mirrored.
    public var spectralInversion: Bool
    public var tunerPPM: Int?
    public var tunerGainDB: Double?
    /// Where the profile came from; names it in error messages.
    public var path: String

    /// LOs above this are taken for a typing error (an extra zero).
    public static let maximumLOFrequencyHz = 1e12
    /// The SigMF global key that says a recording's frequencies are already sky frequencies.
    public static let metadataKey = "uasense:receiver_profile"

    public init(name: String, description: String? = nil, loFrequencyHz: Double, spectralInversion: Bool,
                tunerPPM: Int? = nil, tunerGainDB: Double? = nil, path: String = "receiver profile") throws {
        self.name = name
        self.description = description
        self.loFrequencyHz = loFrequencyHz
        self.spectralInversion = spectralInversion
        self.tunerPPM = tunerPPM
        self.tunerGainDB = tunerGainDB
        self.path = path
        try validate()
    }

    /// Reads and checks a profile file.
    public static func load(path: String) throws -> ReceiverProfile {
        let file = try ReadableFile(path: path)
        guard file.size <= 1 << 20 else {
            throw IQError.invalidProfile(path: path, reason: "\(file.size) bytes is too large for a receiver profile (limit 1 MiB)")
        }
        if file.size == 0 { throw IQError.invalidProfile(path: path, reason: "file is empty; expected a JSON object") }
        return try parse(Data(try file.readBytes(at: 0, count: Int(file.size))), path: path)
    }

    static let knownFields: Set<String> = ["name", "description", "lo_hz", "spectral_inversion", "tuner_ppm", "tuner_gain_db"]

    /// Parses a profile; `path` only names the file in errors.
    public static func parse(_ data: Data, path: String) throws -> ReceiverProfile {
        func fail(_ reason: String) -> IQError { .invalidProfile(path: path, reason: reason) }
        let root: JSONValue
        do {
            root = try JSONValue.parse(data)
        } catch {
            throw fail("not valid JSON; expected an object with name, lo_hz and spectral_inversion")
        }
        guard let fields = root.objectValue else { throw fail("top level is not a JSON object") }
        if let unknown = fields.keys.sorted().first(where: { !knownFields.contains($0) }) {
            throw fail("unknown field '\(unknown)' (known: \(knownFields.sorted().joined(separator: ", ")))")
        }
        guard let name = fields["name"]?.stringValue, !name.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw fail("name must be a non-empty string")
        }
        var description: String?
        if let value = fields["description"], value != .null {
            guard let text = value.stringValue else { throw fail("description must be a string") }
            description = text
        }
        guard let lo = fields["lo_hz"]?.doubleValue else { throw fail("lo_hz must be a positive number of Hz") }
        guard let inversion = fields["spectral_inversion"] else {
            throw fail("spectral_inversion is missing: true for high-side injection (sky = LO − IF), false for low-side (sky = LO + IF)")
        }
        guard case .bool(let inverted) = inversion else {
            throw fail("spectral_inversion must be true (high-side, sky = LO − IF) or false (low-side, sky = LO + IF)")
        }
        var ppm: Int?
        if let value = fields["tuner_ppm"], value != .null {
            guard let v = value.int64Value, abs(v) <= 1000 else {
                throw fail("tuner_ppm must be a whole number of ppm between -1000 and 1000")
            }
            ppm = Int(v)
        }
        var gain: Double?
        if let value = fields["tuner_gain_db"], value != .null {
            guard let v = value.doubleValue else { throw fail("tuner_gain_db must be a number of dB between 0 and 60") }
            gain = v
        }
        return try ReceiverProfile(name: name, description: description, loFrequencyHz: lo, spectralInversion: inverted,
                                   tunerPPM: ppm, tunerGainDB: gain, path: path)
    }

    /// The range checks `parse` and `init` share, so a profile built in code obeys the same rules.
    func validate() throws {
        func fail(_ reason: String) -> IQError { .invalidProfile(path: path, reason: reason) }
        guard loFrequencyHz.isFinite, loFrequencyHz > 0 else { throw fail("lo_hz must be a positive number of Hz") }
        guard loFrequencyHz <= Self.maximumLOFrequencyHz else {
            throw fail("lo_hz \(Self.describe(loFrequencyHz)) is above 1 THz; check the number of zeros")
        }
        if let tunerPPM, abs(tunerPPM) > 1000 {
            throw fail("tuner_ppm must be a whole number of ppm between -1000 and 1000")
        }
        if let tunerGainDB, !(tunerGainDB.isFinite && (0...60).contains(tunerGainDB)) {
            throw fail("tuner_gain_db must be a number of dB between 0 and 60")
        }
    }

    /// "high-side" or "low-side", for messages.
    public var injection: String { spectralInversion ? "high-side" : "low-side" }

    // MARK: - Frequency mapping

    /// The sky frequency of a signal the SDR sees at `intermediateHz`: LO + IF (low-side) or
    /// LO − IF (high-side). Throws when the IF is not positive or the sky frequency would not be.
    public func skyFrequencyHz(intermediateHz: Double) throws -> Double {
        guard intermediateHz.isFinite, intermediateHz > 0 else {
            throw IQError.invalidProfile(path: path, reason: "IF \(Self.describe(intermediateHz)) must be a positive frequency; "
                                         + "give the frequency the SDR was tuned to (--freq or a name tag like _802M)")
        }
        if !spectralInversion { return loFrequencyHz + intermediateHz }
        guard intermediateHz < loFrequencyHz else {
            throw IQError.invalidProfile(path: path, reason: "IF \(Self.describe(intermediateHz)) is not below the LO "
                                         + "\(Self.describe(loFrequencyHz)), so sky = LO − IF (high-side) is not positive; wrong profile?")
        }
        return loFrequencyHz - intermediateHz
    }

    /// The IF to tune the SDR to for `skyHz`: sky − LO (low-side) or LO − sky (high-side). Throws
    /// when that is not positive, i.e. the sky frequency sits on the other side of the LO.
    public func intermediateFrequencyHz(skyHz: Double) throws -> Double {
        guard skyHz.isFinite, skyHz > 0 else {
            throw IQError.invalidProfile(path: path, reason: "sky frequency \(Self.describe(skyHz)) must be positive")
        }
        let intermediateHz = spectralInversion ? loFrequencyHz - skyHz : skyHz - loFrequencyHz
        guard intermediateHz > 0 else {
            let side = spectralInversion ? "below" : "above"
            let formula = spectralInversion ? "IF = LO − sky" : "IF = sky − LO"
            throw IQError.invalidProfile(path: path, reason: "sky frequency \(Self.describe(skyHz)) is not \(side) the LO "
                                         + "\(Self.describe(loFrequencyHz)) of this \(injection) downconverter (\(formula) must be positive)")
        }
        return intermediateHz
    }

    /// Maps a band edge pair from the IF to the sky: with inversion the lower edge becomes the
    /// upper one. Either edge may be absent.
    public func skyEdgesHz(lowerHz: Double?, upperHz: Double?) -> (lowerHz: Double?, upperHz: Double?) {
        if spectralInversion {
            return (upperHz.map { loFrequencyHz - $0 }, lowerHz.map { loFrequencyHz - $0 })
        }
        return (lowerHz.map { loFrequencyHz + $0 }, upperHz.map { loFrequencyHz + $0 })
    }

    /// What SigMF metadata records about an applied profile: enough to undo it without the file.
    public var metadataValue: JSONValue {
        .object(["name": .string(name), "lo_hz": .number(loFrequencyHz), "spectral_inversion": .bool(spectralInversion)])
    }

    /// Frequencies in messages: MHz with as many digits as needed ("802 MHz", "2402.5 MHz").
    static func describe(_ hz: Double) -> String {
        guard hz.isFinite else { return "\(hz) Hz" }
        return String(format: "%.10g MHz", hz / 1e6)
    }
}
