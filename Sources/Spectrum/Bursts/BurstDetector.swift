#if canImport(Glibc)
import Glibc
#endif
import IQ

/// Finds bursts in a stream: spectrogram → noise floor → multi-scale thresholds with hysteresis
/// → cells merged across adjacent bins and frames → edges placed at sample resolution.
///
/// Detection. Each frame's power is normalised by the noise floor (r = P/F, mean 1 in noise).
/// Box means of r over 3, 9, 27 and 81 bins, each over the last 2 and the last 16 frames, cover
/// bursts from ~25 kHz to the whole band and from ~100 µs to seconds: short wide bursts win on
/// the wide short boxes, long narrow ones on the narrow long boxes. A box above its *seed*
/// threshold (false alarm ≈ 1e-10 per test) makes its standing-out bins hot; above its lower
/// *grow* threshold, warm. Runs of warm bins (bridging 2-bin gaps) join the burst whose core
/// band they touch, or open a new one; a burst closes after a few frames without warm bins and is
/// reported only if it was ever hot (hysteresis and persistence).
///
/// Parameters. The band comes from the quartiles of the burst's excess power spectrum (P − F
/// summed over its frames): the middle half of a flat spectrum's power spans half its width.
/// The edges, first found to a frame from the per-frame excess profile, are then placed at
/// sample resolution on the band-filtered raw samples (`EdgeRefiner`).
///
/// Everything is counted in frames cut by absolute sample index, so results do not depend on how
/// the input is chunked. The first `NoiseFloor.Configuration.warmUpS` of input is held back to
/// learn the floor, then processed like the rest.
public final class BurstDetector {
    public struct Configuration: Sendable, Equatable {
        public var spectrogram = Spectrogram.Configuration(fftSize: 256)
        public var noiseFloor = NoiseFloor.Configuration()
        /// Per-test false-alarm probability of the seed threshold.
        public var seedFalseAlarm: Double = 1e-10
        /// Per-test false-alarm probability of the grow threshold.
        public var growFalseAlarm: Double = 1e-5
        /// Frames without warm bins before a burst is closed.
        public var closeAfterFrames = 4
        /// Gaps of up to this many bins inside a burst are bridged.
        public var bridgeBins = 2
        /// Bursts open at once; more are dropped and counted.
        public var maxOpenBursts = 64
        /// Place edges at sample resolution (costs two FFT pairs per burst).
        public var refineEdges = true
        public init() {}
    }

    /// What happened to the input, for `--stats`.
    public struct Counters: Sendable, Equatable {
        public var frames: Int64 = 0
        public var bursts: Int64 = 0
        /// Candidates that never crossed a seed threshold.
        public var rejectedWeak: Int64 = 0
        /// Candidates lost because too many bursts were open.
        public var droppedOverflow: Int64 = 0
        public var framesSkippedNonFinite: Int64 = 0
        /// Frames whose power overflowed (huge cf32 values).
        public var framesOverflowed: Int64 = 0
        /// Edges left at frame resolution (samples no longer held, or no clear change).
        public var edgesNotRefined: Int64 = 0
    }

    public let configuration: Configuration
    public let sampleRateHz: Double
    public let spectrogram: Spectrogram
    public let noiseFloor: NoiseFloor
    public private(set) var counters = Counters()

    let n: Int
    let hop: Int
    private let bank: ScaleBank
    // Per-frame work buffers, allocated once.
    private let ratio: UnsafeMutableBufferPointer<Float>
    private let hot: UnsafeMutableBufferPointer<UInt8>
    private let warm: UnsafeMutableBufferPointer<UInt8>
    // Recent frames' power, for looking back before a burst was noticed.
    static let historyFrames = 40
    /// Largest piece of input handled at once.
    static let piece = 16384
    /// How far back edges and fine spectra may reach from the current frame.
    static let horizon: Int64 = 131_072
    private var pieceBuffer = IQBlock(capacity: BurstDetector.piece)
    private var currentFrameEnd: Int64 = 0
    private let history: UnsafeMutableBufferPointer<Float>
    private var historyCount = 0
    private var historyNext = 0
    // Raw samples, for placing edges; long enough to cover the warm-up hold.
    private let samples: SampleHistory
    private let refiner = EdgeRefiner()
    private let zoom = ZoomSpectrum()
    private let segment: UnsafeMutableBufferPointer<IQSample>
    // Warm-up: frames held until the floor is known.
    private var warmUpPower: [Float] = []
    private var warmUpMeta: [FrameTime] = []
    private var warmUpGaps: [Bool] = []
    private let warmUpTarget: Int
    private var open: [OpenBurst] = []
    private var spare: [OpenBurst] = []
    private var runs: [(low: Int, high: Int, hot: Bool)] = []
    /// Whether the last frame marked any bin (the masks need clearing only then).
    private var anyWarm = false

