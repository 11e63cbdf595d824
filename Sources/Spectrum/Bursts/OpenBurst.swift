/// A burst being assembled frame by frame, and the estimates made from it when it closes.
///
/// Per frame it keeps one value of its *profile*: the mean excess (P − F)/F over its core band,
/// with the frames before it was noticed (look-back) first. It sums the excess spectrum over its
/// active frames, and stores whole excess rows for the look-back and its first frames, so a short
/// burst's spectrum is summed over its own frames only.
final class OpenBurst {
    /// First frames whose rows are kept (after the look-back).
    static let earlyFrames = 32

    let bins: Int
    var minBin = 0, maxBin = 0
    /// Core band: bins warm in at least a quarter of the active frames. Runs are matched to it,
    /// so stray warm bins beside a burst neither widen it for good nor chain it to neighbours.
    private(set) var coreLow = 0, coreHigh = 0
    var matchedLow = 0, matchedHigh = -1
    var everHot = false
    var missed = 0
    private(set) var activeFrames = 0
    private var warmCount: [Float]
    /// Excess power (P − F) per bin, summed over the active frames.
    private var excess: [Float]
    private var profile: [Float] = []
    private var lookBackCount = 0
    private var lastActiveIndex = 0
    /// Sample index of the first active frame's centre; profile entry i is at
    /// firstCenterSample + (i − lookBackCount)·hop.
    private var firstCenterSample = 0.0
    private(set) var peakPower: Float = 0
    private(set) var centerFrequencyHz: Double?
    /// Start placed at sample resolution, once done.
    var refinedStart: Double?
    private let rows: UnsafeMutableBufferPointer<Float>
    private let rowCapacity: Int
    private var rowCount = 0

    init(bins: Int, rowCapacity: Int) {
        self.bins = bins
        self.rowCapacity = rowCapacity
        warmCount = [Float](repeating: 0, count: bins)
        excess = [Float](repeating: 0, count: bins)
        rows = .allocate(capacity: bins * rowCapacity)
        rows.initialize(repeating: 0)
        profile.reserveCapacity(1024)
    }

    deinit { rows.deallocate() }

    func start(low: Int, high: Int, time: FrameTime) {
        minBin = low
        maxBin = high
        coreLow = low
        coreHigh = high
        everHot = false
        missed = 0
        activeFrames = 0
        for k in 0..<bins { warmCount[k] = 0; excess[k] = 0 }
        profile.removeAll(keepingCapacity: true)
        lookBackCount = 0
        lastActiveIndex = 0
        rowCount = 0
        firstCenterSample = time.centerSample
        peakPower = 0
        centerFrequencyHz = time.centerFrequencyHz
        refinedStart = nil
    }

    /// One look-back frame (oldest first), before the burst's own first frame.
    func addLookBack(power p: UnsafePointer<Float>, floor f: UnsafePointer<Float>) {
        profile.append(meanExcess(p, f, coreLow, coreHigh))
        storeRow(p, f)
        lookBackCount += 1
    }

    func extend(low: Int, high: Int, power p: UnsafePointer<Float>, floor f: UnsafePointer<Float>) {
        missed = 0
        minBin = min(minBin, low)
        maxBin = max(maxBin, high)
        activeFrames += 1
        for k in low...high { warmCount[k] += 1 }
        updateCore(fallbackLow: low, fallbackHigh: high)
        profile.append(meanExcess(p, f, coreLow, coreHigh))
        storeRow(p, f)
        lastActiveIndex = profile.count - 1
        var band: Float = 0
        for k in coreLow...coreHigh { band += p[k] }
        peakPower = max(peakPower, band)
        excess.withUnsafeMutableBufferPointer { e in
            for k in 0..<bins { e[k] += p[k] - f[k] }
        }
    }

    func miss(power p: UnsafePointer<Float>, floor f: UnsafePointer<Float>) {
        missed += 1
        profile.append(meanExcess(p, f, coreLow, coreHigh))
        storeRow(p, f)
    }

    func absorb(_ other: OpenBurst) {
        minBin = min(minBin, other.minBin)
        maxBin = max(maxBin, other.maxBin)
        everHot = everHot || other.everHot
        peakPower = max(peakPower, other.peakPower)
        for k in 0..<bins {
            excess[k] += other.excess[k]
            warmCount[k] += other.warmCount[k]
        }
        // Keep the profile and rows of the burst that started first (it holds the earlier edge).
        // Both end at the previous frame, so their indices differ by a constant.
        if other.firstCenterSample < firstCenterSample {
            let shift = other.profile.count - profile.count
            lastActiveIndex = max(other.lastActiveIndex, lastActiveIndex + shift)
            profile = other.profile
            lookBackCount = other.lookBackCount
            firstCenterSample = other.firstCenterSample
            rows.baseAddress!.update(from: other.rows.baseAddress!, count: other.rowCount * bins)
            rowCount = other.rowCount
            refinedStart = other.refinedStart
            centerFrequencyHz = other.centerFrequencyHz
        } else {
            let shift = profile.count - other.profile.count
            lastActiveIndex = max(lastActiveIndex, other.lastActiveIndex + shift)
        }
        activeFrames = max(activeFrames, other.activeFrames)
        updateCore(fallbackLow: min(coreLow, other.coreLow), fallbackHigh: max(coreHigh, other.coreHigh))
    }

