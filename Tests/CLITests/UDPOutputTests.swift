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

        // The listener first, in the background; it stops after the records or 10 quiet seconds.
        let listener = Process()
        listener.executableURL = URL(fileURLWithPath: binary)
        listener.arguments = ["listen", "udp://127.0.0.1:\(port)", "--key-file", dir + "/key", "--json", "--timeout", "3"]
        // Into files, not pipes: an undrained pipe would block the listener once it filled.
        FileManager.default.createFile(atPath: dir + "/listened", contents: nil)
        FileManager.default.createFile(atPath: dir + "/listen.err", contents: nil)
        listener.standardOutput = FileHandle(forWritingAtPath: dir + "/listened")
        listener.standardError = FileHandle(forWritingAtPath: dir + "/listen.err")
        try listener.run()
        // Wait until it has bound the port (it says so on stderr).
        for _ in 0..<200 where !((try? String(contentsOfFile: dir + "/listen.err", encoding: .utf8)) ?? "").contains("listening on") {
            usleep(50_000)
        }

        let (status, out, err) = try runProcess(binary, ["analyze", Self.capture, "--sensor-id", "udp-test",
                                                         "--udp", "udp://127.0.0.1:\(port)", "--udp-key-file", dir + "/key"])
        #expect(status == 0, "\(err)")
        #expect(err.contains("udp://127.0.0.1:\(port): 21 records in 105 datagrams (21 split), HMAC-SHA256 signed\n"), "\(err)")
        listener.waitUntilExit()
        let datagrams = try String(decoding: FileManager.default.contents(atPath: dir + "/listened") ?? Data(), as: UTF8.self)
            .split(separator: "\n").map { try #require(try JSONValue.parse(Data($0.utf8)).objectValue) }
        #expect(datagrams.count == 105 && datagrams.allSatisfy { $0["signature"] == .string("valid") })
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
        let dir = NSTemporaryDirectory() + "uasense-udp-tracks-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let port = 32_000 + Int(getpid() % 8000)
        let listener = Process()
        listener.executableURL = URL(fileURLWithPath: binary)
        listener.arguments = ["listen", "udp://127.0.0.1:\(port)", "--json", "--timeout", "3"]
        FileManager.default.createFile(atPath: dir + "/listened", contents: nil)
        FileManager.default.createFile(atPath: dir + "/listen.err", contents: nil)
        listener.standardOutput = FileHandle(forWritingAtPath: dir + "/listened")
        listener.standardError = FileHandle(forWritingAtPath: dir + "/listen.err")
        try listener.run()
        for _ in 0..<200 where !((try? String(contentsOfFile: dir + "/listen.err", encoding: .utf8)) ?? "").contains("listening on") {
            usleep(50_000)
        }
        let recording = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("iq-samples/ble-remote-id-2402M.sigmf-meta").path
        let (status, out, err) = try runProcess(binary, ["analyze", recording, "--tracks", "--udp", "udp://127.0.0.1:\(port)"])
        #expect(status == 0, "\(err)")
        listener.waitUntilExit()
        let kinds = { (text: String) in text.split(separator: "\n").compactMap { try? JSONValue.parse(Data($0.utf8)).objectValue?["kind"]?.stringValue } }
        let sent = kinds(out), received = kinds(String(decoding: FileManager.default.contents(atPath: dir + "/listened") ?? Data(), as: UTF8.self))
        #expect(sent.contains("track") && sent.contains("remote_id"))
        #expect(received == sent)
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
    }
}
