import Foundation
import IQ

/// The receiver's front end: DC removal, a low-pass channel filter and an FM discriminator whose
/// phase-step products are summed over `smoothing` steps before the angle is taken.
///
/// `process` runs a block in chunks that stay in L1, each in separate passes over planar I and Q
/// scratch with explicit SIMD (the compiler does not vectorise the filter over interleaved
/// samples); `processReference` is the plain per-sample version kept to check it. Both carry the
/// same state (`dc`, `clean`, `filtered`, `products`), and `process` does every arithmetic
/// operation in the reference's order, so its output is bit for bit that of the per-sample
/// arithmetic, apart from taking the angle with `fastAtan2` rather than libm.
struct GFSKDiscriminator {
    let taps: [Float]
    let smoothing: Int
    var dc = IQSample.zero
    /// The last `taps.count - 1` DC-free samples.
    var clean: [IQSample]
    /// The last filtered sample.
    var filtered: [IQSample]
    /// The last `smoothing - 1` products.
    var products: [IQSample]
    /// Workspace for one chunk, allocated once; holds no state between calls.
    private var scratch: [Float]
    private let layout: Layout

    /// Samples per chunk: a chunk's planes together stay in L1.
    static let chunk = 256

    /// Offsets (in floats) of the workspace's parts. Each plane has its history in front of the
    /// chunk and room for a vector past it, so the SIMD passes may run to a multiple of 8.
    struct Layout {
        let history: Int, lag: Int
        let tracked: (Int, Int)
        let cleanI: Int, cleanQ: Int, filteredI: Int, filteredQ: Int, productI: Int, productQ: Int
        /// Each tap repeated 8 times: a vector load instead of a load and a shuffle.
        let taps: Int
        let size: Int

        init(history: Int, lag: Int) {
            self.history = history
            self.lag = lag
            func size(_ count: Int) -> Int { (count + 8 + 15) / 16 * 16 }
            let chunk = GFSKDiscriminator.chunk
            tracked = (0, size(2 * chunk))
            cleanI = tracked.1 + size(2 * chunk)
            cleanQ = cleanI + size(history + chunk)
            filteredI = cleanQ + size(history + chunk)
            filteredQ = filteredI + size(1 + chunk)
            productI = filteredQ + size(1 + chunk)
            productQ = productI + size(lag + chunk)
            taps = productQ + size(lag + chunk)
            self.size = taps + 8 * (history + 1)
        }
    }

    init(taps: [Float], smoothing: Int) {
        self.taps = taps
        self.smoothing = smoothing
        clean = [IQSample](repeating: .zero, count: taps.count - 1)
        filtered = [.zero]
        products = [IQSample](repeating: .zero, count: smoothing - 1)
        layout = Layout(history: taps.count - 1, lag: smoothing - 1)
        scratch = [Float](repeating: 0, count: layout.size)
        for (j, tap) in taps.enumerated() {
            for l in 0..<8 { scratch[layout.taps + 8 * j + l] = tap }
        }
    }

