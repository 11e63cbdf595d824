#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A rectangle in time and frequency (for example a detected burst) drawn as an outline.
public struct WaterfallBox: Sendable, Equatable {
    /// Start and end time in seconds, on the same clock as `WaterfallImage.startS`.
    public var startS: Double
    public var endS: Double
    /// Lower and upper edge in Hz (absolute RF, like `WaterfallImage.lowHz`).
    public var lowHz: Double
    public var highHz: Double
    /// Optional text drawn just above the outline when it fits inside the plot.
    public var label: String?

    public init(startS: Double, endS: Double, lowHz: Double, highHz: Double, label: String? = nil) {
        self.startS = startS
        self.endS = endS
        self.lowHz = lowHz
        self.highHz = highHz
        self.label = label
    }
}

/// A spectrogram rendered as a readable image: time downwards (labels in ms, or in s past
/// 100 s), frequency across (labels in MHz), a dB colour bar on the right, a title on top and
/// burst outlines.
///
/// Rendering never traps: empty input, NaN or infinite values, mismatched sizes, degenerate
/// axes and boxes outside the data all give an image (at worst an empty plot with axes).
public struct WaterfallImage: Sendable {
    /// Row-major power in dB: `rows` rows of `columns` values. Shorter arrays leave the
    /// missing rows empty; extra values are ignored.
    public let powerDB: [Float]
    /// Number of time rows (row 0 = earliest).
    public let rows: Int
    /// Number of frequency bins per row, lowest frequency first.
    public let columns: Int
    /// Time of the top edge of row 0, in seconds.
    public var startS: Double
    /// Time covered by all rows, in seconds.
    public var durationS: Double
    /// Frequency of the left edge of bin 0 and of the right edge of the last bin, in Hz.
    public var lowHz: Double
    public var highHz: Double
    /// Outlines drawn over the data.
    public var boxes: [WaterfallBox] = []
    /// Text drawn above the plot (e.g. file name, sample rate, centre frequency).
    public var title: String?
    /// Colour scale limits in dB; nil = automatic, from the 5th percentile to the maximum of
    /// the finite values.
    public var dbRange: ClosedRange<Float>?

    /// Plot width in pixels is `columns` clamped to this range (data is resampled to fit).
    public static let plotWidthRange = 512...1200
    /// Plot height in pixels is `rows` clamped to this range.
    public static let plotHeightRange = 256...900
    /// Outline colour of boxes (spring green: absent from the colour map).
    public static let boxColor = RGBColor(r: 0, g: 255, b: 110)
    /// Page colour around the plot.
    public static let backgroundColor = RGBColor(r: 255, g: 255, b: 255)
    /// Colour of text, frame and ticks.
    public static let inkColor = RGBColor(r: 25, g: 25, b: 30)

    /// - Parameters:
    ///   - powerDB: `rows * columns` values in dB, row-major (row 0 = earliest, bins low→high).
    ///     NaN and -inf are drawn with the lowest colour.
    ///   - startS: time of the start of row 0 in seconds; `durationS`: time covered by all rows.
    ///   - lowHz, highHz: absolute RF frequency of the left and right edges of the bins.
    public init(
        powerDB: [Float], rows: Int, columns: Int,
        startS: Double, durationS: Double, lowHz: Double, highHz: Double
    ) {
        // Sizes the renderer can index safely: non-negative, product representable.
        var r = max(0, rows)
        var c = max(0, columns)
        let limit = 1 << 40
        if r > limit || c > limit || r.multipliedReportingOverflow(by: c).overflow {
            r = 0
            c = 0
        }
        self.powerDB = powerDB
        self.rows = r
        self.columns = c
        self.startS = startS
        self.durationS = durationS
        self.lowHz = lowHz
        self.highHz = highHz
    }

    /// Rows for which `powerDB` actually holds data.
    var rowsWithData: Int {
        columns > 0 ? min(rows, powerDB.count / columns) : 0
    }

    /// Renders and writes the figure as an 8-bit RGB PNG file; see `RGBImage.writePNG(to:)`.
    public func writePNG(to path: String) throws(WaterfallError) {
        try render().writePNG(to: path)
    }
}

