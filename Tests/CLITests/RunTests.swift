import Foundation
import IQ
import TestSupport
import Testing

/// `uasense run`: the live sensor on a recording replayed in real time, looped, with its records
/// on stdout and over UDP to `listen`.
@Suite struct RunTests {
    static let recording = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("iq-samples/ble-remote-id-2402M.sigmf-meta").path
    /// The recording: 1 200 000 cu8 samples (0.5 s at 2.4 MS/s).
    static let recordingSamples: Int64 = 1_200_000

    @Test func liveSensorEmitsRecordsAndTracks() throws {
        let binary = uasenseBinary()
        let dir = TempDir()
        let port = 35_000 + Int(getpid() % 9000)
        let listener = try BackgroundProcess(binary, ["listen", "udp://127.0.0.1:\(port)", "--json", "--timeout", "8"],
                                             logsIn: dir, name: "listen")
        #expect(listener.waitUntil(timeoutS: 10) { listener.stderr.contains("listening on") })

        let startS = Date().timeIntervalSince1970
        let sensor = try BackgroundProcess(binary, ["run", "--source", "file:" + Self.recording, "--loop", "--tracks",
                                                    "--sensor-id", "run-test", "--udp", "udp://127.0.0.1:\(port)",
                                                    "--stats-interval", "0.5"], logsIn: dir, name: "run")
        // Each pass of the recording holds 20 broadcasts: wait for the third pass.
        let heard = sensor.waitUntil(timeoutS: 90) {
            sensor.stdout.split(separator: "\n").filter { $0.contains("\"kind\":\"remote_id\"") }.count >= 45
        }
        #expect(heard, "\(sensor.stderr)")
        sensor.signal(SIGINT)
        #expect(sensor.waitForExit(timeoutS: 20) == 0, "\(sensor.stderr)")
        let endS = Date().timeIntervalSince1970

        let err = sensor.stderr
        #expect(err.contains("receiving Bluetooth LE Remote ID on channel 37"), "\(err)")
        #expect(err.contains("Remote ID broadcasts"), "\(err)")
        #expect(err.contains("uasense: stopped after"), "\(err)")

        let records = try sensor.stdout.split(separator: "\n").map { try #require(try JSONValue.parse(Data($0.utf8)).objectValue) }
        let detections = records.filter { $0["kind"] == .string("remote_id") }
        let tracks = records.filter { $0["kind"] == .string("track") }
        #expect(detections.count >= 45)
        // One gapless stream across the passes: sample indices keep counting past the file's end.
        let indices = detections.compactMap { $0["sample_index"]?.int64Value }
        #expect(indices.count == detections.count)
        #expect(zip(indices, indices.dropFirst()).allSatisfy { $0 < $1 })
        #expect((indices.last ?? 0) > 2 * Self.recordingSamples)
        // Stamped on the wall clock of the replay.
        let times = detections.compactMap { $0["time"]?.stringValue.flatMap(RFC3339.parse) }
        #expect(times.count == detections.count)
        #expect(times.allSatisfy { $0 >= startS - 1 && $0 <= endS + 1 }, "\(times) outside \(startS)…\(endS)")
        #expect(detections.allSatisfy { $0["sensor_id"] == .string("run-test") && $0["uas_id"] == .string("1596F3SYNTH0001") })
        // Tracks: updates while it flies, and a loss when the sensor stops.
        #expect(tracks.first?["event"] == .string("update"))
        #expect(tracks.last?["event"] == .string("lost"))

        // The UDP feed carried exactly what stdout shows.
        #expect(listener.waitForExit(timeoutS: 60) == 0)
        let received = try listener.stdout.split(separator: "\n").map { line in
            var record = try #require(try JSONValue.parse(Data(line.utf8)).objectValue)
            #expect(record["signature"] == .string("unsigned"))
            record["signature"] = nil
            return record
        }
        #expect(received.count == records.count)
        #expect(received == records, "the UDP feed differs from stdout")
    }

    @Test func liveOverRtlTcpAcrossAReconnect() throws {
        // The recording's samples looped by a fake rtl_tcp server that hangs up after 1.5 M samples.
        let data = Self.recording.replacingOccurrences(of: ".sigmf-meta", with: ".sigmf-data")
        let server = try FakeRtlTcpServer(extra: ["--file", data, "--close-after-samples", "1500000"])
        let dir = TempDir()
        let sensor = try BackgroundProcess(uasenseBinary(), ["run", "--source", "rtltcp://127.0.0.1:\(server.port)",
                                                             "--freq", "2402e6", "--rate", "2.4e6", "--sensor-id", "tcp-test",
                                                             "--stats-interval", "0.5"], logsIn: dir, name: "run")
        let heard = sensor.waitUntil(timeoutS: 90) {
            sensor.stderr.contains("reconnects 1")
                && sensor.stdout.split(separator: "\n").filter { $0.contains("\"kind\":\"remote_id\"") }.count >= 45
        }
        #expect(heard, "\(sensor.stderr)")
        sensor.signal(SIGINT)
        #expect(sensor.waitForExit(timeoutS: 20) == 0, "\(sensor.stderr)")
        let detections = try sensor.stdout.split(separator: "\n").map { try #require(try JSONValue.parse(Data($0.utf8)).objectValue) }
        #expect(detections.count >= 45)
        #expect(detections.allSatisfy { $0["uas_id"] == .string("1596F3SYNTH0001") && $0["sensor_id"] == .string("tcp-test") })
        // The outage is a gap in the stream's count, not a restart of it.
        let indices = detections.compactMap { $0["sample_index"]?.int64Value }
        #expect(zip(indices, indices.dropFirst()).allSatisfy { $0 < $1 })
        let times = detections.compactMap { $0["time"]?.stringValue.flatMap(RFC3339.parse) }
        #expect(zip(times, times.dropFirst()).allSatisfy { $0 < $1 })
    }

    @Test func loopNeedsAFileSource() throws {
        let (status, _, err) = try runProcess(uasenseBinary(), ["run", "--source", "rtltcp://127.0.0.1:1", "--loop"])
        #expect(status != 0)
        #expect(err.contains("--loop replays recordings: use it with --source file:PATH"), "\(err)")
    }
}
