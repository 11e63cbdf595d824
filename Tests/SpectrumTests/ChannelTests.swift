import Foundation
import IQ
@testable import Spectrum
import Synth
import TestSupport
import Testing

@Suite struct ChannelTests {
    static func noise(_ count: Int, seed: UInt64) -> [IQSample] {
        var rng = Xoshiro256(seed: seed)
        return (0..<count).map { _ in
            let (a, b) = rng.gaussianPair()
            return IQSample(i: 0.1 * a, q: 0.1 * b)
        }
    }

    static func tone(_ count: Int, offsetHz: Double, rateHz: Double, from first: Int64 = 0) -> [IQSample] {
        (0..<count).map { k in
            let phase = 2 * Double.pi * offsetHz * Double(first + Int64(k)) / rateHz
            return IQSample(i: Float(0.5 * cos(phase)), q: Float(0.5 * sin(phase)))
        }
    }

    static func block(_ samples: [IQSample], at first: Int64) -> IQBlock {
        var b = IQBlock()
        b.samples = samples
        b.firstSampleIndex = first
        return b
    }

    @Test func filterBankAgreesWithPerChannelReference() throws {
        let bank = try PolyphaseChannelizer(channels: 8, sampleRateHz: 8e6, tapsPerBranch: 4)
        let x = Self.noise(1203, seed: 5)
        var outputs: [IQBlock] = []
        bank.process(Self.block(x, at: 3), into: &outputs)
        let reference = PolyphaseChannelizer.reference(x, firstSampleIndex: 3, channels: 8, taps: bank.taps)
        for k in 0..<8 {
            #expect(outputs[k].count == reference[k].count)
            #expect(maxDifference(outputs[k].samples, reference[k]) < 2e-6, "channel \(k)")
        }
        #expect(outputs[0].firstSampleIndex == 1)  // first output at input index 4 = 1·D
    }

    /// Another decimation than M/2: 20 channels at fs/9, as the wideband BLE front end uses them.
    @Test(arguments: [1, 7, 4096])
    func filterBankWithOtherDecimationAgreesWithReference(chunk: Int) throws {
        let bank = try PolyphaseChannelizer(channels: 20, sampleRateHz: 20e6, tapsPerBranch: 4, cutoff: 0.7, decimation: 9)
        #expect(bank.outputRateHz == 20e6 / 9)
        let x = Self.noise(3001, seed: 6)
        var all = [[IQSample]](repeating: [], count: 20)
        var outputs: [IQBlock] = []
        var start = 0
        while start < x.count {
            let end = min(x.count, start + chunk)
            bank.process(Self.block(Array(x[start..<end]), at: 5 + Int64(start)), into: &outputs)
            for k in 0..<20 { all[k] += outputs[k].samples }
            start = end
        }
        let reference = PolyphaseChannelizer.reference(x, firstSampleIndex: 5, channels: 20, taps: bank.taps, decimation: 9)
        for k in 0..<20 {
            #expect(all[k].count == reference[k].count)
            #expect(maxDifference(all[k], reference[k]) < 2e-6, "channel \(k)")
        }
        #expect(throws: SpectrumError.self) { try PolyphaseChannelizer(channels: 20, sampleRateHz: 20e6, decimation: 21) }
    }

    @Test func toneLandsInItsChannelOnly() throws {
        let bank = try PolyphaseChannelizer(channels: 20, sampleRateHz: 20e6)
        // Channel 3 (+3 MHz) with a 200 kHz offset inside it; and the edge region is checked by rejection.
        let x = Self.tone(40000, offsetHz: 3.2e6, rateHz: 20e6)
        var outputs: [IQBlock] = []
        bank.process(Self.block(x, at: 0), into: &outputs)
        let power = outputs.map { b in b.samples.dropFirst(100).reduce(0.0) { $0 + Double($1.power) } / Double(b.count - 100) }
        let wanted = power[3]
        #expect(abs(10 * log10(wanted / 0.25)) < 0.5, "passband gain \(10 * log10(wanted / 0.25)) dB")
        for k in 0..<20 where k != 3 && k != 4 && k != 2 {
            #expect(10 * log10(power[k] / wanted) < -55, "channel \(k): \(10 * log10(power[k] / wanted)) dB")
        }
        #expect(bank.channelOffsetHz(19) == -1e6)
        #expect(bank.outputRateHz == 2e6)
    }

