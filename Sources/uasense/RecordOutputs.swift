import ArgumentParser
import Captures
import Detection
import Foundation
import IQ
import Outputs

/// The flags that choose where records go, shared by `analyze` and `run`.
struct OutputOptions: ParsableArguments {
    @Option(name: .customLong("sensor-id"), help: "sensor_id in the records (default: the host name).")
    var sensorID: String?

    @Option(help: "Also send every record as a UDP datagram to udp://HOST:PORT (unicast or multicast).")
    var udp: String?

    @Option(name: .customLong("udp-key-file"),
            help: "Sign each datagram with HMAC-SHA256 under the key in this file (64 hex digits, or raw bytes).")
    var udpKeyFile: String?

    @OptionGroup var tracking: TrackOptions

    @OptionGroup var cot: CoTOptions

    @OptionGroup var mqtt: MQTTOptions

    func validate() throws {
        if sensorID?.isEmpty == true { throw ValidationError("--sensor-id must not be empty: records name the sensor that heard them") }
        if udpKeyFile != nil, udp == nil { throw ValidationError("--udp-key-file signs the UDP feed: give --udp udp://HOST:PORT too") }
    }

    var sensor: String { sensorID ?? ProcessInfo.processInfo.hostName }

    /// Opens every output asked for; a destination that cannot be used is reported here, before
    /// any samples are read. `waitForBrokerS`: how long to wait for the MQTT broker before going
    /// on (offline analysis waits; a live sensor starts at once and spools).
    func open(waitForBrokerS: Double = 0) throws -> RecordOutputs {
        let sensor = self.sensor
        let feed: UDPRecordFeed?
        do {
            let key = try udpKeyFile.map { path throws(OutputError) in try RecordDatagram.key(fromFile: path) }
            feed = try udp.map { text in try UDPRecordFeed(UDPEndpoint(text), key: key) }
        } catch {
            printErr("uasense: \(error)")
            throw ExitCode(1)
        }
        let cotOutput = try cot.makeOutput(sensorID: sensor)
        let mqttOutput = try mqtt.makeOutput(sensorID: sensor, offline: waitForBrokerS > 0)
        if let mqttOutput, waitForBrokerS > 0, !mqttOutput.waitUntilConnected(timeoutS: waitForBrokerS) {
            printErr("uasense: \(mqttOutput.endpoint): not connected after \(Int(waitForBrokerS)) s"
                     + (mqttOutput.counters.lastError.map { " (\($0))" } ?? "")
                     + "; detections are queued and track updates spooled until it answers")
        }
        return RecordOutputs(sensorID: sensor, tracking: tracking, feed: feed, cot: cotOutput, mqtt: mqttOutput)
    }
}

/// Where records go: stdout as NDJSON, and with flags a UDP feed, TAK CoT, MQTT. One per command run;
/// each file or live stream gets its own `DetectionStream` (its own tracks) over it.
final class RecordOutputs {
    let sensorID: String
    let tracking: TrackOptions
    let feed: UDPRecordFeed?
    let cot: CoTOutput?
    let mqtt: MQTTOutput?
    /// Lines not yet written to stdout (`analyze` writes a file's records at once; `run` each line).
    private var pending = ""
    private(set) var closed = false

    init(sensorID: String, tracking: TrackOptions, feed: UDPRecordFeed?, cot: CoTOutput?, mqtt: MQTTOutput?) {
        self.sensorID = sensorID
        self.tracking = tracking
        self.feed = feed
        self.cot = cot
        self.mqtt = mqtt
    }

    /// Whether track events are wanted anywhere: stdout and UDP with `--tracks`; MQTT always
    /// (its tracks topic is what a fleet's consoles follow).
    var wantsTracks: Bool { tracking.tracks || mqtt != nil }

    func detection(_ record: JSONValue) {
        mqtt?.publishDetection(record)
        emitLine(record)
    }

    func track(_ record: JSONValue) {
        mqtt?.publishTrack(record)
        if tracking.tracks { emitLine(record) }
    }

    private func emitLine(_ record: JSONValue) {
        feed?.send(record)
        pending += record.serialized()
        pending += "\n"
    }

    /// Writes the records so far to stdout.
    func flushStdout() {
        guard !pending.isEmpty else { return }
        FileHandle.standardOutput.write(Data(pending.utf8))
        pending = ""
    }

    /// Whether `--mqtt` was asked for and the broker never answered (offline analysis then fails).
    var mqttNeverConnected: Bool { mqtt.map { $0.counters.connects == 0 } ?? false }

    /// Flushes and closes every output and prints each one's summary on stderr. Idempotent.
    func close() {
        guard !closed else { return }
        closed = true
        flushStdout()
        if let feed { printErr(feed.summary) }
        if let cot {
            cot.close()
            printErr(cot.summary)
        }
        if let mqtt {
            // Give a connected broker time to take what is queued; what it has not acknowledged
            // stays spooled. Without a connection there is nothing to wait for.
            mqtt.close(timeoutS: mqtt.counters.connected ? 10 : 0)
            printErr(mqtt.summary)
            let waiting = mqtt.counters.spoolDepth
            if waiting > 0 {
                printErr("uasense: \(waiting) track updates wait in the spool \(mqtt.settings.spoolDirectory); "
                         + "they go out when uasense next runs with it and the broker answers")
            }
        }
    }
}

/// One stream's (a file's, or the live source's) Remote ID broadcasts through its tracks to the
/// outputs, in stream order: the track events due before a broadcast, its detection record, then
/// the events it caused.
final class DetectionStream {
    let outputs: RecordOutputs
    let tracks: TrackEvents
    var tracker: UASTracker { tracks.tracker }

    init(outputs: RecordOutputs, tracking: TrackOptions) throws {
        self.outputs = outputs
        tracks = try tracking.makeTracks()
    }

    func add(_ frame: RemoteIDFrame) throws {
        emit(tracks.advance(toS: frame.timestampS))
        let events = tracks.add(frame)
        try outputs.cot?.add(frame, tracker: tracker)
        outputs.detection(RemoteIDRecord.json(frame, sensorID: outputs.sensorID,
                                              knownUASID: tracker.knownID(address: frame.address)))
        emit(events)
    }

    /// Stream time has reached `timeS` with nothing heard: held updates and losses go out (live).
    func advance(toS timeS: Double) throws {
        emit(tracks.advance(toS: timeS))
        try outputs.cot?.flush(nowS: timeS)
    }

    /// End of the stream: every held update and every track's loss.
    func finish() throws {
        emit(tracks.finish())
        try outputs.cot?.flush()
    }

    private func emit(_ events: [TrackEvent]) {
        guard outputs.wantsTracks else { return }
        for event in events { outputs.track(TrackRecord.json(event, sensorID: outputs.sensorID)) }
    }
}
