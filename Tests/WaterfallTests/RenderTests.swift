import Testing
import Waterfall

@Suite struct RenderTests {
    @Test(arguments: [
        (0, 0, 512, 256),
        (100, 100, 512, 256),
        (600, 700, 700, 600),
        (1000, 1024, 1024, 900),
        (5000, 3000, 1200, 900),
    ])
    func plotSizeIsClampedAndImageStaysBounded(rows: Int, columns: Int, plotWidth: Int, plotHeight: Int) {
        let scene = Scene(rows: rows, columns: columns)
        let image = scene.image
        let layout = image.layout()
        #expect(layout.plot.width == plotWidth)
        #expect(layout.plot.height == plotHeight)
        let rendered = image.render()
        #expect(rendered.width == layout.width && rendered.height == layout.height)
        #expect(rendered.pixels.count == rendered.width * rendered.height * 3)
        // Margins are modest: the figure is never much larger than the plot.
        #expect(rendered.width > plotWidth && rendered.width <= plotWidth + 400)
        #expect(rendered.height > plotHeight && rendered.height <= plotHeight + 200)
        #expect(layout.plot.maxX < layout.colorBar.x)
        #expect(layout.colorBar.maxX < rendered.width)
    }

    @Test func hotCellsAreBrightAndNoiseIsDark() {
        var scene = Scene(rows: 200, columns: 800)
        scene.fill(rows: 50..<80, columns: 300..<400, db: -20)
        let image = scene.image
        let layout = image.layout()
        // Automatic range: about the 5th percentile of the noise up to the maximum.
        #expect(layout.dbRange.upperBound == -20)
        #expect(layout.dbRange.lowerBound > -64 && layout.dbRange.lowerBound < -58)

        let rendered = image.render()
        let x = Int(layout.x(forHz: scene.hz(column: 350))!)
        let y = Int(layout.y(forSeconds: scene.seconds(row: 65))!)
        #expect(rendered[x, y].luminance > 230)
        let qx = Int(layout.x(forHz: scene.hz(column: 600))!)
        let qy = Int(layout.y(forSeconds: scene.seconds(row: 150))!)
        #expect(rendered[qx, qy].luminance < 60)
        // The hot block's edges land where the axes say they should (within a pixel).
        let left = layout.x(forHz: scene.hz(column: 300))!
        #expect(rendered[Int(left.rounded(.down)) + 1, y].luminance > 230)
        #expect(rendered[Int(left.rounded(.down)) - 2, y].luminance < 60)
    }

    @Test func boxOutlineIsDrawnAroundTheBurst() {
        var scene = Scene(rows: 300, columns: 1000)
        scene.fill(rows: 100..<150, columns: 400..<500, db: -20)
        var image = scene.image
        image.boxes = [scene.box(rows: 100..<150, columns: 400..<500, label: "burst")]
        let layout = image.layout()
        let rendered = image.render()

        // Expected pixel rectangle, computed from the plot geometry independently.
        let plot = layout.plot
        let x0 = Int((Double(plot.x) + 400.0 / 1000 * Double(plot.width)).rounded(.down))
        let x1 = Int((Double(plot.x) + 500.0 / 1000 * Double(plot.width)).rounded(.up))
        let y0 = Int((Double(plot.y) + 100.0 / 300 * Double(plot.height)).rounded(.down))
        let y1 = Int((Double(plot.y) + 150.0 / 300 * Double(plot.height)).rounded(.up))
        let inner = layout.boxRect(for: image.boxes[0])
        #expect(inner == PixelRect(x: x0, y: y0, width: x1 - x0, height: y1 - y0))

        let green = WaterfallImage.boxColor
        let midX = (x0 + x1) / 2
        let midY = (y0 + y1) / 2
        // Two pixels of outline just outside each side.
        for d in 1...2 {
            #expect(rendered[x0 - d, midY] == green)
            #expect(rendered[x1 - 1 + d, midY] == green)
            #expect(rendered[midX, y0 - d] == green)
            #expect(rendered[midX, y1 - 1 + d] == green)
        }
        #expect(rendered[x0 - 3, midY] != green)
        #expect(rendered[x1 + 2, midY] != green)
        // Inside, the data stays visible.
        #expect(rendered[midX, midY] != green)
        #expect(rendered[midX, midY].luminance > 230)
        // The label sits just above the outline: green text on a dark tag.
        let tag = PixelRect(x: x0 - 2, y: y0 - 2 - 12, width: 40, height: 12)
        #expect(rendered.count(in: tag) { $0 == green } > 10)
    }