    public init(sampleRateHz: Double, configuration: Configuration = .init()) throws {
        guard sampleRateHz > 0, sampleRateHz <= 1e10 else {
            throw SpectrumError.invalidParameter("sample rate \(sampleRateHz) Hz is out of range")
        }
        let fft = configuration.spectrogram.fftSize
        guard fft >= 64, fft <= ZoomSpectrum.size, fft & (fft - 1) == 0 else {
            throw SpectrumError.invalidParameter("burst detection needs an FFT size that is a power of two from 64 to \(ZoomSpectrum.size), not \(fft)")
        }
        self.configuration = configuration
        self.sampleRateHz = sampleRateHz
        spectrogram = try Spectrogram(configuration: configuration.spectrogram, sampleRateHz: sampleRateHz)
        n = configuration.spectrogram.fftSize
        hop = configuration.spectrogram.hop
        let framesPerSecond = sampleRateHz / Double(hop)
        noiseFloor = NoiseFloor(bins: n, framesPerSecond: framesPerSecond, configuration: configuration.noiseFloor)
        warmUpTarget = noiseFloor.warmUpFrames(framesPerSecond: framesPerSecond)
        let enbw = Window.enbwBins(configuration.spectrogram.window.coefficients(count: n))
        let overlap = Double(n) / Double(hop)
        bank = ScaleBank(bins: configuration.spectrogram.fftSize, enbw: enbw, overlap: overlap,
                         seedP: configuration.seedFalseAlarm, growP: configuration.growFalseAlarm)
        ratio = .allocate(capacity: n)
        hot = .allocate(capacity: n)
        warm = .allocate(capacity: n)
        history = .allocate(capacity: n * Self.historyFrames)
        for b in [ratio, history] { b.initialize(repeating: 0) }
        hot.initialize(repeating: 0)
        warm.initialize(repeating: 0)
        // Enough for the warm-up hold, the horizon and one piece of input beyond the frame.
        samples = SampleHistory(capacity: (warmUpTarget + 2) * hop + n + Int(Self.horizon) + Self.piece)
        segment = .allocate(capacity: EdgeRefiner.segmentLength)
        segment.initialize(repeating: .zero)
        warmUpPower.reserveCapacity(warmUpTarget * n)
    }

    deinit {
        for b in [ratio, history] { b.deallocate() }
        hot.deallocate()
        warm.deallocate()
        segment.deallocate()
    }

    /// Feeds a block; `emit` receives each burst as it closes.
    public func process(_ block: IQBlock, emit: (Burst) -> Void) {
        // In pieces of at most `piece` samples, so that when a frame is handled the sample history
        // holds the same span before it whatever the caller's block size.
        if block.count <= Self.piece {
            processPiece(block, emit: emit)
        } else {
            var start = 0
            while start < block.count {
                let end = min(block.count, start + Self.piece)
                pieceBuffer.samples.removeAll(keepingCapacity: true)
                pieceBuffer.samples.append(contentsOf: block.samples[start..<end])
                pieceBuffer.firstSampleIndex = block.firstSampleIndex + Int64(start)
                pieceBuffer.droppedBefore = start == 0 ? block.droppedBefore : 0
                pieceBuffer.centerFrequencyHz = block.centerFrequencyHz
                pieceBuffer.captureTimeS = block.captureTimeS.map { $0 + Double(start) / sampleRateHz }
                processPiece(pieceBuffer, emit: emit)
                start = end
            }
        }
        counters.framesSkippedNonFinite = spectrogram.framesSkippedNonFinite
    }

