import ArgumentParser
import Detection
import IQ

/// `--tracks` and its settings, shared by the commands that emit records (`analyze`, later `run`).
struct TrackOptions: ParsableArguments {
    @Flag(help: "Also emit track records (kind \"track\"): an update when a UAS's position or IDs change, a lost event when it falls silent; interleaved with the detections in time order.")
    var tracks = false

    @Option(name: .customLong("track-interval"),
            help: "At most one update per track in this many seconds of sample time (0: every change).")
    var trackIntervalS: Double = 1

    @Option(name: .customLong("track-timeout"),
            help: "A track is lost after this many seconds of sample time with nothing heard from it.")
    var trackTimeoutS: Double = 30

    func validate() throws {
        do {
            _ = try configuration()
        } catch {
            switch error {
            case .invalidUpdateInterval: throw ValidationError("--track-interval: \(error)")
            case .invalidLostTimeout: throw ValidationError("--track-timeout: \(error)")
            }
        }
    }

    func configuration() throws(TrackConfigurationError) -> TrackConfiguration {
        try TrackConfiguration(updateIntervalS: trackIntervalS, lostAfterS: trackTimeoutS)
    }

    /// The tracker behind the records: it also merges the per-UAS state that `--summary` prints and
    /// remembers IDs for broadcasts without one, so it runs with or without `--tracks`.
    func makeTracks() throws -> TrackEvents {
        TrackEvents(configuration: try configuration())
    }
}
