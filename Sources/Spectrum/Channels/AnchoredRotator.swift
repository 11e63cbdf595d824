import Foundation

/// The mixer phasor e^{−j·2π·step·n/2³²} for absolute sample index n, recomputed exactly every
/// 1024 samples and rotated in Float in between, so a sample gets the same phasor whatever block
/// it arrives in (chunk-invariant mixing) and the rounding drift stays bounded.
public struct AnchoredRotator: Sendable {
    public static let anchorSpacing: Int64 = 1024
    /// Cycles per sample × 2³².
    public let phaseStep: UInt32
    @usableFromInline let stepI: Float
    @usableFromInline let stepQ: Float

    public init(phaseStep: UInt32) {
        self.phaseStep = phaseStep
        let angle = -2 * Double.pi * Double(phaseStep) / 4_294_967_296.0
        stepI = Float(cos(angle))
        stepQ = Float(sin(angle))
    }

    /// Calls `body(k, phasorI, phasorQ)` for k in 0..<count, the samples at absolute indices
    /// `first + k`, in order.
    @inlinable
    public func forEach(first: Int64, count: Int, _ body: (Int, Float, Float) -> Void) {
        let spacing = Self.anchorSpacing
        var k = 0
        while k < count {
            let index = first + Int64(k)
            let into = Int(((index % spacing) + spacing) % spacing)
            let end = min(count, k + Int(spacing) - into)
            let anchor = UInt32(truncatingIfNeeded: index - Int64(into)) &* phaseStep
            let angle = -2 * Double.pi * Double(anchor) / 4_294_967_296.0
            var ri = Float(cos(angle)), rq = Float(sin(angle))
            for _ in 0..<into {
                let ni = ri * stepI - rq * stepQ
                rq = ri * stepQ + rq * stepI
                ri = ni
            }
            for n in k..<end {
                body(n, ri, rq)
                let ni = ri * stepI - rq * stepQ
                rq = ri * stepQ + rq * stepI
                ri = ni
            }
            k = end
        }
    }
}
