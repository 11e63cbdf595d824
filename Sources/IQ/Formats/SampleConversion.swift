/// Conversion between stored sample formats and normalised `IQSample`s.
///
/// Scaling (full scale maps to ±1):
/// - cu8:  (x − dcOffset) / 127.5, dcOffset 127.5 by default — the true centre of offset binary.
///         Some dongles sit elsewhere (dump1090 uses 127.4), hence configurable.
/// - cs8:  x / 128
/// - cs16: x / 32768
/// - cf32: unchanged
///
/// Encoding rounds to nearest and clamps to the format's range; NaN becomes the zero code, so a
/// bad float never turns into a crash or a wrapped integer.
///
/// The optimised kernels are plain loops over contiguous memory written so LLVM vectorises
/// them; each has a `reference…` twin, and tests check they agree.
public struct SampleConverter: Sendable {
    public let format: SampleFormat
    /// Only used for cu8: the code that means zero.
    public let dcOffset: Float
    /// Decode conjugates every sample (Q → −Q), mirroring the spectrum: what a high-side
    /// downconverter did to the signal is undone while converting, with no second pass.
    public let conjugate: Bool

    public init(format: SampleFormat, dcOffset: Float = 127.5, conjugate: Bool = false) {
        self.format = format
        self.dcOffset = dcOffset
        self.conjugate = conjugate
    }

