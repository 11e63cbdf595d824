import Foundation
import IQ
import TestSupport
import Testing

/// `--mqtt` end to end, against a real mosquitto broker on loopback and `mosquitto_sub` as the
/// console: every detection arrives; track updates survive a 30 s broker outage; a killed sensor
/// shows as offline through its last will.
@Suite(.serialized) struct MQTTCLITests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let bleRecording = root.appendingPathComponent("iq-samples/ble-remote-id-2402M.sigmf-meta").path
    static let wifiCapture = root.appendingPathComponent("Tests/Fixtures/captures/odid_wifi_bcn_sample.pcap").path

    static func lines(_ text: String, kind: String) -> [String] {
        text.split(separator: "\n").map(String.init).filter { $0.contains("\"kind\":\"\(kind)\"") }
    }

    @Test func analyzeDeliversEveryRecord() throws {
        let broker = try MosquittoBroker()
        let dir = TempDir()
        let sub = try MosquittoSubscriber(port: broker.port, topics: ["uasense/mqtt-a/#"], clientID: "console-a")
        usleep(300_000)
        let (status, out, err) = try runProcess(uasenseBinary(), [
            "analyze", Self.wifiCapture, Self.bleRecording, "--sensor-id", "mqtt-a", "--tracks",
            "--mqtt", "mqtt://127.0.0.1:\(broker.port)", "--mqtt-spool", dir.file("spool")])
        #expect(status == 0, "\(err)")
        let detections = Self.lines(out, kind: "remote_id"), tracks = Self.lines(out, kind: "track")
        #expect(detections.count == 41 && tracks.count >= 4, "\(detections.count) detections, \(tracks.count) track records")
        sub.wait(timeoutS: 15) { m in
            m.filter { $0.topic == "uasense/mqtt-a/tracks" }.count >= tracks.count
                && m.contains { $0.topic == "uasense/mqtt-a/availability" && $0.payload == "offline" }
        }
        let got = sub.messages()
        // Byte for byte what stdout shows, in the same order.
        #expect(got.filter { $0.topic == "uasense/mqtt-a/detections" }.map(\.payload) == detections)
        #expect(got.filter { $0.topic == "uasense/mqtt-a/tracks" }.map(\.payload) == tracks)
        #expect(got.filter { $0.topic == "uasense/mqtt-a/availability" }.map(\.payload) == ["online", "offline"])
        let status0 = try #require(got.last { $0.topic == "uasense/mqtt-a/status" })
        #expect(try JSONValue.parse(Data(status0.payload.utf8)).objectValue?["sensor_id"] == .string("mqtt-a"))
        #expect(err.contains("41 detections sent, 0 dropped"), "\(err)")
    }

    @Test func unreachableBrokerLeavesTracksInTheSpoolForTheNextRun() throws {
        let broker = try MosquittoBroker(start: false)
        let dir = TempDir()
        let args = ["analyze", Self.wifiCapture, "--sensor-id", "mqtt-d", "--tracks",
                    "--mqtt", "mqtt://127.0.0.1:\(broker.port)", "--mqtt-spool", dir.file("spool")]
        let (status, out, err) = try runProcess(uasenseBinary(), args)
        // Offline analysis that reached nobody fails, saying why; its track updates are kept.
        #expect(status == 1, "\(err)")
        #expect(err.contains("uasense: nothing reached the MQTT broker mqtt://127.0.0.1:\(broker.port): cannot connect"), "\(err)")
        let tracks = Self.lines(out, kind: "track")
        #expect(tracks.count >= 5)
        #expect(err.contains("not connected after 10 s"), "\(err)")
        #expect(err.contains("0 detections sent, 21 dropped; 0 track updates acked, \(tracks.count) waiting in the spool"), "\(err)")
        #expect(err.contains("\(tracks.count) track updates wait in the spool \(dir.file("spool"))"), "\(err)")

        // The next run, with the broker there, sends the spooled updates first, then its own.
        try broker.start()
        let sub = try MosquittoSubscriber(port: broker.port, topics: ["uasense/mqtt-d/tracks"])
        usleep(300_000)
        let (status2, _, err2) = try runProcess(uasenseBinary(), args)
        #expect(status2 == 0, "\(err2)")
        #expect(sub.wait(timeoutS: 10) { $0.count >= 2 * tracks.count })
        #expect(sub.messages().map(\.payload) == tracks + tracks)
        #expect(err2.contains("\(2 * tracks.count) track updates acked, 0 waiting in the spool"), "\(err2)")
    }

    @Test func trackUpdatesSurviveABrokerOutage() throws {
        let broker = try MosquittoBroker()
        let dir = TempDir()
        var subscribers = [try MosquittoSubscriber(port: broker.port, topics: ["uasense/mqtt-b/tracks"], clientID: "console-b")]
        usleep(300_000)
        let sensor = try BackgroundProcess(uasenseBinary(), [
            "run", "--source", "file:" + Self.bleRecording, "--loop", "--tracks", "--track-interval", "0.5",
            "--sensor-id", "mqtt-b", "--mqtt", "mqtt://127.0.0.1:\(broker.port)", "--mqtt-spool", dir.file("spool"),
            "--stats-interval", "1"], logsIn: dir, name: "sensor")
        func trackLines() -> [String] { Self.lines(sensor.stdout, kind: "track") }
        #expect(sensor.waitUntil(timeoutS: 60) { trackLines().count >= 3 }, "\(sensor.stderr)")
        // The broker goes away for 30 s while the sensor goes on making track updates.
        broker.stop()
        let before = trackLines().count
        sleep(30)
        let duringOutage = trackLines().count - before
        try broker.start()
        // mosquitto_sub may give up when its broker vanishes; the console then comes back with
        // the same persistent session.
        if !subscribers[0].isRunning {
            subscribers.append(try MosquittoSubscriber(port: broker.port, topics: ["uasense/mqtt-b/tracks"], clientID: "console-b"))
        }
        func received() -> [String] { subscribers.flatMap { $0.messages().map(\.payload) } }
        // Everything made before and during the outage arrives once the sensor is back (its
        // reconnect backoff tops out at 10 s).
        let caughtUp = sensor.waitUntil(timeoutS: 60) { Set(trackLines()).isSubset(of: Set(received())) }
        #expect(caughtUp, "\(Set(trackLines()).subtracting(received()).count) track updates still missing 60 s after the broker came back")
        sensor.signal(SIGINT)
        #expect(sensor.waitForExit(timeoutS: 30) == 0, "\(sensor.stderr)")
        let sent = trackLines()
        #expect(duringOutage >= 5, "only \(duringOutage) track updates during the outage")
        let complete = sensor.waitUntil(timeoutS: 20) { Set(sent).isSubset(of: Set(received())) }
        let missing = Set(sent).subtracting(received())
        #expect(complete && missing.isEmpty, "\(missing.count) of \(sent.count) track updates never arrived")
        print("MQTT outage: \(sent.count) track updates, \(duringOutage) made during the 30 s outage; "
              + "\(sent.count - missing.count) arrived, \(received().count - Set(received()).count) duplicates")
        #expect(sensor.stderr.contains(" 0 waiting in the spool") && !sensor.stderr.contains("wait in the spool "), "\(sensor.stderr)")
    }

    @Test func killedSensorShowsOfflineThroughItsLastWill() throws {
        let broker = try MosquittoBroker()
        let dir = TempDir()
        let sub = try MosquittoSubscriber(port: broker.port, topics: ["uasense/mqtt-c/availability"])
        usleep(300_000)
        let sensor = try BackgroundProcess(uasenseBinary(), [
            "run", "--source", "file:" + Self.bleRecording, "--loop", "--sensor-id", "mqtt-c",
            "--mqtt", "mqtt://127.0.0.1:\(broker.port)", "--mqtt-spool", dir.file("spool")], logsIn: dir, name: "sensor")
        #expect(sub.wait(timeoutS: 30) { $0.map(\.payload) == ["online"] }, "\(sensor.stderr)")
        sensor.signal(SIGKILL)
        _ = sensor.waitForExit(timeoutS: 10)
        #expect(sub.wait(timeoutS: 15) { $0.map(\.payload) == ["online", "offline"] }, "\(sub.messages())")
    }
}
