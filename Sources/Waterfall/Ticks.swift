#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One labelled tick on an axis.
struct Tick: Equatable {
    /// The value in the axis' label unit (ms, s, MHz, dB).
    var value: Double
    var label: String
}

/// "Nice" tick selection: steps of 1, 2 or 5 × 10^k.
enum NiceTicks {
    /// The smallest nice step for which the ticks in `lo...hi` number at most `maxCount`, at
    /// least 2, and `fits(step, ticks)` holds (used for pixel spacing and label widths).
    /// Returns no ticks for an empty, reversed or non-finite interval, or values so large
    /// relative to the step that they cannot be counted exactly.
    static func choose(
        lo: Double, hi: Double, maxCount: Int = 10,
        label: (_ value: Double, _ step: Double) -> String,
        fits: (Double, [Tick]) -> Bool
    ) -> [Tick] {
        guard lo.isFinite, hi.isFinite, hi > lo else {
            return []
        }
        let span = hi - lo
        guard span.isFinite, span > 0 else { return [] }
        var exponent = Int((log10(span / Double(max(1, maxCount)))).rounded(.down)) - 1
        exponent = min(300, max(-300, exponent))
        var single: [Tick] = []
        for _ in 0..<18 {
            for mantissa in [1.0, 2.0, 5.0] {
                let step = mantissa * pow(10, Double(exponent))
                guard step.isFinite, step > 0 else { continue }
                let first = (lo / step - 1e-9).rounded(.up)
                let last = (hi / step + 1e-9).rounded(.down)
                guard abs(first) < 1e15, abs(last) < 1e15, last >= first else { continue }
                let count = Int(last - first) + 1
                if count > maxCount { continue }
                let ticks = (0..<count).map { k in
                    let v = (first + Double(k)) * step
                    return Tick(value: v, label: label(v, step))
                }
                if count >= 2 {
                    if fits(step, ticks) { return ticks }
                } else if single.isEmpty && fits(step, ticks) {
                    single = ticks
                }
            }
            exponent += 1
        }
        // Nothing with two or more ticks fits: keep a single tick if one fits, else none.
        return single
    }

    /// Decimal places needed to show multiples of `step` exactly (0 for steps ≥ 1).
    static func decimalsFor(step: Double) -> Int {
        guard step.isFinite, step > 0 else { return 0 }
        return min(12, max(0, Int((-log10(step) - 1e-9).rounded(.up))))
    }
}

/// Fixed-point formatting without Foundation: `format(914.0, decimals: 1)` = "914.0",
/// `format(-0.0001, decimals: 1)` = "0.0" (never "-0"). Values too large for exact integer
/// arithmetic fall back to Swift's shortest representation ("1e+300").
func formatFixed(_ value: Double, decimals: Int) -> String {
    guard value.isFinite else { return value.isNaN ? "nan" : (value > 0 ? "inf" : "-inf") }
    let d = min(12, max(0, decimals))
    var p: Int64 = 1
    for _ in 0..<d { p *= 10 }
    let scaled = (value * Double(p)).rounded()
    guard abs(scaled) < 9e15 else { return "\(value)" }
    let n = Int64(scaled)
    let negative = n < 0
    let a = negative ? -n : n
    var s = negative ? "-" : ""
    s += String(a / p)
    if d > 0 {
        let frac = String(a % p)
        s += "." + String(repeating: "0", count: d - frac.count) + frac
    }
    return s
}
