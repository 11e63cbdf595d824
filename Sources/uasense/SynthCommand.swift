import ArgumentParser
import IQ
import Synth

struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Write a deterministic synthetic recording with its ground truth as SigMF annotations.")

    @Argument(help: "Scene name: \(Scene.names.joined(separator: ", ")).")
    var scene: String

    @Option(name: .shortAndLong, help: "Output (.sigmf-meta, .sigmf or raw).")
    var output: String

    @Option(help: "Sample format (default cu8, as an RTL-SDR records; cs8 for ble-wideband, as a HackRF records).")
    var format: String?

    @Option(help: "Random seed for generated scenes (burst-mix, noise, ble-remote-id, ble-wideband).")
    var seed: UInt64 = 1

    @Option(help: "Duration in seconds for generated scenes.")
    var duration: Double?

    @Option(name: .customLong("burst"), help: ArgumentHelp(
        "For the 'custom' scene: a flat band-limited burst START_S:DURATION_S:OFFSET_HZ:BANDWIDTH_HZ:SNR_DB (repeatable).",
        valueName: "spec"))
    var bursts: [String] = []

    @Option(help: "Sample rate for the 'custom' scene.")
    var rate: Double = 2_400_000

    @Option(help: "Centre frequency for the 'custom' scene.")
    var freq: Double = 915e6

    @Flag(name: .customLong("dc-spike"), help: "Add an RTL-SDR-like DC offset to the 'custom' scene.")
    var dcSpike = false

    @Option(help: "For the 'custom' scene: noise (flat Gaussian) or fsk (constant envelope, 2·dev + rate = bandwidth).")
    var modulation: String = "noise"

    /// Scenes are rendered in memory (8 bytes a sample).
    static let maximumSamples = 400_000_000

    func validate() throws {
        guard ["noise", "fsk"].contains(modulation) else { throw ValidationError("--modulation must be noise or fsk") }
        if let duration, !(duration > 0 && duration <= 600) {
            throw ValidationError("--duration must be above 0 and at most 600 s")
        }
        guard rate >= 1000, rate <= 100e6 else { throw ValidationError("--rate must be 1 kS/s…100 MS/s") }
        guard freq.isFinite, freq >= 0 else { throw ValidationError("--freq must be a frequency in Hz") }
    }

    func run() throws {
        if scene == "custom" {
            var parsed: [Scene.Burst] = []
            for spec in bursts {
                let v = spec.split(separator: ":").compactMap { Double($0) }
                guard v.count == 5 else {
                    throw IQError.invalidArgument("bad --burst '\(spec)': expected START_S:DURATION_S:OFFSET_HZ:BANDWIDTH_HZ:SNR_DB")
                }
                let kind: Scene.Modulation = modulation == "fsk" ? .fsk(deviationHz: v[3] / 4, symbolRateHz: v[3] / 2)
                    : .noise(bandwidthHz: v[3])
                parsed.append(Scene.Burst(startS: v[0], durationS: v[1], offsetHz: v[2], modulation: kind, snrDB: v[4], label: "burst"))
            }
            let end = parsed.map { $0.startS + $0.durationS }.max() ?? 0
            var custom = Scene(sampleRateHz: rate, centerFrequencyHz: freq, durationS: duration ?? end + 0.05, noiseDBFS: -30,
                               bursts: parsed, seed: seed, description: "uasense custom scene")
            if dcSpike { custom.dcOffset = IQSample(i: 0.02, q: -0.015) }
            guard custom.sampleCount <= Self.maximumSamples else {
                throw IQError.invalidArgument("scene of \(custom.sampleCount) samples is too large (at most \(Self.maximumSamples))")
            }
            let n = try custom.write(to: output, format: SampleFormat(name: format ?? "cu8"), recorder: "uasense \(Uasense.version) synth")
            printErr("\(output): \(n) samples, \(custom.bursts.count) annotated bursts")
            return
        }
        guard let s = Scene.named(scene, seed: seed, durationS: duration) else {
            throw IQError.invalidArgument("unknown scene '\(scene)' (known: \(Scene.names.joined(separator: ", ")))")
        }
        let n = try s.write(to: output, format: SampleFormat(name: format ?? (scene == "ble-wideband" ? "cs8" : "cu8")),
                            recorder: "uasense \(Uasense.version) synth")
        printErr("\(output): \(n) samples, \(s.bursts.count) annotated bursts")
    }
}
