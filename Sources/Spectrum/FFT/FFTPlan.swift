import CFFTW
#if canImport(Glibc)
import Glibc
#endif
import IQ
import Synchronization

/// A complex single-precision FFT of one size and direction, planned once and executed many
/// times on its own 64-byte-aligned buffers (`fftwf_alloc_complex`), so FFTW may use SIMD.
///
/// FFTW's planner is not thread-safe: every plan is made and destroyed under one process-wide
/// lock. `execute()` is safe from any thread, but one plan must not run on two threads at once
/// (its buffers are shared): give each thread its own plan.
public final class FFTPlan: @unchecked Sendable {
    public enum Direction: Sendable { case forward, backward }

    public let size: Int
    public let direction: Direction
    /// Input buffer: fill it, then `execute()`.
    public let input: UnsafeMutableBufferPointer<IQSample>
    /// Output buffer, unnormalised (a forward then backward transform scales by `size`).
    public let output: UnsafeMutableBufferPointer<IQSample>
    private let plan: fftwf_plan

    public init(size: Int, direction: Direction = .forward) {
        precondition(size > 0, "FFT size must be positive")
        self.size = size
        self.direction = direction
        let inRaw = fftwf_alloc_complex(size)!
        let outRaw = fftwf_alloc_complex(size)!
        let sign = direction == .forward ? FFTW_FORWARD : FFTW_BACKWARD
        plan = FFTPlanner.locked { flags in
            fftwf_plan_dft_1d(Int32(size), inRaw, outRaw, sign, flags)!
        }
        // fftwf_complex is float[2]: the same layout as IQSample.
        input = UnsafeMutableBufferPointer(start: UnsafeMutableRawPointer(inRaw).bindMemory(to: IQSample.self, capacity: size), count: size)
        output = UnsafeMutableBufferPointer(start: UnsafeMutableRawPointer(outRaw).bindMemory(to: IQSample.self, capacity: size), count: size)
        input.initialize(repeating: .zero)
        output.initialize(repeating: .zero)
    }

    deinit {
        FFTPlanner.locked { _ in fftwf_destroy_plan(plan) }
        fftwf_free(UnsafeMutableRawPointer(input.baseAddress!))
        fftwf_free(UnsafeMutableRawPointer(output.baseAddress!))
    }

    @inlinable
    public func execute() { executePlan() }

    @usableFromInline
    func executePlan() { fftwf_execute(plan) }
}

/// Process-wide FFTW planner settings and lock.
///
/// Plans are made with `FFTW_ESTIMATE` by default: instant, and the same plan on every run, so
/// results are reproducible. Setting `UASENSE_FFTW_WISDOM=PATH` switches to `FFTW_MEASURE`
/// (faster plans, ~70 ms each to make) with wisdom imported from and saved to PATH, e.g.
/// `calibration/fftw-wisdom-$(hostname)`; wisdom is machine-specific, so it is not committed.
public enum FFTPlanner {
    private static let lock = Mutex<Bool>(false)  // true once the wisdom file was imported
    public static let wisdomPath: String? = {
        guard let p = getenv("UASENSE_FFTW_WISDOM") else { return nil }
        let s = String(cString: p)
        return s.isEmpty ? nil : s
    }()

    public static func locked<T>(_ body: (UInt32) -> T) -> T {
        lock.withLock { imported in
            var flags = UInt32(FFTW_ESTIMATE)
            if let path = wisdomPath {
                if !imported {
                    _ = fftwf_import_wisdom_from_filename(path)
                    imported = true
                }
                flags = UInt32(FFTW_MEASURE)
                let result = body(flags)
                _ = fftwf_export_wisdom_to_filename(path)
                return result
            }
            return body(flags)
        }
    }
}
