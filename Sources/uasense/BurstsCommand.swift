import ArgumentParser
import Foundation
import IQ
import Spectrum

struct BurstsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bursts",
        abstract: "Find bursts of energy in a recording: NDJSON on stdout, one burst per line.",
        discussion: """
        Fields: sample_start, sample_count, time_s (from the recording start), duration_s, f_center_hz \
        (absolute RF when the centre is known), bandwidth_hz, peak_dbfs, snr_db. With --score, the bursts \
        are compared with the recording's SigMF annotations (ground truth) and a score goes to stderr.
        """)

    @Argument(help: "Recording (raw, .sigmf-meta, .sigmf).")
    var file: String

    @OptionGroup var recording: RecordingOptions

    @Option(name: .customLong("fft-size"), help: "FFT size of the detection spectrogram.")
    var fftSize: Int = 256

    @Flag(help: "Compare with the recording's annotations and print a score on stderr.")
    var score = false

    @Flag(name: .customLong("show-misses"), help: "With --score: list each missed or inaccurate burst.")
    var showMisses = false

    func validate() throws {
        guard (64...4096).contains(fftSize), fftSize & (fftSize - 1) == 0 else {
            throw ValidationError("--fft-size must be a power of two from 64 to 4096")
        }
    }

    func run() throws {
        let source = try FileSource(path: file, options: recording.options(), blockSamples: 65536)
        let rec = source.recording
        var config = BurstDetector.Configuration()
        config.spectrogram = .init(fftSize: fftSize)
        let detector = try BurstDetector(sampleRateHz: rec.sampleRateHz, configuration: config)
        var bursts: [Burst] = []
        var block = IQBlock(capacity: 65536)
        let t0 = monotonicNs()
        while try source.read(into: &block) == .samples {
            detector.process(block) { bursts.append($0) }
        }
        detector.finish { bursts.append($0) }
        let elapsedS = Double(monotonicNs() - t0) * 1e-9
        bursts.sort { ($0.sampleStart, $0.centerFrequencyHz) < ($1.sampleStart, $1.centerFrequencyHz) }
        var out = ""
        for b in bursts { out += Self.json(b, sampleRateHz: rec.sampleRateHz) + "\n" }
        FileHandle.standardOutput.write(Data(out.utf8))
        let c = detector.counters
        printErr("\(file): \(bursts.count) bursts in \(Text.seconds(rec.durationS)) of signal, "
                 + "\(String(format: "%.0f", rec.durationS / max(elapsedS, 1e-9)))× real time; "
                 + "\(c.rejectedWeak) weak candidates rejected, \(c.droppedOverflow) dropped, "
                 + "\(c.framesSkippedNonFinite + c.framesOverflowed) non-finite frames skipped"
                 + (rec.centerFrequencyHz == nil ? "; centre frequency unknown: f_center_hz is an offset" : ""))
        if score {
            let truth = rec.metadata.annotations.compactMap(BurstScore.Truth.init)
            let s = BurstScore(detected: bursts, truth: truth, sampleRateHz: rec.sampleRateHz)
            printErr("score: \(s)")
            if showMisses { for m in s.misses { printErr("  \(m)") } }
        }
    }

    static func json(_ b: Burst, sampleRateHz: Double) -> String {
        JSONValue.object([
            "sample_start": .int(b.sampleStart), "sample_count": .int(b.sampleCount),
            "time_s": .double((Double(b.sampleStart) / sampleRateHz * 1e7).rounded() / 1e7),
            "duration_s": .double((Double(b.sampleCount) / sampleRateHz * 1e7).rounded() / 1e7),
            "f_center_hz": .double(b.centerFrequencyHz.rounded()), "bandwidth_hz": .double(b.bandwidthHz.rounded()),
            "peak_dbfs": .double((b.peakDBFS * 100).rounded() / 100), "snr_db": .double((b.snrDB * 100).rounded() / 100),
        ]).serialized()
    }
}
