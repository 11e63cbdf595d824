import BLE
import Captures
import Foundation
import RemoteID
import Testing

func capture(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/captures/\(name)").path
}

/// The real captures in `../shared/captures/` (copied to Tests/Fixtures/captures) give what their
/// README says.
@Suite struct RealCaptureTests {
    func decode(_ name: String) throws -> ([RemoteIDFrame], FrameCounters) {
        let file = try CaptureFile.read(path: capture(name))
        #expect(file.damage == nil)
        var counters = FrameCounters()
        return (RemoteIDFrameDecoder.frames(in: file, counters: &counters), counters)
    }

    @Test func wifiBeaconsCarryTheFullPack() throws {
        let (frames, counters) = try decode("odid_wifi_bcn_sample.pcap")
        #expect(frames.count == 21 && counters.packets == 21)
        for frame in frames {
            #expect(frame.transport == .wifiBeacon && frame.frequencyHz == 2437e6 && frame.channel == 6)
            guard case .pack(let pack) = frame.message, pack.messages.count == 5,
                  case .basicID(let basic) = pack.messages[0], case .operatorID(let op) = pack.messages[4] else {
                Issue.record("not the 5-message pack"); continue
            }
            #expect(basic.uasID == "MFG1A0123456789" && op.operatorID == "GBR-OP-123ABCD")
        }
        guard case .pack(let first) = frames[0].message, case .location(let l) = first.messages[1],
              case .system(let s) = first.messages[3] else { Issue.record("first frame"); return }
        #expect(abs(l.latitudeDeg! - 45.5457468) < 1e-9 && abs(l.longitudeDeg! + 122.9681496) < 1e-9)
        #expect(l.directionDeg == 92 && l.speedHorizontalMps == 20.5 && l.altitudeGeodeticM == 237 && l.heightM == 100)
        #expect(abs(s.operatorLatitudeDeg! - 45.5443876) < 1e-9 && s.areaRadiusM == 500)
        #expect(frames[0].rssiDBm != nil)
    }

    @Test func nanServiceDiscoveryFrames() throws {
        let (all, counters) = try decode("odid_wifi_sample.pcap")
        #expect(counters.packets == 63)
        // Besides the 21 service discovery frames, 21 of its beacons carry the same messages in
        // the beacon vendor element (the other 21 are NAN sync beacons).
        let frames = all.filter { $0.transport == .wifiNAN }
        #expect(frames.count == 21)
        #expect(all.filter { $0.transport == .wifiBeacon }.count == 21)
        var kinds: [RemoteID.MessageType: Int] = [:]
        for frame in frames {
            guard case .pack(let pack) = frame.message, pack.messages.count == 1 else { Issue.record("pack of one"); continue }
            kinds[pack.messages[0].type, default: 0] += 1
        }
        #expect(kinds == [.location: 16, .selfID: 2, .system: 2, .operatorID: 1])
    }

    @Test func bluetoothLongRangeWithOurOwnCRC() throws {
        let (frames, counters) = try decode("odid_bt5_lr_sample.pcapng")
        #expect(counters.packets == 274)
        #expect(counters.badCRC == 30)
        #expect(frames.count == 244)
        var sizes: [Int: Int] = [:]
        var sawUAS = false
        var locations = 0
        for frame in frames {
            #expect(frame.transport == .bleExtended && frame.phy == "coded")
            guard case .pack(let pack) = frame.message else { Issue.record("not a pack"); continue }
            sizes[pack.messages.count, default: 0] += 1
            for case .basicID(let b) in pack.messages { sawUAS = sawUAS || b.uasID == "SSEVTFG93700070" }
            for case .location(let l) in pack.messages {
                locations += 1
                // Every sentinel on the wire decodes to absent. The barometric altitude and height are not
                // sentinels here: they jitter like a real barometer (−55/−54.5 m, −0.5/0 m), so they stay.
                #expect(l.directionDeg == nil && l.speedHorizontalMps == nil && l.speedVerticalMps == nil)
                #expect(l.latitudeDeg == nil && l.longitudeDeg == nil && l.altitudeGeodeticM == nil)
                #expect(l.horizontalAccuracyCode == 0 && l.verticalAccuracyCode == 0 && l.speedAccuracyCode == 0)
                #expect((-55 ... -54.5).contains(l.altitudePressureM ?? 0) && (-0.5 ... 0).contains(l.heightM ?? 1))
            }
        }
        #expect(sawUAS)
        #expect(locations >= 199)
        // The README counts 199 + 25 + 19 = 243 of the 244; our 244 splits 199 / 26 / 19.
        #expect(sizes[5] == 199 && sizes[0] == 19)
        #expect(sizes.filter { (1...4).contains($0.key) }.values.reduce(0, +) == 26)
    }

