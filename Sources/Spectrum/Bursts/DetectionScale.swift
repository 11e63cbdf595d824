#if canImport(Glibc)
import Glibc
#endif

/// Box means of the normalised spectrum r = P/F at four widths (3, 9, 27, 81 bins), each over
/// the last 2 frames (short) and the last 16 frames (long), with the thresholds that make a box
/// warm (grow) or hot (seed).
///
/// Sums are built in three-fold steps (b₃[k] = x[k−1] + x[k] + x[k+1], b₉[k] = b₃[k−3] + b₃[k] +
/// b₃[k+3], …), two adds per bin per level over contiguous, padded arrays: every loop here
/// vectorises and no per-box state is kept. Bins outside the band count as zero.
final class ScaleBank {
    static let widths = [3, 9, 27, 81]
    static let longFrames = 16
    /// Zero padding each side of the band, enough for the widest box.
    static let pad = 48

    struct Thresholds {
        var growShort: Float, seedShort: Float, growLong: Float, seedLong: Float
        /// Level a bin's own local mean must pass to join a firing box, and to be hot.
        var localGrow: Float, localSeed: Float
    }

    let bins: Int
    let thresholds: [Thresholds]
    private let total: Int
    // Padded per-bin arrays (index pad + k for bin k).
    private let current: UnsafeMutablePointer<Float>   // r of this frame
    private let previous: UnsafeMutablePointer<Float>  // r of the previous frame
    private let shortMean: UnsafeMutablePointer<Float> // (r + r_prev) / 2
    private let longSum: UnsafeMutablePointer<Float>   // Σ r over the last 16 frames
    private let ring: UnsafeMutablePointer<Float>      // last 16 frames of r (unpadded rows)
    /// Box sums per width: [short ×4, long ×4], each padded.
    private let sums: UnsafeMutablePointer<Float>
    private var row = 0
    private var filled = 0
    private var sinceExact = 0
    private var frames = 0
    private var longThisFrame = false

    init(bins: Int, enbw: Double, overlap: Double, seedP: Double, growP: Double) {
        self.bins = bins
        total = bins + 2 * Self.pad
        current = .allocate(capacity: total)
        previous = .allocate(capacity: total)
        shortMean = .allocate(capacity: total)
        longSum = .allocate(capacity: total)
        ring = .allocate(capacity: bins * Self.longFrames)
        sums = .allocate(capacity: total * 2 * Self.widths.count)
        for p in [current, previous, shortMean, longSum] { p.initialize(repeating: 0, count: total) }
        ring.initialize(repeating: 0, count: bins * Self.longFrames)
        sums.initialize(repeating: 0, count: total * 2 * Self.widths.count)
        // Independent cells in a box: bins / noise bandwidth, frames / overlap (at least one each).
        let shortFrames = max(1, 2 / overlap + 0.5), longFrames = max(1, Double(Self.longFrames) / overlap)
        thresholds = Self.widths.map { width in
            let cells = max(1, Double(width) / enbw)
            let localCells = max(1, (width <= 9 ? 3.0 : 9.0) / enbw) * shortFrames
            return Thresholds(growShort: Self.threshold(cells: cells * shortFrames, p: growP),
                              seedShort: Self.threshold(cells: cells * shortFrames, p: seedP),
                              growLong: Self.threshold(cells: cells * longFrames, p: growP),
                              seedLong: Self.threshold(cells: cells * longFrames, p: seedP),
                              localGrow: Self.threshold(cells: localCells, p: 1e-3),
                              localSeed: Self.threshold(cells: localCells, p: 1e-8))
        }
    }

    deinit {
        for p in [current, previous, shortMean, longSum, ring, sums] { p.deallocate() }
    }

    func reset() {
        for p in [current, previous, shortMean, longSum] { p.update(repeating: 0, count: total) }
        ring.update(repeating: 0, count: bins * Self.longFrames)
        row = 0
        filled = 0
        frames = 0
    }

    /// Mean of K independent Exp(1) values exceeds the result with probability ≈ p
    /// (Wilson–Hilferty cube-root normal approximation of the gamma quantile).
    static func threshold(cells k: Double, p: Double) -> Float {
        let z = normalQuantile(1 - p)
        let a = 1 / (9 * k)
        let q = 1 - a + z * a.squareRoot()
        return Float(q * q * q)
    }

    /// Standard normal quantile by bisection on erfc (called a few times at start-up).
    static func normalQuantile(_ u: Double) -> Double {
        var lo = -40.0, hi = 40.0
        for _ in 0..<200 {
            let mid = (lo + hi) / 2
            if 0.5 * erfc(-mid / 2.0.squareRoot()) < u { lo = mid } else { hi = mid }
        }
        return (lo + hi) / 2
    }

