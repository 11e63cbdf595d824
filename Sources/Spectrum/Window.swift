#if canImport(Glibc)
import Glibc
#endif

/// Analysis windows. Coefficients are symmetric-periodic ("DFT-even"), the right choice for
/// spectral analysis with overlap: Hann at 50% overlap sums to a constant.
public enum Window: Sendable, Equatable, CustomStringConvertible {
    /// Low leakage with a narrow main lobe; the default for bursts.
    case hann
    /// 4-term Blackman–Harris: −92 dB sidelobes, for weak signals beside strong ones.
    case blackmanHarris
    /// Kaiser with shape β (β ≈ 8.6 gives ~−90 dB sidelobes, β = 0 is rectangular).
    case kaiser(beta: Double)
    case rectangular

    public var description: String {
        switch self {
        case .hann: return "hann"
        case .blackmanHarris: return "blackman-harris"
        case .kaiser(let beta): return "kaiser(\(beta))"
        case .rectangular: return "rectangular"
        }
    }

    public init(name: String) throws {
        let lower = name.lowercased()
        switch lower {
        case "hann", "hanning": self = .hann
        case "blackman-harris", "blackmanharris", "bh": self = .blackmanHarris
        case "rect", "rectangular", "none": self = .rectangular
        default:
            if lower.hasPrefix("kaiser") {
                let digits = lower.drop { !($0.isNumber || $0 == ".") }.prefix { $0.isNumber || $0 == "." }
                self = .kaiser(beta: Double(digits) ?? 8.6)
            } else {
                throw SpectrumError.invalidParameter("unknown window '\(name)' (hann, blackman-harris, kaiser:BETA, rectangular)")
            }
        }
    }

    public func coefficients(count n: Int) -> [Float] {
        guard n > 1 else { return [Float](repeating: 1, count: max(n, 0)) }
        return (0..<n).map { k in
            let x = Double(k) / Double(n)
            switch self {
            case .hann:
                return Float(0.5 - 0.5 * cos(2 * .pi * x))
            case .blackmanHarris:
                return Float(0.35875 - 0.48829 * cos(2 * .pi * x) + 0.14128 * cos(4 * .pi * x) - 0.01168 * cos(6 * .pi * x))
            case .kaiser(let beta):
                // β beyond ~700 overflows I₀; anything above 50 is already a needle.
                let b = min(max(beta.isFinite ? beta : 0, 0), 50)
                let r = 2 * x - 1
                return Float(besselI0(b * (1 - r * r).squareRoot()) / besselI0(b))
            case .rectangular:
                return 1
            }
        }
    }

    /// Equivalent noise bandwidth in bins: N·Σw² / (Σw)².
    public static func enbwBins(_ w: [Float]) -> Double {
        let s1 = w.reduce(0.0) { $0 + Double($1) }
        let s2 = w.reduce(0.0) { $0 + Double($1) * Double($1) }
        return Double(w.count) * s2 / (s1 * s1)
    }
}

/// Modified Bessel function of the first kind, order 0 (power series; converges fast for β < 50).
public func besselI0(_ x: Double) -> Double {
    var sum = 1.0
    var term = 1.0
    let q = x * x / 4
    var k = 1.0
    while term > sum * 1e-17 {
        term *= q / (k * k)
        sum += term
        k += 1
    }
    return sum
}

public enum SpectrumError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidParameter(String)

    public var description: String {
        switch self {
        case .invalidParameter(let message): return message
        }
    }
}
