import Foundation
import IQ
import Spectrum

// The wideband front end's own stages: the input shift that puts an off-grid centre on the filter
// bank's grid, and the per-channel resampler to the receivers' rate. Both depend only on absolute
// sample positions, so their output is the same whatever the block sizes.

/// Removes the radio's DC offset, then multiplies by e^{−j2π·shift·n/fs} for absolute index n, so
/// an off-grid centre lands on the filter bank's grid. Without the DC removal the shift would carry
/// the DC spike into a channel as a tone `shift` away from its centre, where the channel receiver's
/// own DC tracker cannot see it. The mixer is an `AnchoredRotator`, so each sample gets the same
/// phasor whatever the block boundaries.
final class InputShift {
    private let rotator: AnchoredRotator
    /// DC tracker: a one-pole average over about 65536 samples (a notch of about fs/400000 Hz).
    private var dc = IQSample.zero
    static let dcWeight: Float = 1.0 / 65536

    init(shiftHz: Double, sampleRateHz: Double) {
        rotator = AnchoredRotator(phaseStep: ChannelExtractor.phaseStep(offsetHz: shiftHz, sampleRateHz: sampleRateHz))
    }

    func apply(_ block: IQBlock, into out: inout IQBlock) {
        out.resize(to: block.count)
        out.firstSampleIndex = block.firstSampleIndex
        out.droppedBefore = block.droppedBefore
        out.captureTimeS = block.captureTimeS
        out.centerFrequencyHz = block.centerFrequencyHz
        out.clippedSamples = block.clippedSamples
        let weight = Self.dcWeight
        var dc = self.dc
        defer { self.dc = dc }
        block.samples.withUnsafeBufferPointer { x in
            out.samples.withUnsafeMutableBufferPointer { y in
                rotator.forEach(first: block.firstSampleIndex, count: x.count) { n, ri, rq in
                    dc.i += (x[n].i - dc.i) * weight
                    dc.q += (x[n].q - dc.q) * weight
                    let v = IQSample(i: x[n].i - dc.i, q: x[n].q - dc.q)
                    y[n] = IQSample(i: v.i * ri - v.q * rq, q: v.i * rq + v.q * ri)
                }
            }
        }
    }
}

/// Band-limited resampling of one channel stream to the receiver's rate, by any ratio: a low-pass
/// prototype at `phases` × the input rate, split into `phases` sub-filters; output s is the
/// sub-filter nearest to input time s·ratio (timing error ≤ 1/256 input sample) applied to the
/// input samples before it.
///
/// Output s counts from the last `reset()` (input 0 there, zeros before), and stands for input time
/// s·ratio − `delay`: a function of s alone, so the output does not depend on block sizes.
final class ChannelResampler {
    let inputRateHz: Double
    let outputRateHz: Double
    /// Input samples per output sample.
    let ratio: Double
    /// 2⁷, so the position splits into input index and phase by a shift and a mask.
    static let phases = 128
    /// Taps of each sub-filter, padded with zeros to a multiple of 8 for the SIMD dot product.
    let tapsPerPhase: Int
    /// The prototype at `phases` × `inputRateHz` (unit gain at 0 Hz).
    let prototype: [Float]
    /// How far an output lags the input time it is computed at, in input samples.
    let delay: Double
    /// Sub-filter p at p·tapsPerPhase, oldest input first, scaled by `phases`.
    private let table: UnsafeMutablePointer<Float>
    /// Output spacing in up-rate samples (ratio × phases), as whole and 2⁻³² fractional parts:
    /// output s sits at up-rate position round(s × step), kept exactly by integer accumulation.
    private let stepWhole: Int64
    private let stepFraction: UInt32
    private var position: Int64 = 0
    private var fraction: UInt32 = 0
    // Planar input history: history[k] is input sample `historyStart + k` (negative before the
    // origin); `capacity` grows only for a larger block than any before.
    private var hi: UnsafeMutablePointer<Float>
    private var hq: UnsafeMutablePointer<Float>
    private var capacity: Int
    private var filled = 0
    private var historyStart: Int64 = 0
    private var inputCount: Int64 = 0

