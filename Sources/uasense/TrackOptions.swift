import ArgumentParser
import Detection

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

    /// NDJSON lines for the events when `--tracks` is on; nothing otherwise.
    func lines(_ events: [TrackEvent], sensorID: String) -> String {
        guard tracks else { return "" }
        var out = ""
        for event in events { out += TrackRecord.json(event, sensorID: sensorID).serialized() + "\n" }
        return out
    }
}
