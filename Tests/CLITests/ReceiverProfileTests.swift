import Foundation
import Glibc
import IQ
import TestSupport
import Testing

/// `--profile`: recordings and live sources behind a 2.4 GHz downconverter, end to end.
@Suite struct ReceiverProfileCLITests {
    let binary = uasenseBinary()

    static func profilePath(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("calibration/receivers/\(name).json").path
    }
    let lowSide = profilePath("rtlsdr-downconverter-2g4-lowside")
    let highSide = profilePath("rtlsdr-downconverter-2g4-highside")

    func run(_ args: [String]) throws -> (Int32, String, String) { try runProcess(binary, args) }

    /// Detection records on stdout, parsed.
    func records(_ stdout: String) throws -> [[String: JSONValue]] {
        try stdout.split(separator: "\n").map { try JSONValue.parse(Data($0.utf8)).objectValue ?? [:] }
    }

    /// A synthetic BLE Remote ID recording at 2402 MHz, as cu8 bytes (2.4 MS/s).
    func skyRecording(_ dir: TempDir) throws -> [UInt8] {
        let (status, _, err) = try run(["synth", "ble-remote-id", "--duration", "0.5", "--format", "cu8",
                                        "-o", dir.file("sky.sigmf-meta")])
        #expect(status == 0, "\(err)")
        #expect(try Recording.open(dir.file("sky.sigmf-meta")).centerFrequencyHz == 2402e6)
        return try Array(Data(contentsOf: URL(fileURLWithPath: dir.file("sky.sigmf-data"))))
    }

    /// What an RTL-SDR at 798 MHz behind the high-side downconverter records: the same signal mirrored
    /// (cu8 conjugation is exact: Q code → 255 − code).
    static func mirrored(_ bytes: [UInt8]) -> [UInt8] {
        bytes.enumerated().map { $0.offset % 2 == 0 ? $0.element : 255 - $0.element }
    }

