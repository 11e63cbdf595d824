import ArgumentParser
import BLE
import IQ
import Spectrum

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Describe a recording: format, rate, centre, duration, power statistics, clipping.")

    @Argument(help: "Raw IQ file, .sigmf-meta/.sigmf-data pair or .sigmf archive.")
    var file: String

    @OptionGroup var recording: RecordingOptions

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        let report = try FileReport.measure(path: file, options: recording.options())
        print(json ? report.json() : report.text())
    }
}

/// What `info` and `analyze` measure over a whole recording.
struct FileReport {
    var recording: Recording
    var power: PowerStatistics
    var readS: Double
    /// Bursts found, when asked for.
    var bursts: [Burst]?

    /// Bluetooth LE packets received from the samples: on the one channel a 1.9–4 MS/s recording is
    /// centred on (±50 kHz), or on every channel inside a 4–40 MS/s recording's band (`bleWideband`
    /// then says how). `sampleIndex` counts the recording's samples either way.
    var blePackets: [BLEReceiver.Packet] = []
    /// Each receiving channel's counters, in RF order.
    var bleChannels: [(channel: Int, counters: BLEReceiver.Counters)] = []
    var bleWideband: WidebandBLEReceiver?
    /// Why Bluetooth was not received although the band holds BLE channels.
    var bleNote: String?

    static func measure(path: String, options: Recording.Options, detectBursts: Bool = false,
                        receiveBLE: Bool = false) throws -> FileReport {
        let recording = try Recording.open(path, options: options)
        let source = try FileSource(recording: recording, blockSamples: 262_144)
        source.measureClipping = true
        var block = IQBlock(capacity: 262_144)
        var power = PowerStatistics()
        let detector = detectBursts ? try BurstDetector(sampleRateHz: recording.sampleRateHz) : nil
        var bursts: [Burst] = []
        let (chain, note) = receiveBLE ? BLEChain.make(sampleRateHz: recording.sampleRateHz,
                                                      centerFrequencyHz: recording.centerFrequencyHz) : (nil, nil)
        var packets: [BLEReceiver.Packet] = []
        let t0 = monotonicNs()
        while try source.read(into: &block) == .samples {
            power.add(block)
            detector?.process(block) { bursts.append($0) }
            chain?.process(block, into: &packets)
        }
        detector?.finish { bursts.append($0) }
        chain?.finish(into: &packets)
        return FileReport(recording: recording, power: power, readS: Double(monotonicNs() - t0) * 1e-9,
                          bursts: detector == nil ? nil : bursts, blePackets: packets,
                          bleChannels: chain?.channelCounters ?? [], bleWideband: chain?.wideband, bleNote: note)
    }

    func text() -> String {
        let r = recording
        var lines: [(String, String)] = [
            ("file", "\(r.path) (\(r.container.rawValue))"),
            ("format", r.format == .cu8 ? "cu8 (zero code \(r.dcOffset))" : r.format.rawValue),
            ("sample rate", "\(Text.rate(r.sampleRateHz)) (\(String(format: "%.0f", r.sampleRateHz)) Hz)"),
            ("centre", Text.hz(r.centerFrequencyHz)),
        ]
        if let start = r.startTimeS { lines.append(("start", RFC3339.format(start))) }
        lines += [
            ("samples", "\(r.sampleCount) (\(Text.seconds(r.durationS)))"),
            ("mean power", String(format: "%.2f dBFS", power.meanPowerDBFS)),
            ("peak power", String(format: "%.2f dBFS", power.peakPowerDBFS)),
            ("DC offset", String(format: "I %+.5f  Q %+.5f", power.dcOffsetI, power.dcOffsetQ)),
            ("clipping", String(format: "%.3f %% (%lld samples)", power.clippedPercent, power.clippedSamples)),
        ]
        if power.nonFiniteSamples > 0 { lines.append(("non-finite", "\(power.nonFiniteSamples) samples (NaN/Inf)")) }
        if let hw = r.metadata[string: "core:hw"] { lines.append(("hardware", hw)) }
        lines.append(("metadata", "\(r.metadata.captures.count) capture(s), \(r.metadata.annotations.count) annotation(s)"))
        return lines.map { $0.0.padding(toLength: 12, withPad: " ", startingAt: 0) + $0.1 }.joined(separator: "\n")
    }

    func json() -> String {
        let r = recording
        var fields: [String: JSONValue] = [
            "path": .string(r.path), "container": .string(r.container.rawValue), "format": .string(r.format.rawValue),
            "sample_rate_hz": .number(r.sampleRateHz), "sample_count": .int(r.sampleCount),
            "duration_s": .double(r.durationS), "mean_power_dbfs": .double(power.meanPowerDBFS),
            "peak_power_dbfs": .double(power.peakPowerDBFS), "dc_offset_i": .double(power.dcOffsetI),
            "dc_offset_q": .double(power.dcOffsetQ), "clipped_percent": .double(power.clippedPercent),
            "clipped_samples": .int(power.clippedSamples), "non_finite_samples": .int(power.nonFiniteSamples),
            "captures": .int(Int64(r.metadata.captures.count)), "annotations": .int(Int64(r.metadata.annotations.count)),
        ]
        if let f = r.centerFrequencyHz { fields["center_freq_hz"] = .number(f) }
        if let t = r.startTimeS { fields["start_time"] = .string(RFC3339.format(t)) }
        return JSONValue.object(fields).serialized()
    }
}