    /// - Parameters: `cutoffHz` is the −6 dB edge and `transitionHz` its width (50 dB stop band:
    ///   what it stops are images of a channel already filtered).
    init(inputRateHz: Double, outputRateHz: Double, cutoffHz: Double, transitionHz: Double) {
        self.inputRateHz = inputRateHz
        self.outputRateHz = outputRateHz
        ratio = inputRateHz / outputRateHz
        let p = Self.phases
        let upRate = inputRateHz * Double(p)
        prototype = FIRDesign.lowpass(cutoff: cutoffHz / upRate, transition: transitionHz / upRate, attenuationDB: 50)
        let perPhase = (prototype.count + p - 1) / p
        tapsPerPhase = (perPhase + 7) / 8 * 8
        delay = Double(prototype.count - 1) / 2 / Double(p)
        // Sub-filter q-th tap h[phase + q·P] multiplies input i − q, for output time i + phase/P.
        table = .allocate(capacity: p * tapsPerPhase)
        table.initialize(repeating: 0, count: p * tapsPerPhase)
        for phase in 0..<p {
            for q in 0..<tapsPerPhase where phase + q * p < prototype.count {
                table[phase * tapsPerPhase + tapsPerPhase - 1 - q] = prototype[phase + q * p] * Float(p)
            }
        }
        let step = ratio * Double(p)
        stepWhole = Int64(step.rounded(.down))
        stepFraction = UInt32(((step - step.rounded(.down)) * 4_294_967_296.0).rounded(.down))
        capacity = 65536
        hi = .allocate(capacity: capacity)
        hq = .allocate(capacity: capacity)
        reset()
    }

    deinit {
        table.deallocate()
        hi.deallocate()
        hq.deallocate()
    }

    /// A new origin: the next input is input 0, zeros before it, and outputs count from 0 again.
    func reset() {
        filled = tapsPerPhase - 1
        hi.update(repeating: 0, count: filled)
        hq.update(repeating: 0, count: filled)
        historyStart = -Int64(filled)
        inputCount = 0
        position = 0
        fraction = 0
    }

    /// |H(f)|² of the prototype, normalised to 1 at 0 Hz.
    func powerGain(atHz f: Double) -> Double {
        FIRDesign.powerGain(prototype, cycles: f / (inputRateHz * Double(Self.phases)))
    }

    /// The outputs that the inputs so far allow, into `output` (resized; storage reused).
    func process(_ input: UnsafeBufferPointer<IQSample>, into output: inout [IQSample]) {
        let n = input.count
        if filled + n > capacity {
            capacity = filled + n
            for pointer in [\ChannelResampler.hi, \ChannelResampler.hq] {
                let fresh = UnsafeMutablePointer<Float>.allocate(capacity: capacity)
                fresh.initialize(from: self[keyPath: pointer], count: filled)
                self[keyPath: pointer].deallocate()
                self[keyPath: pointer] = fresh
            }
        }
        for k in 0..<n {
            hi[filled + k] = input[k].i
            hq[filled + k] = input[k].q
        }
        filled += n
        inputCount += Int64(n)
        // Outputs whose newest input has arrived: up-rate position < inputCount × P.
        let p = Int64(Self.phases), k = tapsPerPhase
        let end = inputCount * p
        var count = 0
        var at = position, frac = fraction
        while at + (frac >= 0x8000_0000 ? 1 : 0) < end {
            count += 1
            let (sum, carry) = frac.addingReportingOverflow(stepFraction)
            frac = sum
            at += stepWhole + (carry ? 1 : 0)
        }
        if output.count != count {
            if output.count < count { output.append(contentsOf: repeatElement(.zero, count: count - output.count)) }
            else { output.removeLast(output.count - count) }
        }
        let table = UnsafePointer(self.table), xi = UnsafePointer(hi), xq = UnsafePointer(hq)
        let start = historyStart, stepWhole = self.stepWhole, stepFraction = self.stepFraction
        at = position
        frac = fraction
        output.withUnsafeMutableBufferPointer { out in
            for s in 0..<count {
                let up = at + (frac >= 0x8000_0000 ? 1 : 0)  // nearest phase
                let newest = up >> 7, phase = Int(up & 127)
                let oldest = Int(newest - start) - (k - 1)
                out[s] = Self.dot(table + phase * k, xi + oldest, xq + oldest, k)
                let (sum, carry) = frac.addingReportingOverflow(stepFraction)
                frac = sum
                at += stepWhole + (carry ? 1 : 0)
            }
        }
        position = at
        fraction = frac
        // Keep the inputs from the next output's window on (the last k at most).
        let keepFrom = Int(max(historyStart, inputCount - Int64(k)) - historyStart)
        if keepFrom > 0 {
            (hi).update(from: hi + keepFrom, count: filled - keepFrom)
            (hq).update(from: hq + keepFrom, count: filled - keepFrom)
            filled -= keepFrom
            historyStart += Int64(keepFrom)
        }
    }

