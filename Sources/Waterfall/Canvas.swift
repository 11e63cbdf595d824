/// A mutable RGB pixel buffer with clipped drawing primitives. Every primitive ignores pixels
/// outside the canvas (and outside `clip` where given), so callers never need to bounds-check.
struct Canvas {
    let width: Int
    let height: Int
    var pixels: [UInt8]

    init(width: Int, height: Int, background: RGBColor) {
        self.width = max(0, width)
        self.height = max(0, height)
        var p = [UInt8](repeating: 0, count: self.width * self.height * 3)
        p.withUnsafeMutableBufferPointer { buf in
            var i = 0
            while i < buf.count {
                buf[i] = background.r
                buf[i + 1] = background.g
                buf[i + 2] = background.b
                i += 3
            }
        }
        pixels = p
    }

    var bounds: PixelRect { PixelRect(x: 0, y: 0, width: width, height: height) }

    func image() -> RGBImage { RGBImage(width: width, height: height, pixels: pixels) }

    /// Fills `rect` (clipped to the canvas and to `clip`).
    mutating func fill(_ rect: PixelRect, _ color: RGBColor, clip: PixelRect? = nil) {
        var r = rect.intersection(bounds)
        if let clip { r = r.intersection(clip) }
        guard !r.isEmpty else { return }
        let w = width
        pixels.withUnsafeMutableBufferPointer { buf in
            for y in r.y..<r.maxY {
                var i = (y * w + r.x) * 3
                for _ in 0..<r.width {
                    buf[i] = color.r
                    buf[i + 1] = color.g
                    buf[i + 2] = color.b
                    i += 3
                }
            }
        }
    }

    /// A rectangular outline `thickness` pixels wide drawn just outside `inner`.
    mutating func frame(around inner: PixelRect, thickness: Int, _ color: RGBColor, clip: PixelRect? = nil) {
        let t = max(1, thickness)
        let outer = PixelRect(x: inner.x - t, y: inner.y - t, width: inner.width + 2 * t, height: inner.height + 2 * t)
        fill(PixelRect(x: outer.x, y: outer.y, width: outer.width, height: t), color, clip: clip)
        fill(PixelRect(x: outer.x, y: inner.maxY, width: outer.width, height: t), color, clip: clip)
        fill(PixelRect(x: outer.x, y: inner.y, width: t, height: inner.height), color, clip: clip)
        fill(PixelRect(x: inner.maxX, y: inner.y, width: t, height: inner.height), color, clip: clip)
    }

    /// Draws `text` with its top-left corner at (x, y); glyph pixels become `scale`×`scale` blocks.
    mutating func drawText(_ text: String, x: Int, y: Int, scale: Int, _ color: RGBColor, clip: PixelRect? = nil) {
        let s = max(1, scale)
        var penX = x
        for scalar in text.unicodeScalars {
            let rows = BitmapFont.rows(for: scalar)
            for (r, bits) in rows.enumerated() where bits != 0 {
                for c in 0..<BitmapFont.glyphWidth where bits & (0x10 >> UInt8(c)) != 0 {
                    fill(PixelRect(x: penX + c * s, y: y + r * s, width: s, height: s), color, clip: clip)
                }
            }
            penX += BitmapFont.advance * s
        }
    }

    /// Draws `text` rotated 90° counter-clockwise (reading bottom to top). (x, y) is the top-left
    /// corner of the rotated text's bounding box, which is `lineHeight*scale` wide and
    /// `width(of:)` tall.
    mutating func drawTextRotatedCCW(_ text: String, x: Int, y: Int, scale: Int, _ color: RGBColor) {
        let s = max(1, scale)
        let total = BitmapFont.width(of: text, scale: s)
        // Unrotated pixel (u, v) maps to (x + v, y + total - 1 - u).
        var penU = 0
        for scalar in text.unicodeScalars {
            let rows = BitmapFont.rows(for: scalar)
            for (r, bits) in rows.enumerated() where bits != 0 {
                for c in 0..<BitmapFont.glyphWidth where bits & (0x10 >> UInt8(c)) != 0 {
                    let u = penU + c * s
                    let v = r * s
                    fill(PixelRect(x: x + v, y: y + total - u - s, width: s, height: s), color)
                }
            }
            penU += BitmapFont.advance * s
        }
    }
}
