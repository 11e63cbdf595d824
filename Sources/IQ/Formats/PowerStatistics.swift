#if canImport(Glibc)
import Glibc
#endif

/// Running power statistics over a stream: mean power, peak, DC offset, clipping.
/// dBFS is relative to a full-scale complex sample (|x| = 1 → 0 dBFS).
public struct PowerStatistics: Sendable {
    public private(set) var samples: Int64 = 0
    public private(set) var clippedSamples: Int64 = 0
    public private(set) var nonFiniteSamples: Int64 = 0
    private var sumPower = 0.0
    private var sumI = 0.0
    private var sumQ = 0.0
    private var peakPower: Float = 0

    public init() {}

    public mutating func add(_ block: IQBlock) {
        block.samples.withUnsafeBufferPointer { add($0) }
        clippedSamples += Int64(block.clippedSamples)
    }

    public mutating func add(_ samples: UnsafeBufferPointer<IQSample>) {
        // Accumulate in Float per chunk (vectorises), then in Double across chunks (keeps precision).
        var k = 0
        while k < samples.count {
            let end = min(samples.count, k + 4096)
            var p: Float = 0, si: Float = 0, sq: Float = 0, peak: Float = peakPower
            for s in k..<end {
                let x = samples[s]
                let power = x.power
                p += power
                si += x.i
                sq += x.q
                peak = max(peak, power)
            }
            if !p.isFinite {
                // NaN/Inf in cf32 input: count them, keep the statistics of the finite samples.
                p = 0; si = 0; sq = 0; peak = peakPower
                for s in k..<end {
                    let x = samples[s]
                    guard x.i.isFinite, x.q.isFinite else { nonFiniteSamples += 1; continue }
                    p += x.power; si += x.i; sq += x.q; peak = max(peak, x.power)
                }
            }
            sumPower += Double(p)
            sumI += Double(si)
            sumQ += Double(sq)
            peakPower = peak
            k = end
        }
        self.samples += Int64(samples.count)
    }

    private var finiteCount: Double { Double(max(1, samples - nonFiniteSamples)) }
    public var meanPowerDBFS: Double { 10 * log10(max(sumPower / finiteCount, 1e-20)) }
    public var peakPowerDBFS: Double { 10 * log10(max(Double(peakPower), 1e-20)) }
    public var dcOffsetI: Double { sumI / finiteCount }
    public var dcOffsetQ: Double { sumQ / finiteCount }
    public var clippedPercent: Double { samples == 0 ? 0 : 100 * Double(clippedSamples) / Double(samples) }
}