    /// Σ h[j]·(xi[j], xq[j]) over `count` (a multiple of 8) taps, eight at a time.
    @inline(__always)
    static func dot(_ h: UnsafePointer<Float>, _ xi: UnsafePointer<Float>, _ xq: UnsafePointer<Float>, _ count: Int) -> IQSample {
        typealias V = SIMD8<Float>
        let size = MemoryLayout<Float>.stride
        let hRaw = UnsafeRawPointer(h), iRaw = UnsafeRawPointer(xi), qRaw = UnsafeRawPointer(xq)
        var sumI = V(repeating: 0), sumQ = V(repeating: 0)
        var j = 0
        while j < count {
            let taps = hRaw.loadUnaligned(fromByteOffset: j * size, as: V.self)
            sumI += taps * iRaw.loadUnaligned(fromByteOffset: j * size, as: V.self)
            sumQ += taps * qRaw.loadUnaligned(fromByteOffset: j * size, as: V.self)
            j += 8
        }
        return IQSample(i: sumI.sum(), q: sumQ.sum())
    }

    /// Reference twin: the same outputs from the whole input at once, in Double, with the prototype
    /// indexed directly (no table) and each output's position computed on its own.
    static func reference(_ input: [IQSample], inputRateHz: Double, outputRateHz: Double, prototype: [Float]) -> [IQSample] {
        let p = phases, step = inputRateHz / outputRateHz * Double(p)
        let whole = Int64(step.rounded(.down)), fraction = UInt64(((step - step.rounded(.down)) * 4_294_967_296.0).rounded(.down))
        var out: [IQSample] = []
        var s: Int64 = 0
        while true {
            // s × step in 32.32 fixed point, rounded to the nearest up-rate sample.
            let product = UInt64(s) * fraction
            let n = Int(s * whole + Int64(product >> 32) + Int64(product >> 31 & 1))
            let newest = n / p, phase = n % p
            guard newest < input.count else { break }
            var i = 0.0, q = 0.0
            var tap = phase, k = newest
            while tap < prototype.count, k >= 0 {
                i += Double(prototype[tap]) * Double(p) * Double(input[k].i)
                q += Double(prototype[tap]) * Double(p) * Double(input[k].q)
                tap += p
                k -= 1
            }
            out.append(IQSample(i: Float(i), q: Float(q)))
            s += 1
        }
        return out
    }
}

extension FIRDesign {
    /// |Σ h[k]·e^{−j2π·cycles·k}|²: a filter's power gain at `cycles` per sample.
    static func powerGain(_ taps: [Float], cycles: Double) -> Double {
        var re = 0.0, im = 0.0
        for (k, h) in taps.enumerated() {
            re += Double(h) * cos(2 * Double.pi * cycles * Double(k))
            im -= Double(h) * sin(2 * Double.pi * cycles * Double(k))
        }
        return re * re + im * im
    }
}