/// Where everything goes in the rendered image, and the mapping from time, frequency and dB
/// to pixels. Obtain it with `WaterfallImage.layout()`; `render()` uses the same layout.
public struct WaterfallLayout: Sendable {
    /// Size of the whole image.
    public let width: Int
    public let height: Int
    /// The data area (the frame is drawn one pixel outside it).
    public let plot: PixelRect
    /// The colour bar (bottom = low dB, top = high dB).
    public let colorBar: PixelRect
    /// The colour scale actually used (automatic or from `dbRange`, widened if degenerate).
    public let dbRange: ClosedRange<Float>
    /// "ms", or "s" when times reach 100 s.
    public let timeUnit: String

    let dbLo: Double
    let dbHi: Double
    let startS: Double
    let durationS: Double
    let lowHz: Double
    let highHz: Double
    let timeTicks: [Tick]      // values in timeUnit
    let freqTicks: [Tick]      // values in MHz
    let dbTicks: [Tick]        // values in dB
    let title: String?
    let titleScale: Int
    let titleOrigin: (x: Int, y: Int)

    var timeAxisValid: Bool {
        startS.isFinite && durationS.isFinite && durationS > 0 && (startS + durationS).isFinite
    }

    var freqAxisValid: Bool {
        lowHz.isFinite && highHz.isFinite && (highHz - lowHz).isFinite && highHz != lowHz
    }

    /// Horizontal pixel coordinate (continuous; `plot.x` is the left edge of the first bin)
    /// of a frequency, or nil when the frequency axis or the value is not usable.
    public func x(forHz hz: Double) -> Double? {
        guard freqAxisValid, hz.isFinite else { return nil }
        let x = Double(plot.x) + (hz - lowHz) / (highHz - lowHz) * Double(plot.width)
        return x.isFinite ? x : nil
    }

    /// Vertical pixel coordinate (continuous; `plot.y` is the top edge of row 0) of a time in
    /// seconds, or nil when the time axis or the value is not usable.
    public func y(forSeconds s: Double) -> Double? {
        guard timeAxisValid, s.isFinite else { return nil }
        let y = Double(plot.y) + (s - startS) / durationS * Double(plot.height)
        return y.isFinite ? y : nil
    }

    /// Vertical pixel coordinate of a dB value on the colour bar.
    public func colorBarY(forDB db: Double) -> Double {
        let f = (db - dbLo) / (dbHi - dbLo)
        return Double(colorBar.y) + (1 - f) * Double(colorBar.height)
    }

    /// Pixels covered by `box` in the plot, widened to at least 3×3 around its centre so short
    /// or narrow bursts stay visible. The 2-pixel outline is drawn just outside this rectangle
    /// (so the data inside stays visible), clipped to the plot. Nil when the box has
    /// non-finite edges, an axis is degenerate, or the box lies entirely outside the plot.
    public func boxRect(for box: WaterfallBox) -> PixelRect? {
        guard let xa = x(forHz: box.lowHz), let xb = x(forHz: box.highHz),
              let ya = y(forSeconds: box.startS), let yb = y(forSeconds: box.endS)
        else { return nil }
        let (x0, x1) = Self.span(xa, xb)
        let (y0, y1) = Self.span(ya, yb)
        let r = PixelRect(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
        return r.intersection(plot).isEmpty ? nil : r
    }

    /// Integer pixel interval [lo, hi) covering [a, b], at least 3 pixels, coordinates kept
    /// well inside Int range.
    static func span(_ a: Double, _ b: Double) -> (Int, Int) {
        let lo = clampToInt(min(a, b).rounded(.down))
        var hi = clampToInt(max(a, b).rounded(.up))
        if hi - lo < 3 {
            let centre = (min(a, b) + max(a, b)) / 2
            let start = clampToInt((centre - 1.5).rounded(.down))
            hi = start + 3
            return (start, hi)
        }
        return (lo, hi)
    }
}

/// Converts a pixel coordinate to Int without trapping (NaN → 0, huge → ±10^7).
@inline(__always)
func clampToInt(_ v: Double) -> Int {
    guard v == v else { return 0 }
    return Int(min(1e7, max(-1e7, v)))
}

// MARK: - Layout

extension WaterfallImage {
    // Layout constants (pixels). Text is drawn at scale 2: capitals 14 px, advance 12 px.
    static let textScale = 2
    static let pad = 14
    static let tickLength = 6
    static let labelGap = 6
    static let colorBarGap = 26
    static let colorBarWidth = 20
    static let titleRowY = 12

