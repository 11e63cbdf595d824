extension WaterfallImage {
    /// Renders the whole figure to RGB pixels (the same pixels `writePNG` encodes).
    public func render() -> RGBImage {
        let layout = layout()
        var canvas = Canvas(width: layout.width, height: layout.height, background: Self.backgroundColor)
        drawData(into: &canvas, layout: layout)
        drawColorBar(into: &canvas, layout: layout)
        drawAxes(into: &canvas, layout: layout)
        drawBoxes(into: &canvas, layout: layout)
        if let title = layout.title {
            canvas.drawText(title, x: layout.titleOrigin.x, y: layout.titleOrigin.y,
                            scale: layout.titleScale, Self.inkColor)
        }
        return canvas.image()
    }

    /// Source index ranges for each output pixel along one axis. Enlarging picks the nearest
    /// source cell; shrinking covers every source cell exactly once (the caller takes the max,
    /// so a one-bin burst survives a 4:1 reduction).
    static func resampleRanges(source: Int, pixels: Int) -> (start: [Int], end: [Int]) {
        var start = [Int](repeating: 0, count: pixels)
        var end = [Int](repeating: 0, count: pixels)
        guard source > 0, pixels > 0 else { return (start, end) }
        if source <= pixels {
            for p in 0..<pixels {
                let i = min(source - 1, ((2 * p + 1) * source) / (2 * pixels))
                start[p] = i
                end[p] = i + 1
            }
        } else {
            for p in 0..<pixels {
                start[p] = (p * source) / pixels
                end[p] = ((p + 1) * source) / pixels
            }
        }
        return (start, end)
    }

    /// Fills the plot area: max-combined data cells mapped through the colour map. Rows
    /// without data (or an empty input) get the lowest colour.
    func drawData(into canvas: inout Canvas, layout: WaterfallLayout) {
        let plot = layout.plot
        let cols = columns
        let dataRows = rowsWithData
        let colMap = Self.resampleRanges(source: cols, pixels: plot.width)
        let rowMap = Self.resampleRanges(source: rows, pixels: plot.height)
        var lut = [UInt8](repeating: 0, count: 256 * 3)
        for (i, c) in WaterfallColormap.table.enumerated() {
            lut[3 * i] = c.r
            lut[3 * i + 1] = c.g
            lut[3 * i + 2] = c.b
        }
        let lo = layout.dbLo
        let scale = 1 / (layout.dbHi - layout.dbLo)
        var line = [Float](repeating: -.infinity, count: plot.width)
        let imageWidth = canvas.width

        powerDB.withUnsafeBufferPointer { data in
        canvas.pixels.withUnsafeMutableBufferPointer { px in
        line.withUnsafeMutableBufferPointer { line in
        lut.withUnsafeBufferPointer { lut in
            for y in 0..<plot.height {
                for x in 0..<plot.width { line[x] = -.infinity }
                let r1 = min(rowMap.end[y], dataRows)
                var r = rowMap.start[y]
                while r < r1 {
                    let base = r * cols
                    for x in 0..<plot.width {
                        var m = line[x]
                        var b = colMap.start[x]
                        let b1 = colMap.end[x]
                        while b < b1 {
                            let v = data[base + b]
                            if v > m { m = v }      // NaN never wins
                            b += 1
                        }
                        line[x] = m
                    }
                    r += 1
                }
                var o = ((plot.y + y) * imageWidth + plot.x) * 3
                for x in 0..<plot.width {
                    let i = 3 * WaterfallColormap.index((Double(line[x]) - lo) * scale)
                    px[o] = lut[i]
                    px[o + 1] = lut[i + 1]
                    px[o + 2] = lut[i + 2]
                    o += 3
                }
            }
        }
        }
        }
        }
    }

    func drawColorBar(into canvas: inout Canvas, layout: WaterfallLayout) {
        let bar = layout.colorBar
        for y in 0..<bar.height {
            let position = 1 - (Double(y) + 0.5) / Double(bar.height)
            canvas.fill(PixelRect(x: bar.x, y: bar.y + y, width: bar.width, height: 1),
                        WaterfallColormap.color(at: position))
        }
        canvas.frame(around: bar, thickness: 1, Self.inkColor)
        let s = Self.textScale
        let capH = BitmapFont.capHeight * s
        for tick in layout.dbTicks {
            let ty = min(bar.maxY, max(bar.y - 1, clampToInt(layout.colorBarY(forDB: tick.value).rounded(.down))))
            canvas.fill(PixelRect(x: bar.maxX + 1, y: ty, width: 5, height: 1), Self.inkColor)
            canvas.drawText(tick.label, x: bar.maxX + 1 + 5 + Self.labelGap, y: ty - capH / 2,
                            scale: s, Self.inkColor)
        }
        let captionW = BitmapFont.width(of: "dB", scale: s)
        canvas.drawText("dB", x: bar.midX - captionW / 2, y: Self.titleRowY, scale: s, Self.inkColor)
    }

    func drawAxes(into canvas: inout Canvas, layout: WaterfallLayout) {
        let plot = layout.plot
        let ink = Self.inkColor
        let s = Self.textScale
        let capH = BitmapFont.capHeight * s
        canvas.frame(around: plot, thickness: 1, ink)

        // Time axis (left): ticks, labels right-aligned, rotated caption.
        let timeFactor = layout.timeUnit == "s" ? 1.0 : 1000.0
        for tick in layout.timeTicks {
            guard let yd = layout.y(forSeconds: tick.value / timeFactor) else { continue }
            let ty = min(plot.maxY, max(plot.y - 1, clampToInt(yd.rounded(.down))))
            canvas.fill(PixelRect(x: plot.x - 1 - Self.tickLength, y: ty, width: Self.tickLength, height: 1), ink)
            let w = BitmapFont.width(of: tick.label, scale: s)
            canvas.drawText(tick.label, x: plot.x - 1 - Self.tickLength - Self.labelGap - w,
                            y: ty - capH / 2, scale: s, ink)
        }
        let caption = "Time"
        let captionLen = BitmapFont.width(of: caption, scale: s)
        canvas.drawTextRotatedCCW(caption, x: Self.pad, y: plot.midY - captionLen / 2, scale: s, ink)

        // Frequency axis (bottom): ticks, centred labels, caption.
        for tick in layout.freqTicks {
            guard let xd = layout.x(forHz: tick.value * 1e6) else { continue }
            let tx = min(plot.maxX, max(plot.x - 1, clampToInt(xd.rounded(.down))))
            canvas.fill(PixelRect(x: tx, y: plot.maxY + 1, width: 1, height: Self.tickLength), ink)
            let w = BitmapFont.width(of: tick.label, scale: s)
            canvas.drawText(tick.label, x: tx - w / 2, y: plot.maxY + 1 + Self.tickLength + Self.labelGap,
                            scale: s, ink)
        }
        let freqCaption = "Frequency (MHz)"
        let fw = BitmapFont.width(of: freqCaption, scale: s)
        let captionY = plot.maxY + 1 + Self.tickLength + Self.labelGap + capH + 12
        canvas.drawText(freqCaption, x: plot.midX - fw / 2, y: captionY, scale: s, ink)
    }

    func drawBoxes(into canvas: inout Canvas, layout: WaterfallLayout) {
        let plot = layout.plot
        let color = Self.boxColor
        // Outlines first, then labels, so no outline cuts through a label.
        var placed: [(PixelRect, String)] = []
        for box in boxes {
            guard let r = layout.boxRect(for: box) else { continue }
            canvas.frame(around: r, thickness: 2, color, clip: plot)
            if let label = box.label, !label.isEmpty {
                placed.append((r, label))
            }
        }
        let labelBackground = RGBColor(r: 0, g: 0, b: 0)
        for (r, label) in placed {
            let textW = BitmapFont.width(of: label, scale: 1)
            let textH = BitmapFont.lineHeight
            let tag = PixelRect(x: 0, y: 0, width: textW + 4, height: textH + 2)
            guard tag.width <= plot.width else { continue }
            var x = r.x - 2
            x = max(plot.x, min(x, plot.maxX - tag.width))
            var y = r.y - 2 - 1 - tag.height          // just above the outline
            if y < plot.y {
                y = r.maxY + 2 + 1                    // else just below it
                if y + tag.height > plot.maxY { continue }
            }
            canvas.fill(PixelRect(x: x, y: y, width: tag.width, height: tag.height), labelBackground, clip: plot)
            canvas.drawText(label, x: x + 2, y: y + 1, scale: 1, color, clip: plot)
        }
    }
}
