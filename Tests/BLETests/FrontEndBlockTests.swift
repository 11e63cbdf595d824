import Foundation
import IQ
import Synth
import TestSupport
import Testing
@testable import BLE

/// The block front end against the per-sample arithmetic, bit for bit: `process` promises the
/// reference's operations in the reference's order, so with the same atan2 nothing may differ,
/// whatever the sample rate (the specialised and the general filter shapes) and the blocking.
@Suite struct FrontEndBlockTests {
    /// `processReference`'s arithmetic with `fastAtan2` in place of libm's atan2.
    static func perSample(_ samples: [IQSample], taps: [Float], smoothing: Int) -> (values: [Float], power: [Float]) {
        var dc = IQSample.zero
        var clean = [IQSample](repeating: .zero, count: taps.count - 1)
        var previous = IQSample.zero
        var products = [IQSample](repeating: .zero, count: smoothing - 1)
        var values: [Float] = [], power: [Float] = []
        for raw in samples {
            dc.i += (raw.i - dc.i) * (1 / 4096)
            dc.q += (raw.q - dc.q) * (1 / 4096)
            let c = IQSample(i: raw.i - dc.i, q: raw.q - dc.q)
            power.append(c.i * c.i + c.q * c.q)
            clean.append(c)
            var x = IQSample.zero
            for j in taps.indices {
                x.i += taps[j] * clean[j].i
                x.q += taps[j] * clean[j].q
            }
            clean.removeFirst()
            let p = previous
            previous = x
            products.append(IQSample(i: x.i * p.i + x.q * p.q, q: x.q * p.i - x.i * p.q))
            var sum = IQSample.zero
            for product in products {
                sum.i += product.i
                sum.q += product.q
            }
            products.removeFirst()
            values.append(fastAtan2(sum.q, sum.i))
        }
        return (values, power)
    }

    static func blockwise(_ samples: [IQSample], taps: [Float], smoothing: Int, sizes: [Int]) -> (values: [Float], power: [Float]) {
        var frontEnd = GFSKDiscriminator(taps: taps, smoothing: smoothing)
        var values = [Float](repeating: .nan, count: samples.count), power = values
        var k = 0, s = 0
        while k < samples.count {
            let end = min(samples.count, k + sizes[s % sizes.count])
            samples[k..<end].withUnsafeBufferPointer { block in
                values[k..<end].withUnsafeMutableBufferPointer { v in
                    power[k..<end].withUnsafeMutableBufferPointer { p in frontEnd.process(block, values: v, power: p) }
                }
            }
            k = end
            s += 1
        }
        return (values, power)
    }

    static let blockings: [[Int]] = [[65536], [1, 7, 8, 9, 255, 256, 257, 511, 512, 513, 4097], [256], [3]]

    // 2.4 and 2 MS/s: 7 taps, 2 terms; 3.2 MS/s: 9 taps, 3 terms; 4 and 1.9 MS/s take the general path.
    @Test(arguments: [(2.4e6, 2), (2.0e6, 2), (3.2e6, 3), (4.0e6, 4), (1.9e6, 2)])
    func blocksMatchThePerSampleArithmetic(sampleRateHz: Double, smoothing: Int) {
        let trial = BLEPacketTrial(count: 2, snrDB: 12, maxOffsetHz: 100e3, maxPPM: 50, sampleRateHz: sampleRateHz)
        let samples = cu8RoundTrip(trial.scene.render())
        let taps = BLEReceiver.lowPass(cutoffHz: 850e3, sampleRateHz: sampleRateHz)
        let expected = Self.perSample(samples, taps: taps, smoothing: smoothing)
        for sizes in Self.blockings {
            let got = Self.blockwise(samples, taps: taps, smoothing: smoothing, sizes: sizes)
            #expect(got.values.map(\.bitPattern) == expected.values.map(\.bitPattern), "\(sampleRateHz) \(sizes)")
            #expect(got.power.map(\.bitPattern) == expected.power.map(\.bitPattern), "\(sampleRateHz) \(sizes)")
        }
    }

    @Test func silenceAndSignedZeros() {
        // Exact zeros (a dead input, zero padding) make ±0 sums, where the vector atan2's quadrant
        // and sign handling must agree with the scalar one; then a step, then zeros again.
        var samples = [IQSample](repeating: .zero, count: 1000)
        samples += [IQSample](repeating: IQSample(i: -0.0, q: -0.0), count: 100)
        samples += (0..<1000).map { IQSample(i: $0 % 3 == 0 ? -0.25 : 0.5, q: $0 % 5 == 0 ? 0 : -0.125) }
        samples += [IQSample](repeating: .zero, count: 1000)
        let taps = BLEReceiver.lowPass(cutoffHz: 850e3, sampleRateHz: 2.4e6)
        let expected = Self.perSample(samples, taps: taps, smoothing: 2)
        for sizes in Self.blockings {
            let got = Self.blockwise(samples, taps: taps, smoothing: 2, sizes: sizes)
            #expect(got.values.map(\.bitPattern) == expected.values.map(\.bitPattern), "\(sizes)")
            #expect(got.power.map(\.bitPattern) == expected.power.map(\.bitPattern), "\(sizes)")
        }
        #expect(Self.blockwise([IQSample](repeating: .zero, count: 300), taps: taps, smoothing: 2, sizes: [300]).values
            .allSatisfy { $0 == 0 })
    }

    @Test func vectorAtan2HasTheScalarBits() {
        // Signed zeros, equal magnitudes, the axes, tiny and huge values, and a spread between.
        var special: [Float] = [0, 1, 0.5, 3, 1e-30, 1e30, .leastNormalMagnitude, .leastNonzeroMagnitude, 0.7071068]
        special += special.map { -$0 }
        var pairs = special.flatMap { y in special.map { x in (y, x) } }
        var state: UInt32 = 1
        for _ in 0..<4000 {
            state = state &* 1_664_525 &+ 1_013_904_223
            let y = Float(Int32(bitPattern: state)) / 1e9
            state = state &* 1_664_525 &+ 1_013_904_223
            pairs.append((y, Float(Int32(bitPattern: state)) / 1e9))
        }
        while pairs.count % 4 != 0 { pairs.append((0, 0)) }
        for k in stride(from: 0, to: pairs.count, by: 4) {
            let y = SIMD4(pairs[k].0, pairs[k + 1].0, pairs[k + 2].0, pairs[k + 3].0)
            let x = SIMD4(pairs[k].1, pairs[k + 1].1, pairs[k + 2].1, pairs[k + 3].1)
            let lanes = fastAtan2(y, x)
            for l in 0..<4 {
                #expect(lanes[l].bitPattern == fastAtan2(y[l], x[l]).bitPattern, "atan2(\(y[l]), \(x[l]))")
            }
        }
    }
}
