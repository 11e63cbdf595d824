import Foundation
import Glibc
import Captures
import IQ
import TestSupport
import Testing

/// The `uasense` binary end to end: outputs, exit status and one-line errors.
@Suite struct CLITests {
    let binary = uasenseBinary()

    func run(_ args: [String]) throws -> (Int32, String, String) {
        try runProcess(binary, args)
    }

    @Test func infoDescribesARecording() throws {
        let dir = TempDir()
        let path = dir.write("t_915M_2400k.cu8", [0, 255, 128, 128, 127, 128, 128, 127])
        let (status, out, _) = try run(["info", path])
        #expect(status == 0)
        #expect(out.contains("cu8"))
        #expect(out.contains("2.4 MS/s"))
        #expect(out.contains("915.000000 MHz"))
        #expect(out.contains("4 (0.000 s)"))
        #expect(out.contains("25.000 % (1 samples)"))
        let (_, json, _) = try run(["info", "--json", path])
        let fields = try JSONValue.parse(Data(json.utf8)).objectValue ?? [:]
        #expect(fields["sample_count"] == .int(4))
        #expect(fields["clipped_samples"] == .int(1))
        #expect(fields["center_freq_hz"] == .int(915_000_000))
    }

    @Test func convertRoundTripThroughEveryFormatWithinOneLSB() throws {
        let dir = TempDir()
        let original = pseudoRandomBytes(2 * 100_000, seed: 5)
        let cu8 = dir.write("in_915M_2400k.cu8", original)
        let steps = [(cu8, dir.file("a_915M_2400k.cf32")), (dir.file("a_915M_2400k.cf32"), dir.file("b.sigmf")),
                     (dir.file("b.sigmf"), dir.file("c_915M_2400k.cs16")), (dir.file("c_915M_2400k.cs16"), dir.file("d.cu8"))]
        for (from, to) in steps {
            let (status, _, err) = try run(["convert", from, to] + (to.hasSuffix(".sigmf") ? ["--to", "cs16"] : []))
            #expect(status == 0, "\(err)")
        }
        let back = try Array(Data(contentsOf: URL(fileURLWithPath: dir.file("d.cu8"))))
        #expect(back.count == original.count)
        #expect(zip(back, original).allSatisfy { abs(Int($0) - Int($1)) <= 1 })
        let archive = try Recording.open(dir.file("b.sigmf"))
        #expect(archive.format == .cs16 && archive.sampleRateHz == 2_400_000 && archive.centerFrequencyHz == 915e6)
    }

    @Test func analyzeSummarisesOnStderrOnly() throws {
        let dir = TempDir()
        let (s1, _, _) = try run(["synth", "demo-915", "-o", dir.file("demo.sigmf-meta")])
        #expect(s1 == 0)
        let (status, out, err) = try run(["analyze", dir.file("demo.sigmf-meta")])
        #expect(status == 0)
        #expect(out.isEmpty)
        #expect(err.contains("cu8 2.4 MS/s at 915.000000 MHz, 1080000 samples (0.450 s)"))
        #expect(err.contains("8× fhss-fsk"))
    }

