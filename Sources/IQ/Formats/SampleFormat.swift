/// One complex sample, I then Q, normalised so that full scale is ±1.
///
/// The layout (two packed `Float`s) is the same as `fftwf_complex` and SigMF `cf32_le`, so
/// buffers of `IQSample` can be handed to FFTW or written to disk without copying.
@frozen
public struct IQSample: Equatable, Sendable {
    public var i: Float
    public var q: Float

    @inlinable
    public init(i: Float, q: Float) {
        self.i = i
        self.q = q
    }

    public static let zero = IQSample(i: 0, q: 0)

    /// |x|², the instantaneous power relative to full scale.
    @inlinable
    public var power: Float { i * i + q * q }
}

/// The interleaved sample formats uasense reads and writes.
///
/// | format | bytes/sample | I, Q encoding                  | SigMF datatype |
/// |--------|--------------|--------------------------------|----------------|
/// | cu8    | 2            | uint8, offset binary (RTL-SDR) | `cu8`          |
/// | cs8    | 2            | int8 (HackRF)                  | `ci8`          |
/// | cs16   | 4            | int16 little-endian            | `ci16_le`      |
/// | cf32   | 8            | float32 little-endian          | `cf32_le`      |
public enum SampleFormat: String, CaseIterable, Sendable, CustomStringConvertible {
    case cu8, cs8, cs16, cf32

    public var description: String { rawValue }

    /// Bytes in one complex sample (I and Q together).
    public var bytesPerSample: Int {
        switch self {
        case .cu8, .cs8: return 2
        case .cs16: return 4
        case .cf32: return 8
        }
    }

    public var sigmfDatatype: String {
        switch self {
        case .cu8: return "cu8"
        case .cs8: return "ci8"
        case .cs16: return "ci16_le"
        case .cf32: return "cf32_le"
        }
    }

    public init?(sigmfDatatype: String) {
        switch sigmfDatatype.lowercased() {
        case "cu8": self = .cu8
        case "ci8": self = .cs8
        case "ci16_le": self = .cs16
        case "cf32_le": self = .cf32
        default: return nil
        }
    }

    /// Recognises the extensions rtl_433 and GNU Radio users give raw files.
    public init?(fileExtension: String) {
        switch fileExtension.lowercased() {
        case "cu8", "data", "complex16u": self = .cu8
        case "cs8", "complex16s": self = .cs8
        case "cs16": self = .cs16
        case "cf32", "cfile", "complex": self = .cf32
        default: return nil
        }
    }

    /// Parses a user-given name (`--format`); accepts the SigMF spellings too.
    public init(name: String) throws {
        if let format = SampleFormat(rawValue: name.lowercased()) ?? SampleFormat(sigmfDatatype: name) {
            self = format
        } else {
            throw IQError.unknownFormatName(name)
        }
    }
}
