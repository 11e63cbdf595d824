import IQ

/// Scores detected bursts against ground truth (SigMF annotations), the way the detector's
/// targets are stated: found, start within 50 µs, centre within 10% of the bandwidth, bandwidth
/// within 25%; detections that match nothing are false alarms.
import Foundation

public struct BurstScore: Sendable, CustomStringConvertible {
    public struct Truth: Sendable {
        public var sampleStart: Int64
        public var sampleCount: Int64
        public var lowHz: Double
        public var highHz: Double
        public var snrDB: Double?

        public init(sampleStart: Int64, sampleCount: Int64, lowHz: Double, highHz: Double, snrDB: Double? = nil) {
            self.sampleStart = sampleStart
            self.sampleCount = sampleCount
            self.lowHz = lowHz
            self.highHz = highHz
            self.snrDB = snrDB
        }

        /// From an annotation with RF edges; `snr_db=` in the comment (as `uasense synth` writes) is read.
        public init?(_ a: SigMFAnnotation) {
            guard let count = a.sampleCount, let lo = a.freqLowerEdgeHz, let hi = a.freqUpperEdgeHz else { return nil }
            self.init(sampleStart: a.sampleStart, sampleCount: count, lowHz: lo, highHz: hi,
                      snrDB: a.comment.flatMap { c in
                          c.split(separator: " ").first { $0.hasPrefix("snr_db=") }.flatMap { Double($0.dropFirst(7)) }
                      })
        }
    }

    public struct Miss: Sendable, CustomStringConvertible {
        public var truth: Truth
        public var detected: Burst?
        public var reason: String
        public var description: String {
            let d = detected.map {
                String(format: "got start %lld count %lld f %.0f bw %.0f snr %.1f", $0.sampleStart, $0.sampleCount,
                       $0.centerFrequencyHz, $0.bandwidthHz, $0.snrDB)
            } ?? "nothing"
            return reason + String(format: ": truth start %lld count %lld f %.0f bw %.0f snr %.1f; ", truth.sampleStart,
                                   truth.sampleCount, (truth.lowHz + truth.highHz) / 2, truth.highHz - truth.lowHz,
                                   truth.snrDB ?? .nan) + d
        }
    }

    public var truths = 0
    public var found = 0
    public var accurate = 0
    public var falseAlarms = 0
    public var misses: [Miss] = []
    public var startErrorsS: [Double] = []
    public var centreErrorsFraction: [Double] = []
    public var bandwidthRatios: [Double] = []

    public var foundFraction: Double { truths == 0 ? 1 : Double(found) / Double(truths) }
    public var accurateFraction: Double { truths == 0 ? 1 : Double(accurate) / Double(truths) }

    public init(detected: [Burst], truth: [Truth], sampleRateHz: Double, startToleranceS: Double = 50e-6,
                centreTolerance: Double = 0.10, bandwidthTolerance: Double = 0.25) {
        var used = [Bool](repeating: false, count: detected.count)
        truths = truth.count
        for t in truth {
            let tEnd = t.sampleStart + t.sampleCount
            var best: Int?
            var bestOverlap = 0.0
            for (k, d) in detected.enumerated() {
                let timeOverlap = Double(min(tEnd, d.sampleEnd) - max(t.sampleStart, d.sampleStart))
                let dLow = d.centerFrequencyHz - d.bandwidthHz / 2, dHigh = d.centerFrequencyHz + d.bandwidthHz / 2
                let freqOverlap = min(t.highHz, dHigh) - max(t.lowHz, dLow)
                guard timeOverlap > 0, freqOverlap > 0 else { continue }
                let score = timeOverlap * freqOverlap
                if score > bestOverlap { bestOverlap = score; best = k }
            }
            guard let b = best else {
                misses.append(Miss(truth: t, detected: nil, reason: "missed"))
                continue
            }
            used[b] = true
            found += 1
            let d = detected[b]
            let bandwidth = t.highHz - t.lowHz
            let startError = Double(abs(d.sampleStart - t.sampleStart)) / sampleRateHz
            let centreError = abs(d.centerFrequencyHz - (t.lowHz + t.highHz) / 2) / bandwidth
            let ratio = d.bandwidthHz / bandwidth
            startErrorsS.append(startError)
            centreErrorsFraction.append(centreError)
            bandwidthRatios.append(ratio)
            var reasons: [String] = []
            if startError > startToleranceS { reasons.append(String(format: "start off by %.0f µs", startError * 1e6)) }
            if centreError > centreTolerance { reasons.append(String(format: "centre off by %.0f%% of bw", centreError * 100)) }
            if abs(ratio - 1) > bandwidthTolerance { reasons.append("bandwidth ×\(String(format: "%.2f", ratio))") }
            if reasons.isEmpty {
                accurate += 1
            } else {
                misses.append(Miss(truth: t, detected: d, reason: reasons.joined(separator: ", ")))
            }
        }
        // Pieces of a found burst (same truth region) are not false alarms; count detections
        // that overlap no truth at all.
        for (k, d) in detected.enumerated() where !used[k] {
            let overlapsTruth = truth.contains { t in
                min(t.sampleStart + t.sampleCount, d.sampleEnd) > max(t.sampleStart, d.sampleStart)
                    && min(t.highHz, d.centerFrequencyHz + d.bandwidthHz / 2) > max(t.lowHz, d.centerFrequencyHz - d.bandwidthHz / 2)
            }
            if !overlapsTruth { falseAlarms += 1 }
        }
    }

    static func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }

    public var description: String {
        var s = "truth \(truths), found \(found) (\(String(format: "%.1f", 100 * foundFraction))%), "
        s += "within tolerances \(accurate) (\(String(format: "%.1f", 100 * accurateFraction))%), false alarms \(falseAlarms)"
        if !startErrorsS.isEmpty {
            s += String(format: "; start error p50 %.1f µs p95 %.1f µs; centre error p95 %.1f%% of bw; bandwidth ratio p5 %.2f p95 %.2f",
                        Self.percentile(startErrorsS, 0.5) * 1e6, Self.percentile(startErrorsS, 0.95) * 1e6,
                        Self.percentile(centreErrorsFraction, 0.95) * 100, Self.percentile(bandwidthRatios, 0.05),
                        Self.percentile(bandwidthRatios, 0.95))
        }
        return s
    }
}
