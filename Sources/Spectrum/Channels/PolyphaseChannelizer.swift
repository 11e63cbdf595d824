import CFFTW
#if canImport(Glibc)
import Glibc
#endif
import IQ

/// Splits a wideband stream into M channels spaced fs/M apart, each at 2·fs/M samples per
/// second (2× oversampled, so a signal that straddles a channel edge is still whole in the
/// channel it belongs to: a 1 MHz grid over 20 MS/s gives every BLE channel at 2 MS/s), or at
/// fs/D for another decimation D (20 MS/s with D = 9: every 1 MHz channel at 2.22 MS/s).
///
/// Definition (the reference twin computes exactly this): with prototype low-pass h of length
/// L = P·M and decimation D (M/2 unless chosen), channel k's output m is
///     y_k[m] = Σᵢ h[i] · x[mD − i] · e^{−j2πk(mD − i)/M}.
/// Splitting i = pM + r turns the sum into M branch filters u_r[m] = Σ_p h[pM + r]·x[mD − pM − r],
/// one backward FFT over r, and a factor e^{−j2πk·mD/M}: (−1)^{km} for D = M/2, a twiddle from a
/// table otherwise. So each output step costs L real×complex multiply-adds and one M-point FFT,
/// instead of M·L. Branch sums run over planar, contiguous I and Q arrays; the FFTs run in batches
/// through `fftwf_plan_many_dft`.
///
/// Output m sits at absolute input index mD; samples before the stream (or a gap) count as zero.
public final class PolyphaseChannelizer {
    public let channels: Int
    public let sampleRateHz: Double
    public let tapsPerBranch: Int
    public let taps: [Float]
    public var outputRateHz: Double { sampleRateHz / Double(decimation) }
    public var channelSpacingHz: Double { sampleRateHz / Double(channels) }

    /// Input samples per output sample.
    public let decimation: Int
    /// e^{−j2π·j/M}, j = 0…M−1, for the output factor when D ≠ M/2.
    private let twiddles: [IQSample]
    private let length: Int
    private let reversedTaps: UnsafeMutablePointer<Float>
    private let history: FilterHistory
    private var expectedIndex: Int64?
    // Batched backward FFTs over the branch sums.
    private let batch = 256
    private let fftInput: UnsafeMutablePointer<fftwf_complex>
    private let fftOutput: UnsafeMutablePointer<fftwf_complex>
    private let plan: fftwf_plan
    private let accI: UnsafeMutablePointer<Float>
    private let accQ: UnsafeMutablePointer<Float>

    /// - Parameters:
    ///   - channels: M, even (e.g. 20 for 20 MS/s in 1 MHz channels).
    ///   - tapsPerBranch: P; 12 gives about 60 dB rejection of the neighbours' aliases.
    ///   - cutoff: prototype −6 dB edge as a fraction of the channel spacing (0.75: a 2 MS/s output
    ///     keeps ±0.75 channel, room for a 1 MHz-wide signal and its carrier offset).
    ///   - decimation: D, 1…M (default M/2); the output rate fs/D must leave room for the cutoff.
    public init(channels: Int, sampleRateHz: Double, tapsPerBranch: Int = 12, cutoff: Double = 0.75,
                decimation: Int? = nil) throws {
        guard channels >= 2, channels % 2 == 0 else { throw SpectrumError.invalidParameter("channel count must be even and at least 2") }
        guard tapsPerBranch >= 2 else { throw SpectrumError.invalidParameter("taps per branch must be at least 2") }
        guard sampleRateHz.isFinite, sampleRateHz > 0, cutoff > 0, cutoff < 1.5 else {
            throw SpectrumError.invalidParameter("sample rate must be finite and positive, cutoff 0…1.5 channels")
        }
        let d = decimation ?? channels / 2
        guard d >= 1, d <= channels else { throw SpectrumError.invalidParameter("decimation must be 1…\(channels)") }
        self.channels = channels
        self.sampleRateHz = sampleRateHz
        self.tapsPerBranch = tapsPerBranch
        self.decimation = d
        twiddles = (0..<channels).map { j in
            let angle = -2 * Double.pi * Double(j) / Double(channels)
            return IQSample(i: Float(cos(angle)), q: Float(sin(angle)))
        }
        length = channels * tapsPerBranch
        let spacing = 1 / Double(channels)
        taps = FIRDesign.lowpass(cutoff: cutoff * spacing, transition: spacing * 0.5, attenuationDB: 60, taps: length)
        reversedTaps = .allocate(capacity: length)
        for i in 0..<length { reversedTaps[i] = taps[length - 1 - i] }
        history = FilterHistory(keep: length - 1)
        fftInput = fftwf_alloc_complex(channels * batch)!
        fftOutput = fftwf_alloc_complex(channels * batch)!
        var size = Int32(channels)
        let input = fftInput, output = fftOutput, howMany = Int32(batch)
        plan = FFTPlanner.locked { flags in
            fftwf_plan_many_dft(1, &size, howMany, input, nil, 1, size, output, nil, 1, size, FFTW_BACKWARD, flags)!
        }
        accI = .allocate(capacity: channels)
        accQ = .allocate(capacity: channels)
    }

