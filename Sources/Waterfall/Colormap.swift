/// The waterfall colour map: 256 colours from black (lowest dB) through dark blue, purple,
/// crimson, orange and yellow to white (highest dB). Luminance rises monotonically, so the
/// map also reads correctly in grey scale. It contains no green, so green outlines stand out.
public enum WaterfallColormap {
    /// Control points (position 0...1, colour), interpolated linearly in RGB.
    static let stops: [(Double, RGBColor)] = [
        (0.00, RGBColor(r: 0, g: 0, b: 0)),
        (0.10, RGBColor(r: 14, g: 10, b: 82)),
        (0.28, RGBColor(r: 80, g: 20, b: 145)),
        (0.46, RGBColor(r: 178, g: 42, b: 115)),
        (0.64, RGBColor(r: 238, g: 100, b: 42)),
        (0.80, RGBColor(r: 252, g: 185, b: 40)),
        (0.92, RGBColor(r: 252, g: 240, b: 120)),
        (1.00, RGBColor(r: 255, g: 255, b: 255)),
    ]

    /// 256 entries; index 0 = lowest value, 255 = highest.
    public static let table: [RGBColor] = (0..<256).map { i in
        let t = Double(i) / 255
        var k = 0
        while k < stops.count - 2 && t > stops[k + 1].0 { k += 1 }
        let (t0, c0) = stops[k]
        let (t1, c1) = stops[k + 1]
        let f = min(1, max(0, (t - t0) / (t1 - t0)))
        func mix(_ a: UInt8, _ b: UInt8) -> UInt8 {
            UInt8((Double(a) + (Double(b) - Double(a)) * f).rounded())
        }
        return RGBColor(r: mix(c0.r, c1.r), g: mix(c0.g, c1.g), b: mix(c0.b, c1.b))
    }

    /// The colour for a position in 0...1 (clamped; NaN gives the lowest colour).
    public static func color(at position: Double) -> RGBColor {
        table[index(position)]
    }

    @inline(__always)
    static func index(_ position: Double) -> Int {
        let t = position * 256
        if !(t > 0) { return 0 }          // also catches NaN
        if t >= 255 { return 255 }
        return Int(t)
    }
}
