import ArgumentParser
import Foundation
import IQ
import Spectrum

struct AnalyzeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Analyse recordings offline: detections as NDJSON on stdout, a summary on stderr.")

    @Argument(help: "IQ files (raw, .sigmf-meta, .sigmf archive).")
    var files: [String]

    @OptionGroup var recording: RecordingOptions

    func run() throws {
        var failed = 0
        for path in files {
            do {
                let report = try FileReport.measure(path: path, options: recording.options(), detectBursts: true)
                let r = report.recording
                let speed = r.durationS / max(report.readS, 1e-9)
                printErr("""
                \(r.path): \(r.format) \(Text.rate(r.sampleRateHz)) at \(Text.hz(r.centerFrequencyHz)), \
                \(r.sampleCount) samples (\(Text.seconds(r.durationS)))
                  power: mean \(String(format: "%.2f", report.power.meanPowerDBFS)) dBFS, \
                peak \(String(format: "%.2f", report.power.peakPowerDBFS)) dBFS, \
                clipping \(String(format: "%.3f", report.power.clippedPercent)) %
                  metadata: \(r.metadata.captures.count) capture(s), \(r.metadata.annotations.count) annotation(s)\
                \(r.metadata.annotations.isEmpty ? "" : " [" + Self.labelSummary(r.metadata.annotations) + "]")
                  bursts: \(Self.burstSummary(report.bursts ?? []))
                  processed in \(Text.seconds(report.readS)) (\(String(format: "%.0f", speed))× real time)
                """)
            } catch let error as IQError {
                printErr("uasense: \(error)")
                failed += 1
            }
        }
        if failed > 0 { throw ExitCode(1) }
    }

    static func burstSummary(_ bursts: [Burst]) -> String {
        guard !bursts.isEmpty else { return "none" }
        let snrs = bursts.map(\.snrDB).sorted()
        let widths = bursts.map(\.bandwidthHz).sorted()
        return "\(bursts.count), SNR \(String(format: "%.0f", snrs[0]))…\(String(format: "%.0f", snrs[snrs.count - 1])) dB, "
            + "bandwidth \(Text.hz(widths[0]))…\(Text.hz(widths[widths.count - 1])) (uasense bursts FILE lists them)"
    }

    static func labelSummary(_ annotations: [SigMFAnnotation]) -> String {
        var counts: [String: Int] = [:]
        for a in annotations { counts[a.label ?? "unlabelled", default: 0] += 1 }
        return counts.sorted { $0.key < $1.key }.map { "\($0.value)× \($0.key)" }.joined(separator: ", ")
    }
}