    private func processPiece(_ block: IQBlock, emit: (Burst) -> Void) {
        samples.append(block)
        spectrogram.process(block) { frame in
            handle(frame, emit: emit)
        }
    }

    /// Samples for edges and fine spectra are taken only from the span `horizon` before the end of
    /// the frame being handled, never after it: what is used never depends on how far ahead the
    /// input happened to arrive.
    private func fetch(_ from: Int64, _ out: UnsafeMutableBufferPointer<IQSample>) -> Bool {
        guard from >= currentFrameEnd - Self.horizon, from + Int64(out.count) <= currentFrameEnd else { return false }
        return samples.copy(from: from, into: out)
    }

    /// Ends the stream: processes held frames and closes every open burst.
    public func finish(emit: (Burst) -> Void) {
        if !noiseFloor.initialised { releaseWarmUp(emit: emit) }
        closeAll(emit: emit)
    }

    // MARK: - Frames

    private func handle(_ frame: Spectrogram.Frame, emit: (Burst) -> Void) {
        counters.frames += 1
        // Huge but finite cf32 values can overflow a bin's power: such a frame would poison the
        // noise floor, so it is skipped and counted like a frame holding NaN.
        guard Kernels.sum(frame.power.baseAddress!, count: n).isFinite else {
            counters.framesOverflowed += 1
            return
        }
        let time = FrameTime(firstSampleIndex: frame.firstSampleIndex,
                             centerSample: Double(frame.firstSampleIndex) + Double(n) / 2,
                             centerFrequencyHz: frame.centerFrequencyHz)
        if !noiseFloor.initialised {
            warmUpPower.append(contentsOf: frame.power)
            warmUpMeta.append(time)
            warmUpGaps.append(frame.afterGap)
            if warmUpMeta.count >= warmUpTarget { releaseWarmUp(emit: emit) }
            return
        }
        detect(power: frame.power.baseAddress!, time: time, afterGap: frame.afterGap, emit: emit)
    }

    private func releaseWarmUp(emit: (Burst) -> Void) {
        guard !warmUpMeta.isEmpty else { return }
        let held = warmUpPower
        held.withUnsafeBufferPointer { all in
            noiseFloor.initialise(rows: all.baseAddress!, count: warmUpMeta.count)
            for (k, time) in warmUpMeta.enumerated() {
                detect(power: all.baseAddress! + k * n, time: time, afterGap: warmUpGaps[k], emit: emit)
            }
        }
        warmUpPower = []
        warmUpMeta = []
        warmUpGaps = []
    }

    private func detect(power p: UnsafePointer<Float>, time: FrameTime, afterGap: Bool, emit: (Burst) -> Void) {
        currentFrameEnd = time.firstSampleIndex + Int64(n)
        if afterGap {
            closeAll(emit: emit)
            historyCount = 0
            bank.reset()
        }
        let inv = noiseFloor.inverse.baseAddress!
        let r = ratio.baseAddress!
        for k in 0..<n { r[k] = p[k] * inv[k] }
        if anyWarm {
            hot.update(repeating: 0)
            warm.update(repeating: 0)
        }
        anyWarm = bank.update(ratio: r, hot: hot.baseAddress!, warm: warm.baseAddress!)
        if anyWarm || !open.isEmpty {
            track(power: p, time: time, emit: emit)
        }
        noiseFloor.accumulate(power: UnsafeBufferPointer(start: p, count: n), mask: anyWarm ? UnsafePointer(warm.baseAddress!) : nil)
        (history.baseAddress! + historyNext * n).update(from: p, count: n)
        historyNext = (historyNext + 1) % Self.historyFrames
        historyCount = min(historyCount + 1, Self.historyFrames)
    }

    // MARK: - Merging cells into bursts

