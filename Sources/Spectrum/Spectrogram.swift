import IQ

/// Turns a stream of IQ blocks into power spectra of overlapping, windowed frames.
///
/// Frames are cut by absolute sample index, never by block boundaries, so the frames (and all
/// that is computed from them) are identical whatever block sizes the input arrives in. A gap
/// in the stream (`droppedBefore > 0`) restarts framing at the new index and flags the next frame.
///
/// Each frame's spectrum is centred (bin 0 = −fs/2, bin N/2 = DC) and scaled so that the bins
/// sum to the frame's mean power: a band's power in dBFS is 10·log10 of its bins' sum.
///
/// DC removal (on by default) subtracts a slowly tracked mean before the window: an RTL-SDR's
/// LO leakage then does not dominate the centre bins.
public final class Spectrogram {
    public struct Configuration: Sendable, Equatable {
        public var fftSize: Int
        /// Samples between frame starts (fftSize/2 = 50% overlap).
        public var hop: Int
        public var window: Window
        public var removeDC: Bool
        /// Time constant of the DC tracker.
        public var dcTimeConstantS: Double

        public init(fftSize: Int = 256, hop: Int? = nil, window: Window = .hann, removeDC: Bool = true,
                    dcTimeConstantS: Double = 0.05) {
            self.fftSize = fftSize
            self.hop = hop ?? fftSize / 2
            self.window = window
            self.removeDC = removeDC
            self.dcTimeConstantS = dcTimeConstantS
        }

        public func validate() throws {
            guard fftSize >= 8, fftSize <= 1 << 20 else { throw SpectrumError.invalidParameter("FFT size \(fftSize) out of range (8…1048576)") }
            guard hop >= 1, hop <= fftSize else { throw SpectrumError.invalidParameter("hop \(hop) must be 1…FFT size") }
        }
    }

    /// One frame handed to the consumer; `power` is only valid during the callback.
    public struct Frame {
        /// Running frame number since the start of the stream.
        public var index: Int64
        /// Absolute index of the frame's first sample.
        public var firstSampleIndex: Int64
        /// Centre frequency of the block the frame ended in.
        public var centerFrequencyHz: Double?
        /// True for the first frame after a gap in the stream (or the very first frame).
        public var afterGap: Bool
        /// Centred power spectrum, `fftSize` bins.
        public var power: UnsafeBufferPointer<Float>
    }

    public let configuration: Configuration
    public let sampleRateHz: Double
    public private(set) var framesSkippedNonFinite: Int64 = 0

    private let plan: FFTPlan
    private let windowCoefficients: UnsafeMutableBufferPointer<Float>
    private let pending: UnsafeMutableBufferPointer<IQSample>
    private let straddle: UnsafeMutableBufferPointer<IQSample>
    private let power: UnsafeMutableBufferPointer<Float>
    private var filled = 0
    private var nextFrameStart: Int64 = 0
    private var expectedIndex: Int64?
    private var frameCount: Int64 = 0
    private var gapPending = true
    private var dc = IQSample.zero
    private var dcValid = false
    private let dcAlpha: Float
    private let powerScale: Float
    private let inverseWindowSum: Float

    public init(configuration: Configuration = .init(), sampleRateHz: Double) throws {
        try configuration.validate()
        self.configuration = configuration
        self.sampleRateHz = sampleRateHz
        let n = configuration.fftSize
        plan = FFTPlan(size: n)
        let w = configuration.window.coefficients(count: n)
        windowCoefficients = .allocate(capacity: n)
        _ = windowCoefficients.initialize(from: w)
        pending = .allocate(capacity: n)
        pending.initialize(repeating: .zero)
        straddle = .allocate(capacity: n)
        straddle.initialize(repeating: .zero)
        power = .allocate(capacity: n)
        power.initialize(repeating: 0)
        let sumSquares = w.reduce(Float(0)) { $0 + $1 * $1 }
        powerScale = 1 / (Float(n) * sumSquares)
        inverseWindowSum = 1 / w.reduce(Float(0), +)
        dcAlpha = Float(min(1, Double(configuration.hop) / (configuration.dcTimeConstantS * sampleRateHz)))
    }

    deinit {
        windowCoefficients.deallocate()
        pending.deallocate()
        straddle.deallocate()
        power.deallocate()
    }

    public var fftSize: Int { configuration.fftSize }
    public var binWidthHz: Double { sampleRateHz / Double(configuration.fftSize) }
    /// Frequency offset from the centre of (possibly fractional) centred bin `bin`.
    public func offsetHz(ofBin bin: Double) -> Double { (bin - Double(fftSize / 2)) * binWidthHz }

