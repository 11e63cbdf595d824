#if canImport(Glibc)
import Glibc
#endif
import IQ

/// Places a burst's rising or falling edge at sample resolution.
///
/// The spectrogram locates an edge to within a frame or two. Here a stretch of raw samples
/// around it is band-pass filtered to the burst's band (FFT, zero the bins outside the band with
/// a short taper, inverse FFT: linear convolution, thanks to zero padding), and the edge is the
/// maximum-likelihood change point of the filtered power, modelled as exponentially distributed
/// with one mean before the edge and another after it. Fitting the whole stretch rather than
/// thresholding one noisy point keeps weak and noise-like bursts accurate.
final class EdgeRefiner {
    /// Samples examined around an edge (at most).
    static let segmentLength = 2048
    private let fftSize = 4096
    private let forward: FFTPlan
    private let backward: FFTPlan
    private var power: [Double]
    private var prefix: [Double]

    init() {
        forward = FFTPlan(size: fftSize, direction: .forward)
        backward = FFTPlan(size: fftSize, direction: .backward)
        power = [Double](repeating: 0, count: Self.segmentLength)
        prefix = [Double](repeating: 0, count: Self.segmentLength + 1)
    }

    /// - Parameters:
    ///   - segment: samples to examine (≤ `segmentLength`), the edge somewhere inside.
    ///   - lowHz, highHz: the burst's band as offsets from the centre frequency.
    ///   - rising: true for a start (power goes up), false for an end.
    /// - Returns: index in `segment` of the first sample after the change, or nil when no clear
    ///   change in the expected direction is found.
    /// - Parameter prior: the frame-level estimate's index in `segment`; the fit must beat it
    ///   clearly (after allowing for the filtered samples being correlated over ~fs/bandwidth),
    ///   or nil is returned and the frame-level estimate stands.
    func changePoint(_ segment: UnsafeBufferPointer<IQSample>, lowHz: Double, highHz: Double, sampleRateHz: Double,
                     rising: Bool, prior: Int) -> Int? {
        let length = min(segment.count, Self.segmentLength)
        guard length >= 64 else { return nil }
        let pad = (fftSize - length) / 2
        let input = forward.input.baseAddress!
        input.update(repeating: .zero, count: fftSize)
        (input + pad).update(from: segment.baseAddress!, count: length)
        forward.execute()
        // Band mask with a raised-cosine taper of ~10% of the band (at least 2 bins) each side.
        let binHz = sampleRateHz / Double(fftSize)
        let taperHz = max(2 * binHz, 0.1 * (highHz - lowHz))
        let spectrum = forward.output.baseAddress!
        let filtered = backward.input.baseAddress!
        for k in 0..<fftSize {
            let f = Double(k < fftSize / 2 ? k : k - fftSize) * binHz
            var gain = 0.0
            if f >= lowHz && f <= highHz {
                gain = 1
            } else if f < lowHz && f > lowHz - taperHz {
                gain = 0.5 + 0.5 * cos(.pi * (lowHz - f) / taperHz)
            } else if f > highHz && f < highHz + taperHz {
                gain = 0.5 + 0.5 * cos(.pi * (f - highHz) / taperHz)
            }
            let g = Float(gain)
            filtered[k] = IQSample(i: spectrum[k].i * g, q: spectrum[k].q * g)
        }
        backward.execute()
        let y = backward.output.baseAddress!
        prefix[0] = 0
        for n in 0..<length {
            let v = Double(y[pad + n].power)
            power[n] = v
            prefix[n + 1] = prefix[n] + v
        }
        // Two-level exponential change point: minimise τ·ln m₁ + (L−τ)·ln m₂.
        let margin = 16
        var best: Int?
        var bestCost = Double.infinity
        let total = prefix[length]
        func cost(_ tau: Int) -> Double? {
            let m1 = prefix[tau] / Double(tau)
            let m2 = (total - prefix[tau]) / Double(length - tau)
            guard m1 > 0, m2 > 0 else { return nil }
            return Double(tau) * log(m1) + Double(length - tau) * log(m2)
        }
        for tau in margin...(length - margin) {
            let m1 = prefix[tau] / Double(tau)
            let m2 = (total - prefix[tau]) / Double(length - tau)
            if rising ? (m2 < 1.5 * m1) : (m1 < 1.5 * m2) { continue }
            if let c = cost(tau), c < bestCost {
                bestCost = c
                best = tau
            }
        }
        guard let found = best else { return nil }
        // Samples of a band B are correlated over ~fs/B: count only the independent ones when
        // judging whether the fit is clearly better than where the frames put the edge.
        let independence = min(1, max(highHz - lowHz, 1) / sampleRateHz)
        if let c = cost(min(max(prior, margin), length - margin)), (c - bestCost) * independence < 3 { return nil }
        return found
    }
}