    /// Decodes whole samples from `raw` into `out`. Returns the number of samples written:
    /// `min(raw.count / bytesPerSample, out.count)`.
    @inlinable
    @discardableResult
    public func decode(_ raw: UnsafeRawBufferPointer, into out: UnsafeMutableBufferPointer<IQSample>) -> Int {
        let count = min(raw.count / format.bytesPerSample, out.count)
        guard count > 0, let src = raw.baseAddress, let dstSamples = out.baseAddress else { return 0 }
        let scalars = count * 2
        // IQSample is two packed Floats: treat the output as a flat Float array.
        let dst = UnsafeMutableRawPointer(dstSamples).assumingMemoryBound(to: Float.self)
        if conjugate {
            decodeConjugated(src, into: dst, count: count)
            return count
        }
        switch format {
        case .cu8:
            let bytes = src.assumingMemoryBound(to: UInt8.self)
            let scale: Float = 1 / 127.5
            let bias = -dcOffset * scale
            for k in 0..<scalars { dst[k] = Float(bytes[k]) * scale + bias }
        case .cs8:
            let bytes = src.assumingMemoryBound(to: Int8.self)
            let scale: Float = 1 / 128
            for k in 0..<scalars { dst[k] = Float(bytes[k]) * scale }
        case .cs16:
            let scale: Float = 1 / 32768
            for k in 0..<scalars {
                let v = Int16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * k, as: Int16.self))
                dst[k] = Float(v) * scale
            }
        case .cf32:
            for k in 0..<scalars {
                dst[k] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * k, as: UInt32.self)))
            }
        }
        return count
    }

    /// The decode loops with Q negated: one loop per sample pair, scale and sign folded into
    /// constants so the loop stays branch-free (negation is exact, so this equals decoding and
    /// then conjugating).
    @inlinable
    func decodeConjugated(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
        switch format {
        case .cu8:
            let bytes = src.assumingMemoryBound(to: UInt8.self)
            let scale: Float = 1 / 127.5
            let bias = -dcOffset * scale
            for s in 0..<count {
                dst[2 * s] = Float(bytes[2 * s]) * scale + bias
                dst[2 * s + 1] = Float(bytes[2 * s + 1]) * -scale - bias
            }
        case .cs8:
            let bytes = src.assumingMemoryBound(to: Int8.self)
            let scale: Float = 1 / 128
            for s in 0..<count {
                dst[2 * s] = Float(bytes[2 * s]) * scale
                dst[2 * s + 1] = Float(bytes[2 * s + 1]) * -scale
            }
        case .cs16:
            let scale: Float = 1 / 32768
            for s in 0..<count {
                let i = Int16(littleEndian: src.loadUnaligned(fromByteOffset: 4 * s, as: Int16.self))
                let q = Int16(littleEndian: src.loadUnaligned(fromByteOffset: 4 * s + 2, as: Int16.self))
                dst[2 * s] = Float(i) * scale
                dst[2 * s + 1] = Float(q) * -scale
            }
        case .cf32:
            for s in 0..<count {
                dst[2 * s] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 8 * s, as: UInt32.self)))
                dst[2 * s + 1] = -Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 8 * s + 4, as: UInt32.self)))
            }
        }
    }

    /// Encodes `samples` into `raw`. Returns the number of samples written:
    /// `min(samples.count, raw.count / bytesPerSample)`.
    @inlinable
    @discardableResult
    public func encode(_ samples: UnsafeBufferPointer<IQSample>, into raw: UnsafeMutableRawBufferPointer) -> Int {
        let count = min(samples.count, raw.count / format.bytesPerSample)
        guard count > 0, let dstRaw = raw.baseAddress, let srcSamples = samples.baseAddress else { return 0 }
        let src = UnsafeRawPointer(srcSamples).assumingMemoryBound(to: Float.self)
        let scalars = count * 2
        switch format {
        case .cu8:
            let dst = dstRaw.assumingMemoryBound(to: UInt8.self)
            let offset = dcOffset
            for k in 0..<scalars { dst[k] = UInt8(truncatingIfNeeded: Self.roundedBits(src[k] * 127.5 + offset, 0, 255, zero: offset)) }
        case .cs8:
            let dst = dstRaw.assumingMemoryBound(to: Int8.self)
            for k in 0..<scalars { dst[k] = Int8(truncatingIfNeeded: Self.roundedBits(src[k] * 128, -128, 127, zero: 0)) }
        case .cs16:
            for k in 0..<scalars {
                let v = Int16(truncatingIfNeeded: Self.roundedBits(src[k] * 32768, -32768, 32767, zero: 0))
                dstRaw.storeBytes(of: v.littleEndian, toByteOffset: 2 * k, as: Int16.self)
            }
        case .cf32:
            for k in 0..<scalars {
                dstRaw.storeBytes(of: src[k].bitPattern.littleEndian, toByteOffset: 4 * k, as: UInt32.self)
            }
        }
        return count
    }

    /// Clamps to [lo, hi] (NaN → `zero`) and rounds to nearest-even; the integer is in the low
    /// bits of the result. Adding 1.5·2²³ pushes the fraction out of the mantissa, so the FPU's
    /// own rounding does the work and the loop vectorises (a checked Float→Int conversion does not).
    /// Valid for |lo|, |hi| < 2²².
    @inlinable
    static func roundedBits(_ x: Float, _ lo: Float, _ hi: Float, zero: Float) -> UInt32 {
        let v = x.isNaN ? zero : x
        return (min(max(v, lo), hi) + 12_582_912).bitPattern
    }

    // MARK: Reference twins (plain, obviously right, slow)

    /// Reference decoder: one sample at a time through `Array`s (conjugating when asked).
    public func referenceDecode(_ raw: [UInt8]) -> [IQSample] {
        let n = raw.count / format.bytesPerSample
        var out: [IQSample] = []
        out.reserveCapacity(n)
        func component(_ k: Int) -> Float {
            switch format {
            case .cu8: return (Float(raw[k]) - dcOffset) / 127.5
            case .cs8: return Float(Int8(bitPattern: raw[k])) / 128
            case .cs16: return Float(Int16(bitPattern: UInt16(raw[2 * k]) | UInt16(raw[2 * k + 1]) << 8)) / 32768
            case .cf32:
                let bits = UInt32(raw[4 * k]) | UInt32(raw[4 * k + 1]) << 8 | UInt32(raw[4 * k + 2]) << 16
                    | UInt32(raw[4 * k + 3]) << 24
                return Float(bitPattern: bits)
            }
        }
        for s in 0..<n {
            let q = component(2 * s + 1)
            out.append(IQSample(i: component(2 * s), q: conjugate ? -q : q))
        }
        return out
    }

    /// Reference encoder: clamp, round half to even, store little-endian, one component at a time.
    public func referenceEncode(_ samples: [IQSample]) -> [UInt8] {
        var out: [UInt8] = []
        func integer(_ x: Float, scale: Float, offset: Float, lo: Float, hi: Float) -> Int {
            let v = x.isNaN ? offset : x * scale + offset
            return Int(min(max(v, lo), hi).rounded(.toNearestOrEven))
        }
        for component in samples.flatMap({ [$0.i, $0.q] }) {
            switch format {
            case .cu8: out.append(UInt8(integer(component, scale: 127.5, offset: dcOffset, lo: 0, hi: 255)))
            case .cs8: out.append(UInt8(bitPattern: Int8(integer(component, scale: 128, offset: 0, lo: -128, hi: 127))))
            case .cs16:
                let v = UInt16(bitPattern: Int16(integer(component, scale: 32768, offset: 0, lo: -32768, hi: 32767)))
                out += [UInt8(v & 0xff), UInt8(v >> 8)]
            case .cf32:
                let bits = component.bitPattern
                out += [UInt8(bits & 0xff), UInt8(bits >> 8 & 0xff), UInt8(bits >> 16 & 0xff), UInt8(bits >> 24)]
            }
        }
        return out
    }
}

