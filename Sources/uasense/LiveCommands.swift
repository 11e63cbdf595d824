import ArgumentParser
import Foundation
import IQ

struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Record a live source to SigMF (or raw), with capture time and hardware in the metadata.")

    @Option(help: "rtlsdr[:N|:serial=S], rtltcp://HOST:PORT or file:PATH.")
    var source: String

    @Option(help: "Seconds to record (default: until Ctrl-C).")
    var duration: Double?

    @Option(name: .shortAndLong, help: "Output: OUT.sigmf-meta, OUT.sigmf or a raw OUT.cu8 …")
    var output: String

    @OptionGroup var tuner: TunerOptions

    func validate() throws {
        if let duration, !(duration > 0 && duration <= 1e7) {
            throw ValidationError("--duration must be a number of seconds above 0")
        }
    }

    func run() throws {
        installStopHandlers()
        let src = try openSource(source, tuner: tuner, realTime: true)
        defer { src.stop() }
        var meta = SigMFMetadata(format: src.info.nativeFormat, sampleRateHz: src.info.sampleRateHz)
        meta[string: "core:recorder"] = "uasense \(Uasense.version)"
        meta[string: "core:hw"] = src.info.hardware
        meta[string: "core:description"] = "recorded from \(src.info.origin)"
        // Samples and frequencies are already in the sky's frame: say which profile put them there.
        meta.global[ReceiverProfile.metadataKey] = src.info.receiverProfile?.metadataValue
        meta.captures = [SigMFCapture(sampleStart: 0, frequencyHz: src.info.centerFrequencyHz)]
        let writer = try RecordingWriter(path: output, format: src.info.nativeFormat, metadata: meta)
        let limit = duration.map { Int64(($0 * src.info.sampleRateHz).rounded()) } ?? .max
        var block = IQBlock(capacity: 65536)
        var stream0: Int64?
        loop: while !stopRequested.isSet {
            switch try src.read(into: &block, timeoutS: 0.5) {
            case .endOfStream: break loop
            case .timedOut: continue
            case .samples:
                let start = stream0 ?? block.firstSampleIndex
                stream0 = start
                let wanted = limit - (block.firstSampleIndex - start)
                if wanted <= 0 { break loop }
                if wanted < Int64(block.count) { block.resize(to: Int(wanted)) }
                if block.droppedBefore > 0 {
                    printErr("uasense: \(block.droppedBefore) samples lost before sample \(block.firstSampleIndex); new capture segment")
                }
                try writer.write(block)
                if block.endSampleIndex - start >= limit { break loop }
            }
        }
        try writer.finish()
        let stats = src.stats
        printErr("\(output): \(writer.samplesWritten) samples (\(Text.seconds(Double(writer.samplesWritten) / src.info.sampleRateHz))), "
                 + "\(stats.samplesDropped) dropped, \(writer.metadata.captures.count) capture segment(s)")
    }
}

struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "devices", abstract: "List attached RTL-SDR devices.")

    func run() throws {
        let devices = RtlSdrSource.devices()
        guard !devices.isEmpty else { throw IQError.noDevice }
        for d in devices {
            print("rtlsdr:\(d.index)  \(d.name)  \(d.manufacturer) \(d.product)  serial=\(d.serial)")
        }
    }
}

/// " through receiver profile NAME (LO …, high-side, spectrum inverted)" for status lines; empty without one.
func describeProfile(_ info: StreamInfo) -> String {
    guard let p = info.receiverProfile else { return "" }
    return " through receiver profile \(p.name) (LO \(Text.hz(p.loFrequencyHz)), \(p.injection)"
        + (p.spectralInversion ? ", spectrum inverted)" : ")")
}
