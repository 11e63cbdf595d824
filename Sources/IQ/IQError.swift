/// Everything that can go wrong while opening, reading or writing IQ.
///
/// Each case renders as one line that tells the user what is wrong and, where there is one,
/// what to do about it. Per-packet decode failures are never errors: they are counted.
public enum IQError: Error, Equatable, Sendable, CustomStringConvertible {
    case fileNotFound(path: String)
    case unreadable(path: String, reason: String)
    case unwritable(path: String, reason: String)
    case emptyFile(path: String)
    case partialSample(path: String, byteCount: Int64, bytesPerSample: Int, format: SampleFormat)
    case unknownFormat(path: String)
    case unknownFormatName(String)
    case missingSampleRate(path: String)
    case invalidSampleRate(Double)
    case invalidMetadata(path: String, reason: String)
    case unsupportedDatatype(path: String, datatype: String)
    case missingDataFile(path: String)
    case captureBeyondData(path: String, sampleStart: Int64, sampleCount: Int64)
    case notATar(path: String)
    case archiveIncomplete(path: String, reason: String)
    case invalidArgument(String)
    /// A receiver profile (calibration/receivers/*.json) that is malformed or does not fit the frequency asked of it.
    case invalidProfile(path: String, reason: String)
    case noDevice
    case deviceNotFound(String)
    case device(call: String, code: Int32)
    case deviceLost(String)
    case sourceStalled(source: String, seconds: Double)
    case connectFailed(endpoint: String, reason: String)
    case badServerHeader(endpoint: String, detail: String)
    case connectionLost(endpoint: String, afterS: Double)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "\(path): file not found"
        case .unreadable(let path, let reason):
            return "\(path): cannot read (\(reason))"
        case .unwritable(let path, let reason):
            return "\(path): cannot write (\(reason))"
        case .emptyFile(let path):
            return "\(path): file is empty (0 samples)"
        case .partialSample(let path, let bytes, let size, let format):
            return "\(path): \(bytes) bytes is not a whole number of \(format) samples (\(size) bytes each); "
                + "the file is truncated or --format is wrong"
        case .unknownFormat(let path):
            return "\(path): unknown sample format; name it .cu8/.cs8/.cs16/.cf32 or pass --format"
        case .unknownFormatName(let name):
            return "unknown sample format '\(name)' (use cu8, cs8, cs16 or cf32)"
        case .missingSampleRate(let path):
            return "\(path): sample rate unknown; pass --rate HZ or put a tag like _2400k in the file name"
        case .invalidSampleRate(let rate):
            return "invalid sample rate \(rate) Hz (must be positive and at most 10 GS/s)"
        case .invalidMetadata(let path, let reason):
            return "\(path): invalid SigMF metadata: \(reason)"
        case .unsupportedDatatype(let path, let datatype):
            return "\(path): unsupported SigMF datatype '\(datatype)' (supported: cu8, ci8, ci16_le, cf32_le)"
        case .missingDataFile(let path):
            return "\(path): SigMF data file not found"
        case .captureBeyondData(let path, let start, let count):
            return "\(path): capture starts at sample \(start) but the data holds only \(count) samples"
        case .notATar(let path):
            return "\(path): not a SigMF archive (not a tar file)"
        case .archiveIncomplete(let path, let reason):
            return "\(path): SigMF archive \(reason)"
        case .invalidArgument(let message):
            return message
        case .invalidProfile(let path, let reason):
            return "\(path): \(reason)"
        case .noDevice:
            return "no RTL-SDR device found"
        case .deviceNotFound(let what):
            return "no RTL-SDR device matches \(what); run 'uasense devices' to list them"
        case .device(let call, let code):
            return "RTL-SDR: \(call) failed (code \(code))"
        case .deviceLost(let what):
            return "\(what): device lost (unplugged or USB error)"
        case .sourceStalled(let source, let seconds):
            return "\(source): no samples for \(String(format: "%.1f", seconds)) s; the source stalled"
        case .connectFailed(let endpoint, let reason):
            return "\(endpoint): cannot connect (\(reason))"
        case .badServerHeader(let endpoint, let detail):
            return "\(endpoint): not an rtl_tcp server (\(detail))"
        case .connectionLost(let endpoint, let seconds):
            return "\(endpoint): connection lost and not restored within \(String(format: "%.0f", seconds)) s"
        }
    }
}