    @Test func nineMessagePackWithThreeAuthenticationPages() throws {
        let (frames, _) = try decode("odid_wifi_linux_transmitter_9msg.pcapng")
        #expect(frames.count == 21)
        guard case .pack(let pack) = frames[0].message else { Issue.record("not a pack"); return }
        #expect(pack.messages.count == 9)
        let pages = pack.messages.compactMap { m -> UInt8? in
            if case .authentication(let a) = m { return a.pageNumber }
            return nil
        }
        #expect(pages == [0, 1, 2])
        var assembler = AuthenticationAssembler()
        var complete: AuthenticationAssembler.Complete?
        for case .authentication(let page) in pack.messages { complete = assembler.add(page) ?? complete }
        #expect(complete != nil)
        #expect(pack.messages.filter { $0.type == .basicID }.count == 2)
    }
}

@Suite struct HostileCaptureTests {
    @Test func clearErrors() throws {
        #expect(throws: CaptureError.empty(path: "x")) { try CaptureFile.parse([], name: "x") }
        #expect(throws: CaptureError.notACapture(path: "x")) { try CaptureFile.parse(Array("hello world".utf8), name: "x") }
        // A file cut in the middle keeps the packets before the cut and says where.
        let whole = try Array(Data(contentsOf: URL(fileURLWithPath: capture("odid_wifi_bcn_sample.pcap"))))
        let cut = try CaptureFile.parse(Array(whole.prefix(whole.count - 100)), name: "cut")
        #expect(cut.packets.count == 20)
        guard case .truncated? = cut.damage else { Issue.record("expected damage"); return }
    }

    /// A million random, truncated and mutated inputs into the readers and frame decoders (the
    /// start of each real capture: headers and the first packets): never a crash.
    @Test func aMillionRandomAndTruncatedInputs() throws {
        let seeds = try ["odid_wifi_bcn_sample.pcap", "odid_bt5_lr_sample.pcapng", "odid_wifi_sample.pcap",
                         "odid_wifi_linux_transmitter_9msg.pcapng"].map {
            try Array(Data(contentsOf: URL(fileURLWithPath: capture($0))).prefix(1200))
        }
        var state: UInt64 = 7
        func next() -> UInt64 { state = state &* 6364136223846793005 &+ 1442695040888963407; return state >> 33 }
        var parsed = 0
        for round in 0..<1_000_000 {
            var bytes = seeds[round % seeds.count]
            bytes = Array(bytes.prefix(Int(next() % UInt64(bytes.count + 1))))
            for _ in 0..<Int(next() % 8) where !bytes.isEmpty {
                bytes[Int(next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: next())
            }
            if let file = try? CaptureFile.parse(bytes) {
                var counters = FrameCounters()
                _ = RemoteIDFrameDecoder.frames(in: file, counters: &counters)
                parsed += 1
            }
        }
        #expect(parsed > 100_000)
    }

    /// Our own Bluetooth pcap output reads back through the LL pseudo-header path.
    @Test func blePcapRoundTrip() throws {
        let dir = NSTemporaryDirectory() + "uasense-ble-\(getpid()).pcap"
        defer { unlink(dir) }
        let (frames, _) = try RealCaptureTests().decode("odid_bt5_lr_sample.pcapng")
        let writer = try BLEPcapWriter(path: dir)
        for f in frames { try writer.write(timestampS: f.timestampS, channel: f.channel!, rssiDBm: f.rssiDBm, pdu: f.blePDU!, phy: f.phy!) }
        try writer.close()
        let back = try CaptureFile.read(path: dir)
        var counters = FrameCounters()
        let again = RemoteIDFrameDecoder.frames(in: back, counters: &counters)
        #expect(again.count == 244 && counters.badCRC == 0)
        #expect(again.map(\.message) == frames.map(\.message))
        #expect(again.map(\.channel) == frames.map(\.channel))
    }
}
