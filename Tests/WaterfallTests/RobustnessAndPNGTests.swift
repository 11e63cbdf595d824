import Foundation
import Testing
import Waterfall

@Suite struct PNGTests {
    @Test func writesAPNGWhoseHeaderMatchesTheRender() throws {
        var scene = Scene(rows: 400, columns: 1024)
        scene.fill(rows: 40..<60, columns: 200..<300, db: -20)
        var image = scene.image
        image.title = "test.cu8"
        image.boxes = [scene.box(rows: 40..<60, columns: 200..<300, label: "b1")]
        let rendered = image.render()

        let dir = ScratchDir()
        let path = dir.file("out.png")
        try image.writePNG(to: path)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(bytes.count > 1000)
        #expect(Array(bytes.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        // First chunk: IHDR, 13 bytes: width, height, bit depth 8, colour type 2 (RGB),
        // compression 0, filter 0, interlace 0.
        #expect(bigEndianUInt32(bytes, at: 8) == 13)
        #expect(Array(bytes[12..<16]) == Array("IHDR".utf8))
        #expect(bigEndianUInt32(bytes, at: 16) == UInt32(rendered.width))
        #expect(bigEndianUInt32(bytes, at: 20) == UInt32(rendered.height))
        #expect(Array(bytes[24..<29]) == [8, 2, 0, 0, 0])
        // Ends with the IEND chunk.
        #expect(Array(bytes.suffix(12)) == [0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82])
    }

    @Test func overwritesAnExistingFile() throws {
        let dir = ScratchDir()
        let path = dir.file("again.png")
        try Data(repeating: 0x41, count: 10_000_000).write(to: URL(fileURLWithPath: path))
        try Scene(rows: 10, columns: 10).image.writePNG(to: path)
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
        #expect(size > 0 && size < 1_000_000)
    }

    @Test func missingDirectoryThrowsWithThePath() {
        let path = "/nonexistent/dir/x.png"
        do {
            try Scene(rows: 10, columns: 10).image.writePNG(to: path)
            Issue.record("expected an error")
        } catch {
            #expect(error == .cannotWrite(path: path, reason: "No such file or directory"))
            #expect(error.description == "cannot write /nonexistent/dir/x.png (No such file or directory)")
            #expect(!error.description.contains("\n"))
        }
    }

    @Test func directoryAsTargetThrows() {
        let dir = ScratchDir()
        #expect(throws: WaterfallError.self) {
            try Scene(rows: 10, columns: 10).image.writePNG(to: dir.path)
        }
        #expect(throws: WaterfallError.self) {
            try Scene(rows: 10, columns: 10).image.writePNG(to: "")
        }
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/dev/full")))
    func fullDiskIsReportedNotIgnored() {
        do {
            try Scene(rows: 300, columns: 600).image.writePNG(to: "/dev/full")
            Issue.record("expected an error")
        } catch {
            #expect(error == .cannotWrite(path: "/dev/full", reason: "No space left on device"))
        }
    }
}

