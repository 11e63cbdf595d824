import Foundation
import Waterfall

/// A deterministic synthetic spectrogram: a noise floor around -60 dB with hot rectangles.
struct Scene {
    var rows: Int
    var columns: Int
    var startS = 0.0
    var durationS = 0.25
    var lowHz = 913.8e6
    var highHz = 916.2e6
    var power: [Float]

    init(rows: Int, columns: Int, seed: UInt64 = 7) {
        self.rows = rows
        self.columns = columns
        var state = seed
        power = (0..<(rows * columns)).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let u = Double(state >> 11) / Double(1 << 53)
            return Float(-60 + 6 * (u - 0.5))
        }
    }

    /// Sets rows `r` and columns `c` to `db`.
    mutating func fill(rows r: Range<Int>, columns c: Range<Int>, db: Float) {
        for row in r {
            for col in c {
                power[row * columns + col] = db
            }
        }
    }

    func seconds(row: Double) -> Double { startS + row / Double(rows) * durationS }
    func hz(column: Double) -> Double { lowHz + column / Double(columns) * (highHz - lowHz) }

    func box(rows r: Range<Int>, columns c: Range<Int>, label: String? = nil) -> WaterfallBox {
        WaterfallBox(startS: seconds(row: Double(r.lowerBound)), endS: seconds(row: Double(r.upperBound)),
                     lowHz: hz(column: Double(c.lowerBound)), highHz: hz(column: Double(c.upperBound)),
                     label: label)
    }

    var image: WaterfallImage {
        WaterfallImage(powerDB: power, rows: rows, columns: columns,
                       startS: startS, durationS: durationS, lowHz: lowHz, highHz: highHz)
    }
}

/// A temporary directory removed when the value goes away.
final class ScratchDir {
    let path: String

    init() {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("waterfall-tests-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

extension RGBColor {
    static let white = RGBColor(r: 255, g: 255, b: 255)
}

extension RGBImage {
    /// Pixels in `rect` that differ from the page background.
    func inkCount(in rect: PixelRect) -> Int {
        count(in: rect) { $0 != WaterfallImage.backgroundColor }
    }
}

func bigEndianUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
    bytes[offset..<(offset + 4)].reduce(0) { ($0 << 8) | UInt32($1) }
}