    /// Discriminator values (radians per sample) and DC-free power, one each per input sample.
    ///
    /// The DC tracker is a serial recurrence, three dependent operations (about 9 cycles) per
    /// sample and little else, which alone would cost more than all the vector passes together.
    /// So it runs one chunk ahead, a few samples inside each iteration of the passes over the chunk
    /// before; the two are independent and the core overlaps them. It stays serial, in the
    /// reference's arithmetic, so the output does not depend on how the samples are blocked.
    mutating func process(_ samples: UnsafeBufferPointer<IQSample>, values: UnsafeMutableBufferPointer<Float>,
                          power: UnsafeMutableBufferPointer<Float>) {
        let n = samples.count
        guard n > 0, let input = samples.baseAddress, let valuesOut = values.baseAddress,
              let powerOut = power.baseAddress else { return }
        let layout = self.layout, chunk = Self.chunk
        let history = layout.history, lag = layout.lag
        var dc = SIMD2<Float>(self.dc.i, self.dc.q)
        scratch.withUnsafeMutableBufferPointer { scratch in
            let base = scratch.baseAddress!
            let tracked = (base + layout.tracked.0, base + layout.tracked.1)
            let ci = base + layout.cleanI, cq = base + layout.cleanQ
            let fi = base + layout.filteredI, fq = base + layout.filteredQ
            let pi = base + layout.productI, pq = base + layout.productQ
            let splatTaps = base + layout.taps
            // The carried state into the planes' fronts.
            for j in 0..<history { ci[j] = clean[j].i; cq[j] = clean[j].q }
            fi[0] = filtered[0].i
            fq[0] = filtered[0].q
            for j in 0..<lag { pi[j] = products[j].i; pq[j] = products[j].q }

            // The first chunk's DC removal on its own; after that, each chunk's runs inside the
            // passes over the chunk before, into the other half of `tracked`.
            var tracker = DCTracker(dc: dc, input: input, count: min(chunk, n), output: tracked.0)
            tracker.advance(chunk)
            var done = 0, even = true
            while done < n {
                let m = min(chunk, n - done)
                let next = done + m
                let current = even ? tracked.0 : tracked.1
                tracker = DCTracker(dc: tracker.dc, input: input + next, count: min(chunk, n - next),
                                    output: even ? tracked.1 : tracked.0)
                Self.split(current, count: m, i: ci + history, q: cq + history, power: powerOut + done, tracker: &tracker)
                switch (history, lag) {
                case (6, 1): Self.passes(Shape7x2(), m, ci, cq, fi, fq, pi, pq, splatTaps, valuesOut + done, &tracker)
                case (8, 2): Self.passes(Shape9x3(), m, ci, cq, fi, fq, pi, pq, splatTaps, valuesOut + done, &tracker)
                default:
                    Self.passes(AnyShape(taps: history + 1, terms: lag + 1), m, ci, cq, fi, fq, pi, pq, splatTaps,
                                valuesOut + done, &tracker)
                }
                tracker.advance(chunk)  // whatever the passes left over
                // The chunk's tails become the next chunk's history.
                ci.update(from: ci + m, count: history)
                cq.update(from: cq + m, count: history)
                fi[0] = fi[m]
                fq[0] = fq[m]
                pi.update(from: pi + m, count: lag)
                pq.update(from: pq + m, count: lag)
                done = next
                even.toggle()
            }
            dc = tracker.dc
            for j in 0..<history { clean[j] = IQSample(i: ci[j], q: cq[j]) }
            filtered[0] = IQSample(i: fi[0], q: fq[0])
            for j in 0..<lag { products[j] = IQSample(i: pi[j], q: pq[j]) }
        }
        self.dc = IQSample(i: dc.x, q: dc.y)
    }

    /// A slow DC tracker removes the RTL-SDR's LO leakage, which would otherwise beat against the
    /// packet in the discriminator; its notch is a few hundred Hz wide. I and Q side by side in
    /// one register; the DC-free samples go out interleaved. `advance` does the next few samples
    /// of its stretch of input, so the passes can carry it along.
    struct DCTracker {
        var dc: SIMD2<Float>
        let input: UnsafePointer<IQSample>
        let count: Int
        let output: UnsafeMutablePointer<Float>
        var done = 0

        init(dc: SIMD2<Float>, input: UnsafePointer<IQSample>, count: Int, output: UnsafeMutablePointer<Float>) {
            self.dc = dc
            self.input = input
            self.count = count
            self.output = output
        }

        @inline(__always)
        mutating func step(_ k: Int) {
            let raw = UnsafeRawPointer(input + k).loadUnaligned(as: SIMD2<Float>.self)
            dc += (raw - dc) * SIMD2(repeating: 1 / 4096)
            UnsafeMutableRawPointer(output + 2 * k).storeBytes(of: raw - dc, as: SIMD2<Float>.self)
        }

        /// The next `steps` samples, or as many as are left.
        @inline(__always)
        mutating func advance(_ steps: Int) {
            if done + steps <= count {
                for s in 0..<steps { step(done + s) }
                done += steps
            } else {
                while done < count { step(done); done += 1 }
            }
        }
    }

