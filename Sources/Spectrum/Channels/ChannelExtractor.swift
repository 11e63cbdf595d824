#if canImport(Glibc)
import Glibc
#endif
import IQ

/// Extracts one channel: mixes it to 0 Hz with an NCO, low-pass filters and decimates.
///
/// Output m is y[m] = Σᵢ h[i]·x[mD − i]·e^{−j2π f₀ (mD − i)/fs} for absolute input index mD, so
/// the output's sample index is the input's divided by D and results do not depend on chunking:
/// the NCO phase is an exact function of the absolute index (re-anchored from an integer phase
/// accumulator every 1024 samples, rotated in between) and the filter history carries over.
/// Only every D-th output is computed. A gap in the input restarts the history (zeros before it).
public final class ChannelExtractor {
    public let sampleRateHz: Double
    public let offsetHz: Double
    public let decimation: Int
    public let taps: [Float]
    public var outputRateHz: Double { sampleRateHz / Double(decimation) }

    private let length: Int
    private let reversedTaps: UnsafeMutablePointer<Float>
    // Mixed input history, planar I and Q: the newest `length − 1` samples, then the block.
    private let history: FilterHistory
    private var expectedIndex: Int64?
    private let rotator: AnchoredRotator

    /// - Parameters:
    ///   - offsetHz: channel centre relative to the input's centre.
    ///   - bandwidthHz: width to keep (the filter's −6 dB edges at ±bandwidth/2).
    ///   - decimation: output one sample in `decimation`; must leave room for the bandwidth.
    public init(sampleRateHz: Double, offsetHz: Double, bandwidthHz: Double, decimation: Int) throws {
        guard decimation >= 1 else { throw SpectrumError.invalidParameter("decimation must be at least 1") }
        guard sampleRateHz.isFinite, sampleRateHz > 0, offsetHz.isFinite else {
            throw SpectrumError.invalidParameter("sample rate and offset must be finite (rate > 0)")
        }
        let outputRate = sampleRateHz / Double(decimation)
        guard bandwidthHz > 0, bandwidthHz < outputRate else {
            throw SpectrumError.invalidParameter("bandwidth \(bandwidthHz) Hz does not fit the output rate \(outputRate) S/s")
        }
        self.sampleRateHz = sampleRateHz
        self.offsetHz = offsetHz
        self.decimation = decimation
        // Transition: from the band edge to where the output rate would alias into the band.
        let transition = (outputRate - bandwidthHz) / sampleRateHz
        taps = FIRDesign.lowpass(cutoff: bandwidthHz / 2 / sampleRateHz + transition / 2, transition: transition)
        length = taps.count
        reversedTaps = .allocate(capacity: length)
        for i in 0..<length { reversedTaps[i] = taps[length - 1 - i] }
        history = FilterHistory(keep: length - 1)
        rotator = AnchoredRotator(phaseStep: Self.phaseStep(offsetHz: offsetHz, sampleRateHz: sampleRateHz))
    }

    /// NCO phase increment in 2⁻³² cycles (frequency resolution fs/2³², under a millihertz).
    public static func phaseStep(offsetHz: Double, sampleRateHz: Double) -> UInt32 {
        let cycles = offsetHz / sampleRateHz
        return UInt32(truncatingIfNeeded: Int64(((cycles - cycles.rounded(.down)) * 4_294_967_296.0).rounded()))
    }

    deinit {
        reversedTaps.deallocate()
    }