    @Test func analyzeThroughTheHighSideProfileFindsRemoteIDOnChannel37() throws {
        let dir = TempDir()
        let sky = try skyRecording(dir)
        let (s0, out0, err0) = try run(["analyze", dir.file("sky.sigmf-meta")])
        #expect(s0 == 0, "\(err0)")
        let reference = try records(out0)
        #expect(reference.count >= 10)

        let intermediate = dir.write("rid_798M_2400k.cu8", Self.mirrored(sky))
        let (status, out, err) = try run(["analyze", intermediate, "--profile", highSide])
        #expect(status == 0, "\(err)")
        #expect(err.contains("at 2.402000 GHz"), "\(err)")
        let found = try records(out)
        #expect(found.count == reference.count, "\(err)")
        #expect(found.allSatisfy { $0["freq_hz"] == .int(2_402_000_000) && $0["channel"] == .int(37) })
        #expect(found.map { $0["sample_index"] } == reference.map { $0["sample_index"] })
        #expect(found.map { $0["uas_id"] } == reference.map { $0["uas_id"] })

        // Without the profile the centre is 798 MHz, no BLE channel: no receiver runs.
        let (s1, out1, err1) = try run(["analyze", intermediate])
        #expect(s1 == 0, "\(err1)")
        #expect(out1.isEmpty)
        #expect(err1.contains("at 798.000000 MHz") && !err1.contains("Bluetooth LE"), "\(err1)")

        // The right sky frequency without undoing the mirror decodes nothing: the inversion matters.
        let upright = dir.write("upright.json", text: #"{"name":"wrong","lo_hz":1604000000,"spectral_inversion":false}"#)
        let (s2, out2, err2) = try run(["analyze", intermediate, "--profile", upright])
        #expect(s2 == 0, "\(err2)")
        #expect(err2.contains("Bluetooth LE, channel 37: 0 packets"), "\(err2)")
        #expect(out2.isEmpty)

        // info reports the sky centre too.
        let (s3, json, _) = try run(["info", "--json", intermediate, "--profile", highSide])
        #expect(s3 == 0)
        #expect(try JSONValue.parse(Data(json.utf8)).objectValue?["center_freq_hz"] == .int(2_402_000_000))
    }

    @Test func analyzeThroughTheLowSideProfile() throws {
        let dir = TempDir()
        let sky = try skyRecording(dir)
        // Low-side: the IF recording is the sky recording, upright, at 802 MHz; --freq names that IF.
        let intermediate = dir.write("rid_2400k.cu8", sky)
        let (status, out, err) = try run(["analyze", intermediate, "--freq", "802e6", "--profile", lowSide])
        #expect(status == 0, "\(err)")
        let found = try records(out)
        #expect(found.count >= 10, "\(err)")
        #expect(found.allSatisfy { $0["freq_hz"] == .int(2_402_000_000) && $0["channel"] == .int(37) })
    }

    /// convert writes the sky's frame: sky frequency, conjugated samples, and which profile did it.
    @Test func convertWritesSkyFrequencyAndRefusesASecondProfile() throws {
        let dir = TempDir()
        let sky = try skyRecording(dir)
        let intermediate = dir.write("rid_798M_2400k.cu8", Self.mirrored(sky))
        let out = dir.file("converted.sigmf-meta")
        let (status, _, err) = try run(["convert", intermediate, out, "--profile", highSide])
        #expect(status == 0, "\(err)")
        #expect(err.contains("2.402000 GHz"))
        let rec = try Recording.open(out)
        #expect(rec.centerFrequencyHz == 2402e6)
        #expect(rec.metadata.global["uasense:receiver_profile"] == .object([
            "name": .string("rtlsdr-downconverter-2g4-highside"), "lo_hz": .int(3_200_000_000), "spectral_inversion": .bool(true),
        ]))
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: dir.file("converted.sigmf-data")))) == sky)

        let (s1, out1, err1) = try run(["analyze", out])
        #expect(s1 == 0, "\(err1)")
        let found = try records(out1)
        #expect(!found.isEmpty && found.allSatisfy { $0["freq_hz"] == .int(2_402_000_000) && $0["channel"] == .int(37) })

        let (s2, out2, err2) = try run(["analyze", out, "--profile", highSide])
        #expect(s2 == 1)
        #expect(out2.isEmpty)
        #expect(err2 == "uasense: \(out): receiver profile 'rtlsdr-downconverter-2g4-highside' was already applied "
                + "(uasense:receiver_profile); its frequencies are sky frequencies, drop --profile\n", "\(err2)")
    }

    /// Every bad profile: exit 1, one line naming the file and what is wrong, nothing on stdout.
    @Test func badProfileGivesOneLine() throws {
        let dir = TempDir()
        let file = dir.write("x_798M_2400k.cu8", pseudoRandomBytes(20_000))
        let negative = dir.write("neg.json", text: #"{"name":"n","lo_hz":-5,"spectral_inversion":true}"#)
        let missing = dir.file("none.json")
        let cases: [([String], String)] = [
            (["info", file, "--profile", missing], "Error: \(missing): file not found"),
            (["info", file, "--profile", negative], "Error: \(negative): lo_hz must be a positive number of Hz"),
            (["analyze", file, "--profile", negative], "uasense: \(negative): lo_hz must be a positive number of Hz"),
            (["bursts", file, "--profile", missing], "Error: \(missing): file not found"),
            (["spectrum", file, "--png", dir.file("x.png"), "--profile", missing], "Error: \(missing): file not found"),
            (["convert", file, dir.file("o.cu8"), "--profile", negative], "Error: \(negative): lo_hz must be a positive number of Hz"),
            (["run", "--source", "rtltcp://127.0.0.1:1", "--profile", highSide],
             "Error: --profile needs --freq: the sky frequency to receive (e.g. --freq 2402e6)"),
            (["run", "--source", "rtltcp://127.0.0.1:1", "--profile", highSide, "--freq", "5.8e9"],
             "Error: \(highSide): sky frequency 5800 MHz is not below the LO 3200 MHz of this high-side downconverter (IF = LO − sky must be positive)"),
            (["record", "--source", "rtltcp://127.0.0.1:1", "--profile", missing, "--freq", "2402e6", "-o", dir.file("r.sigmf")],
             "Error: \(missing): file not found"),
        ]
        for (args, expected) in cases {
            let (status, out, err) = try run(args)
            #expect(status == 1, "\(args): \(err)")
            #expect(err == expected + "\n", "\(args)")
            #expect(out.isEmpty, "\(args)")
        }
        // A low-side profile maps 798 MHz to 2398 MHz: valid, so this one succeeds.
        let (status, out, err) = try run(["info", "--json", file, "--profile", lowSide])
        #expect(status == 0, "\(err)")
        #expect(try JSONValue.parse(Data(out.utf8)).objectValue?["center_freq_hz"] == .int(2_398_000_000))
    }
}

