import Foundation
import IQ

/// The receiver's front end: DC removal, a low-pass channel filter and an FM discriminator whose
/// phase-step products are summed over `smoothing` steps before the angle is taken.
///
/// `process` runs block-wise in separate passes (each a simple loop the compiler vectorises);
/// `processReference` is the plain per-sample version kept to check it.
struct GFSKDiscriminator {
    let taps: [Float]
    let smoothing: Int
    var dc = IQSample.zero
    /// The last `taps.count - 1` DC-free samples, then room for a block.
    var clean: [IQSample]
    /// The filtered sample before the block, then the block's.
    var filtered: [IQSample]
    /// The last `smoothing - 1` products, then the block's.
    var products: [IQSample]

    init(taps: [Float], smoothing: Int) {
        self.taps = taps
        self.smoothing = smoothing
        clean = [IQSample](repeating: .zero, count: taps.count - 1)
        filtered = [.zero]
        products = [IQSample](repeating: .zero, count: smoothing - 1)
    }

    /// Discriminator values (radians per sample) and DC-free power, one each per input sample.
    mutating func process(_ samples: UnsafeBufferPointer<IQSample>, values: UnsafeMutableBufferPointer<Float>,
                          power: UnsafeMutableBufferPointer<Float>) {
        let n = samples.count
        guard n > 0 else { return }
        let history = taps.count - 1, lag = smoothing - 1
        clean.removeSubrange(history...)
        clean.append(contentsOf: repeatElement(.zero, count: n))
        filtered.removeSubrange(1...)
        filtered.append(contentsOf: repeatElement(.zero, count: n))
        products.removeSubrange(lag...)
        products.append(contentsOf: repeatElement(.zero, count: n))
        var dc = self.dc
        clean.withUnsafeMutableBufferPointer { clean in
            // A slow DC tracker removes the RTL-SDR's LO leakage, which would otherwise beat against
            // the packet in the discriminator; its notch is a few hundred Hz wide.
            for k in 0..<n {
                let raw = samples[k]
                dc.i += (raw.i - dc.i) * (1 / 4096)
                dc.q += (raw.q - dc.q) * (1 / 4096)
                let c = IQSample(i: raw.i - dc.i, q: raw.q - dc.q)
                clean[history + k] = c
                power[k] = c.i * c.i + c.q * c.q
            }
            taps.withUnsafeBufferPointer { taps in
                filtered.withUnsafeMutableBufferPointer { filtered in
                    for k in 0..<n {
                        var x = IQSample.zero
                        for j in 0..<taps.count {
                            x.i += taps[j] * clean[k + j].i
                            x.q += taps[j] * clean[k + j].q
                        }
                        filtered[k + 1] = x
                    }
                    products.withUnsafeMutableBufferPointer { products in
                        // x · conj(previous x): its angle is the phase step.
                        for k in 0..<n {
                            let x = filtered[k + 1], p = filtered[k]
                            products[lag + k] = IQSample(i: x.i * p.i + x.q * p.q, q: x.q * p.i - x.i * p.q)
                        }
                        // Summing the products of about one symbol before the angle averages the
                        // steps weighted by amplitude, so a near-silent sample cannot swing the value.
                        for k in 0..<n {
                            var sum = IQSample.zero
                            for m in 0...lag {
                                sum.i += products[k + m].i
                                sum.q += products[k + m].q
                            }
                            values[k] = fastAtan2(sum.q, sum.i)
                        }
                    }
                }
            }
        }
        self.dc = dc
        // Keep the tails for the next block.
        clean.removeSubrange(0..<n)
        filtered.removeSubrange(0..<n)
        products.removeSubrange(0..<n)
    }

    /// The same computation one sample at a time, in the plainest form.
    mutating func processReference(_ samples: [IQSample]) -> (values: [Float], power: [Float]) {
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
            let p = filtered[0]
            filtered[0] = x
            products.append(IQSample(i: x.i * p.i + x.q * p.q, q: x.q * p.i - x.i * p.q))
            var sum = IQSample.zero
            for product in products {
                sum.i += product.i
                sum.q += product.q
            }
            products.removeFirst()
            values.append(Float(atan2(Double(sum.q), Double(sum.i))))
        }
        return (values, power)
    }
}

/// atan2 to within 3e-4 rad with a polynomial and selects instead of branches, so the
/// discriminator loop vectorises; the libm call would be most of the receiver's cost.
@inline(__always)
func fastAtan2(_ y: Float, _ x: Float) -> Float {
    let ax = abs(x), ay = abs(y)
    let big = max(ax, ay), small = min(ax, ay)
    let a = big > 0 ? small / big : 0
    let s = a * a
    var r = ((-0.046_496_474_9 * s + 0.159_314_22) * s - 0.327_622_764) * s * a + a
    r = ay > ax ? 1.570_796_37 - r : r
    r = x < 0 ? 3.141_592_74 - r : r
    return y < 0 ? -r : r
}