    private func updateCore(fallbackLow: Int, fallbackHigh: Int) {
        let needed = max(1, Float(activeFrames) / 4)
        var lo = -1, hi = -1
        for k in minBin...maxBin where warmCount[k] >= needed {
            if lo < 0 { lo = k }
            hi = k
        }
        if lo < 0 { (lo, hi) = (fallbackLow, fallbackHigh) }
        coreLow = lo
        coreHigh = hi
    }

    private func meanExcess(_ p: UnsafePointer<Float>, _ f: UnsafePointer<Float>, _ low: Int, _ high: Int) -> Float {
        var sum: Float = 0
        for k in low...high { sum += p[k] / f[k] - 1 }
        return sum / Float(high - low + 1)
    }

    private func storeRow(_ p: UnsafePointer<Float>, _ f: UnsafePointer<Float>) {
        guard rowCount < rowCapacity else { return }
        let row = rows.baseAddress! + rowCount * bins
        for k in 0..<bins { row[k] = p[k] - f[k] }
        rowCount += 1
    }

    // MARK: - Estimates

    struct Estimate {
        var startSample: Double
        var endSample: Double
        /// Centre of the band, in (fractional) centred bins.
        var centreBin: Double
        var widthBins: Double
        /// Signal power over noise power inside the band.
        var snr: Double
    }

    /// Least-squares two-level fit of values[from...to]: the boundary (between two frames, as a
    /// fractional index) where the level steps up (`rising`) or down. Nil when there is no step
    /// in that direction or too few values on either side.
    static func stepFit(_ values: [Float], from: Int, to: Int, rising: Bool) -> Double? {
        guard to - from >= 3 else { return nil }
        var prefix = [Double](repeating: 0, count: to - from + 2)
        var prefixSquares = prefix
        for i in from...to {
            let v = Double(values[i])
            prefix[i - from + 1] = prefix[i - from] + v
            prefixSquares[i - from + 1] = prefixSquares[i - from] + v * v
        }
        let count = to - from + 1
        var best: Int?
        var bestCost = Double.infinity
        for tau in 2...(count - 2) {  // at least two values on each side
            let n1 = Double(tau), n2 = Double(count - tau)
            let s1 = prefix[tau], s2 = prefix[count] - prefix[tau]
            let m1 = s1 / n1, m2 = s2 / n2
            guard rising ? m2 > m1 : m1 > m2 else { continue }
            let cost = (prefixSquares[tau] - s1 * m1) + (prefixSquares[count] - prefixSquares[tau] - s2 * m2)
            if cost < bestCost { bestCost = cost; best = tau }
        }
        return best.map { Double(from + $0) - 0.5 }
    }

    /// Centre and width (in bins) of the band holding a burst's excess power `spectrum`.
    ///
    /// The middle half of a flat spectrum's power spans half its width; quantiles of the cumulative
    /// power stay steady even on the noisy spectrum of a burst one frame long. A first pass around
    /// the core band, then again around the band found, so a core that covered only part of a wide
    /// weak burst does not truncate it. A two-lobed spectrum (FSK) keeps its power near its edges:
    /// there 90% of the power spans 90% of the band, and the middle of that span is steadier than
    /// the middle half's when one tone was sent more often.
    private func band(of spectrum: [Float]) -> (centreBin: Double, widthBins: Double)? {
        var a = max(0, coreLow - max(4, coreHigh - coreLow + 1)), b = min(bins - 1, coreHigh + max(4, coreHigh - coreLow + 1))
        var centreBin = 0.0, width = 1.0
        for pass in 0..<2 {
            var total: Double = 0
            for k in a...b { total += Double(spectrum[k]) }
            guard total > 0 else { return nil }
            func quantile(_ q: Double) -> Double {
                let target = q * total
                var cumulative: Double = 0
                for k in a...b {
                    let v = Double(spectrum[k])
                    if cumulative + v >= target && v > 0 { return Double(k) - 0.5 + (target - cumulative) / v }
                    cumulative += v
                }
                return Double(b) + 0.5
            }
            let q1 = quantile(0.25), q3 = quantile(0.75)
            centreBin = (q1 + q3) / 2
            width = max(1, 2 * (q3 - q1))
            if pass == 0 {
                let reach = max(4, width)
                a = max(0, Int((centreBin - reach).rounded(.down)))
                b = min(bins - 1, max(a, Int((centreBin + reach).rounded(.up))))
            } else {
                let q05 = quantile(0.05), q95 = quantile(0.95)
                if (q95 - q05) / 0.9 > 1.2 * width {
                    width = (q95 - q05) / 0.9
                    centreBin = (q05 + q95) / 2
                }
            }
        }
        return (centreBin, width)
    }