extension SampleConverter {
    /// Counts samples whose I or Q sits at the format's extreme code, i.e. the ADC clipped.
    /// For cf32, a component at or beyond ±1 counts.
    public static func countClipped(_ raw: UnsafeRawBufferPointer, format: SampleFormat) -> Int {
        let count = raw.count / format.bytesPerSample
        guard count > 0, let base = raw.baseAddress else { return 0 }
        var clipped = 0
        switch format {
        case .cu8:
            let b = base.assumingMemoryBound(to: UInt8.self)
            for s in 0..<count {
                let i = b[2 * s], q = b[2 * s + 1]
                clipped &+= ((i == 0 || i == 255 || q == 0 || q == 255) ? 1 : 0)
            }
        case .cs8:
            let b = base.assumingMemoryBound(to: Int8.self)
            for s in 0..<count {
                let i = b[2 * s], q = b[2 * s + 1]
                clipped &+= ((i == -128 || i == 127 || q == -128 || q == 127) ? 1 : 0)
            }
        case .cs16:
            for s in 0..<count {
                let i = Int16(littleEndian: base.loadUnaligned(fromByteOffset: 4 * s, as: Int16.self))
                let q = Int16(littleEndian: base.loadUnaligned(fromByteOffset: 4 * s + 2, as: Int16.self))
                clipped &+= ((i == .min || i == .max || q == .min || q == .max) ? 1 : 0)
            }
        case .cf32:
            for s in 0..<count {
                let i = Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 8 * s, as: UInt32.self)))
                let q = Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 8 * s + 4, as: UInt32.self)))
                clipped &+= ((abs(i) >= 1 || abs(q) >= 1) ? 1 : 0)
            }
        }
        return clipped
    }
}

extension SampleConverter {
    /// `samples` written in this format and read back: the quantisation a recording of it carries
    /// (cu8 is an RTL-SDR's 8-bit converter), for synthetic tests and benchmarks.
    public func roundTrip(_ samples: [IQSample]) -> [IQSample] {
        var raw = [UInt8](repeating: 0, count: samples.count * format.bytesPerSample)
        samples.withUnsafeBufferPointer { s in raw.withUnsafeMutableBytes { _ = encode(s, into: $0) } }
        var out = [IQSample](repeating: .zero, count: samples.count)
        raw.withUnsafeBytes { r in out.withUnsafeMutableBufferPointer { _ = decode(r, into: $0) } }
        return out
    }
}
