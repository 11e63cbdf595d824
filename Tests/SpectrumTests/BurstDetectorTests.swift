import Foundation
import IQ
@testable import Spectrum
import Synth
import TestSupport
import Testing

/// The burst detector on synthetic scenes with ground truth, quantised to cu8 with an RTL-SDR
/// DC spike, as a dongle would deliver them.
@Suite struct BurstDetectorTests {
    /// Renders a scene, quantises it to cu8 and runs the detector in `chunk`-sized blocks.
    static func detect(_ scene: Scene, chunk: Int = 65536, quantise: Bool = true) throws -> [Burst] {
        var samples = scene.render()
        if quantise { samples = cu8RoundTrip(samples) }
        return try detect(samples, sampleRateHz: scene.sampleRateHz, centerFrequencyHz: scene.centerFrequencyHz, chunk: chunk)
    }

    static func detect(_ samples: [IQSample], sampleRateHz: Double, centerFrequencyHz: Double? = nil,
                       chunk: Int = 65536) throws -> [Burst] {
        let detector = try BurstDetector(sampleRateHz: sampleRateHz)
        var bursts: [Burst] = []
        var start = 0
        while start < samples.count {
            var block = IQBlock()
            block.samples = Array(samples[start..<min(samples.count, start + chunk)])
            block.firstSampleIndex = Int64(start)
            block.centerFrequencyHz = centerFrequencyHz
            detector.process(block) { bursts.append($0) }
            start += chunk
        }
        detector.finish { bursts.append($0) }
        return bursts.sorted { ($0.sampleStart, $0.centerFrequencyHz) < ($1.sampleStart, $1.centerFrequencyHz) }
    }

    static func truth(_ scene: Scene) -> [BurstScore.Truth] {
        scene.metadata(recorder: "test").annotations.compactMap(BurstScore.Truth.init)
    }

    @Test(arguments: [21, 22] as [UInt64])
    func findsAndMeasuresRandomBursts(seed: UInt64) throws {
        let scene = Scene.burstMix(seed: seed, durationS: 5)
        let bursts = try Self.detect(scene)
        let score = BurstScore(detected: bursts, truth: Self.truth(scene), sampleRateHz: scene.sampleRateHz)
        print("burst-mix seed \(seed): \(score)")
        #expect(score.truths > 150)
        #expect(score.foundFraction >= 0.96, "\(score)")
        #expect(score.accurateFraction >= 0.80, "\(score)")
        #expect(BurstScore.percentile(score.startErrorsS, 0.9) <= 50e-6, "\(score)")
        #expect(score.falseAlarms <= 4, "\(score)")
    }

    /// Constant-envelope bursts (2-FSK, 2·deviation + rate = the nominal bandwidth).
    @Test func findsAndMeasuresFSKBursts() throws {
        let scene = Scene.burstMix(seed: 31, durationS: 5, modulation: .fsk)
        let bursts = try Self.detect(scene)
        let score = BurstScore(detected: bursts, truth: Self.truth(scene), sampleRateHz: scene.sampleRateHz)
        print("burst-mix-fsk seed 31: \(score)")
        #expect(score.foundFraction >= 0.96, "\(score)")
        #expect(score.accurateFraction >= 0.80, "\(score)")
        #expect(score.falseAlarms <= 4, "\(score)")
    }

    /// Bursts with room for their own statistics (≥ 1 ms, ≥ 100 kHz): every one found and measured.
    @Test func measuresWellFormedBurstsAccurately() throws {
        var bursts: [Scene.Burst] = []
        var t = 0.15
        for (k, bandwidth) in [100e3, 250e3, 600e3, 1.5e6].enumerated() {
            for (j, duration) in [0.001, 0.01, 0.2].enumerated() {
                for snr in [8.0, 14.0] {
                    let span = 1.08e6 - bandwidth / 2
                    let offset = span * sin(Double(k * 7 + j * 3) + snr)
                    bursts.append(Scene.Burst(startS: t, durationS: duration, offsetHz: offset,
                                              modulation: .noise(bandwidthHz: bandwidth), snrDB: snr, label: "b"))
                    t += duration + 0.01
                }
            }
        }
        var scene = Scene(sampleRateHz: 2.4e6, centerFrequencyHz: 915e6, durationS: t + 0.05, noiseDBFS: -30,
                          bursts: bursts, seed: 77)
        scene.dcOffset = IQSample(i: 0.02, q: -0.015)
        let found = try Self.detect(scene)
        let score = BurstScore(detected: found, truth: Self.truth(scene), sampleRateHz: scene.sampleRateHz)
        print("well-formed grid: \(score)")
        #expect(score.found == score.truths, "\(score.misses)")
        #expect(score.accurateFraction >= 0.95, "\(score.misses)")
        #expect(score.falseAlarms == 0)
    }

