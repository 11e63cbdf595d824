/// An 8-bit RGB colour.
public struct RGBColor: Sendable, Hashable, CustomStringConvertible {
    public var r: UInt8
    public var g: UInt8
    public var b: UInt8

    public init(r: UInt8, g: UInt8, b: UInt8) {
        self.r = r
        self.g = g
        self.b = b
    }

    /// Relative luminance in 0...255 (Rec. 709 weights), for "dark" / "bright" checks.
    public var luminance: Double {
        0.2126 * Double(r) + 0.7152 * Double(g) + 0.0722 * Double(b)
    }

    public var description: String { "rgb(\(r), \(g), \(b))" }
}

/// A rectangle of pixels: columns `x ..< x + width`, rows `y ..< y + height`.
public struct PixelRect: Sendable, Hashable, CustomStringConvertible {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    /// One past the last column.
    public var maxX: Int { x + width }
    /// One past the last row.
    public var maxY: Int { y + height }
    public var midX: Int { x + width / 2 }
    public var midY: Int { y + height / 2 }
    public var isEmpty: Bool { width <= 0 || height <= 0 }

    public func contains(x px: Int, y py: Int) -> Bool {
        px >= x && px < maxX && py >= y && py < maxY
    }

    /// The overlap of two rectangles (empty rectangles have zero width or height).
    public func intersection(_ other: PixelRect) -> PixelRect {
        let x0 = max(x, other.x)
        let y0 = max(y, other.y)
        let x1 = min(maxX, other.maxX)
        let y1 = min(maxY, other.maxY)
        return PixelRect(x: x0, y: y0, width: max(0, x1 - x0), height: max(0, y1 - y0))
    }

    public var description: String { "(\(x), \(y)) \(width)×\(height)" }
}

/// An RGB raster: `pixels` holds `width * height * 3` bytes, row by row from the top, R G B per pixel.
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let pixels: [UInt8]

    init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0 && pixels.count == width * height * 3)
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// The colour at column `x`, row `y` (row 0 is the top). Out-of-range coordinates give black.
    public subscript(x: Int, y: Int) -> RGBColor {
        guard x >= 0, y >= 0, x < width, y < height else { return RGBColor(r: 0, g: 0, b: 0) }
        let i = (y * width + x) * 3
        return RGBColor(r: pixels[i], g: pixels[i + 1], b: pixels[i + 2])
    }

    /// Number of pixels inside `rect` (clipped to the image) for which `predicate` holds.
    public func count(in rect: PixelRect, where predicate: (RGBColor) -> Bool) -> Int {
        let r = rect.intersection(PixelRect(x: 0, y: 0, width: width, height: height))
        var n = 0
        for y in r.y..<r.maxY {
            for x in r.x..<r.maxX where predicate(self[x, y]) {
                n += 1
            }
        }
        return n
    }
}