    deinit {
        FFTPlanner.locked { _ in fftwf_destroy_plan(plan) }
        fftwf_free(fftInput)
        fftwf_free(fftOutput)
        reversedTaps.deallocate()
        accI.deallocate()
        accQ.deallocate()
    }

    /// Frequency offset of channel k from the input centre.
    public func channelOffsetHz(_ k: Int) -> Double {
        Double(k < channels / 2 ? k : k - channels) * channelSpacingHz
    }

    /// Channelizes a block. `outputs[k]` receives channel k's samples (storage reused); all
    /// channels get the same count and the same first output index.
    public func process(_ block: IQBlock, into outputs: inout [IQBlock]) {
        if outputs.count != channels { outputs = [IQBlock](repeating: IQBlock(), count: channels) }
        let n = block.count
        var dropped: Int64 = 0
        if let expected = expectedIndex, block.firstSampleIndex != expected || block.droppedBefore > 0 {
            history.reset()
            dropped = block.droppedBefore
        }
        expectedIndex = block.endSampleIndex
        history.reserve(n)
        block.samples.withUnsafeBufferPointer { x in
            for k in 0..<n {
                history.i[history.keep + k] = x[k].i
                history.q[history.keep + k] = x[k].q
            }
        }
        let first = block.firstSampleIndex
        let d = Int64(decimation)
        let t0 = (first + d - 1) / d * d
        let count = t0 < first + Int64(n) ? Int((first + Int64(n) - 1 - t0) / d) + 1 : 0
        for k in 0..<channels {
            outputs[k].resize(to: count)
            outputs[k].firstSampleIndex = t0 / d
            outputs[k].droppedBefore = dropped
            outputs[k].centerFrequencyHz = block.centerFrequencyHz.map { $0 + channelOffsetHz(k) }
            outputs[k].captureTimeS = block.captureTimeS.map { $0 + Double(t0 - first) / sampleRateHz }
        }
        var done = 0
        while done < count {
            let inBatch = min(batch, count - done)
            for b in 0..<inBatch {
                let m = done + b
                let newest = history.keep + Int(t0 - first) + m * decimation
                branchSums(base: newest - (length - 1), into: fftInput + b * channels)
            }
            fftwf_execute(plan)
            let spectra = UnsafeRawPointer(fftOutput).assumingMemoryBound(to: IQSample.self)
            if decimation * 2 != channels {
                scatterTwiddled(spectra, firstOutput: t0 / d + Int64(done), count: inBatch, at: done, into: &outputs)
                done += inBatch
                continue
            }
            // Scatter, applying (−1)^{k·m} for absolute output index m.
            let firstOdd = ((t0 / d + Int64(done)) & 1) == 1
            for k in 0..<channels {
                outputs[k].samples.withUnsafeMutableBufferPointer { out in
                    let o = out.baseAddress! + done
                    if k & 1 == 0 {
                        for b in 0..<inBatch { o[b] = spectra[b * channels + k] }
                    } else {
                        for b in 0..<inBatch {
                            let v = spectra[b * channels + k]
                            let odd = ((b & 1) == 1) != firstOdd
                            o[b] = odd ? IQSample(i: -v.i, q: -v.q) : v
                        }
                    }
                }
            }
            done += inBatch
        }
        history.advance(by: n)
    }