    @Test(arguments: [1, 7, 10, 999, 40000])
    func filterBankIgnoresChunking(chunk: Int) throws {
        let x = Self.noise(12345, seed: 9)
        func run(_ chunk: Int) throws -> [[IQSample]] {
            let bank = try PolyphaseChannelizer(channels: 20, sampleRateHz: 20e6)
            var all = [[IQSample]](repeating: [], count: 20)
            var outputs: [IQBlock] = []
            var start = 0
            while start < x.count {
                let end = min(x.count, start + chunk)
                bank.process(Self.block(Array(x[start..<end]), at: Int64(start)), into: &outputs)
                for k in 0..<20 { all[k] += outputs[k].samples }
                start = end
            }
            return all
        }
        #expect(try run(chunk) == run(12345))
    }

    @Test func extractorAgreesWithReferenceAndKeepsAToneAtZeroHz() throws {
        let rate = 2.4e6
        let extractor = try ChannelExtractor(sampleRateHz: rate, offsetHz: 300e3, bandwidthHz: 100e3, decimation: 8)
        let x = Self.tone(20000, offsetHz: 300e3, rateHz: rate, from: 5)
        var out = IQBlock()
        extractor.process(Self.block(x, at: 5), into: &out)
        let reference = ChannelExtractor.reference(x, firstSampleIndex: 5, sampleRateHz: rate, offsetHz: 300e3,
                                                   taps: extractor.taps, decimation: 8)
        #expect(out.count == reference.count)
        #expect(maxDifference(out.samples, reference) < 1e-4)
        // Settled output: a constant phasor of amplitude 0.5.
        let settled = out.samples.dropFirst(extractor.taps.count / 8 + 1)
        #expect(settled.allSatisfy { abs($0.power.squareRoot() - 0.5) < 1e-3 })
        #expect(out.firstSampleIndex == 1)  // input index 8
        #expect(out.centerFrequencyHz == nil)
    }

    @Test(arguments: [1, 3, 8, 1000, 20000])
    func extractorIgnoresChunking(chunk: Int) throws {
        let x = Self.noise(20000, seed: 4)
        func run(_ chunk: Int) throws -> [IQSample] {
            let e = try ChannelExtractor(sampleRateHz: 2.4e6, offsetHz: -450e3, bandwidthHz: 200e3, decimation: 6)
            var all: [IQSample] = []
            var out = IQBlock()
            var start = 0
            while start < x.count {
                let end = min(x.count, start + chunk)
                e.process(Self.block(Array(x[start..<end]), at: Int64(start)), into: &out)
                all += out.samples
                start = end
            }
            return all
        }
        #expect(try run(chunk) == run(20000))
    }

    @Test func extractorRejectsImpossibleSettings() {
        #expect(throws: SpectrumError.self) { try ChannelExtractor(sampleRateHz: 1e6, offsetHz: 0, bandwidthHz: 300e3, decimation: 4) }
        #expect(throws: SpectrumError.self) { try PolyphaseChannelizer(channels: 7, sampleRateHz: 7e6) }
    }

    @Test func kernelsAgreeWithTheirReferences() {
        var rng = Xoshiro256(seed: 3)
        let x = (0..<301).map { _ in Float(rng.uniform()) }
        for step in [1, 3, 9, 27] {
            var out = [Float](repeating: 0, count: x.count)
            x.withUnsafeBufferPointer { xp in
                out.withUnsafeMutableBufferPointer { Kernels.fold3(xp.baseAddress!, into: $0.baseAddress!, from: step, to: x.count - step, step: step) }
            }
            let reference = Kernels.referenceFold3(x, from: step, to: x.count - step, step: step)
            #expect(zip(out, reference).allSatisfy { abs($0 - $1) < 1e-6 })
        }
        var acc = (0..<301).map { _ in Float(rng.uniform()) }
        let expected = Kernels.referenceAccumulate(x, into: acc)
        x.withUnsafeBufferPointer { xp in acc.withUnsafeMutableBufferPointer { Kernels.accumulate(xp.baseAddress!, into: $0.baseAddress!, count: 301) } }
        #expect(acc == expected)
        let iq = (0..<150).map { _ in IQSample(i: Float(rng.uniform()) - 0.5, q: Float(rng.uniform()) - 0.5) }
        var power = [Float](repeating: 0, count: iq.count)
        iq.withUnsafeBufferPointer { xp in power.withUnsafeMutableBufferPointer { Kernels.power(xp.baseAddress!, into: $0.baseAddress!, count: iq.count, scale: 0.7) } }
        #expect(zip(power, Kernels.referencePower(iq, scale: 0.7)).allSatisfy { abs($0 - $1) <= 1e-7 })
        for threshold: Float in [0.5, 0.999, 1.5] {
            let fast = x.withUnsafeBufferPointer { Kernels.anyAbove($0.baseAddress!, count: x.count, threshold: threshold) }
            #expect(fast == Kernels.referenceAnyAbove(x, threshold: threshold))
        }
    }
}
