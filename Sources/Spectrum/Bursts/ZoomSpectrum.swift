#if canImport(Glibc)
import Glibc
#endif
import IQ

/// A fine spectrum of one burst from its own samples, for its centre, bandwidth and SNR.
///
/// The detection spectrogram's bins (fs/256) and window leakage blur a narrow burst's edges;
/// here the burst's samples (rectangular window, up to 16 segments of 4096 averaged) give bins
/// 16× finer. Noise is subtracted using the noise floor, and the band is found as in
/// `OpenBurst.estimate`: the middle half of the excess power spans half a flat band.
final class ZoomSpectrum {
    static let size = 4096
    static let maxSegments = 16
    private let plan = FFTPlan(size: size)
    private var average = [Double](repeating: 0, count: size)  // centred bins

    struct Band {
        /// Offsets from the centre frequency.
        var centreHz: Double
        var widthHz: Double
        var snr: Double
    }

    /// - Parameters:
    ///   - fetch: copies `count` samples starting at an absolute index into a buffer; false if not held.
    ///   - floor: the detector's noise floor per coarse bin (`coarseBins` bins, centred).
    ///   - searchLowHz/searchHighHz: where to look (offsets), around the coarse band.
    func band(start: Int64, end: Int64, fetch: (Int64, UnsafeMutableBufferPointer<IQSample>) -> Bool,
              floor: UnsafePointer<Float>, coarseBins: Int, sampleRateHz: Double,
              searchLowHz: Double, searchHighHz: Double) -> Band? {
        let m = Self.size
        let total = Int(end - start)
        guard total >= 64 else { return nil }
        for k in 0..<m { average[k] = 0 }
        var segments = 0.0
        var position = start
        var used = 0
        while position < end && segments < Double(Self.maxSegments) {
            let length = min(m, Int(end - position))
            guard length >= 64 else { break }
            let input = plan.input
            input.baseAddress!.update(repeating: .zero, count: m)
            guard fetch(position, UnsafeMutableBufferPointer(rebasing: input[0..<length])) else {
                // Not held (too old): try the newer part of a long burst instead.
                position += Int64(length)
                continue
            }
            // Remove the segment's mean: the raw samples still carry the receiver's DC offset,
            // which the detection spectrogram tracks out and the noise floor does not include.
            var meanI: Float = 0, meanQ: Float = 0
            for k in 0..<length { meanI += input[k].i; meanQ += input[k].q }
            meanI /= Float(length)
            meanQ /= Float(length)
            for k in 0..<length { input[k].i -= meanI; input[k].q -= meanQ }
            plan.execute()
            let out = plan.output.baseAddress!
            // |X|²/(M·L) per bin sums to the mean power of the L samples; weight by L so a
            // short last segment counts for what it holds.
            let half = m / 2
            for k in 0..<m {
                let j = k < m - half ? k + half : k - (m - half)
                average[j] += Double(out[k].power) / Double(m)
            }
            segments += Double(length) / Double(m)
            used += length
            position += Int64(length)
        }
        guard used >= 64 else { return nil }
        let binHz = sampleRateHz / Double(m)
        let scale = 1 / (Double(used))
        let perCoarse = max(1, m / coarseBins)  // coarseBins is a power of two ≤ m
        let lo = max(0, Int(searchLowHz / binHz) + m / 2), hi = min(m - 1, Int(searchHighHz / binHz) + m / 2)
        guard hi > lo else { return nil }
        var excess = [Double](repeating: 0, count: hi - lo + 1)
        var totalExcess = 0.0
        for j in lo...hi {
            let noise = Double(floor[min(coarseBins - 1, j / perCoarse)]) / Double(perCoarse)
            excess[j - lo] = average[j] * scale - noise
            totalExcess += excess[j - lo]
        }
        guard totalExcess > 0 else { return nil }
        func quantile(_ q: Double) -> Double {
            let target = q * totalExcess
            var cumulative = 0.0
            for (i, v) in excess.enumerated() {
                if cumulative + v >= target && v > 0 { return Double(i + lo) - 0.5 + (target - cumulative) / v }
                cumulative += v
            }
            return Double(hi) + 0.5
        }
        let q1 = quantile(0.25), q3 = quantile(0.75), q05 = quantile(0.05), q95 = quantile(0.95)
        // As in `OpenBurst.estimate`: the middle half for a flat band, the 90% span for two lobes.
        let twoLobed = (q95 - q05) / 0.9 > 1.2 * 2 * (q3 - q1)
        let centreBin = twoLobed ? (q05 + q95) / 2 : (q1 + q3) / 2
        let widthBins = max(1, twoLobed ? (q95 - q05) / 0.9 : 2 * (q3 - q1))
        var signal = 0.0, noise = 0.0
        let a = max(lo, Int((centreBin - widthBins / 2).rounded())), b = min(hi, max(a, Int((centreBin + widthBins / 2).rounded())))
        for j in a...b {
            signal += excess[j - lo]
            noise += Double(floor[min(coarseBins - 1, j / perCoarse)]) / Double(perCoarse)
        }
        return Band(centreHz: (centreBin - Double(m / 2)) * binHz, widthHz: widthBins * binHz, snr: signal / max(noise, 1e-30))
    }
}