    private func track(power p: UnsafePointer<Float>, time: FrameTime, emit: (Burst) -> Void) {
        collectRuns()
        for burst in open { burst.matchedLow = Int.max; burst.matchedHigh = -1 }
        let bridge = configuration.bridgeBins
        for run in runs where run.hot || run.high > run.low {  // a lone warm bin is speckle
            var owner: OpenBurst?
            var index = 0
            while index < open.count {
                let b = open[index]
                if run.low <= b.coreHigh + bridge && run.high >= b.coreLow - bridge {
                    if let o = owner {
                        o.absorb(b)  // the run joins two bursts: merge them
                        recycle(open.remove(at: index))
                        continue
                    }
                    owner = b
                }
                index += 1
            }
            if owner == nil {
                guard open.count < configuration.maxOpenBursts else { counters.droppedOverflow += 1; continue }
                let b = spare.popLast() ?? OpenBurst(bins: n, rowCapacity: Self.historyFrames + OpenBurst.earlyFrames)
                b.start(low: run.low, high: run.high, time: time)
                let f = noiseFloor.level.baseAddress!
                for age in stride(from: historyCount, to: 0, by: -1) {
                    let row = history.baseAddress! + ((historyNext - age + Self.historyFrames) % Self.historyFrames) * n
                    b.addLookBack(power: row, floor: f)
                }
                open.append(b)
                owner = b
            }
            owner!.matchedLow = min(owner!.matchedLow, run.low)
            owner!.matchedHigh = max(owner!.matchedHigh, run.high)
            if run.hot { owner!.everHot = true }
        }
        let f = noiseFloor.level.baseAddress!
        var index = 0
        while index < open.count {
            let b = open[index]
            if b.matchedHigh >= 0 {
                b.extend(low: b.matchedLow, high: b.matchedHigh, power: p, floor: f)
                if b.refinedStart == nil && b.activeFrames == OpenBurst.earlyFrames / 2 { refineStart(of: b) }
                index += 1
            } else {
                b.miss(power: p, floor: f)
                // A long burst may fade for longer without ending (a weak one's statistics dip):
                // allow gaps up to half its length so far, at most 32 frames (1.7 ms at 2.4 MS/s).
                let patience = max(configuration.closeAfterFrames, min(32, b.activeFrames / 2))
                if b.missed > patience {
                    close(open.remove(at: index), emit: emit)
                } else {
                    index += 1
                }
            }
        }
    }

    /// Runs of warm bins in this frame, bridging gaps of up to `bridgeBins`.
    private func collectRuns() {
        runs.removeAll(keepingCapacity: true)
        var k = 0
        while k < n {
            guard warm[k] != 0 else { k += 1; continue }
            var end = k
            var isHot = false
            var j = k
            while j < n {
                if warm[j] != 0 {
                    end = j
                    if hot[j] != 0 { isHot = true }
                    j += 1
                } else if j - end <= configuration.bridgeBins {
                    j += 1
                } else {
                    break
                }
            }
            runs.append((k, end, isHot))
            k = end + 1
        }
    }

    private func closeAll(emit: (Burst) -> Void) {
        for b in open { close(b, emit: emit) }
        open.removeAll(keepingCapacity: true)
    }

