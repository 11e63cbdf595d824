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
}
