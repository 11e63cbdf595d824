import ArgumentParser
import IQ

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert between cu8, cs8, cs16, cf32 and SigMF (pair or .sigmf archive), keeping metadata.",
        discussion: """
        The output container follows OUT's extension: .cu8/.cs8/.cs16/.cf32 (raw), .sigmf-meta (pair) or .sigmf \
        (archive). For SigMF output the sample format is --to, else the input's.
        """)

    @Argument(help: "Input recording.")
    var input: String

    @Argument(help: "Output path.")
    var output: String

    @Option(help: "Output sample format for SigMF (cu8, cs8, cs16, cf32).")
    var to: String?

    @OptionGroup var recording: RecordingOptions

    func run() throws {
        let source = try FileSource(path: input, options: recording.options(), blockSamples: 262_144)
        let inRec = source.recording
        var meta = inRec.metadata
        meta[string: "core:recorder"] = meta[string: "core:recorder"] ?? "uasense \(Uasense.version)"
        let writer = try RecordingWriter(path: output, format: try to.map(SampleFormat.init(name:)) ?? (isSigMF(output) ? inRec.format : nil),
                                         metadata: meta, dcOffset: recording.dcOffset)
        var block = IQBlock(capacity: 262_144)
        while try source.read(into: &block) == .samples {
            try block.samples.withUnsafeBufferPointer { try writer.write($0) }
        }
        try writer.finish()
        printErr("\(output): \(writer.samplesWritten) samples, \(writer.format) (\(Text.rate(inRec.sampleRateHz)), \(Text.hz(inRec.centerFrequencyHz)))")
    }

    private func isSigMF(_ path: String) -> Bool {
        let lower = path.lowercased()
        return lower.hasSuffix(".sigmf") || lower.hasSuffix(".sigmf-meta") || lower.hasSuffix(".sigmf-data")
    }
}