    @Test func tinyBoxesAreWidenedToThreePixels() {
        let scene = Scene(rows: 1000, columns: 4000)
        var image = scene.image
        let t = scene.seconds(row: 500)
        let f = scene.hz(column: 2000)
        image.boxes = [WaterfallBox(startS: t, endS: t, lowHz: f, highHz: f)]
        let layout = image.layout()
        let rendered = image.render()
        let inner = try! #require(layout.boxRect(for: image.boxes[0]))
        #expect(inner.width == 3 && inner.height == 3)
        let green = WaterfallImage.boxColor
        #expect(rendered[inner.x - 1, inner.midY] == green)
        #expect(rendered[inner.maxX, inner.midY] == green)
        #expect(rendered[inner.midX, inner.y - 2] == green)
        #expect(rendered[inner.midX, inner.maxY + 1] == green)
        #expect(rendered[inner.midX, inner.midY] != green)
    }

    @Test func boxesAreClippedToThePlot() {
        let scene = Scene(rows: 300, columns: 600)
        var image = scene.image
        let green = WaterfallImage.boxColor
        // Entirely outside (later than the data, and below the band): nothing drawn.
        image.boxes = [
            WaterfallBox(startS: 5, endS: 6, lowHz: 914e6, highHz: 915e6, label: "late"),
            WaterfallBox(startS: 0.1, endS: 0.2, lowHz: 100e6, highHz: 101e6, label: "off band"),
            WaterfallBox(startS: .nan, endS: 0.2, lowHz: 914e6, highHz: 915e6),
            WaterfallBox(startS: 0, endS: .infinity, lowHz: 914e6, highHz: 915e6),
        ]
        var rendered = image.render()
        let everything = PixelRect(x: 0, y: 0, width: rendered.width, height: rendered.height)
        #expect(rendered.count(in: everything) { $0 == green } == 0)

        // Partly outside: drawn, but only inside the plot area.
        image.boxes = [WaterfallBox(startS: -1, endS: 0.1, lowHz: 900e6, highHz: 915e6, label: "early")]
        let layout = image.layout()
        rendered = image.render()
        let inside = rendered.count(in: layout.plot) { $0 == green }
        #expect(inside > 100)
        #expect(rendered.count(in: everything) { $0 == green } == inside)
    }

    @Test func colorBarRunsFromDarkToBright() {
        let image = Scene(rows: 300, columns: 600).image
        let layout = image.layout()
        let rendered = image.render()
        let bar = layout.colorBar
        var previous = -1.0
        for y in stride(from: bar.maxY - 1, through: bar.y, by: -1) {
            let l = rendered[bar.midX, y].luminance
            #expect(l >= previous - 0.5)
            previous = max(previous, l)
        }
        #expect(rendered[bar.midX, bar.maxY - 1].luminance < 15)
        #expect(rendered[bar.midX, bar.y].luminance > 245)
        // The colour map itself gets brighter step by step.
        let table = WaterfallColormap.table
        #expect(table.count == 256)
        for i in 1..<256 {
            #expect(table[i].luminance >= table[i - 1].luminance - 0.5)
        }
        #expect(!table.contains(WaterfallImage.boxColor))
    }