    /// Numbers of filter taps and of summed products; constants in the usual cases, so that the
    /// specialised loops unroll whether or not they are inlined.
    protocol Shape {
        var taps: Int { get }
        var terms: Int { get }
    }

    struct Shape7x2: Shape {
        var taps: Int { 7 }
        var terms: Int { 2 }
    }

    struct Shape9x3: Shape {
        var taps: Int { 9 }
        var terms: Int { 3 }
    }

    struct AnyShape: Shape {
        let taps: Int, terms: Int
    }

    typealias V = SIMD8<Float>

    @inline(__always)
    static func load(_ p: UnsafeMutablePointer<Float>) -> V {
        UnsafeRawPointer(p).loadUnaligned(as: V.self)
    }

    @inline(__always)
    static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }

    /// The interleaved DC-free samples into I and Q planes, and their power.
    @inline(__always)
    static func split(_ tracked: UnsafeMutablePointer<Float>, count: Int, i: UnsafeMutablePointer<Float>,
                      q: UnsafeMutablePointer<Float>, power: UnsafeMutablePointer<Float>, tracker: inout DCTracker) {
        var k = 0
        while k < count {
            tracker.advance(1)
            let both = UnsafeRawPointer(tracked + 2 * k).loadUnaligned(as: SIMD16<Float>.self)
            let ci = both.evenHalf, cq = both.oddHalf
            store(ci, i + k)
            store(cq, q + k)
            if k + 8 <= count {
                store(ci * ci + cq * cq, power + k)
            } else {
                for j in k..<count { power[j] = ci[j - k] * ci[j - k] + cq[j - k] * cq[j - k] }
            }
            k += 8
        }
    }

    /// The passes after the split, specialised on the shape. The DC tracker is copied in and out so
    /// that it lives in registers rather than behind the inout's address. Each pass iteration
    /// (eight samples) takes a share of the tracker's next eight samples, split as the passes'
    /// costs are.
    static func passes<S: Shape>(_ shape: S, _ m: Int, _ ci: UnsafeMutablePointer<Float>, _ cq: UnsafeMutablePointer<Float>,
                                 _ fi: UnsafeMutablePointer<Float>, _ fq: UnsafeMutablePointer<Float>,
                                 _ pi: UnsafeMutablePointer<Float>, _ pq: UnsafeMutablePointer<Float>,
                                 _ taps: UnsafeMutablePointer<Float>, _ values: UnsafeMutablePointer<Float>,
                                 _ carried: inout DCTracker) {
        var tracker = carried
        defer { carried = tracker }
        let lag = shape.terms - 1
        filter(taps, count: shape.taps, outputs: m, i: ci, q: cq, intoI: fi + 1, intoQ: fq + 1, tracker: &tracker)
        multiplyByPrevious(count: m, i: fi, q: fq, intoI: pi + lag, intoQ: pq + lag, tracker: &tracker)
        sumAndAngle(count: m, terms: shape.terms, i: pi, q: pq, into: values, tracker: &tracker)
    }

    /// The channel filter, eight outputs at a time (up to a multiple of 8 past `count`, into the
    /// planes' spare room): output k from inputs k…k+taps−1, summed in tap order.
    @inline(__always)
    static func filter(_ taps: UnsafeMutablePointer<Float>, count: Int, outputs: Int, i: UnsafeMutablePointer<Float>,
                       q: UnsafeMutablePointer<Float>, intoI: UnsafeMutablePointer<Float>, intoQ: UnsafeMutablePointer<Float>,
                       tracker: inout DCTracker) {
        var k = 0
        while k < outputs {
            tracker.advance(3)
            let t0 = load(taps)
            var xi = t0 * load(i + k), xq = t0 * load(q + k)
            for j in 1..<count {
                let t = load(taps + 8 * j)
                xi += t * load(i + k + j)
                xq += t * load(q + k + j)
            }
            store(xi, intoI + k)
            store(xq, intoQ + k)
            k += 8
        }
    }

    /// x · conj(previous x): its angle is the phase step. Inputs from index 0 (the carried sample).
    @inline(__always)
    static func multiplyByPrevious(count: Int, i: UnsafeMutablePointer<Float>, q: UnsafeMutablePointer<Float>,
                                   intoI: UnsafeMutablePointer<Float>, intoQ: UnsafeMutablePointer<Float>,
                                   tracker: inout DCTracker) {
        var k = 0
        while k < count {
            tracker.advance(1)
            let xi = load(i + k + 1), xq = load(q + k + 1), pi = load(i + k), pq = load(q + k)
            store(xi * pi + xq * pq, intoI + k)
            store(xq * pi - xi * pq, intoQ + k)
            k += 8
        }
    }

    /// Summing the products of about one symbol before the angle averages the steps weighted by
    /// amplitude, so a near-silent sample cannot swing the value. Output k sums products k…k+terms−1.
    @inline(__always)
    static func sumAndAngle(count: Int, terms: Int, i: UnsafeMutablePointer<Float>, q: UnsafeMutablePointer<Float>,
                            into values: UnsafeMutablePointer<Float>, tracker: inout DCTracker) {
        typealias W = SIMD4<Float>
        @inline(__always) func sum(_ p: UnsafeMutablePointer<Float>) -> W {
            var sum = UnsafeRawPointer(p).loadUnaligned(as: W.self)
            for m in 1..<terms { sum += UnsafeRawPointer(p + m).loadUnaligned(as: W.self) }
            return sum
        }
        var k = 0
        while k + 8 <= count {
            tracker.advance(3)
            let low = fastAtan2(sum(q + k), sum(i + k)), high = fastAtan2(sum(q + k + 4), sum(i + k + 4))
            UnsafeMutableRawPointer(values + k).storeBytes(of: low, as: W.self)
            UnsafeMutableRawPointer(values + k + 4).storeBytes(of: high, as: W.self)
            k += 8
        }
        while k < count {
            var si = i[k], sq = q[k]
            for m in 1..<terms {
                si += i[k + m]
                sq += q[k + m]
            }
            values[k] = fastAtan2(sq, si)
            k += 1
        }
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

/// `fastAtan2` on four lanes, operation for operation, so each lane has the scalar result's bits.
/// Four lanes (one SSE register) because the selects on wider vectors cost extra mask conversions
/// and even scalarise; in this shape they become maxps, minps and and/andnot/or.
@inline(__always)
func fastAtan2(_ y: SIMD4<Float>, _ x: SIMD4<Float>) -> SIMD4<Float> {
    typealias V = SIMD4<Float>
    typealias U = SIMD4<UInt32>
    let sign = U(repeating: 0x8000_0000)
    let ax = unsafeBitCast(unsafeBitCast(x, to: U.self) & ~sign, to: V.self)
    let ay = unsafeBitCast(unsafeBitCast(y, to: U.self) & ~sign, to: V.self)
    // max(ax, ay) is `ay >= ax ? ay : ax` and min(ax, ay) `ay < ax ? ay : ax`; for these
    // magnitudes (no −0) the forms below (maxps, minps) give the same bits.
    let big = ay.replacing(with: ax, where: ax .> ay), small = ay.replacing(with: ax, where: ax .< ay)
    let a = (small / big).replacing(with: 0, where: .!(big .> 0))
    let s = a * a
    var r = V(repeating: -0.046_496_474_9) * s + V(repeating: 0.159_314_22)
    r = r * s - V(repeating: 0.327_622_764)
    r = r * s * a + a
    r = r.replacing(with: V(repeating: 1.570_796_37) - r, where: ay .> ax)
    r = r.replacing(with: V(repeating: 3.141_592_74) - r, where: x .< 0)
    // y < 0 flips the sign bit; y + 0 turns −0 into +0, whose sign bit is clear as y < 0 is false.
    return unsafeBitCast(unsafeBitCast(r, to: U.self) ^ (unsafeBitCast(y + 0, to: U.self) & sign), to: V.self)
}