    /// Computes the image size, plot placement, ticks and colour scale without drawing.
    public func layout() -> WaterfallLayout {
        let s = Self.textScale
        let capH = BitmapFont.capHeight * s
        let lineH = BitmapFont.lineHeight * s
        let plotW = min(Self.plotWidthRange.upperBound, max(Self.plotWidthRange.lowerBound, columns))
        let plotH = min(Self.plotHeightRange.upperBound, max(Self.plotHeightRange.lowerBound, rows))
        let (dbLo, dbHi) = effectiveDBRange()

        // Time ticks (ms, or s when times reach 100 s).
        var timeUnit = "ms"
        var timeTicks: [Tick] = []
        let endS = startS + durationS
        if startS.isFinite, durationS.isFinite, durationS > 0, endS.isFinite {
            let seconds = max(abs(startS), abs(endS)) >= 100
            timeUnit = seconds ? "s" : "ms"
            let k = seconds ? 1.0 : 1000.0
            let lo = startS * k
            let hi = endS * k
            let pxPerUnit = Double(plotH) / (hi - lo)
            let unit = timeUnit
            timeTicks = NiceTicks.choose(
                lo: lo, hi: hi,
                label: { v, step in formatFixed(v, decimals: NiceTicks.decimalsFor(step: step)) + " " + unit },
                fits: { step, _ in step * pxPerUnit >= 36 })
        }

        // Frequency ticks in MHz; one decimal at least for steps under 10 MHz ("915.0").
        var freqTicks: [Tick] = []
        if lowHz.isFinite, highHz.isFinite, (highHz - lowHz).isFinite, highHz != lowHz {
            let lo = min(lowHz, highHz) / 1e6
            let hi = max(lowHz, highHz) / 1e6
            let pxPerUnit = Double(plotW) / (hi - lo)
            freqTicks = NiceTicks.choose(
                lo: lo, hi: hi,
                label: { v, step in
                    let d = NiceTicks.decimalsFor(step: step)
                    return formatFixed(v, decimals: step < 10 ? max(1, d) : d)
                },
                fits: { step, ticks in
                    let widest = ticks.map { BitmapFont.width(of: $0.label, scale: s) }.max() ?? 0
                    return step * pxPerUnit >= Double(widest + 24) && widest < plotW
                })
        }

        // Colour bar ticks in dB.
        let dbPxPerUnit = Double(plotH) / (dbHi - dbLo)
        let dbTicks = NiceTicks.choose(
            lo: dbLo, hi: dbHi,
            label: { v, step in formatFixed(v, decimals: NiceTicks.decimalsFor(step: step)) },
            fits: { step, _ in step * dbPxPerUnit >= 30 })

        // Margins from the label sizes.
        let widestTime = timeTicks.map { BitmapFont.width(of: $0.label, scale: s) }.max() ?? 0
        let axisTitleW = lineH  // rotated "Time"
        let left = Self.pad + axisTitleW + 10 + max(widestTime, 4 * 6 * s) + Self.labelGap + Self.tickLength + 1
        let top = Self.titleRowY + lineH + 14
        let bottom = 1 + Self.tickLength + Self.labelGap + capH + 12 + lineH + 10
        let widestDB = max(dbTicks.map { BitmapFont.width(of: $0.label, scale: s) }.max() ?? 0,
                           BitmapFont.width(of: "dB", scale: s))
        var right = Self.colorBarGap + Self.colorBarWidth + 1 + 5 + Self.labelGap + widestDB + Self.pad
        if let last = freqTicks.last {
            right = max(right, BitmapFont.width(of: last.label, scale: s) / 2 + Self.pad)
        }

        let plot = PixelRect(x: left, y: top, width: plotW, height: plotH)
        let colorBar = PixelRect(x: plot.maxX + Self.colorBarGap, y: top, width: Self.colorBarWidth, height: plotH)
        let width = plot.maxX + right
        let height = plot.maxY + bottom

        // Title: centred over the plot, kept left of the "dB" caption; smaller or cut if long.
        var titleText: String? = nil
        var titleScale = s
        var titleOrigin = (x: 0, y: Self.titleRowY)
        if let raw = title, !raw.isEmpty {
            let clean = String(String.UnicodeScalarView(raw.unicodeScalars.map {
                $0.value < 32 || $0.value == 127 ? " " : $0
            }))
            let dbCaptionX = colorBar.midX - BitmapFont.width(of: "dB", scale: s) / 2
            let minX = Self.pad
            let maxX = dbCaptionX - 16
            let room = maxX - minX
            var text = clean
            if BitmapFont.width(of: text, scale: s) > room {
                titleScale = 1
                if BitmapFont.width(of: text, scale: 1) > room {
                    let keep = max(0, (room + 1) / BitmapFont.advance - 3)
                    text = String(String.UnicodeScalarView(text.unicodeScalars.prefix(keep))) + "..."
                }
            }
            let w = BitmapFont.width(of: text, scale: titleScale)
            var x = plot.midX - w / 2
            x = max(minX, min(x, maxX - w))
            let y = Self.titleRowY + (titleScale == s ? 0 : (capH - BitmapFont.capHeight) / 2)
            titleText = text
            titleOrigin = (x, y)
        }

        return WaterfallLayout(
            width: width, height: height, plot: plot, colorBar: colorBar,
            dbRange: Float(dbLo)...Float(dbHi), timeUnit: timeUnit,
            dbLo: dbLo, dbHi: dbHi,
            startS: startS, durationS: durationS, lowHz: lowHz, highHz: highHz,
            timeTicks: timeTicks, freqTicks: freqTicks, dbTicks: dbTicks,
            title: titleText, titleScale: titleScale, titleOrigin: titleOrigin)
    }

