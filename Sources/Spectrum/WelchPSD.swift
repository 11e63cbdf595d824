#if canImport(Glibc)
import Glibc
#endif
import IQ

/// Welch power spectral density: the average of windowed, overlapping periodograms.
///
/// Power is averaged in linear units and converted to dB only when read, never per frame.
/// Bins are centred (bin 0 = −fs/2) and scaled so they sum to the mean signal power; `psdDBFS`
/// divides by the bin's noise bandwidth to give dBFS/Hz.
public final class WelchPSD {
    public let spectrogram: Spectrogram
    public private(set) var framesAveraged: Int64 = 0
    private var sum: [Double]
    private let partial: UnsafeMutableBufferPointer<Float>
    private var partialFrames = 0

    public init(configuration: Spectrogram.Configuration = .init(fftSize: 1024), sampleRateHz: Double) throws {
        spectrogram = try Spectrogram(configuration: configuration, sampleRateHz: sampleRateHz)
        sum = [Double](repeating: 0, count: configuration.fftSize)
        partial = .allocate(capacity: configuration.fftSize)
        partial.initialize(repeating: 0)
    }

    deinit { partial.deallocate() }

    public func process(_ block: IQBlock) {
        spectrogram.process(block) { frame in
            // Add in Float (vectorises), fold into the Double totals every 256 frames (keeps precision).
            Kernels.accumulate(frame.power.baseAddress!, into: partial.baseAddress!, count: partial.count)
            partialFrames += 1
            framesAveraged += 1
            if partialFrames == 256 { flush() }
        }
    }

    /// Frames left out of the average because their power overflowed (huge cf32 values).
    public private(set) var framesDropped: Int64 = 0

    private func flush() {
        // A frame whose power overflowed makes the partial sum non-finite: drop that batch rather
        // than the whole average (checked here, once per 256 frames, not per frame).
        if Kernels.sum(UnsafePointer(partial.baseAddress!), count: partial.count).isFinite {
            for k in 0..<sum.count { sum[k] += Double(partial[k]) }
        } else {
            framesDropped += Int64(partialFrames)
            framesAveraged -= Int64(partialFrames)
        }
        for k in 0..<partial.count { partial[k] = 0 }
        partialFrames = 0
    }

    /// Average power per bin (linear, fraction of full scale).
    public var averagePower: [Float] {
        if partialFrames > 0 { flush() }
        let n = Double(max(framesAveraged, 1))
        return sum.map { Float($0 / n) }
    }

    /// Average power per bin in dBFS.
    public var powerDBFS: [Float] { averagePower.map { 10 * log10(max($0, 1e-30)) } }

    /// Bin frequencies as offsets from the centre.
    public var binOffsetsHz: [Double] { (0..<sum.count).map { spectrogram.offsetHz(ofBin: Double($0)) } }
}