@Suite struct RobustnessTests {
    static let inputs: [(String, WaterfallImage)] = {
        var list: [(String, WaterfallImage)] = []
        func add(_ name: String, _ power: [Float], _ rows: Int, _ columns: Int,
                 start: Double = 0, duration: Double = 0.1, low: Double = 914e6, high: Double = 916e6,
                 configure: (inout WaterfallImage) -> Void = { _ in }) {
            var image = WaterfallImage(powerDB: power, rows: rows, columns: columns, startS: start,
                                       durationS: duration, lowHz: low, highHz: high)
            configure(&image)
            list.append((name, image))
        }
        add("0x0", [], 0, 0)
        add("0x0 zero axes", [], 0, 0, duration: 0, low: 0, high: 0)
        add("rows but no columns", [], 10, 0)
        add("columns but no rows", [], 0, 10)
        add("all NaN", [Float](repeating: .nan, count: 5000), 50, 100)
        add("all -inf", [Float](repeating: -.infinity, count: 5000), 50, 100)
        add("all equal", [Float](repeating: -42, count: 5000), 50, 100)
        add("huge values", (0..<5000).map { $0 % 3 == 0 ? Float.greatestFiniteMagnitude : -Float.greatestFiniteMagnitude }, 50, 100)
        add("+inf and NaN", (0..<5000).map { $0 % 2 == 0 ? Float.infinity : .nan }, 50, 100)
        add("short array", [1, 2, 3], 1000, 1000)
        add("long array", [Float](repeating: -3, count: 10_000), 2, 2)
        add("negative sizes", [1, 2, 3], -4, -8)
        add("overflowing sizes", [1, 2, 3], Int.max, Int.max)
        add("NaN axes", [Float](repeating: -50, count: 100), 10, 10, start: .nan, duration: .nan, low: .nan, high: .infinity)
        add("negative duration", [Float](repeating: -50, count: 100), 10, 10, duration: -1)
        add("reversed band", [Float](repeating: -50, count: 100), 10, 10, low: 916e6, high: 914e6)
        add("huge axes", [Float](repeating: -50, count: 100), 10, 10, start: 1e300, duration: 1e300, low: -1e308, high: 1e308)
        add("tiny axes", [Float](repeating: -50, count: 100), 10, 10, start: 0, duration: 1e-300, low: 1, high: 1 + 1e-9)
        add("degenerate range", [Float](repeating: -50, count: 100), 10, 10) { $0.dbRange = -50 ... -50 }
        add("infinite range", [Float](repeating: -50, count: 100), 10, 10) { $0.dbRange = -Float.infinity ... 0 }
        add("wild boxes and title", [Float](repeating: -50, count: 100), 10, 10) {
            $0.title = String(repeating: "very long title with odd characters → ✓ \t\n", count: 40)
            $0.boxes = [
                WaterfallBox(startS: -1e308, endS: 1e308, lowHz: -1e308, highHz: 1e308, label: "everything"),
                WaterfallBox(startS: .nan, endS: .nan, lowHz: .nan, highHz: .nan, label: "nan"),
                WaterfallBox(startS: 0.05, endS: 0.01, lowHz: 915.5e6, highHz: 914.5e6, label: ""),
                WaterfallBox(startS: 0.0999, endS: 0.0999, lowHz: 916e6, highHz: 916e6,
                             label: String(repeating: "x", count: 500)),
            ]
        }
        return list
    }()

    @Test(arguments: 0..<inputs.count)
    func oddInputStillRendersAFigure(index: Int) throws {
        let (name, image) = Self.inputs[index]
        let layout = image.layout()
        let rendered = image.render()
        #expect(rendered.width == layout.width && rendered.height == layout.height, "\(name)")
        #expect(rendered.width >= 512 && rendered.width < 2000, "\(name)")
        #expect(rendered.height >= 256 && rendered.height < 1400, "\(name)")
        #expect(rendered.pixels.count == rendered.width * rendered.height * 3, "\(name)")
        #expect(layout.dbRange.lowerBound.isFinite && layout.dbRange.upperBound.isFinite, "\(name)")
        #expect(layout.dbRange.lowerBound < layout.dbRange.upperBound, "\(name)")
        // The frame and the colour bar are always there.
        #expect(rendered[layout.plot.x - 1, layout.plot.midY] == WaterfallImage.inkColor, "\(name)")
        #expect(rendered[layout.colorBar.midX, layout.colorBar.maxY - 1].luminance < 15, "\(name)")

        let dir = ScratchDir()
        try image.writePNG(to: dir.file("odd.png"))
    }

    @Test func emptyInputDrawsAnEmptyPlotWithAxes() {
        let image = WaterfallImage(powerDB: [], rows: 0, columns: 0, startS: 0, durationS: 0.5,
                                   lowHz: 914e6, highHz: 916e6)
        let layout = image.layout()
        let rendered = image.render()
        #expect(rendered.count(in: layout.plot) { $0 != WaterfallColormap.table[0] } == 0)
        let plot = layout.plot
        #expect(rendered.inkCount(in: PixelRect(x: 0, y: plot.y - 8, width: plot.x - 8, height: plot.height + 16)) > 100)
        #expect(rendered.inkCount(in: PixelRect(x: plot.x - 40, y: plot.maxY + 8, width: plot.width + 80, height: 30)) > 100)
    }
}
