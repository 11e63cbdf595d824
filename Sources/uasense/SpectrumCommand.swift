import ArgumentParser
import Foundation
import IQ
import Spectrum
import Waterfall

struct SpectrumCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spectrum",
        abstract: "Draw a recording's waterfall as a PNG, with detected bursts outlined.",
        discussion: """
        Time runs down (ms), frequency across (MHz, absolute RF when the centre is known), colour is \
        power in dBFS per bin. Long recordings are summarised: each image row is the maximum over the \
        frames it covers, so short bursts stay visible.
        """)

    @Argument(help: "Recording (raw, .sigmf-meta, .sigmf).")
    var file: String

    @Option(help: "Output PNG path.")
    var png: String

    @OptionGroup var recording: RecordingOptions

    @Option(name: .customLong("fft-size"), help: "FFT size of the picture (frequency resolution).")
    var fftSize: Int = 1024

    @Option(name: .customLong("max-rows"), help: "Image rows at most (time resolution).")
    var maxRows: Int = 900

    @Flag(name: .customLong("no-bursts"), help: "Do not detect and outline bursts.")
    var noBursts = false

    func validate() throws {
        guard (16...65536).contains(fftSize) else { throw ValidationError("--fft-size must be 16…65536") }
        guard (1...100_000).contains(maxRows) else { throw ValidationError("--max-rows must be 1…100000") }
    }

    func run() throws {
        let source = try FileSource(path: file, options: recording.options(), blockSamples: 65536)
        let rec = source.recording
        let spectrogram = try Spectrogram(configuration: .init(fftSize: fftSize, hop: fftSize), sampleRateHz: rec.sampleRateHz)
        let detector = noBursts ? nil : try BurstDetector(sampleRateHz: rec.sampleRateHz)
        let totalFrames = max(1, Int(rec.sampleCount) / fftSize)
        let framesPerRow = max(1, (totalFrames + maxRows - 1) / maxRows)
        let rows = (totalFrames + framesPerRow - 1) / framesPerRow
        var image = [Float](repeating: -.infinity, count: rows * fftSize)
        var bursts: [Burst] = []
        var block = IQBlock(capacity: 65536)
        while try source.read(into: &block) == .samples {
            spectrogram.process(block) { frame in
                let row = Int(frame.index) / framesPerRow
                guard row < rows else { return }
                for k in 0..<fftSize {
                    let db = 10 * log10(max(frame.power[k], 1e-20))
                    image[row * fftSize + k] = max(image[row * fftSize + k], db)
                }
            }
            detector?.process(block) { bursts.append($0) }
        }
        detector?.finish { bursts.append($0) }
        let centre = rec.centerFrequencyHz ?? 0
        var picture = WaterfallImage(powerDB: image, rows: rows, columns: fftSize, startS: 0,
                                     durationS: Double(rows * framesPerRow * fftSize) / rec.sampleRateHz,
                                     lowHz: centre - rec.sampleRateHz / 2, highHz: centre + rec.sampleRateHz / 2)
        let name = (file as NSString).lastPathComponent
        picture.title = "\(name)  \(Text.rate(rec.sampleRateHz))  centre \(Text.hz(rec.centerFrequencyHz))  \(bursts.count) bursts"
        picture.boxes = bursts.map { b in
            WaterfallBox(startS: Double(b.sampleStart) / rec.sampleRateHz, endS: Double(b.sampleEnd) / rec.sampleRateHz,
                         lowHz: b.centerFrequencyHz - b.bandwidthHz / 2, highHz: b.centerFrequencyHz + b.bandwidthHz / 2,
                         label: String(format: "%.0f dB", b.snrDB))
        }
        try picture.writePNG(to: png)
        printErr("\(png): \(rows) rows × \(fftSize) bins, \(bursts.count) bursts outlined")
    }
}
