#if canImport(Glibc)
import Glibc
#endif

/// Windowed-sinc FIR design (Kaiser window): linear phase, real taps, unit gain at DC.
public enum FIRDesign {
    /// Low-pass taps.
    /// - Parameters:
    ///   - cutoff: −6 dB edge as a fraction of the sample rate (0 < cutoff < 0.5).
    ///   - transition: transition width as a fraction of the sample rate; sets the length.
    ///   - attenuationDB: stop-band attenuation; sets the Kaiser β.
    ///   - taps: force a length (odd lengths keep an integer group delay).
    public static func lowpass(cutoff: Double, transition: Double, attenuationDB: Double = 70, taps: Int? = nil) -> [Float] {
        let a = max(21, attenuationDB)
        let beta = a > 50 ? 0.1102 * (a - 8.7) : 0.5842 * pow(a - 21, 0.4) + 0.07886 * (a - 21)
        var length = taps ?? Int(((a - 8) / (2.285 * 2 * Double.pi * max(transition, 1e-6))).rounded(.up)) + 1
        length = max(3, length)
        let centre = Double(length - 1) / 2
        var h = (0..<length).map { i -> Double in
            let t = Double(i) - centre
            let sinc = t == 0 ? 2 * cutoff : sin(2 * Double.pi * cutoff * t) / (Double.pi * t)
            let r = length > 1 ? 2 * Double(i) / Double(length - 1) - 1 : 0
            return sinc * besselI0(beta * max(0, 1 - r * r).squareRoot()) / besselI0(beta)
        }
        let sum = h.reduce(0, +)
        h = h.map { $0 / sum }
        return h.map(Float.init)
    }
}
