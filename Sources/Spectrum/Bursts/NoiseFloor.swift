/// Per-bin noise floor that follows slow changes and ignores bursts.
///
/// - Start-up: the floor is the 20th percentile of each bin over a warm-up span (scaled to the
///   mean of exponentially distributed noise power), so bursts covering up to 80% of the span
///   do not lift it.
/// - Then: an exponential average with a long time constant over cells the detector did not
///   flag (`mask == 0`); flagged cells pull the floor 8× more slowly, so a carrier that never goes
///   away is absorbed in the end while a burst of a few seconds barely moves it. Each value is
///   clipped at 4× the floor (bias-corrected) so an unflagged spike cannot jerk it.
/// - The RTL-SDR DC spike is a permanent feature of its bins, so the floor learns it there.
/// Updates are applied every `updateFrames` frames from accumulated sums (cheap, and identical
/// whatever the input chunking, since everything is counted in frames).
public final class NoiseFloor {
    public struct Configuration: Sendable, Equatable {
        public var warmUpS: Double = 0.1
        public var timeConstantS: Double = 2.0
        public var maskedSlowdown: Float = 8
        public var updateFrames: Int = 16
        public init() {}
    }

    public let bins: Int
    public let configuration: Configuration
    /// Floor per centred bin (linear power, same scale as `Spectrogram.Frame.power`).
    public let level: UnsafeMutableBufferPointer<Float>
    /// 1 / level, for normalising a frame with multiplications.
    public let inverse: UnsafeMutableBufferPointer<Float>
    public private(set) var initialised = false

    private let sumFree: UnsafeMutableBufferPointer<Float>
    private let countFree: UnsafeMutableBufferPointer<Float>
    private let sumMasked: UnsafeMutableBufferPointer<Float>
    private let countMasked: UnsafeMutableBufferPointer<Float>
    private var framesSinceUpdate = 0
    private var freeFramesPending = 0
    private let alphaPerFrame: Float
    private static let clipFactor: Float = 4
    /// E[min(X, 4m)] = m(1 − e⁻⁴) for exponential X with mean m.
    private static let clipBias: Float = 1 / (1 - 0.018315639)
    static let minimumLevel: Float = 1e-20

    public init(bins: Int, framesPerSecond: Double, configuration: Configuration = .init()) {
        self.bins = bins
        self.configuration = configuration
        level = .allocate(capacity: bins)
        level.initialize(repeating: 1)
        inverse = .allocate(capacity: bins)
        inverse.initialize(repeating: 1)
        sumFree = .allocate(capacity: bins)
        sumFree.initialize(repeating: 0)
        countFree = .allocate(capacity: bins)
        countFree.initialize(repeating: 0)
        sumMasked = .allocate(capacity: bins)
        sumMasked.initialize(repeating: 0)
        countMasked = .allocate(capacity: bins)
        countMasked.initialize(repeating: 0)
        alphaPerFrame = Float(min(1, 1 / (configuration.timeConstantS * framesPerSecond)))
    }

    deinit {
        for buffer in [level, inverse, sumFree, countFree, sumMasked, countMasked] { buffer.deallocate() }
    }

    public func warmUpFrames(framesPerSecond: Double) -> Int {
        max(8, Int((configuration.warmUpS * framesPerSecond).rounded()))
    }

    /// Sets the floor from `count` frames of `bins` values each, stored row after row.
    public func initialise(rows: UnsafePointer<Float>, count: Int) {
        guard count > 0 else { return }
        var column = [Float](repeating: 0, count: count)
        let rank = min(count - 1, Int(Double(count) * 0.2))
        let scale: Float = 1 / 0.22314355  // 20th percentile of Exp(1) is −ln 0.8
        for k in 0..<bins {
            for f in 0..<count { column[f] = rows[f * bins + k] }
            let q = Self.select(&column, rank)
            level[k] = max(q.isFinite ? q * scale : Self.minimumLevel, Self.minimumLevel)
            inverse[k] = 1 / level[k]
        }
        initialised = true
    }

    /// Accumulates one frame; `mask[k] != 0` marks bins that hold a signal (nil: none do).
    public func accumulate(power: UnsafeBufferPointer<Float>, mask: UnsafePointer<UInt8>?) {
        let p = power.baseAddress!, f = level.baseAddress!
        let sf = sumFree.baseAddress!, cf = countFree.baseAddress!
        let sm = sumMasked.baseAddress!, cm = countMasked.baseAddress!
        let clip = Self.clipFactor
        if let mask {
            for k in 0..<bins {
                let v = min(p[k], clip * f[k])
                let m: Float = mask[k] != 0 ? 1 : 0
                sf[k] += v * (1 - m)
                cf[k] += 1 - m
                sm[k] += v * m
                cm[k] += m
            }
        } else {
            for k in 0..<bins { sf[k] += min(p[k], clip * f[k]) }
            freeFramesPending += 1
        }
        framesSinceUpdate += 1
        if framesSinceUpdate >= configuration.updateFrames { applyUpdate() }
    }

    private func applyUpdate() {
        framesSinceUpdate = 0
        // Frames accumulated without a mask count for every bin at once.
        if freeFramesPending > 0 {
            let c = countFree.baseAddress!, pending = Float(freeFramesPending)
            for k in 0..<bins { c[k] += pending }
            freeFramesPending = 0
        }
        let alpha = alphaPerFrame
        let slow = alphaPerFrame / configuration.maskedSlowdown
        for k in 0..<bins {
            var f = level[k]
            if countFree[k] > 0 {
                let mean = sumFree[k] / countFree[k] * Self.clipBias
                f += min(1, alpha * countFree[k]) * (mean - f)
            }
            if countMasked[k] > 0 {
                let mean = sumMasked[k] / countMasked[k] * Self.clipBias
                f += min(1, slow * countMasked[k]) * (mean - f)
            }
            f = f.isFinite ? max(f, Self.minimumLevel) : level[k]
            level[k] = f
            inverse[k] = 1 / f
            sumFree[k] = 0; countFree[k] = 0; sumMasked[k] = 0; countMasked[k] = 0
        }
    }

    /// k-th smallest (0-based) by quickselect; reorders `values`.
    static func select(_ values: inout [Float], _ k: Int) -> Float {
        var lo = 0, hi = values.count - 1
        while lo < hi {
            let pivot = values[(lo + hi) / 2]
            var i = lo, j = hi
            while i <= j {
                while values[i] < pivot { i += 1 }
                while values[j] > pivot { j -= 1 }
                if i <= j { values.swapAt(i, j); i += 1; j -= 1 }
            }
            if k <= j { hi = j } else if k >= i { lo = i } else { return values[k] }
        }
        return values[k]
    }
}