    /// Local level of bin k over 3 (level 0) or 9 (level 1) bins and 2 frames, valid after `update`.
    @inline(__always)
    func local(_ level: Int, _ k: Int) -> Float {
        sums[level * total + Self.pad + k] * (level == 0 ? 1 / 3 : 1 / 9)
    }

    /// Takes this frame's r, updates every box sum, and marks the bins of firing boxes.
    /// - Returns: whether any bin was marked warm.
    @discardableResult
    func update(ratio r: UnsafePointer<Float>, hot: UnsafeMutablePointer<UInt8>, warm: UnsafeMutablePointer<UInt8>) -> Bool {
        let n = bins, pad = Self.pad
        let cur = current + pad, prev = previous + pad, short = shortMean + pad, long = longSum + pad
        let ringRow = ring + row * n
        for k in 0..<n {
            let v = r[k]
            short[k] = (v + prev[k]) * 0.5
            long[k] += v - ringRow[k]
            ringRow[k] = v
            prev[k] = v
            cur[k] = v
        }
        if sinceExact >= 1024 {
            // Running sums drift in Float; rebuild them exactly now and then.
            for k in 0..<n { long[k] = 0 }
            for f in 0..<Self.longFrames {
                let src = ring + f * n
                for k in 0..<n { long[k] += src[k] }
            }
            sinceExact = 0
        } else {
            sinceExact += 1
        }
        row = (row + 1) % Self.longFrames
        filled = min(filled + 1, Self.longFrames)
        frames &+= 1
        // The 16-frame statistic moves slowly: evaluate it on every other frame (half the work;
        // a weak long burst is marked a frame later at most, well within a burst's patience).
        longThisFrame = frames & 1 == 0
        // Three-fold box sums, level by level, for the short and (when due) the long map.
        let levels = Self.widths.count
        for map in 0..<(longThisFrame ? 2 : 1) {
            var input = UnsafePointer(map == 0 ? shortMean : longSum)
            var step = 1
            for level in 0..<levels {
                let output = sums + (map * levels + level) * total
                Kernels.fold3(input, into: output, from: step, to: total - step, step: step)
                input = UnsafePointer(output)
                step *= 3
            }
        }
        return mark(hot: hot, warm: warm)
    }

    /// Marks bins whose own centred box fires: warm above the grow threshold, hot above the seed.
    /// A bin joins only if its own local level also stands out, so a narrow strong burst does not
    /// claim the noise around it through a wide box; hot needs the bin to pass a seed-level
    /// local threshold too, so noise beside a strong burst cannot start a burst of its own.
    /// (3-bin boxes are their own local level; their long statistic marks weak narrow bursts.)
    private func mark(hot: UnsafeMutablePointer<UInt8>, warm: UnsafeMutablePointer<UInt8>) -> Bool {
        var marked = false
        let n = bins, pad = Self.pad, levels = Self.widths.count
        let longReady = filled >= Self.longFrames && longThisFrame
        let local3 = sums + pad, local9 = sums + total + pad
        for level in 0..<levels {
            let width = Self.widths[level]
            let t = thresholds[level]
            let shortSum = sums + level * total + pad
            let longSumW = sums + (levels + level) * total + pad
            let inverseWidth = 1 / Float(width)
            let inverseLongWidth = inverseWidth / Float(Self.longFrames)
            // Box means against their grow thresholds, as sums (no division per bin).
            let growS = t.growShort * Float(width)
            let growL = longReady ? t.growLong * Float(width) * Float(Self.longFrames) : .infinity
            // Most frames are noise: skip the scale at once when no box reaches a threshold.
            if !Kernels.anyAbove(shortSum, count: n, threshold: growS)
                && (!longReady || !Kernels.anyAbove(longSumW, count: n, threshold: growL)) {
                continue
            }
            let localSum = width <= 9 ? local3 : local9
            let localScale: Float = width <= 9 ? 1 / 3 : 1 / 9
            for k in 0..<n {
                let s = shortSum[k], l = longSumW[k]
                guard s > growS || l > growL else { continue }
                let shortMean = s * inverseWidth
                let longMean = longReady ? l * inverseLongWidth : 0
                let isHot = shortMean > t.seedShort || longMean > t.seedLong
                if width == 3 {
                    warm[k] = 1
                    if isHot { hot[k] = 1 }
                    marked = true
                    continue
                }
                let own = localSum[k] * localScale
                let needed = max(t.localGrow, 0.5 * max(shortMean, longMean))
                if own > needed {
                    warm[k] = 1
                    marked = true
                    if isHot && own > max(t.localSeed, needed) { hot[k] = 1 }
                }
            }
        }
        return marked
    }
}
