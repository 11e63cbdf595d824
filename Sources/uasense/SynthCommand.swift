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

    @Option(help: "Sample format (default cu8, as an RTL-SDR records).")
    var format: String = "cu8"

    func run() throws {
        guard let s = Scene.named(scene) else {
            throw IQError.invalidArgument("unknown scene '\(scene)' (known: \(Scene.names.joined(separator: ", ")))")
        }
        let n = try s.write(to: output, format: SampleFormat(name: format), recorder: "uasense \(Uasense.version) synth")
        printErr("\(output): \(n) samples, \(s.bursts.count) annotated bursts")
    }
}
