import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
import TestSupport

/// `uasense analyze --cot` end to end: real recordings in, CoT over loopback to a receiver that
/// parses every event with the Python `takproto` package (Fixtures/cot_receiver.py), as a TAK
/// client or server would.
@Suite(.serialized) struct CoTCLITests {
    struct Event: Decodable {
        var type: String
        var uid: String
        var how: String
        var lat: Double
        var lon: Double
        var hae: Double
        var ce: Double
        var le: Double
        var time_ms: Int64
        var start_ms: Int64
        var stale_ms: Int64
        var callsign: String
        var xml_detail: String
        var bytes: Int
    }

    struct Received {
        var events: [Event]
        var unparsed: [String]
        var receiverStatus: Int32
        var status: Int32
        var stderr: String
    }

    /// Starts the receiver, runs `uasense analyze FILE --cot SCHEME://127.0.0.1:PORT EXTRA…`, and
    /// returns what the receiver parsed. With `namespace`, both run inside that network namespace,
    /// the receiver joined to the mesh SA group and uasense sending to the default `udp://`.
    /// With `tlsServer` (the receiver's --tls-… arguments), the receiver is a TLS server and uasense
    /// sends to tls://.
    func analyze(_ file: String, scheme: String, extra: [String] = [], namespace: String? = nil,
                 tlsServer: [String]? = nil) throws -> Received {
        let dir = TempDir()
        let ready = dir.file("port")
        let receiver = Process()
        let inNamespace = namespace.map { ["ip", "netns", "exec", $0] } ?? []
        receiver.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        receiver.arguments = inNamespace + ["python3", fixturePath("cot_receiver.py"), "--\(scheme)", "--ready-file", ready,
                                            "--idle", "1.0", "--max-s", "30"]
            + (namespace == nil ? [] : ["--group", "239.2.3.1", "--port", "6969"]) + (tlsServer ?? [])
        let out = Pipe()
        receiver.standardOutput = out
        let err = Pipe()
        receiver.standardError = err
        try receiver.run()
        defer { if receiver.isRunning { kill(receiver.processIdentifier, SIGKILL) } }
        let deadline = Date().addingTimeInterval(15)
        while !FileManager.default.fileExists(atPath: ready) && receiver.isRunning && Date() < deadline { usleep(10_000) }
        let port = try #require(Int((try? String(contentsOfFile: ready, encoding: .utf8)) ?? ""),
                                "receiver did not start: \(String(decoding: err.fileHandleForReading.availableData, as: UTF8.self))")
        let destination = namespace != nil ? "udp://" : "\(tlsServer == nil ? scheme : "tls")://127.0.0.1:\(port)"
        let command = ["analyze", file, "--sensor-id", "cot-test", "--cot", destination] + extra
        let (status, _, stderr) = namespace == nil
            ? try runProcess(uasenseBinary(), command)
            : try runProcess("/usr/bin/env", inNamespace + [uasenseBinary()] + command)
        if status != 0 {
            // uasense gave up, perhaps before connecting: the receiver would wait for --max-s.
            let grace = Date().addingTimeInterval(1)
            while receiver.isRunning && Date() < grace { usleep(20_000) }
            // SIGKILL: the test runner may hand its children SIGTERM blocked.
            if receiver.isRunning { kill(receiver.processIdentifier, SIGKILL) }
        }
        let output = out.fileHandleForReading.readDataToEndOfFile()
        receiver.waitUntilExit()
        var events: [Event] = []
        var unparsed: [String] = []
        for line in String(decoding: output, as: UTF8.self).split(separator: "\n") {
            if let e = try? JSONDecoder().decode(Event.self, from: Data(line.utf8)) { events.append(e) } else { unparsed.append(String(line)) }
        }
        return Received(events: events, unparsed: unparsed, receiverStatus: receiver.terminationStatus, status: status,
                        stderr: stderr)
    }

    @Test func wifiBeaconCaptureOverUDPParsesWithTakproto() throws {
        let r = try analyze(fixturePath("captures/odid_wifi_bcn_sample.pcap"), scheme: "udp")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.receiverStatus == 0 && r.unparsed.isEmpty, "\(r.unparsed)")
        let aircraft = r.events.filter { $0.uid == "uasense-MFG1A0123456789" }
        // 21 broadcasts over 14.8 s, at most one update a second: 10 updates.
        #expect(aircraft.count == 10)
        #expect(r.stderr.contains("CoT to udp://127.0.0.1:") && r.stderr.contains("(10 aircraft"))
        for e in aircraft {
            #expect(e.type == "a-u-A-M-H-Q" && e.how == "m-g" && e.callsign == "MFG1A0123456789")
            #expect(e.stale_ms > e.time_ms && e.start_ms == e.time_ms)
            #expect(e.hae == 237 && e.ce == 30 && e.le == 25)
            #expect(e.xml_detail.contains("__uasense") && e.bytes < 1400)
        }
        // Time is the capture's, not the clock's: 2021-05-21T21:52:11.162Z.
        let first = try #require(aircraft.first)
        #expect(first.time_ms == 1_621_633_931_162 && first.stale_ms == 1_621_633_941_162)
        #expect(abs(first.lat - 45.5457468) < 1e-7 && abs(first.lon + 122.9681496) < 1e-7)
        let last = try #require(aircraft.last)
        #expect(abs(last.lat - 45.5470818) < 1e-7 && abs(last.lon + 122.9668346) < 1e-7)
        // Times only move forward.
        #expect(zip(aircraft, aircraft.dropFirst()).allSatisfy { $0.time_ms < $1.time_ms })

        let operators = r.events.filter { $0.uid == "uasense-MFG1A0123456789-operator" }
        let homes = r.events.filter { $0.uid == "uasense-MFG1A0123456789-home" }
        #expect(!operators.isEmpty && !homes.isEmpty)
        for e in operators + homes {
            #expect(abs(e.lat - 45.5443876) < 1e-7 && abs(e.lon + 122.9726866) < 1e-7 && e.stale_ms > e.time_ms)
            #expect(e.xml_detail.contains(#"<link uid="uasense-MFG1A0123456789" type="a-u-A-M-H-Q" relation="p-p""#))
        }
        #expect(operators.allSatisfy { $0.type == "a-u-G" } && homes.allSatisfy { $0.type == "b-m-p-s-m" })
        #expect(r.events.count == aircraft.count + operators.count + homes.count)
    }

    /// Root with iproute2: a network namespace of the test's own, so the default mesh SA group
    /// (239.2.3.1:6969) is exercised without sending multicast on the shared host.
    static let canMakeNamespaces = geteuid() == 0
        && ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"].contains { FileManager.default.isExecutableFile(atPath: $0) }

    @Test(.enabled(if: canMakeNamespaces)) func defaultMeshMulticastInANamespace() throws {
        let namespace = "uasense-cot-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        #expect(try runProcess("/usr/bin/env", ["ip", "netns", "add", namespace]).0 == 0)
        defer { _ = try? runProcess("/usr/bin/env", ["ip", "netns", "delete", namespace]) }
        for setup in [["ip", "link", "set", "lo", "up"], ["ip", "link", "set", "lo", "multicast", "on"],
                      ["ip", "route", "add", "224.0.0.0/4", "dev", "lo"]] {
            let (status, _, err) = try runProcess("/usr/bin/env", ["ip", "netns", "exec", namespace] + setup)
            try #require(status == 0, "\(setup): \(err)")
        }
        let r = try analyze(fixturePath("captures/odid_wifi_bcn_sample.pcap"), scheme: "udp", namespace: namespace)
        #expect(r.status == 0 && r.unparsed.isEmpty, "\(r.stderr) \(r.unparsed)")
        #expect(r.stderr.contains("CoT to udp://239.2.3.1:6969: "))
        let aircraft = r.events.filter { $0.uid == "uasense-MFG1A0123456789" }
        #expect(aircraft.count == 10 && aircraft.allSatisfy { $0.type == "a-u-A-M-H-Q" && $0.stale_ms > $0.time_ms })
    }

    @Test func rateLimitAndAllowListFromTheCommandLine() throws {
        let r = try analyze(fixturePath("captures/odid_wifi_bcn_sample.pcap"), scheme: "udp",
                            extra: ["--cot-rate-limit", "0", "--cot-friend", "MFG1A0123456789"])
        #expect(r.status == 0 && r.unparsed.isEmpty, "\(r.stderr) \(r.unparsed)")
        let aircraft = r.events.filter { $0.uid == "uasense-MFG1A0123456789" }
        #expect(aircraft.count == 21)
        #expect(aircraft.allSatisfy { $0.type == "a-f-A-M-H-Q" })
        #expect(r.events.filter { $0.uid.hasSuffix("-operator") }.allSatisfy { $0.type == "a-f-G" })
    }

    @Test func bluetoothIQOverTCPStartsAtTheSensorThenMovesToTheDrone() throws {
        let r = try analyze(fixturePath("../../iq-samples/ble-remote-id-2402M.sigmf-meta"), scheme: "tcp",
                            extra: ["--sensor-position", "51.4780,-0.0010,50"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.receiverStatus == 0 && r.unparsed.isEmpty, "\(r.unparsed)")
        let aircraft = r.events.filter { $0.uid == "uasense-1596F3SYNTH0001" }
        #expect(aircraft.count == 2)
        guard aircraft.count == 2 else { return }
        // The first broadcast is a Basic ID alone: heard, no position yet — placed at the sensor,
        // ce the reach of legacy Bluetooth.
        #expect(aircraft[0].how == "m-c" && aircraft[0].lat == 51.478 && aircraft[0].lon == -0.001)
        #expect(aircraft[0].hae == 50 && aircraft[0].ce == 500 && aircraft[0].le == 9_999_999)
        #expect(aircraft[0].type == "a-u-A-M-H-Q")
        // The rest of the 0.5 s merges into one update at the end, at the last Location.
        #expect(aircraft[1].how == "m-g" && abs(aircraft[1].lat - 51.47754) < 1e-7 && abs(aircraft[1].lon + 0.00146) < 1e-7)
        #expect(aircraft[1].hae == 120)
        // Sample time from the SigMF start (2027-01-01T00:00:00Z) plus the sample index.
        #expect(aircraft[0].time_ms == 1_798_761_600_006 && aircraft[1].time_ms == 1_798_761_600_480)
        for e in r.events { #expect(e.stale_ms > e.time_ms) }
        let op = r.events.first { $0.uid == "uasense-1596F3SYNTH0001-operator" }
        #expect(op.map { abs($0.lat - 51.477) < 1e-7 && abs($0.lon + 0.002) < 1e-7 } == true)
        #expect(r.events.contains { $0.uid == "uasense-1596F3SYNTH0001-home" && $0.type == "b-m-p-s-m" })
    }

    static let hasOpenSSL = ["/usr/bin/openssl", "/bin/openssl"].contains { FileManager.default.isExecutableFile(atPath: $0) }

    /// A TAK-like PKI from Fixtures/make_tak_certs.sh: CA, server, client.p12, and a stranger.
    static func pki() throws -> TempDir {
        let dir = TempDir()
        let (status, _, err) = try runProcess("/usr/bin/env", ["bash", fixturePath("make_tak_certs.sh"), dir.path])
        try #require(status == 0, "make_tak_certs.sh: \(err)")
        return dir
    }

    @Test(.enabled(if: hasOpenSSL)) func tlsWithAClientCertificateLikeATAKServer() throws {
        let pki = try Self.pki()
        let server = ["--tls-cert", pki.file("server.pem"), "--tls-key", pki.file("server.key"), "--tls-ca", pki.file("ca.pem")]
        // Current .p12 files, and RC2-40 ones from older tools (OpenSSL 3's legacy provider).
        for p12 in ["client.p12", "client-legacy.p12"] {
            let r = try analyze(fixturePath("captures/odid_wifi_bcn_sample.pcap"), scheme: "tcp",
                                extra: ["--cot-cert", pki.file(p12), "--cot-cert-password", "atakatak",
                                        "--cot-ca", pki.file("ca.pem")], tlsServer: server)
            #expect(r.status == 0 && r.receiverStatus == 0 && r.unparsed.isEmpty, "\(p12): \(r.stderr) \(r.unparsed)")
            let aircraft = r.events.filter { $0.uid == "uasense-MFG1A0123456789" }
            #expect(aircraft.count == 10 && aircraft.allSatisfy { $0.type == "a-u-A-M-H-Q" && $0.stale_ms > $0.time_ms })
            #expect(abs((aircraft.first?.lat ?? 0) - 45.5457468) < 1e-7)
            #expect(r.stderr.contains("CoT to tls://127.0.0.1:") && r.stderr.contains("(10 aircraft, 3 operator, 3 home)"))
        }

        // Each way it can go wrong is one line that says what to do.
        for (extra, says, handshakeFails) in [
            (["--cot-cert", pki.file("client.p12"), "--cot-cert-password", "wrong", "--cot-ca", pki.file("ca.pem")],
             "wrong password", false),
            (["--cot-cert", pki.file("client.p12")], "certificate was refused: self-signed certificate in certificate chain (pass the TAK Server's CA with --cot-ca", true),
            (["--cot-cert", pki.file("stranger.p12"), "--cot-ca", pki.file("ca.pem")],
             "the server refused this client certificate (tlsv1 alert unknown ca)", true),
            (["--cot-cert", pki.file("missing.p12"), "--cot-ca", pki.file("ca.pem")], "cannot open the file", false),
            ([], "tls:// needs the client certificate: --cot-cert", false),
        ] {
            let r = try analyze(fixturePath("captures/odid_wifi_bcn_sample.pcap"), scheme: "tcp", extra: extra, tlsServer: server)
            #expect(r.status != 0 && r.events.isEmpty)
            let errors = r.stderr.split(separator: "\n").filter { !$0.hasPrefix("CoT to ") && !$0.contains(": pcap, ") }
            #expect(errors.count == 1 && errors.first?.contains(says) == true, "\(extra): \(r.stderr)")
            // The receiver saw a handshake and refused it, or never saw a connection at all.
            #expect(r.unparsed.contains { $0.contains("TLS handshake") } == handshakeFails, "\(r.unparsed)")
        }
    }

    @Test func badDestinationsAreOneLine() throws {
        let capture = fixturePath("captures/odid_wifi_bcn_sample.pcap")
        // A port nobody listens on.
        let closedPort = Int(freeLoopbackPort())
        for (args, says) in [
            (["--cot", "tls://127.0.0.1:8089"], "tls:// needs the client certificate"),
            (["--cot", "mqtt://broker"], "unknown scheme 'mqtt'"),
            (["--cot", "udp://127.0.0.1:0"], "port '0' is not 1–65535"),
            (["--cot", "tcp://127.0.0.1:\(closedPort)"], "cannot connect (Connection refused)"),
            (["--cot", "udp://127.0.0.1:6969", "--sensor-position", "95,0"], "is not LAT,LON[,ALT]"),
            (["--cot", "udp://127.0.0.1:6969", "--cot-rate-limit=-1"], "--cot-rate-limit must be"),
        ] {
            let (status, out, err) = try runProcess(uasenseBinary(), ["analyze", capture] + args)
            #expect(status != 0, "\(args)")
            #expect(out.isEmpty)
            let lines = err.split(separator: "\n")
            #expect(lines.count == 1 && lines.first?.contains(says) == true, "\(args): \(err)")
        }
    }
}
