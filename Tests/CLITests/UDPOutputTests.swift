import Foundation
import IQ
import TestSupport
import Testing

/// `analyze --udp` into `listen`: every record arrives, signed, equal to what stdout shows (packs
/// too large for one datagram come as parts, which put back together give the record).
@Suite struct UDPOutputTests {
    static let capture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/captures/odid_wifi_bcn_sample.pcap").path

    @Test func analyzeFeedsListen() throws {
        let binary = uasenseBinary()
        let dir = NSTemporaryDirectory() + "uasense-udp-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try (String(repeating: "c3", count: 32) + "\n").write(toFile: dir + "/key", atomically: true, encoding: .utf8)
        let port = 41_000 + Int(getpid() % 9000)

        // The listener first, in the background; stopped once every datagram is in.
        let logs = TempDir()
        let listener = try BackgroundProcess(binary, ["listen", "udp://127.0.0.1:\(port)", "--key-file", dir + "/key", "--json"],
                                             logsIn: logs, name: "listen")
        #expect(listener.waitUntil(timeoutS: 10) { listener.stderr.contains("listening on") })

        let (status, out, err) = try runProcess(binary, ["analyze", Self.capture, "--sensor-id", "udp-test",
                                                         "--udp", "udp://127.0.0.1:\(port)", "--udp-key-file", dir + "/key"])
        #expect(status == 0, "\(err)")
        #expect(err.contains("udp://127.0.0.1:\(port): 21 records in 105 datagrams (21 split), HMAC-SHA256 signed\n"), "\(err)")
        listener.waitUntil(timeoutS: 20) { listener.stdout.split(separator: "\n").count >= 105 }
        listener.signal(SIGINT)
        #expect(listener.waitForExit(timeoutS: 10) == 0)
        let datagrams = try listener.stdout.split(separator: "\n").map { try #require(try JSONValue.parse(Data($0.utf8)).objectValue) }
        #expect(datagrams.count == 105 && datagrams.allSatisfy { $0["signature"] == .string("valid") })
        // Every datagram, parts included, is a valid record of the schema.
        let logsFile = logs.file("datagrams.ndjson")
        try datagrams.map { d -> String in
            var record = d
            record["signature"] = nil
            return JSONValue.object(record).serialized()
        }.joined(separator: "\n").write(toFile: logsFile, atomically: true, encoding: .utf8)
        let report = try RecordSchemaTests.validate([logsFile])
        #expect(report.records == 105 && report.invalid.isEmpty, "\(report.invalid.prefix(3))")
        // Put the parts back together.
        var records: [JSONValue] = []
        var k = 0
        while k < datagrams.count {
            var record = datagrams[k]
            record["signature"] = nil
            let parts = Int(record["parts"]?.int64Value ?? 1)
            if parts > 1 {
                let messages = datagrams[k..<min(datagrams.count, k + parts)].flatMap { $0["remote_id"]?.arrayValue ?? [] }
                record["remote_id"] = .array(messages)
                record["part"] = nil
                record["parts"] = nil
            }
            records.append(.object(record))
            k += parts
        }
        let printed = try out.split(separator: "\n").map { try JSONValue.parse(Data($0.utf8)) }
        #expect(records == printed)
        #expect(printed.count == 21)
    }

    @Test func trackRecordsGoOutToo() throws {
        let binary = uasenseBinary()
        let port = 32_000 + Int(getpid() % 8000)
        let logs = TempDir()
        let listener = try BackgroundProcess(binary, ["listen", "udp://127.0.0.1:\(port)", "--json"], logsIn: logs, name: "listen")
        #expect(listener.waitUntil(timeoutS: 10) { listener.stderr.contains("listening on") })
        let recording = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("iq-samples/ble-remote-id-2402M.sigmf-meta").path
        let (status, out, err) = try runProcess(binary, ["analyze", recording, "--tracks", "--udp", "udp://127.0.0.1:\(port)"])
        #expect(status == 0, "\(err)")
        let kinds = { (text: String) in text.split(separator: "\n").compactMap { try? JSONValue.parse(Data($0.utf8)).objectValue?["kind"]?.stringValue } }
        let sent = kinds(out)
        listener.waitUntil(timeoutS: 20) { kinds(listener.stdout).count >= sent.count }
        listener.signal(SIGINT)
        #expect(listener.waitForExit(timeoutS: 10) == 0)
        let received = kinds(listener.stdout)
        #expect(sent.contains("track") && sent.contains("remote_id"))
        #expect(received == sent)
    }

    @Test func recordsUnderAnotherKeyAreFlaggedAsForged() throws {
        let binary = uasenseBinary()
        let dir = TempDir()
        let sensorKey = dir.write("sensor.key", text: String(repeating: "c3", count: 32) + "\n")
        let otherKey = dir.write("other.key", text: String(repeating: "5a", count: 32) + "\n")
        let port = 29_000 + Int(getpid() % 9000)
        let listener = try BackgroundProcess(binary, ["listen", "udp://127.0.0.1:\(port)", "--key-file", otherKey, "--count", "21"],
                                             logsIn: dir, name: "listen")
        #expect(listener.waitUntil(timeoutS: 10) { listener.stderr.contains("listening on") })
        // Records signed under the sensor's key fail the check under the console's other key (the first
        // 21 datagrams: the capture's records go as 105, split per message).
        let (status, _, err) = try runProcess(binary, ["analyze", Self.capture, "--udp", "udp://127.0.0.1:\(port)",
                                                       "--udp-key-file", sensorKey])
        #expect(status == 0, "\(err)")
        #expect(listener.waitForExit(timeoutS: 20) == 1, "\(listener.stderr)")
        let rows = listener.stdout.split(separator: "\n").dropFirst()  // the header
        #expect(rows.count == 21 && rows.allSatisfy { $0.contains("FORGED?") }, "\(listener.stdout)")
        #expect(listener.stderr.contains("21 records, 21 failed the HMAC check"), "\(listener.stderr)")
    }

    @Test func badDestinationsAndKeysAreOneLine() throws {
        let binary = uasenseBinary()
        let (status, _, err) = try runProcess(binary, ["analyze", Self.capture, "--udp", "udp://127.0.0.1"])
        #expect(status == 1 && err == "uasense: udp://127.0.0.1: expected udp://HOST:PORT with a port from 1 to 65535\n")
        let (status2, _, err2) = try runProcess(binary, ["analyze", Self.capture, "--udp", "udp://127.0.0.1:9",
                                                         "--udp-key-file", "/nonexistent/key"])
        #expect(status2 == 1 && err2 == "uasense: /nonexistent/key: cannot read the file\n")
        let (status3, _, err3) = try runProcess(binary, ["listen", "tcp://:5"])
        #expect(status3 == 1 && err3 == "uasense: tcp://:5: expected udp://HOST:PORT\n")
        let (status4, _, err4) = try runProcess(binary, ["analyze", Self.capture, "--udp-key-file", "/tmp/key"])
        #expect(status4 != 0 && err4.contains("--udp-key-file signs the UDP feed: give --udp udp://HOST:PORT too"), "\(err4)")
    }
}