    private func close(_ b: OpenBurst, emit: (Burst) -> Void) {
        defer { recycle(b) }
        guard b.everHot else { counters.rejectedWeak += 1; return }
        let f = noiseFloor.level.baseAddress!
        guard var estimate = b.estimate(hop: hop, floor: f),
              estimate.startSample.isFinite, estimate.endSample.isFinite, estimate.centreBin.isFinite,
              estimate.widthBins.isFinite, estimate.snr.isFinite
        else { counters.rejectedWeak += 1; return }
        if configuration.refineEdges {
            if b.refinedStart == nil { refineStart(of: b, estimate: estimate) }
            if let start = b.refinedStart { estimate.startSample = start } else { counters.edgesNotRefined += 1 }
            if let end = refineEdge(coarse: estimate.endSample, other: estimate.startSample, band: estimate, rising: false) {
                estimate.endSample = end
            } else {
                counters.edgesNotRefined += 1
            }
        }
        let binWidthHz = spectrogram.binWidthHz
        var offsetHz = (estimate.centreBin - Double(n / 2)) * binWidthHz
        var bandwidthHz = estimate.widthBins * binWidthHz
        var snr = estimate.snr
        let end = max(estimate.endSample, estimate.startSample + 1)
        // A narrow burst's band is blurred by the spectrogram's bins and window: when it lasts long
        // enough for a fine spectrum to average (≥ 40 time-bandwidth cells) and its samples are
        // still held, take the band from its own samples.
        let cells = (end - estimate.startSample) / sampleRateHz * bandwidthHz
        if estimate.widthBins < 8 && cells >= 40, let fine = zoom.band(start: Int64(estimate.startSample.rounded()), end: Int64(end.rounded()),
                                fetch: { fetch($0, $1) }, floor: f, coarseBins: n,
                                sampleRateHz: sampleRateHz, searchLowHz: offsetHz - bandwidthHz - 2 * binWidthHz,
                                searchHighHz: offsetHz + bandwidthHz + 2 * binWidthHz) {
            offsetHz = fine.centreHz
            bandwidthHz = fine.widthHz
            snr = fine.snr
        }
        counters.bursts += 1
        emit(Burst(sampleStart: Int64(estimate.startSample.rounded()), sampleCount: Int64((end - estimate.startSample).rounded()),
                   centerFrequencyHz: (b.centerFrequencyHz ?? 0) + offsetHz, bandwidthHz: bandwidthHz,
                   peakDBFS: 10 * log10(max(Double(b.peakPower), 1e-30)), snrDB: 10 * log10(max(snr, 1e-6))))
    }

    /// Places the start at sample resolution once the burst has a few frames (its band is known
    /// by then and its start is still in the sample history), or at close for shorter ones.
    private func refineStart(of b: OpenBurst, estimate: OpenBurst.Estimate? = nil) {
        guard configuration.refineEdges, let e = estimate ?? b.estimate(hop: hop, floor: noiseFloor.level.baseAddress!) else { return }
        b.refinedStart = refineEdge(coarse: e.startSample, other: e.endSample, band: e, rising: true)
    }

    private func refineEdge(coarse: Double, other: Double, band: OpenBurst.Estimate, rising: Bool) -> Double? {
        let length = EdgeRefiner.segmentLength
        let middle = (coarse + other) / 2
        // Look up to 3/8 of the segment beyond the coarse edge on the outside, and up to the
        // burst's middle on the inside (a short burst must end inside the stretch examined).
        var from: Double, to: Double
        if rising {
            from = coarse - Double(length) * 3 / 8
            to = min(coarse + Double(length) * 5 / 8, max(middle, coarse + 32))
        } else {
            from = max(coarse - Double(length) * 5 / 8, min(middle, coarse - 32))
            to = coarse + Double(length) * 3 / 8
        }
        to = min(to, Double(currentFrameEnd))
        let start = Int64(from.rounded(.down)), count = Int(to.rounded(.up) - from.rounded(.down))
        guard count >= 64, count <= length else { return nil }
        let window = UnsafeMutableBufferPointer(rebasing: segment[0..<count])
        guard fetch(start, window) else { return nil }
        let binWidthHz = spectrogram.binWidthHz
        let lowHz = (band.centreBin - band.widthBins / 2 - Double(n / 2)) * binWidthHz
        let highHz = (band.centreBin + band.widthBins / 2 - Double(n / 2)) * binWidthHz
        guard let tau = refiner.changePoint(UnsafeBufferPointer(window), lowHz: lowHz, highHz: highHz,
                                            sampleRateHz: sampleRateHz, rising: rising,
                                            prior: Int((coarse - Double(start)).rounded())) else { return nil }
        let refined = Double(start) + Double(tau)
        // Trust the fit only near the frame-level edge (three frames: a weak burst's frame-level
        // edge can be that far off, which is why the fit is there).
        return abs(refined - coarse) <= 3 * Double(n) ? refined : nil
    }

    private func recycle(_ b: OpenBurst) {
        if spare.count < 16 { spare.append(b) }
    }
}

/// Time of one frame.
struct FrameTime {
    var firstSampleIndex: Int64
    /// Sample index of the window's centre (where its energy is weighted most).
    var centerSample: Double
    var centerFrequencyHz: Double?
}