    /// Edges at frame resolution from the profile; band and SNR from the excess spectrum.
    func estimate(hop: Int, floor f: UnsafePointer<Float>) -> Estimate? {
        let first = lookBackCount, last = lastActiveIndex
        guard last >= first, first < profile.count else { return nil }
        // The early profile was computed while the band was still settling: recompute it from the
        // stored rows over the band of the burst's summed excess (the warm core can miss a bin,
        // e.g. one FSK tone).
        var low = coreLow, high = coreHigh
        if let (c, w) = band(of: excess) {
            low = max(0, Int((c - w / 2).rounded()))
            high = min(bins - 1, max(low + 1, Int((c + w / 2).rounded())))
        }
        for i in 0..<min(rowCount, profile.count) {
            let row = rows.baseAddress! + i * bins
            var sum: Float = 0
            for k in low...high { sum += row[k] / f[k] }
            profile[i] = sum / Float(high - low + 1)
        }
        // Plateau: the median of the frames that are clearly on (above a quarter of the second
        // largest value), steady against the deep fades of a narrow burst's power from frame to
        // frame, the ramps at its edges and the frames after its end.
        var active = Array(profile[first...last])
        active.sort()
        let reference = active[max(0, active.count - 2)]
        let on = active.filter { $0 >= reference / 4 }
        let plateau = on.isEmpty ? reference : on[on.count / 2]
        guard plateau > 0 else { return nil }
        let half = plateau / 2
        func centre(_ index: Double) -> Double { firstCenterSample + (index - Double(lookBackCount)) * Double(hop) }
        // Start: the first frame at or above half, found from the first active frame (back while
        // look-back frames are above half, forward while still below), interpolated.
        var s = first
        while s < last && profile[s] < half { s += 1 }
        while s > 0 && profile[s - 1] >= half { s -= 1 }
        var startIndex = Double(s)
        if s > 0 {
            let a = profile[s - 1], b = profile[s]
            startIndex = Double(s - 1) + Double((half - a) / max(b - a, 1e-12))
        }
        // A weak burst's frames dip below half now and then, which stops that walk early: when
        // the burst has frames to spare, place the start where a two-level fit of the look-back
        // and first frames changes level instead.
        if last - first >= 6, let step = Self.stepFit(profile, from: 0, to: min(last, first + 24), rising: true) {
            startIndex = step
        }
        // End: the last frame at or above half, then where it falls below.
        var e = last
        while e > s && profile[e] < half { e -= 1 }
        var endIndex = Double(e) + 0.5
        if e + 1 < profile.count {
            let a = profile[e], b = profile[e + 1]
            if b < half { endIndex = Double(e) + Double((a - half) / max(a - b, 1e-12)) }
        }
        if last - first >= 6,
           let step = Self.stepFit(profile, from: max(Int(startIndex.rounded(.up)), last - 24), to: profile.count - 1, rising: false) {
            endIndex = step
        }
        // Spectrum: a burst that ends within the stored rows is summed over its own frames only
        // (frames after its end add noise and nothing else); a longer one uses the running sum.
        var spectrum = excess
        var frames = activeFrames
        let firstRow = max(0, Int(startIndex.rounded(.down))), lastRow = Int(endIndex.rounded(.up))
        if lastRow < rowCount && lastRow >= firstRow {
            for k in 0..<bins { spectrum[k] = 0 }
            for i in firstRow...lastRow {
                let row = rows.baseAddress! + i * bins
                for k in 0..<bins { spectrum[k] += row[k] }
            }
            frames = lastRow - firstRow + 1
        }
        guard let (centreBin, width) = band(of: spectrum) else { return nil }
        let lo = max(0, Int((centreBin - width / 2).rounded())), hi = min(bins - 1, max(lo, Int((centreBin + width / 2).rounded())))
        var signal = 0.0, noise = 0.0
        for k in lo...hi {
            signal += Double(spectrum[k])
            noise += Double(f[k])
        }
        return Estimate(startSample: centre(startIndex), endSample: centre(endIndex), centreBin: centreBin, widthBins: width,
                        snr: signal / max(noise * Double(max(1, frames)), 1e-30))
    }
}
