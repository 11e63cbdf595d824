import ArgumentParser
import IQ

@main
struct Uasense: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "uasense",
        abstract: "Drone (UAS) RF detection sensor: IQ ingest, spectrum, Remote ID and link fingerprints.",
        version: version,
        subcommands: [
            AnalyzeCommand.self, BurstsCommand.self, SpectrumCommand.self, InfoCommand.self, ConvertCommand.self, RecordCommand.self, RunCommand.self,
            ListenCommand.self, DevicesCommand.self, SynthCommand.self, BenchCommand.self,
        ]
    )
}
