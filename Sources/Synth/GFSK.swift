import Foundation
import IQ

/// Gaussian FSK, the modulation of Bluetooth LE: each bit is a rectangular frequency pulse of
/// one symbol, smoothed by a Gaussian filter of bandwidth-time product `bt`; bit 1 deviates up.
/// Peak deviation is `modulationIndex × symbolRateHz / 2` (250 kHz for BLE 1M with h = 0.5).
public struct GFSKModulator: Sendable {
    public var symbolRateHz: Double
    public var modulationIndex: Double
    public var bt: Double

    public init(symbolRateHz: Double = 1e6, modulationIndex: Double = 0.5, bt: Double = 0.5) {
        self.symbolRateHz = symbolRateHz
        self.modulationIndex = modulationIndex
        self.bt = bt
    }

    /// The frequency pulse of one symbol at time `t` (in symbols, centred on 0): a unit rectangle
    /// of one symbol convolved with the Gaussian filter.
    func pulse(_ t: Double) -> Double {
        let alpha = Double.pi * bt * (2 / log(2.0)).squareRoot()
        return 0.5 * (erf(alpha * (t + 0.5)) - erf(alpha * (t - 0.5)))
    }

    /// Unit-amplitude samples for `bits` (0/1) at `sampleRateHz`, starting at `phase` radians and
    /// shifted by `offsetHz`. Symbol k is centred at (k + 0.5) symbols; the signal lasts
    /// `bits.count + tailSymbols` symbols: like a real transmitter, the carrier stays on briefly
    /// after the last bit while the power amplifier ramps down. A transmitter clock error is a
    /// `symbolRateHz` that is not exact.
    /// `delaySamples` (0 ≤ d < 1) starts the first symbol that far after sample 0, so packets can
    /// begin between samples as real ones do.
    public func modulate(bits: [UInt8], sampleRateHz: Double, offsetHz: Double = 0, phase: Double = 0,
                         tailSymbols: Int = 2, delaySamples: Double = 0) -> [IQSample] {
        let count = Int((Double(bits.count + tailSymbols) / symbolRateHz * sampleRateHz).rounded())
        let deviationHz = modulationIndex * symbolRateHz / 2
        let span = 3  // the Gaussian pulse is negligible beyond ±2.5 symbols at BT 0.5
        var out = [IQSample](repeating: .zero, count: count)
        var theta = phase
        for n in 0..<count {
            // The phase step from sample n to n + 1 takes the frequency halfway between them.
            let tSymbols = (Double(n) + 0.5 - delaySamples) / sampleRateHz * symbolRateHz
            let centre = Int(tSymbols.rounded(.down))
            var shape = 0.0
            for k in (centre - span)...(centre + span) where k >= 0 && k < bits.count {
                shape += (bits[k] != 0 ? 1 : -1) * pulse(tSymbols - Double(k) - 0.5)
            }
            out[n] = IQSample(i: Float(cos(theta)), q: Float(sin(theta)))
            theta += 2 * Double.pi * (offsetHz + deviationHz * shape) / sampleRateHz
            theta = remainder(theta, 2 * Double.pi)
        }
        return out
    }

    /// Bits of `bytes` in transmission order, least significant bit first.
    public static func bitsLSBFirst(_ bytes: [UInt8]) -> [UInt8] {
        bytes.flatMap { byte in (0..<8).map { byte >> $0 & 1 } }
    }
}