    /// Filters a block; `output` receives the decimated samples (its storage is reused).
    public func process(_ block: IQBlock, into output: inout IQBlock) {
        let n = block.count
        if let expected = expectedIndex, block.firstSampleIndex != expected || block.droppedBefore > 0 {
            // A gap: what came before does not continue into this block.
            history.reset()
            output.droppedBefore = block.droppedBefore
        } else {
            output.droppedBefore = 0
        }
        expectedIndex = block.endSampleIndex
        history.reserve(n)
        mix(block, into: history.keep)
        // Outputs at absolute indices t ≡ 0 (mod D) inside this block.
        let first = block.firstSampleIndex
        let d = Int64(decimation)
        let t = (first + d - 1) / d * d
        let count = t < first + Int64(n) ? Int((first + Int64(n) - 1 - t) / d) + 1 : 0
        output.resize(to: count)
        output.firstSampleIndex = t / d
        output.centerFrequencyHz = block.centerFrequencyHz.map { $0 + offsetHz }
        output.captureTimeS = block.captureTimeS.map { $0 + Double(t - first) / sampleRateHz }
        output.clippedSamples = 0
        let h = UnsafePointer(reversedTaps), xi = UnsafePointer(history.i), xq = UnsafePointer(history.q)
        let l = length
        output.samples.withUnsafeMutableBufferPointer { out in
            for m in 0..<count {
                // Newest sample used is t (history position history.keep + t − first); oldest t − L + 1.
                let newest = history.keep + Int(t - first) + m * decimation
                let base = newest - (l - 1)
                out[m] = Self.dot(h, xi + base, xq + base, l)
            }
        }
        // Keep the newest L − 1 mixed samples for the next block.
        history.advance(by: n)
    }

    /// Σ h[j]·(xi[j], xq[j]) with eight partial sums in SIMD registers (a plain loop is a serial
    /// chain of float adds that LLVM may not reorder).
    @inline(__always)
    static func dot(_ h: UnsafePointer<Float>, _ xi: UnsafePointer<Float>, _ xq: UnsafePointer<Float>, _ l: Int) -> IQSample {
        typealias V = SIMD8<Float>
        let size = MemoryLayout<Float>.stride
        let hRaw = UnsafeRawPointer(h), iRaw = UnsafeRawPointer(xi), qRaw = UnsafeRawPointer(xq)
        var sumI = V(repeating: 0), sumQ = V(repeating: 0)
        var j = 0
        while j + 8 <= l {
            let taps = hRaw.loadUnaligned(fromByteOffset: j * size, as: V.self)
            sumI += taps * iRaw.loadUnaligned(fromByteOffset: j * size, as: V.self)
            sumQ += taps * qRaw.loadUnaligned(fromByteOffset: j * size, as: V.self)
            j += 8
        }
        var accI = sumI.sum(), accQ = sumQ.sum()
        while j < l {
            accI += h[j] * xi[j]
            accQ += h[j] * xq[j]
            j += 1
        }
        return IQSample(i: accI, q: accQ)
    }


    /// x·e^{−j2π f₀ n/fs} into the planar history from position `at`.
    private func mix(_ block: IQBlock, into at: Int) {
        let hi = history.i + at, hq = history.q + at
        block.samples.withUnsafeBufferPointer { x in
            rotator.forEach(first: block.firstSampleIndex, count: x.count) { j, rotI, rotQ in
                let v = x[j]
                hi[j] = v.i * rotI - v.q * rotQ
                hq[j] = v.i * rotQ + v.q * rotI
            }
        }
    }

    /// Reference twin: mixes with the exact NCO phase of each sample and convolves in Double.
    public static func reference(_ samples: [IQSample], firstSampleIndex: Int64 = 0, sampleRateHz: Double, offsetHz: Double,
                                 taps: [Float], decimation: Int) -> [IQSample] {
        var out: [IQSample] = []
        let step = phaseStep(offsetHz: offsetHz, sampleRateHz: sampleRateHz)
        let d = Int64(decimation)
        var t = (firstSampleIndex + d - 1) / d * d
        while t < firstSampleIndex + Int64(samples.count) {
            var accI = 0.0, accQ = 0.0
            for (i, h) in taps.enumerated() {
                let n = t - Int64(i)
                guard n >= firstSampleIndex else { break }
                let x = samples[Int(n - firstSampleIndex)]
                let angle = -2 * Double.pi * Double(UInt32(truncatingIfNeeded: n) &* step) / 4_294_967_296.0
                let re = Double(x.i) * cos(angle) - Double(x.q) * sin(angle)
                let im = Double(x.i) * sin(angle) + Double(x.q) * cos(angle)
                accI += Double(h) * re
                accQ += Double(h) * im
            }
            out.append(IQSample(i: Float(accI), q: Float(accQ)))
            t += d
        }
        return out
    }
}