    /// Feeds a block; `onFrame` runs once per completed frame, in order.
    ///
    /// Frames that lie inside the block are windowed straight from it; only a frame that straddles
    /// two blocks is assembled in `pending` (which holds the samples from the next frame's start).
    public func process(_ block: IQBlock, onFrame: (Frame) -> Void) {
        if let expected = expectedIndex, block.firstSampleIndex != expected || block.droppedBefore > 0 {
            filled = 0  // a gap: a partial frame would straddle it
            gapPending = true
        }
        if filled == 0 { nextFrameStart = block.firstSampleIndex }
        expectedIndex = block.endSampleIndex
        let n = configuration.fftSize
        let hop = configuration.hop
        let blockStart = block.firstSampleIndex
        block.samples.withUnsafeBufferPointer { samples in
            guard let base = samples.baseAddress else { return }
            let count = samples.count
            // Frames that began in earlier blocks: pending holds [nextFrameStart, blockStart).
            while filled > 0 {
                let need = n - filled
                guard need <= count else {
                    (pending.baseAddress! + filled).update(from: base, count: count)
                    filled += count
                    return
                }
                let scratch = straddle.baseAddress!
                scratch.update(from: pending.baseAddress!, count: filled)
                (scratch + filled).update(from: base, count: need)
                emitFrame(from: scratch, centerFrequencyHz: block.centerFrequencyHz, onFrame: onFrame)
                nextFrameStart += Int64(hop)
                // Drop the hop from pending; if the next frame starts inside this block, go on below.
                if hop < filled {
                    pending.baseAddress!.update(from: pending.baseAddress! + hop, count: filled - hop)
                    filled -= hop
                } else {
                    filled = 0
                }
            }
            // Frames inside this block.
            var offset = Int(nextFrameStart - blockStart)
            while offset + n <= count {
                emitFrame(from: base + offset, centerFrequencyHz: block.centerFrequencyHz, onFrame: onFrame)
                offset += hop
                nextFrameStart += Int64(hop)
            }
            // Keep what the next frame needs.
            if offset < count {
                pending.baseAddress!.update(from: base + offset, count: count - offset)
                filled = count - offset
            }
        }
    }

    private func emitFrame(from x: UnsafePointer<IQSample>, centerFrequencyHz: Double?, onFrame: (Frame) -> Void) {
        let n = configuration.fftSize
        if configuration.removeDC && !dcValid {
            // First frame: start the DC tracker at the frame's plain mean.
            var si: Float = 0, sq: Float = 0
            for k in 0..<n { si += x[k].i; sq += x[k].q }
            if si.isFinite && sq.isFinite {
                dc = IQSample(i: si / Float(n), q: sq / Float(n))
                dcValid = true
            }
        }
        let w = windowCoefficients.baseAddress!
        let input = plan.input.baseAddress!
        let dci = dc.i, dcq = dc.q
        for k in 0..<n {
            input[k] = IQSample(i: (x[k].i - dci) * w[k], q: (x[k].q - dcq) * w[k])
        }
        let frameIndex = frameCount
        frameCount += 1
        plan.execute()
        let out = plan.output.baseAddress!
        // Every output bin sums every input sample, so one NaN or Inf in the input makes bin 0
        // non-finite: drop such frames (cf32 input) rather than poison the averages.
        guard out[0].i.isFinite && out[0].q.isFinite else {
            framesSkippedNonFinite += 1
            gapPending = true
            return
        }
        // Bin 0 is the window-weighted mean of (x − dc): it tracks the DC without another pass.
        if configuration.removeDC {
            dc.i += dcAlpha * out[0].i * inverseWindowSum
            dc.q += dcAlpha * out[0].q * inverseWindowSum
        }
        let p = power.baseAddress!
        let half = n / 2
        let scale = powerScale
        // Centre the spectrum: FFT bin k (k < N/2) is at +k, bin N−k at −k.
        Kernels.power(out, into: p + half, count: n - half, scale: scale)
        Kernels.power(out + (n - half), into: p, count: half, scale: scale)
        // (Finite but huge cf32 values can still overflow a bin's power; consumers that keep state
        // check for that themselves, see `BurstDetector` and `WelchPSD`.)
        onFrame(Frame(index: frameIndex, firstSampleIndex: nextFrameStart, centerFrequencyHz: centerFrequencyHz,
                      afterGap: gapPending, power: UnsafeBufferPointer(power)))
        gapPending = false
    }
}
