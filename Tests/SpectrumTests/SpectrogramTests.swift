import Foundation
import IQ
@testable import Spectrum
import Synth
import TestSupport
import Testing

@Suite struct SpectrogramTests {
    func tone(count: Int, offsetHz: Double, rateHz: Double, amplitude: Float = 0.5) -> IQBlock {
        var block = IQBlock()
        block.samples = (0..<count).map { k in
            let phase = 2 * Double.pi * offsetHz * Double(k) / rateHz
            return IQSample(i: amplitude * Float(cos(phase)), q: amplitude * Float(sin(phase)))
        }
        return block
    }

    @Test func toneLandsInItsBinAndBinsSumToPower() throws {
        let rate = 2_400_000.0
        let s = try Spectrogram(configuration: .init(fftSize: 256, removeDC: false), sampleRateHz: rate)
        let offset = 37.0 * rate / 256  // exactly bin +37
        var frames = 0
        s.process(tone(count: 4096, offsetHz: offset, rateHz: rate)) { frame in
            frames += 1
            let peak = frame.power.indices.max { frame.power[$0] < frame.power[$1] }!
            #expect(peak == 128 + 37)
            let total = frame.power.reduce(0, +)
            #expect(abs(total - 0.25) < 0.01)  // amplitude 0.5 → power 0.25
        }
        #expect(frames == (4096 - 256) / 128 + 1)
    }

    @Test(arguments: [1, 7, 100, 256, 1000, 4096])
    func framesDoNotDependOnChunking(chunk: Int) throws {
        let whole = tone(count: 5000, offsetHz: 123_456, rateHz: 2.4e6)
        func frames(chunk: Int) throws -> [[Float]] {
            let s = try Spectrogram(sampleRateHz: 2.4e6)
            var out: [[Float]] = []
            var start = 0
            while start < whole.count {
                var b = IQBlock()
                b.samples = Array(whole.samples[start..<min(whole.count, start + chunk)])
                b.firstSampleIndex = Int64(start)
                s.process(b) { out.append(Array($0.power)) }
                start += chunk
            }
            return out
        }
        #expect(try frames(chunk: chunk) == frames(chunk: 5000))
    }

    @Test func nonFiniteFramesAreSkippedNotPropagated() throws {
        let s = try Spectrogram(sampleRateHz: 1e6)
        var block = tone(count: 1024, offsetHz: 1000, rateHz: 1e6)
        block.samples[300] = IQSample(i: .nan, q: 0)
        var finite = 0
        s.process(block) { frame in
            if frame.power.allSatisfy(\.isFinite) { finite += 1 }
        }
        #expect(s.framesSkippedNonFinite == 2)  // frames covering sample 300
        #expect(finite == 7 - 2)
    }

    @Test func welchDropsFramesWhosePowerOverflows() throws {
        let psd = try WelchPSD(configuration: .init(fftSize: 256, hop: 256, removeDC: false), sampleRateHz: 1e6)
        var block = tone(count: 256 * 600, offsetHz: 1000, rateHz: 1e6)
        block.samples[100] = IQSample(i: 1e30, q: 0)  // finite, but its power is not
        psd.process(block)
        #expect(psd.averagePower.allSatisfy { $0.isFinite })
        #expect(psd.framesDropped == 256)  // the first batch
        #expect(psd.framesAveraged == 600 - 256)
    }

    @Test func welchAveragesInLinearPower() throws {
        let psd = try WelchPSD(configuration: .init(fftSize: 1024, removeDC: false), sampleRateHz: 1e6)
        psd.process(tone(count: 65536, offsetHz: 250_000, rateHz: 1e6, amplitude: 1))
        let db = psd.powerDBFS
        let peak = db.indices.max { db[$0] < db[$1] }!
        #expect(peak == 512 + 256)
        #expect(psd.averagePower.reduce(0, +) > 0.99 && psd.averagePower.reduce(0, +) < 1.01)
    }

    @Test func windowsHaveTheirKnownNoiseBandwidth() {
        #expect(abs(Window.enbwBins(Window.hann.coefficients(count: 1024)) - 1.5) < 0.01)
        #expect(abs(Window.enbwBins(Window.blackmanHarris.coefficients(count: 1024)) - 2.0) < 0.01)
        #expect(abs(Window.enbwBins(Window.rectangular.coefficients(count: 64)) - 1.0) < 1e-9)
        #expect(abs(Window.enbwBins(Window.kaiser(beta: 0).coefficients(count: 64)) - 1.0) < 1e-9)
    }
}