/// Live sources behind a downconverter, against the fake rtl_tcp server.
@Suite(.serialized) struct ReceiverProfileLiveCLITests {
    let binary = uasenseBinary()

    @Test func recordTunesTheIFAndWritesTheSkyFrame() throws {
        let server = try FakeRtlTcpServer()
        let dir = TempDir()
        let out = dir.file("rec.sigmf-meta")
        let profile = ReceiverProfileCLITests.profilePath("rtlsdr-downconverter-2g4-highside")
        let (status, _, err) = try runProcess(binary, ["record", "--source", "rtltcp://127.0.0.1:\(server.port)", "--profile", profile,
                                                       "--freq", "2402e6", "--rate", "1e6", "--duration", "0.3", "-o", out])
        #expect(status == 0, "\(err)")
        let commands = server.commands()
        #expect(commands.contains { $0 == (0x01, 798_000_000) }, "\(commands)")
        // The profile's gain (40.2 dB) and ppm (0) fill in for options not given.
        #expect(commands.contains { $0 == (0x03, 1) } && commands.contains { $0 == (0x04, 402) })
        #expect(commands.contains { $0 == (0x05, 0) })
        let rec = try Recording.open(out)
        #expect(rec.centerFrequencyHz == 2402e6)
        #expect(rec.metadata.global["uasense:receiver_profile"]?.objectValue?["name"] == .string("rtlsdr-downconverter-2g4-highside"))
        #expect(rec.sampleCount == 300_000)
        // The server's ramp (I = n mod 256, Q = n/256 mod 256) arrives with Q mirrored.
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: dir.file("rec.sigmf-data"))))
        var bad = 0
        for n in 0..<Int(rec.sampleCount) {
            let i = Int(bytes[2 * n]), q = Int(bytes[2 * n + 1])
            let expectedQ: Int = 255 - (n / 256) % 256
            if i != n % 256 || q != expectedQ { bad += 1 }
        }
        #expect(bad == 0)

        // An explicit --gain wins over the profile's.
        let server2 = try FakeRtlTcpServer()
        let (s2, _, e2) = try runProcess(binary, ["record", "--source", "rtltcp://127.0.0.1:\(server2.port)", "--profile", profile,
                                                  "--freq", "2426e6", "--gain", "auto", "--ppm", "3", "--rate", "1e6",
                                                  "--duration", "0.1", "-o", dir.file("r2.cu8")])
        #expect(s2 == 0, "\(e2)")
        let c2 = server2.commands()
        #expect(c2.contains { $0 == (0x01, 774_000_000) } && c2.contains { $0 == (0x03, 0) } && c2.contains { $0 == (0x05, 3) })
        #expect(!c2.contains { $0.0 == 0x04 })
    }

    @Test func runReportsTheSkyFrequencyAndTheProfile() throws {
        let server = try FakeRtlTcpServer()
        let profile = ReceiverProfileCLITests.profilePath("rtlsdr-downconverter-2g4-lowside")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["run", "--source", "rtltcp://127.0.0.1:\(server.port)", "--profile", profile, "--freq", "2480e6",
                             "--stats-interval", "0.3"]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        usleep(800_000)
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(text.contains("2.480000 GHz") && text.contains("through receiver profile rtlsdr-downconverter-2g4-lowside "
                                                                  + "(LO 1.600000 GHz, low-side)"), "\(text)")
        #expect(server.commands().contains { $0 == (0x01, 880_000_000) })
    }
}