    /// Scatter for D ≠ M/2: channel k's output m times e^{−j2πk·(mD mod M)/M}.
    private func scatterTwiddled(_ spectra: UnsafePointer<IQSample>, firstOutput: Int64, count: Int, at done: Int,
                                 into outputs: inout [IQBlock]) {
        let m = channels, stepIndex = decimation % m
        twiddles.withUnsafeBufferPointer { w in
            for k in 0..<m {
                outputs[k].samples.withUnsafeMutableBufferPointer { out in
                    let o = out.baseAddress! + done
                    // (mD mod M) for the batch's first output, then stepped by D mod M.
                    var position = Int((firstOutput % Int64(m)) * Int64(stepIndex) % Int64(m))
                    for b in 0..<count {
                        let v = spectra[b * m + k], t = w[(k * position) % m]
                        o[b] = IQSample(i: v.i * t.i - v.q * t.q, q: v.i * t.q + v.q * t.i)
                        position += stepIndex
                        if position >= m { position -= m }
                    }
                }
            }
        }
    }

    /// u_r = Σ_p h[pM + r]·x[t − pM − r] from the L samples starting at `base` (oldest first),
    /// written as the FFT input (index r).
    private func branchSums(base: Int, into input: UnsafeMutablePointer<fftwf_complex>) {
        let m = channels
        let g = UnsafePointer(reversedTaps)
        let xi = UnsafePointer(history.i + base), xq = UnsafePointer(history.q + base)
        let ai = accI, aq = accQ
        // Four branches at a time in SIMD registers (LLVM cannot prove these pointers apart).
        typealias V = SIMD4<Float>
        let size = MemoryLayout<Float>.stride
        let gRaw = UnsafeRawPointer(g), iRaw = UnsafeRawPointer(xi), qRaw = UnsafeRawPointer(xq)
        var s0 = 0
        while s0 + 4 <= m {
            var sumI = V(repeating: 0), sumQ = V(repeating: 0)
            for p in 0..<tapsPerBranch {
                let at = (p * m + s0) * size
                let taps = gRaw.loadUnaligned(fromByteOffset: at, as: V.self)
                sumI += taps * iRaw.loadUnaligned(fromByteOffset: at, as: V.self)
                sumQ += taps * qRaw.loadUnaligned(fromByteOffset: at, as: V.self)
            }
            UnsafeMutableRawPointer(ai).storeBytes(of: sumI, toByteOffset: s0 * size, as: V.self)
            UnsafeMutableRawPointer(aq).storeBytes(of: sumQ, toByteOffset: s0 * size, as: V.self)
            s0 += 4
        }
        for s in s0..<m {
            var sumI: Float = 0, sumQ: Float = 0
            for p in 0..<tapsPerBranch {
                sumI += g[p * m + s] * xi[p * m + s]
                sumQ += g[p * m + s] * xq[p * m + s]
            }
            ai[s] = sumI
            aq[s] = sumQ
        }
        // Reversed taps and oldest-first samples: accumulator s holds branch r = M − 1 − s.
        for r in 0..<m {
            input[r].0 = ai[m - 1 - r]
            input[r].1 = aq[m - 1 - r]
        }
    }


    /// Reference twin: each channel mixed, filtered and decimated on its own, in Double.
    public static func reference(_ samples: [IQSample], firstSampleIndex: Int64 = 0, channels: Int, taps: [Float],
                                 decimation: Int? = nil) -> [[IQSample]] {
        let d = Int64(decimation ?? channels / 2)
        var outputs = [[IQSample]](repeating: [], count: channels)
        var t = (firstSampleIndex + d - 1) / d * d
        while t < firstSampleIndex + Int64(samples.count) {
            for k in 0..<channels {
                var re = 0.0, im = 0.0
                for (i, h) in taps.enumerated() {
                    let n = t - Int64(i)
                    guard n >= firstSampleIndex else { break }
                    let x = samples[Int(n - firstSampleIndex)]
                    let turns = Double((Int64(k) * n) % Int64(channels)) / Double(channels)
                    let c = cos(2 * Double.pi * turns), s = -sin(2 * Double.pi * turns)
                    re += Double(h) * (Double(x.i) * c - Double(x.q) * s)
                    im += Double(h) * (Double(x.i) * s + Double(x.q) * c)
                }
                outputs[k].append(IQSample(i: Float(re), q: Float(im)))
            }
            t += d
        }
        return outputs
    }
}