    @Test func labelsAndTitleAreDrawn() {
        var image = Scene(rows: 300, columns: 600).image
        let layout = image.layout()
        let plot = layout.plot
        var rendered = image.render()
        let aboveTitle = PixelRect(x: plot.x, y: 0, width: plot.width, height: plot.y - 2)
        #expect(rendered.inkCount(in: aboveTitle) == 0)

        image.title = "drone_915M_2400k.cu8  2.4 MS/s  centre 915.000 MHz"
        rendered = image.render()
        #expect(rendered.inkCount(in: aboveTitle) > 200)
        // Time labels left of the plot, frequency labels and caption below, dB labels right.
        let timeLabels = PixelRect(x: 0, y: plot.y - 8, width: plot.x - 8, height: plot.height + 16)
        let freqLabels = PixelRect(x: plot.x - 40, y: plot.maxY + 8, width: plot.width + 80, height: 30)
        let freqCaption = PixelRect(x: plot.x, y: plot.maxY + 38, width: plot.width, height: rendered.height - plot.maxY - 38)
        let dbLabels = PixelRect(x: layout.colorBar.maxX + 2, y: plot.y - 8, width: rendered.width - layout.colorBar.maxX - 2, height: plot.height + 16)
        for area in [timeLabels, freqLabels, freqCaption, dbLabels] {
            #expect(rendered.inkCount(in: area) > 150, "no text in \(area)")
        }
    }

    @Test func unknownCharactersRenderAsBoxes() {
        var image = Scene(rows: 10, columns: 10).image
        let plot = image.layout().plot
        let area = PixelRect(x: plot.x, y: 0, width: plot.width, height: plot.y - 2)
        image.title = "   "
        #expect(image.render().inkCount(in: area) == 0)
        image.title = "\u{2603}"     // snowman: no glyph
        #expect(image.render().inkCount(in: area) > 40)
        image.title = "µs"
        #expect(image.render().inkCount(in: area) > 40)
    }

    @Test func narrowBurstSurvivesShrinking() {
        // 4000 bins shrink to 1200 pixels; a single hot bin must still show.
        var scene = Scene(rows: 100, columns: 4000)
        scene.fill(rows: 0..<100, columns: 2001..<2002, db: -10)
        let image = scene.image
        let layout = image.layout()
        let rendered = image.render()
        let x = Int(layout.x(forHz: scene.hz(column: 2001.5))!)
        let y = layout.plot.midY
        let brightest = (x - 1...x + 1).map { rendered[$0, y].luminance }.max()!
        #expect(brightest > 230)
    }

    @Test func explicitRangeIsUsed() {
        var scene = Scene(rows: 100, columns: 600)
        scene.fill(rows: 10..<20, columns: 10..<20, db: -40)
        var image = scene.image
        image.dbRange = -80 ... -40
        let layout = image.layout()
        #expect(layout.dbRange == -80 ... -40)
        let rendered = image.render()
        let x = Int(layout.x(forHz: scene.hz(column: 15))!)
        let y = Int(layout.y(forSeconds: scene.seconds(row: 15))!)
        #expect(rendered[x, y] == WaterfallColormap.table[255])
        // Noise at -60 sits mid-scale: neither black nor white.
        let nx = Int(layout.x(forHz: scene.hz(column: 300))!)
        let ny = Int(layout.y(forSeconds: scene.seconds(row: 60))!)
        #expect(rendered[nx, ny].luminance > 20 && rendered[nx, ny].luminance < 200)
    }

    @Test func nanIsDrawnWithTheLowestColour() {
        var power = [Float](repeating: -50, count: 100 * 600)
        for i in 0..<(50 * 600) { power[i] = .nan }
        let image = WaterfallImage(powerDB: power, rows: 100, columns: 600,
                                   startS: 0, durationS: 1, lowHz: 1e6, highHz: 2e6)
        let layout = image.layout()
        let rendered = image.render()
        #expect(rendered[layout.plot.midX, layout.plot.y + 10] == WaterfallColormap.table[0])
        #expect(rendered[layout.plot.midX, layout.plot.maxY - 10] != WaterfallColormap.table[0])
    }

    @Test func largeInputRendersQuickly() {
        let scene = Scene(rows: 1000, columns: 1024)
        let image = scene.image
        let clock = ContinuousClock()
        let elapsed = clock.measure { _ = image.render() }
        // Release builds take about 10 ms; the bound leaves room for debug builds.
        #expect(elapsed < .seconds(10))
    }
}
