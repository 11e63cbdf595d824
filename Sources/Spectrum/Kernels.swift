import IQ

/// Small vector kernels for the per-frame hot loops, written with SIMD types where LLVM would
/// not vectorise a plain loop on its own (it cannot prove the pointers do not alias). Each has a
/// plain reference twin; `KernelTests` checks that they agree.
public enum Kernels {
    public typealias Vector = SIMD8<Float>

    /// out[k] = x[k − step] + x[k] + x[k + step] for k in lo..<hi (reads x[lo − step ..< hi + step]).
    @inlinable
    public static func fold3(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, from lo: Int, to hi: Int,
                             step: Int) {
        var k = lo
        let raw = UnsafeRawPointer(x)
        let outRaw = UnsafeMutableRawPointer(out)
        let width = Vector.scalarCount
        let size = MemoryLayout<Float>.stride
        while k + width <= hi {
            let a = raw.loadUnaligned(fromByteOffset: (k - step) * size, as: Vector.self)
            let b = raw.loadUnaligned(fromByteOffset: k * size, as: Vector.self)
            let c = raw.loadUnaligned(fromByteOffset: (k + step) * size, as: Vector.self)
            outRaw.storeBytes(of: a + b + c, toByteOffset: k * size, as: Vector.self)
            k += width
        }
        while k < hi {
            out[k] = x[k - step] + x[k] + x[k + step]
            k += 1
        }
    }

    public static func referenceFold3(_ x: [Float], from lo: Int, to hi: Int, step: Int) -> [Float] {
        var out = [Float](repeating: 0, count: x.count)
        for k in lo..<hi { out[k] = x[k - step] + x[k] + x[k + step] }
        return out
    }

    /// Whether any of x[0..<count] exceeds `threshold` (a compare-and-count LLVM vectorises;
    /// SIMD max in the standard library is not specialised and is far slower).
    @inlinable
    public static func anyAbove(_ x: UnsafePointer<Float>, count: Int, threshold: Float) -> Bool {
        // Four independent running maxima: no loop-carried dependency through one register.
        var m0 = -Float.infinity, m1 = m0, m2 = m0, m3 = m0
        var k = 0
        while k + 4 <= count {
            m0 = x[k] > m0 ? x[k] : m0
            m1 = x[k + 1] > m1 ? x[k + 1] : m1
            m2 = x[k + 2] > m2 ? x[k + 2] : m2
            m3 = x[k + 3] > m3 ? x[k + 3] : m3
            k += 4
        }
        while k < count {
            m0 = x[k] > m0 ? x[k] : m0
            k += 1
        }
        return max(max(m0, m1), max(m2, m3)) > threshold
    }

    public static func referenceAnyAbove(_ x: [Float], threshold: Float) -> Bool { x.contains { $0 > threshold } }

    /// acc[k] += x[k] for k in 0..<count.
    @inlinable
    public static func accumulate(_ x: UnsafePointer<Float>, into acc: UnsafeMutablePointer<Float>, count: Int) {
        let size = MemoryLayout<Float>.stride
        let xRaw = UnsafeRawPointer(x), aRaw = UnsafeMutableRawPointer(acc)
        var k = 0
        while k + Vector.scalarCount <= count {
            let sum = aRaw.loadUnaligned(fromByteOffset: k * size, as: Vector.self) + xRaw.loadUnaligned(fromByteOffset: k * size, as: Vector.self)
            aRaw.storeBytes(of: sum, toByteOffset: k * size, as: Vector.self)
            k += Vector.scalarCount
        }
        while k < count {
            acc[k] += x[k]
            k += 1
        }
    }

    public static func referenceAccumulate(_ x: [Float], into acc: [Float]) -> [Float] { zip(acc, x).map { $0 + $1 } }

    /// p[k] = |x[k]|²·scale for k in 0..<count (x interleaved I, Q).
    @inlinable
    public static func power(_ x: UnsafePointer<IQSample>, into p: UnsafeMutablePointer<Float>, count: Int, scale: Float) {
        let size = MemoryLayout<Float>.stride
        let xRaw = UnsafeRawPointer(x), pRaw = UnsafeMutableRawPointer(p)
        var k = 0
        while k + 4 <= count {
            let v = xRaw.loadUnaligned(fromByteOffset: 2 * k * size, as: Vector.self)
            let squared = v * v
            pRaw.storeBytes(of: (squared.evenHalf + squared.oddHalf) * scale, toByteOffset: k * size, as: SIMD4<Float>.self)
            k += 4
        }
        while k < count {
            p[k] = (x[k].i * x[k].i + x[k].q * x[k].q) * scale
            k += 1
        }
    }

    public static func referencePower(_ x: [IQSample], scale: Float) -> [Float] { x.map { ($0.i * $0.i + $0.q * $0.q) * scale } }

    /// Σ x[k] with eight partial sums (NaN or ±∞ anywhere makes it non-finite).
    @inlinable
    public static func sum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        let raw = UnsafeRawPointer(x)
        var acc = Vector(repeating: 0)
        var k = 0
        while k + Vector.scalarCount <= count {
            acc += raw.loadUnaligned(fromByteOffset: k * MemoryLayout<Float>.stride, as: Vector.self)
            k += Vector.scalarCount
        }
        var total = acc.sum()
        while k < count {
            total += x[k]
            k += 1
        }
        return total
    }
}
