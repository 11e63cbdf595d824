import ArgumentParser
import Foundation
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
        try refuseOverwritingInput(inRec)
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

    /// Writing truncates the output first: if it is the input (or its other half), nothing is left to read.
    private func refuseOverwritingInput(_ recording: Recording) throws {
        let lower = output.lowercased()
        var outputs = [output]
        if lower.hasSuffix(".sigmf-meta") || lower.hasSuffix(".sigmf-data") {
            let stem = String(output.dropLast(".sigmf-meta".count))
            outputs = [stem + ".sigmf-meta", stem + ".sigmf-data"]
        }
        let inputs = Set([recording.path, recording.dataPath].compactMap(Self.resolved))
        for path in outputs {
            if let real = Self.resolved(path), inputs.contains(real) {
                throw IQError.invalidArgument("\(output): would overwrite the input \(input); choose another output path")
            }
        }
    }

    private static func resolved(_ path: String) -> String? {
        guard let real = realpath(path, nil) else { return nil }
        defer { free(real) }
        return String(cString: real)
    }

    private func isSigMF(_ path: String) -> Bool {
        let lower = path.lowercased()
        return lower.hasSuffix(".sigmf") || lower.hasSuffix(".sigmf-meta") || lower.hasSuffix(".sigmf-data")
    }
}