    /// The colour scale limits: `dbRange` if finite, otherwise 5th percentile ... maximum of the
    /// finite data; ranges narrower than 0.01 dB are widened to ±5 dB around their middle.
    func effectiveDBRange() -> (Double, Double) {
        var lo: Double
        var hi: Double
        if let r = dbRange, r.lowerBound.isFinite, r.upperBound.isFinite {
            lo = Double(r.lowerBound)
            hi = Double(r.upperBound)
        } else {
            (lo, hi) = automaticRange()
        }
        if !(hi - lo >= 0.01) {
            let mid = lo / 2 + hi / 2
            lo = mid - 5
            hi = mid + 5
        }
        return (lo, hi)
    }

    /// 5th percentile (from a 4096-bin histogram, so O(n)) and maximum of the finite values;
    /// -100 ... 0 dB when there are none.
    func automaticRange() -> (Double, Double) {
        let n = rowsWithData * columns
        guard n > 0 else { return (-100, 0) }
        return powerDB.withUnsafeBufferPointer { all -> (Double, Double) in
            let data = UnsafeBufferPointer(rebasing: all[0..<n])
            var mn = Float.infinity
            var mx = -Float.infinity
            var finite = 0
            for v in data where v.isFinite {
                if v < mn { mn = v }
                if v > mx { mx = v }
                finite += 1
            }
            guard finite > 0 else { return (-100, 0) }
            let lo = Double(mn)
            let hi = Double(mx)
            guard hi > lo else { return (lo, hi) }
            let bins = 4096
            let k = Double(bins) / (hi - lo)
            var histogram = [Int](repeating: 0, count: bins)
            histogram.withUnsafeMutableBufferPointer { h in
                for v in data where v.isFinite {
                    let b = Int((Double(v) - lo) * k)
                    h[min(bins - 1, max(0, b))] += 1
                }
            }
            let target = Int((Double(finite) * 0.05).rounded(.up))
            var cumulative = 0
            for b in 0..<bins {
                cumulative += histogram[b]
                if cumulative >= target {
                    return (lo + Double(b) / k, hi)
                }
            }
            return (lo, hi)
        }
    }
}