    /// A minute of noise with the DC spike, quantised like an RTL-SDR: no burst.
    @Test func aMinuteOfNoiseGivesNoBurst() throws {
        let rate = 2.4e6
        let detector = try BurstDetector(sampleRateHz: rate)
        var rng = Xoshiro256(seed: 1234)
        let sigma: Float = 0.0224  // −30 dBFS
        let converter = SampleConverter(format: .cu8)
        var raw = [UInt8](repeating: 0, count: 2 * 240_000)
        var block = IQBlock(capacity: 240_000)
        var bursts = 0
        for chunk in 0..<600 {
            block.resize(to: 240_000)
            block.firstSampleIndex = Int64(chunk) * 240_000
            block.samples.withUnsafeMutableBufferPointer { s in
                for k in 0..<s.count {
                    let (a, b) = rng.gaussianPair()
                    s[k] = IQSample(i: 0.02 + sigma * a, q: -0.015 + sigma * b)
                }
                raw.withUnsafeMutableBytes { _ = converter.encode(UnsafeBufferPointer(s), into: $0) }
                raw.withUnsafeBytes { _ = converter.decode($0, into: s) }
            }
            detector.process(block) { _ in bursts += 1 }
        }
        detector.finish { _ in bursts += 1 }
        #expect(bursts == 0)
        #expect(detector.counters.frames > 1_000_000)
    }

    @Test func resultsDoNotDependOnChunking() throws {
        let scene = Scene.burstMix(seed: 5, durationS: 0.8)
        let samples = cu8RoundTrip(scene.render())
        let reference = try Self.detect(samples, sampleRateHz: scene.sampleRateHz, chunk: 1 << 20)
        #expect(reference.count > 10)
        for chunk in [1000, 4096, 65536, 77777] {
            #expect(try Self.detect(samples, sampleRateHz: scene.sampleRateHz, chunk: chunk) == reference, "chunk \(chunk)")
        }
    }

    @Test func hostileInputGivesSaneOutput() throws {
        let rate = 2.4e6
        // All zeros, and full-scale clipping (every sample at a corner), and a DC-only stream.
        for value in [IQSample.zero, IQSample(i: 1, q: 1), IQSample(i: -1, q: 1)] {
            let bursts = try Self.detect([IQSample](repeating: value, count: 500_000), sampleRateHz: rate)
            #expect(bursts.isEmpty, "constant \(value)")
        }
        // NaN and Inf inside cf32 input: those frames are skipped and counted, a real burst after them is found.
        var scene = Scene(sampleRateHz: rate, centerFrequencyHz: 915e6, durationS: 0.4, noiseDBFS: -30,
                          bursts: [.init(startS: 0.25, durationS: 0.01, offsetHz: 200e3, modulation: .noise(bandwidthHz: 200e3),
                                         snrDB: 15, label: "b")], seed: 3)
        scene.dcOffset = .zero
        var samples = scene.render()
        samples[100_000] = IQSample(i: .nan, q: 0)
        samples[300_000] = IQSample(i: .infinity, q: 0)
        let detector = try BurstDetector(sampleRateHz: rate)
        var found: [Burst] = []
        var block = IQBlock()
        block.samples = samples
        detector.process(block) { found.append($0) }
        detector.finish { found.append($0) }
        #expect(detector.counters.framesSkippedNonFinite == 4)
        #expect(found.count == 1)
        #expect(found.first.map { abs(Double($0.sampleStart) - 0.25 * rate) < 120 } == true)
        // Shorter than one FFT, and empty.
        #expect(try Self.detect([IQSample](repeating: .zero, count: 100), sampleRateHz: rate).isEmpty)
        #expect(try Self.detect([], sampleRateHz: rate).isEmpty)
    }

    @Test func burstNumbersAreSane() throws {
        var scene = Scene(sampleRateHz: 2.4e6, centerFrequencyHz: 433.92e6, durationS: 0.3, noiseDBFS: -30,
                          bursts: [.init(startS: 0.2, durationS: 0.02, offsetHz: -300e3, modulation: .noise(bandwidthHz: 400e3),
                                         snrDB: 12, label: "b")], seed: 8)
        scene.dcOffset = .zero
        let bursts = try Self.detect(scene)
        let b = try #require(bursts.first)
        #expect(bursts.count == 1)
        #expect(abs(b.centerFrequencyHz - (433.92e6 - 300e3)) < 20e3)
        #expect(abs(b.bandwidthHz / 400e3 - 1) < 0.15)
        #expect(abs(b.snrDB - 12) < 2)
        #expect(abs(Double(b.sampleCount) / 2.4e6 - 0.02) < 100e-6)
        // Band power: signal (−30 dBFS noise spread over 2.4 MHz → −37.8 dBFS in 400 kHz, +12 dB) plus
        // noise is −25.5 dBFS on average; the peak frame of a noise-like burst sits a few dB above.
        #expect(b.peakDBFS > -27 && b.peakDBFS < -21)
    }
}