    /// Each bad input: non-zero exit, exactly one line on stderr naming the problem, no crash.
    @Test func badInputGivesOneClearLine() throws {
        let dir = TempDir()
        let cases: [([String], String)] = [
            (["info", dir.write("empty_2400k.cu8", [])], "file is empty"),
            (["info", dir.write("odd_2400k.cs16", [1, 2, 3, 4, 5])], "not a whole number of cs16 samples"),
            (["info", dir.write("x_2400k.bin", [1, 2])], "pass --format"),
            (["info", dir.write("norate.cu8", [1, 2])], "sample rate unknown"),
            (["info", dir.file("missing_2400k.cu8")], "file not found"),
            (["info", dir.write("j.sigmf-meta", text: "{nope")], "not valid JSON"),
            (["info", dir.write("t.sigmf-meta", text: #"{"global":{"core:datatype":"ci32_le","core:sample_rate":1}}"#)],
             "unsupported SigMF datatype 'ci32_le'"),
            (["info", dir.write("n.sigmf-meta", text: #"{"global":{"core:datatype":"cu8","core:sample_rate":1}}"#)],
             "SigMF data file not found"),
            (["info", dir.write("notar.sigmf", pseudoRandomBytes(2000))], "not a tar file"),
            (["analyze", dir.file("missing_2400k.cu8")], "file not found"),
            (["convert", dir.file("missing_2400k.cu8"), dir.file("o.cu8")], "file not found"),
            (["run", "--source", "bogus"], "unknown source"),
            (["run", "--source", "http://example.com/iq"], "'http://' is not a source"),
            (["run", "--source", "rtltcp://127.0.0.1:1", "--rate", "500000"], "out of range"),
            (["synth", "nope", "-o", dir.file("x.sigmf")], "unknown scene"),
        ]
        _ = dir.write("p.sigmf-meta", text: #"{"global":{"core:datatype":"cu8","core:sample_rate":1},"captures":[{"core:sample_start":9}]}"#)
        _ = dir.write("p.sigmf-data", [1, 2, 3, 4])
        for (args, message) in cases + [(["info", dir.file("p.sigmf-meta")], "capture starts at sample 9")] {
            let (status, out, err) = try run(args)
            let lines = err.split(separator: "\n")
            #expect(status != 0, "\(args)")
            #expect(lines.count == 1 && err.contains(message), "\(args): \(err)")
            #expect(out.isEmpty, "\(args)")
        }
    }

    @Test(.enabled(if: RtlSdrSource.devices().isEmpty, "an RTL-SDR is attached"))
    func missingDongleIsOneClearLine() throws {
        for args in [["devices"], ["run", "--source", "rtlsdr"], ["record", "--source", "rtlsdr:0", "-o", "/tmp/x.sigmf"]] {
            let (status, _, err) = try run(args)
            #expect(status != 0)
            #expect(err == "Error: no RTL-SDR device found\n", "\(args): \(err)")
        }
    }
}

/// Live commands against the fake rtl_tcp server.
@Suite(.serialized) struct LiveCLITests {
    let binary = uasenseBinary()

    @Test func recordWritesSigMFWithTimeAndHardware() throws {
        let server = try FakeRtlTcpServer()
        let dir = TempDir()
        let out = dir.file("rec.sigmf-meta")
        let t0 = wallClockS()
        let (status, _, err) = try runProcess(binary, ["record", "--source", "rtltcp://127.0.0.1:\(server.port)",
                                                       "--freq", "868e6", "--rate", "1e6", "--duration", "0.5", "-o", out])
        #expect(status == 0, "\(err)")
        let rec = try Recording.open(out)
        #expect(rec.sampleCount == 500_000)
        #expect(rec.format == .cu8 && rec.sampleRateHz == 1e6 && rec.centerFrequencyHz == 868e6)
        #expect(rec.metadata[string: "core:hw"]?.contains("R820T") == true)
        let start = try #require(rec.startTimeS)
        #expect(abs(start - t0) < 2)
        #expect(rec.metadata.captures.count == 1)
        #expect(err.contains("500000 samples") && err.contains("0 dropped"))
        // The ramp the server sent arrives intact.
        let samples = try readAll(out)
        let bad = samples.enumerated().filter { Int(($0.element.i * 127.5 + 127.5).rounded()) != $0.offset % 256 }.count
        #expect(bad == 0)
    }

    @Test func runLogsThroughputAndStopsOnSIGINT() throws {
        let server = try FakeRtlTcpServer()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["run", "--source", "rtltcp://127.0.0.1:\(server.port)", "--stats-interval", "0.5"]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        usleep(1_800_000)
        kill(process.processIdentifier, SIGINT)
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            Issue.record("uasense run ignored SIGINT for 5 s")
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0, "\(text)")
        let statusLines = text.split(separator: "\n").filter { $0.contains("MS/s, dropped") }
        #expect(statusLines.count >= 2, "\(text)")
        #expect(text.contains("stopped after"))
        // Steady-state lines report about 2.4 MS/s.
        let rates = statusLines.dropFirst().dropLast().compactMap { line in
            line.split(separator: " ").dropFirst().first.flatMap { Double($0) }
        }
        #expect(rates.allSatisfy { $0 > 2.0 && $0 < 2.9 }, "\(rates)")
    }
}

/// Arguments and files a careless or hostile user may give: one clear line, no crash, no data lost.
@Suite struct CLIRobustnessTests {
    let binary = uasenseBinary()

    @Test func convertRefusesToOverwriteItsInput() throws {
        let dir = TempDir()
        let original = pseudoRandomBytes(4000)
        let path = dir.write("same_915M_2400k.cu8", original)
        let (status, _, err) = try runProcess(binary, ["convert", path, path])
        #expect(status != 0)
        #expect(err.contains("would overwrite the input"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(original))
    }

    @Test func badArgumentsGiveOneLine() throws {
        let dir = TempDir()
        let file = dir.write("x_915M_2400k.cu8", pseudoRandomBytes(20000))
        let cases: [[String]] = [
            ["bursts", file, "--fft-size", "8192"],
            ["spectrum", file, "--png", dir.file("x.png"), "--max-rows", "0"],
            ["run", "--source", "rtltcp://127.0.0.1:1", "--rate", "1e30"],
            ["run", "--source", "rtltcp://127.0.0.1:1", "--freq", "4294967295.6"],
            ["run", "--source", "rtltcp://127.0.0.1:1", "--ppm", "9999999999"],
            ["info", file, "--rate", "1e20"],
            ["info", file, "--dc-offset", "nan"],
            ["synth", "custom", "--duration=-5", "-o", dir.file("s.sigmf")],
            ["record", "--source", "rtlsdr", "--duration=-5", "-o", dir.file("r.sigmf")],
        ]
        for args in cases {
            let (status, _, err) = try runProcess(binary, args)
            #expect(status != 0, "\(args)")
            #expect(!err.contains("Fatal error") && !err.contains("Backtrac"), "\(args): \(err)")
            #expect(!err.isEmpty, "\(args)")
        }
    }

    @Test func hugeFloatSamplesDoNotCrashTheDetector() throws {
        let dir = TempDir()
        var samples = [Float](repeating: 0.01, count: 2 * 300_000)
        for k in stride(from: 200_000, to: 220_000, by: 1) { samples[2 * k] = 1e20 }
        let path = dir.write("big_2400k.cf32", samples.withUnsafeBytes { Array($0) })
        let (status, _, err) = try runProcess(binary, ["bursts", path])
        #expect(status == 0, "\(err)")
    }
}

/// `analyze` on frame captures: one record per broadcast on stdout, the per-UAS state on stderr.
@Suite struct CaptureAnalyzeTests {
    let binary = uasenseBinary()

    static func capture(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/captures/\(name)").path
    }

    @Test func beaconCaptureGivesOneRecordPerFrame() throws {
        let (status, out, err) = try runProcess(binary, ["analyze", Self.capture("odid_wifi_bcn_sample.pcap"),
                                                         "--summary", "--sensor-id", "s1"])
        #expect(status == 0, "\(err)")
        let records = try out.split(separator: "\n").map { try JSONValue.parse(Data($0.utf8)).objectValue ?? [:] }
        #expect(records.count == 21)
        for r in records {
            #expect(r["uas_id"] == .string("MFG1A0123456789"))
            #expect(r["family"] == .string("wifi-beacon-remote-id") && r["kind"] == .string("remote_id"))
            #expect(r["sensor_id"] == .string("s1") && r["freq_hz"] == .int(2_437_000_000))
            #expect(r["lat"] != nil && r["lon"] != nil && r["operator_lat"] != nil)
            #expect(r["remote_id"]?.arrayValue?.count == 5)
        }
        #expect(records.first?["lat"]?.doubleValue.map { abs($0 - 45.5457468) < 1e-9 } == true)
        #expect(err.contains("UAS MFG1A0123456789: 21 frames"))
        #expect(err.contains("operator GBR-OP-123ABCD"))
    }

    @Test func unknownLocationFieldsAreAbsentNotZero() throws {
        let (status, out, _) = try runProcess(binary, ["analyze", Self.capture("odid_bt5_lr_sample.pcapng")])
        #expect(status == 0)
        let records = try out.split(separator: "\n").map { try JSONValue.parse(Data($0.utf8)).objectValue ?? [:] }
        #expect(records.count == 244)
        for r in records {
            #expect(r["lat"] == nil && r["lon"] == nil && r["alt_geo_m"] == nil)
            for message in r["remote_id"]?.arrayValue ?? [] {
                guard let m = message.objectValue, m["type"] == .string("location") else { continue }
                #expect(m["lat"] == nil && m["direction_deg"] == nil && m["speed_h_mps"] == nil && m["speed_v_mps"] == nil)
            }
        }
    }

    @Test func brokenCaptureIsOneLine() throws {
        let dir = TempDir()
        let (status, _, err) = try runProcess(binary, ["analyze", dir.write("junk.pcap", pseudoRandomBytes(500))])
        #expect(status != 0)
        #expect(err.split(separator: "\n").count == 1 && err.contains("not a pcap or pcapng file"))
    }
}

/// uasense's Bluetooth pcap output read back by tshark (Debian's Wireshark command line).
@Suite struct BLEPcapOutputTests {
    let binary = uasenseBinary()

    @Test func tsharkReadsEveryPacketWithAGoodCRC() throws {
        let dir = TempDir()
        let out = dir.file("ble.pcap")
        let (status, _, err) = try runProcess(binary, ["analyze", CaptureAnalyzeTests.capture("odid_bt5_lr_sample.pcapng"),
                                                       "--pcap", out])
        #expect(status == 0, "\(err)")
        let (s2, text, e2) = try runProcess("/usr/bin/env", ["tshark", "-r", out, "-V"])
        #expect(s2 == 0, "\(e2)")
        let lines = text.split(separator: "\n")
        #expect(lines.filter { $0.hasPrefix("Frame ") }.count == 244)
        #expect(lines.filter { $0.contains("CRC Valid: True") }.count == 244)
        #expect(!text.contains("Incorrect CRC"))
        #expect(text.contains("ASTM Remote ID"))
    }

    /// A legacy (LE 1M) packet: tshark computes and checks the CRC itself.
    @Test func tsharkVerifiesLegacyCRCs() throws {
        let dir = TempDir()
        let path = dir.file("legacy.pcap")
        let writer = try BLEPcapWriter(path: path)
        let pdu = "42 25 55 44 33 22 11 c0 1e 16 fa ff 0d 07 12 26 24 16 0a 42 bf 24 1b 6e d1 b4 b6 98 08 ac 08 70 08 6b 53 15 0e 02 00"
            .split(separator: " ").compactMap { UInt8($0, radix: 16) }
        for channel in [37, 38, 39] { try writer.write(timestampS: 1.7e9, channel: channel, rssiDBm: -50, pdu: pdu) }
        try writer.close()
        let (status, text, _) = try runProcess("/usr/bin/env", ["tshark", "-r", path, "-V"])
        #expect(status == 0)
        #expect(text.contains("CRC Checked: False"))
        #expect(!text.contains("Incorrect CRC"))
        #expect(text.split(separator: "\n").filter { $0.hasPrefix("Frame ") }.count == 3)
    }
}

/// `analyze` on IQ recorded on a Bluetooth channel: Remote ID received from the samples themselves.
@Suite struct IQRemoteIDAnalyzeTests {
    let binary = uasenseBinary()

    @Test func bundledRecordingGivesEveryPacketAsARecord() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = root.appendingPathComponent("iq-samples/ble-remote-id-2402M.sigmf-meta").path
        let dir = TempDir()
        let pcap = dir.file("rid.pcap")
        let (status, out, err) = try runProcess(binary, ["analyze", path, "--summary", "--pcap", pcap])
        #expect(status == 0, "\(err)")
        let records = try out.split(separator: "\n").map { try JSONValue.parse(Data($0.utf8)).objectValue ?? [:] }
        let truth = try Recording.open(path).metadata.annotations
        #expect(records.count == truth.count && truth.count == 20)
        for (record, annotation) in zip(records, truth) {
            #expect(record["uas_id"] == .string("1596F3SYNTH0001"))
            #expect(record["family"] == .string("ble-legacy-remote-id") && record["channel"] == .int(37))
            #expect(record["freq_hz"] == .int(2_402_000_000))
            let index = record["sample_index"]?.doubleValue ?? -1
            #expect(abs(index - Double(annotation.sampleStart)) <= 4)
            let type = record["remote_id"]?.arrayValue?.first?.objectValue?["type"]
            #expect(type == .string(annotation.label ?? ""))
            let snr = record["snr_db"]?.doubleValue ?? 0
            #expect(snr > 10 && snr < 23)
        }
        #expect(err.contains("channel 37: 20 packets (20 Remote ID broadcasts; 20 LE 1M, 0 LE Coded)"))
        #expect(err.contains("operator GBR-OP-SYNTH001"))
        #expect(!err.contains("flags"))
        let written = try CaptureFile.read(path: pcap)
        #expect(written.packets.count == 20)
    }
}

/// `analyze` on a 20 MS/s recording: every BLE channel in band received through the filter bank.
@Suite struct WidebandAnalyzeTests {
    let binary = uasenseBinary()

    @Test func everyChannelInBandGivesItsRecords() throws {
        let dir = TempDir()
        let path = dir.file("wide.sigmf-meta")
        let (synthStatus, _, synthErr) = try runProcess(binary, ["synth", "ble-wideband", "--duration", "0.2", "-o", path])
        #expect(synthStatus == 0, "\(synthErr)")
        let recording = try Recording.open(path)
        #expect(recording.format == .cs8 && recording.sampleRateHz == 20e6 && recording.centerFrequencyHz == 2426e6)
        // Ground truth: each annotation is "<message> ch<N>"; the phone's adverts ("other") and the
        // ADV_EXT_INDs (an AuxPtr, no data) are no Remote ID.
        let annotations = recording.metadata.annotations
        let truth = annotations.filter { !($0.label ?? "").hasPrefix("other") && !($0.label ?? "").hasPrefix("adv_ext_ind") }
            .sorted { $0.sampleStart < $1.sampleStart }
        let others = annotations.count - truth.count
        let pointers = annotations.filter { ($0.label ?? "").hasPrefix("adv_ext_ind") }.count
        let pcap = dir.file("wide.pcap")
        let (status, out, err) = try runProcess(binary, ["analyze", path, "--summary", "--pcap", pcap])
        #expect(status == 0, "\(err)")
        let records = try out.split(separator: "\n").map { try JSONValue.parse(Data($0.utf8)).objectValue ?? [:] }
        #expect(records.count == truth.count && truth.count > 10, "\(err)")
        var channels = Set<Int64>()
        for (record, annotation) in zip(records, truth) {
            let channel = Int64(annotation.label?.split(separator: "h").last ?? "") ?? -1
            #expect(record["channel"] == .int(channel))
            // Data channels 0–10 at 2404 + 2k MHz, 11–36 at 2406 + 2k; 38 at 2426.
            let mhz: Int64 = channel == 38 ? 2426 : (channel <= 10 ? 2404 + 2 * channel : 2406 + 2 * channel)
            #expect(record["freq_hz"] == .int(mhz * 1_000_000))
            let index = record["sample_index"]?.doubleValue ?? -1
            #expect(abs(index - Double(annotation.sampleStart)) <= 20)
            let snr = record["snr_db"]?.doubleValue ?? 0
            #expect(snr > 9 && snr < 23)
            channels.insert(channel)
        }
        #expect(channels.contains(38) && channels.count >= 4)
        #expect(err.contains("Bluetooth LE wideband: 9 channels, 2418–2434 MHz (20 × 1 MHz filter bank, decimation 9)"))
        #expect(err.contains("channel 38: "))
        #expect(err.contains("UAS 1596F3SYNTHWIDEA") && err.contains("UAS 1596F3SYNTHWIDEB"))
        // "…, N other adverts" at the end of each channel's line.
        var otherCount = 0
        for line in err.split(separator: "\n") where line.contains("Bluetooth LE, channel") {
            let last = line.split(separator: ",").last ?? ""
            otherCount += Int(last.split(separator: " ").first ?? "") ?? 0
        }
        #expect(otherCount == others)
        #expect(try CaptureFile.read(path: pcap).packets.count == truth.count + others)
        // Every Long Range pointer leads to a pack on a channel in band, and each is followed.
        #expect(pointers >= 4)
        #expect(err.contains("extended advertising: \(pointers) AuxPtrs, \(pointers) to a channel received; "
                             + "\(pointers) AUX_ADV_INDs followed, 0 missed"), "\(err)")
        #expect(records.contains { $0["family"] == .string("ble-coded-remote-id") && $0["phy"] == .string("coded") })
    }

    @Test func unsupportedRateIsSaidOnce() throws {
        // 50 MS/s over the BLE band: not received, and stderr says why; the file still analyses.
        let dir = TempDir()
        let path = dir.write("wide.cs8", [UInt8](repeating: 1, count: 200_000))
        let (status, _, err) = try runProcess(binary, ["analyze", path, "--rate", "50e6", "--freq", "2440e6"])
        #expect(status == 0, "\(err)")
        #expect(err.split(separator: "\n").filter { $0.contains("Bluetooth LE not received: wideband Bluetooth LE needs 4–40 MS/s") }.count == 1,
                "\(err)")
    }
}

@Suite struct SensitivityBenchTests {
    /// `bench --sensitivity --json`: one row per SNR from 0 to 16 dB, decode rates rising with SNR;
    /// Coded S=8 decodes where LE 1M cannot.
    @Test func decodeRateRisesWithSNR() throws {
        let (status, out, err) = try runProcess(uasenseBinary(), ["bench", "--sensitivity", "--packets", "40", "--json"])
        #expect(status == 0, "\(err)")
        let rows = try JSONValue.parse(Data(out.utf8)).objectValue?["ble_sensitivity"]?.arrayValue ?? []
        #expect(rows.count == 17)
        let rate = { (row: JSONValue) in row.objectValue?["le1m_2400k"]?.doubleValue ?? -1 }
        let coded = { (row: JSONValue) in row.objectValue?["coded_s8_2400k"]?.doubleValue ?? -1 }
        #expect(rows.first.map(rate) == 0)
        #expect(rows.last.map(rate) == 1)
        #expect(rows.count > 6 && rate(rows[6]) < 0.1 && coded(rows[6]) == 1, "6 dB: LE 1M fails, S=8 decodes")
        #expect(rows.allSatisfy { (0...1).contains(rate($0)) && (0...1).contains(coded($0)) })
    }
}
