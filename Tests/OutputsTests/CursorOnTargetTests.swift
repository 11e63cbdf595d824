@testable import Captures
import Detection
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import Outputs
import RemoteID
import Testing

/// Reads back what an XML parser sees: every element with its attributes, and the text of
/// `remarks` — so the tests check the XML as a TAK client would read it, not as a string.
struct ParsedXML {
    struct Element { var name: String; var attributes: [String: String] }
    let elements: [Element]
    let remarks: String
    let ok: Bool
    let error: String?

    init(_ xml: String) {
        let parser = XMLParser(data: Data(xml.utf8))
        let sink = Sink()
        parser.delegate = sink
        ok = parser.parse()
        error = parser.parserError.map { "\($0)" }
        elements = sink.elements
        remarks = sink.remarks
    }

    final class Sink: NSObject, XMLParserDelegate {
        var elements: [Element] = []
        var remarks = ""
        var inRemarks = false
        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            elements.append(Element(name: name, attributes: attributes))
            inRemarks = name == "remarks"
        }
        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            if name == "remarks" { inRemarks = false }
        }
        func parser(_ parser: XMLParser, foundCharacters string: String) {
            if inRemarks { remarks += string }
        }
    }

    func first(_ name: String) -> [String: String]? { elements.first { $0.name == name }?.attributes }
    func all(_ name: String) -> [[String: String]] { elements.filter { $0.name == name }.map(\.attributes) }
}

func frame(_ messages: [RemoteID.Message], at timeS: Double, address: String? = "AA:BB:CC:DD:EE:01",
           transport: RemoteIDFrame.Transport = .bleLegacy, rssiDBm: Double? = nil) -> RemoteIDFrame {
    RemoteIDFrame(transport: transport, timestampS: timeS, frequencyHz: 2402e6, rssiDBm: rssiDBm, channel: 37,
                  address: address, counter: 0, message: .pack(RemoteID.MessagePack(messages: messages)), phy: "1M")
}

func location(lat: Double? = 51.4775, lon: Double? = -0.0015, status: UInt8 = 2, hAccuracyCode: UInt8 = 10,
              vAccuracyCode: UInt8 = 4) -> RemoteID.Message {
    .location(RemoteID.Location(status: status, directionDeg: 45, speedHorizontalMps: 12, speedVerticalMps: 0.5,
                                latitudeDeg: lat, longitudeDeg: lon, altitudeGeodeticM: 120, heightM: 60,
                                horizontalAccuracyCode: hAccuracyCode, verticalAccuracyCode: vAccuracyCode))
}

func basic(_ id: String, uaType: UInt8 = 2) -> RemoteID.Message {
    .basicID(RemoteID.BasicID(idType: 1, uaType: uaType, uasID: id))
}

func system(lat: Double = 51.477, lon: Double = -0.002, type: UInt8 = 1) -> RemoteID.Message {
    .system(RemoteID.System(operatorLocationType: type, operatorLatitudeDeg: lat, operatorLongitudeDeg: lon,
                            operatorAltitudeGeodeticM: 45))
}

/// Feeds frames through a tracker and the mapper, as `uasense analyze` does.
final class Pipeline {
    let tracker = UASTracker()
    let cot: RemoteIDCoT
    init(_ settings: CoTSettings) { cot = RemoteIDCoT(settings: settings) }
    convenience init(rateLimitS: Double = 0, configure: (inout CoTSettings) -> Void = { _ in }) {
        var s = CoTSettings(sensorID: "test-sensor")
        s.minUpdateIntervalS = rateLimitS
        configure(&s)
        self.init(s)
    }
    func feed(_ f: RemoteIDFrame) -> [CoTEvent] {
        tracker.add(f)
        return cot.update(f, tracker: tracker)
    }
}

func fixture(_ path: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/\(path)").path
}

@Suite struct CursorOnTargetTests {
    @Test func realBeaconCaptureGivesLinkedAircraftOperatorAndHome() throws {
        let file = try CaptureFile.read(path: fixture("captures/odid_wifi_bcn_sample.pcap"))
        var counters = FrameCounters()
        let frames = RemoteIDFrameDecoder.frames(in: file, counters: &counters)
        let p = Pipeline()
        let first = p.feed(frames[0])
        #expect(first.map(\.uid) == ["uasense-MFG1A0123456789", "uasense-MFG1A0123456789-operator",
                                     "uasense-MFG1A0123456789-home"])
        let drone = ParsedXML(first[0].xml)
        #expect(drone.ok, "\(drone.error ?? "")")
        let event = try #require(drone.first("event"))
        // UA type 0 (undeclared) in this capture: a rotary-wing drone by default.
        #expect(event["type"] == "a-u-A-M-H-Q" && event["how"] == "m-g" && event["version"] == "2.0")
        #expect(event["time"] == "2021-05-21T21:52:11.162Z" && event["start"] == event["time"])
        // No update interval measured yet: 1 s assumed, × 5 = 5 s, raised to the 10 s minimum.
        #expect(event["stale"] == "2021-05-21T21:52:21.162Z")
        let point = try #require(drone.first("point"))
        #expect(point["lat"] == "45.5457468" && point["lon"] == "-122.9681496" && point["hae"] == "237.0")
        // Accuracy codes 9 (< 30 m) and 3 (< 25 m) of the Location message.
        #expect(point["ce"] == "30.0" && point["le"] == "25.0")
        #expect(drone.first("track")?["course"] == "92.0" && drone.first("track")?["speed"] == "20.50")
        #expect(drone.first("contact")?["callsign"] == "MFG1A0123456789")
        let custom = try #require(drone.first("__uasense"))
        #expect(custom["uas_id"] == "MFG1A0123456789" && custom["operator_id"] == "GBR-OP-123ABCD")
        #expect(custom["family"] == "wifi-beacon-remote-id" && custom["freq_hz"] == "2437000000")
        #expect(drone.remarks.contains("operator ID GBR-OP-123ABCD") && drone.remarks.contains("heard by test-sensor"))

        let op = ParsedXML(first[1].xml)
        #expect(op.first("event")?["type"] == "a-u-G")
        #expect(op.first("point")?["lat"] == "45.5443876" && op.first("point")?["lon"] == "-122.9726866")
        #expect(op.first("link") == ["uid": "uasense-MFG1A0123456789", "type": "a-u-A-M-H-Q", "relation": "p-p"])
        // Operator location type 0: the System position is the take-off point as well.
        let home = ParsedXML(first[2].xml)
        #expect(home.first("event")?["type"] == "b-m-p-s-m")
        #expect(home.first("point")?["lat"] == "45.5443876")
        #expect(home.first("link")?["uid"] == "uasense-MFG1A0123456789")
        #expect(home.first("usericon")?["iconsetpath"]?.hasSuffix("House.png") == true)

        // Every later broadcast moves the aircraft; operator and home, unchanged, are only
        // refreshed at half their stale time.
        var droneEvents = 1, others = 0
        for f in frames.dropFirst() {
            for e in p.feed(f) {
                if e.uid == "uasense-MFG1A0123456789" { droneEvents += 1 } else { others += 1 }
                #expect(e.staleS > e.timeS && e.xml.utf8.count < 1400)
            }
        }
        #expect(droneEvents == 21)
        #expect(others >= 2 && others <= 8)
    }

    @Test func typesFollowTheUATypeAndTheAllowList() {
        #expect(RemoteIDCoT.aircraftType(uaType: 2, friendly: false) == "a-u-A-M-H-Q")
        #expect(RemoteIDCoT.aircraftType(uaType: 4, friendly: false) == "a-u-A-M-H-Q")
        #expect(RemoteIDCoT.aircraftType(uaType: 1, friendly: false) == "a-u-A-M-F-Q")
        #expect(RemoteIDCoT.aircraftType(uaType: 6, friendly: false) == "a-u-A-M-F-Q")
        #expect(RemoteIDCoT.aircraftType(uaType: 0, friendly: false) == "a-u-A-M-H-Q")
        #expect(RemoteIDCoT.aircraftType(uaType: nil, friendly: false) == "a-u-A-M-H-Q")
        #expect(RemoteIDCoT.aircraftType(uaType: 9, friendly: false) == "a-u-A-C-L")
        #expect(RemoteIDCoT.aircraftType(uaType: 1, friendly: true) == "a-f-A-M-F-Q")

        let p = Pipeline { $0.friendlyUASIDs = ["OURS-1"] }
        let ours = p.feed(frame([basic("OURS-1", uaType: 1), location(), system()], at: 100, address: "01"))
        let theirs = p.feed(frame([basic("THEIRS-2", uaType: 2), location(), system()], at: 100, address: "02"))
        #expect(ours.map(\.type) == ["a-f-A-M-F-Q", "a-f-G"])
        #expect(theirs.map(\.type) == ["a-u-A-M-H-Q", "a-u-G"])
        // The operator's link names the parent's type.
        #expect(ParsedXML(ours[1].xml).first("link")?["type"] == "a-f-A-M-F-Q")
    }

    @Test func staleFollowsTheObservedUpdateRateWithinBounds() {
        func staleAfter(intervalS: Double, count: Int, rateLimitS: Double = 0) -> Double {
            let p = Pipeline(rateLimitS: rateLimitS)
            var last: CoTEvent?
            for k in 0..<count {
                last = p.feed(frame([basic("S1"), location()], at: 1000 + Double(k) * intervalS)).first ?? last
            }
            return last!.staleS - last!.timeS
        }
        // 4 s between Locations: 5 × 4 = 20 s.
        #expect(abs(staleAfter(intervalS: 4, count: 20) - 20) < 1e-6)
        // Fast broadcasts: never under 10 s.
        #expect(abs(staleAfter(intervalS: 0.2, count: 20) - 10) < 1e-6)
        // Slow broadcasts: never over 300 s.
        #expect(abs(staleAfter(intervalS: 200, count: 5) - 300) < 1e-6)
        // The rate limit slows what the console sees: 5 × 3 s.
        #expect(abs(staleAfter(intervalS: 0.5, count: 40, rateLimitS: 3) - 15) < 1e-6)
        // Repeats of one broadcast on three channels (ms apart) are not updates: still 5 × 4 s.
        let p = Pipeline()
        var last: CoTEvent?
        for k in 0..<20 {
            for repeatS in [0.0, 0.002, 0.004] {
                last = p.feed(frame([basic("S1"), location()], at: 1000 + Double(k) * 4 + repeatS)).first ?? last
            }
        }
        #expect(abs(last!.staleS - last!.timeS - 20) < 1e-6)
    }

    @Test func accuracyCodesBecomeCeAndLeAndUnknownIsTheCoTSentinel() {
        let p = Pipeline()
        let known = ParsedXML(p.feed(frame([basic("A1"), location(hAccuracyCode: 11, vAccuracyCode: 6)], at: 5))[0].xml)
        #expect(known.first("point")?["ce"] == "3.0" && known.first("point")?["le"] == "1.0")
        let unknown = ParsedXML(p.feed(frame([basic("A2"), location(hAccuracyCode: 0, vAccuracyCode: 0)], at: 5,
                                             address: "other"))[0].xml)
        #expect(unknown.first("point")?["ce"] == "9999999.0" && unknown.first("point")?["le"] == "9999999.0")
        let noAltitude = CoTEvent(uid: "x", type: "a-u-A", how: "m-g", timeS: 0, staleS: 10, latitudeDeg: 1, longitudeDeg: 2)
        #expect(ParsedXML(noAltitude.xml).first("point")?["hae"] == "9999999.0")
    }

    @Test func hostileStringsStayInsideTheirAttributes() throws {
        // Remote ID text is printable ASCII: quotes, angle brackets and ampersands all get through
        // (a UAS ID has at most 20 bytes).
        let hostileID = #""/><e a='x'>&amp;<"#
        let p = Pipeline()
        var messages = [basic(hostileID), location(), system()]
        messages.append(.selfID(RemoteID.SelfID(text: "</remarks><x>&")))
        messages.append(.operatorID(RemoteID.OperatorID(operatorID: "\"op'<&>")))
        let events = p.feed(frame(messages, at: 7, address: "<addr&>"))
        #expect(events.count == 2)
        for e in events {
            let parsed = ParsedXML(e.xml)
            #expect(parsed.ok, "\(parsed.error ?? "") in \(e.xml)")
            #expect(parsed.all("event").count == 1)
        }
        let drone = ParsedXML(events[0].xml)
        // Exactly uasense's elements: nothing smuggled in.
        #expect(drone.elements.map(\.name) == ["event", "point", "detail", "contact", "track", "precisionlocation",
                                               "remarks", "__uasense"])
        #expect(ParsedXML(events[1].xml).elements.map(\.name) == ["event", "point", "detail", "contact", "link",
                                                                  "remarks", "__uasense"])
        #expect(drone.first("event")?["uid"] == "uasense-" + hostileID)
        #expect(drone.first("contact")?["callsign"] == hostileID)
        #expect(drone.first("__uasense")?["self_id"] == "</remarks><x>&")
        #expect(drone.first("__uasense")?["operator_id"] == "\"op'<&>")
        #expect(drone.remarks.contains("self-ID \"</remarks><x>&\""))
        #expect(ParsedXML(events[1].xml).first("link")?["uid"] == "uasense-" + hostileID)

        // Characters XML cannot carry at all are replaced; tab and newline survive as references.
        let escaped = XML.escaped("a\u{0}b\u{1B}c\td\ne\u{FFFF}")
        #expect(escaped == "a\u{FFFD}b\u{FFFD}c&#9;d&#10;e\u{FFFD}")
        let odd = CoTEvent(uid: "u\u{7}\n", type: "a-u-A", how: "m-g", timeS: 0, staleS: 1, latitudeDeg: 0, longitudeDeg: 0,
                           detail: [.remarks("line1\nline2\u{0}")])
        let parsed = ParsedXML(odd.xml)
        #expect(parsed.ok && parsed.first("event")?["uid"] == "u\u{FFFD}\n")
    }

    @Test func eventsStayUnderTheDatagramBudget() {
        // Every text field at its longest, with characters that escaping lengthens.
        let p = Pipeline()
        let messages: [RemoteID.Message] = [basic("1596F3\"&<>SYNTH0001AB"), location(), system(type: 0),
                                            .selfID(RemoteID.SelfID(text: "Survey \"north\" & <east>")),
                                            .operatorID(RemoteID.OperatorID(operatorID: "GBR-OP-\"1234567&<>"))]
        let events = p.feed(frame(messages, at: 7, address: "C5:44:33:22:11:5A", rssiDBm: -71.5))
        #expect(events.count == 3)
        for e in events { #expect(e.xml.utf8.count <= RemoteIDCoT.datagramBudgetBytes, "\(e.xml.utf8.count) bytes") }
        // The worst case (every character escaped six-fold) still parses.
        let q = Pipeline()
        let worst = q.feed(frame([basic(String(repeating: "\"", count: 20)), location(),
                                  .selfID(RemoteID.SelfID(text: String(repeating: "&", count: 23))),
                                  .operatorID(RemoteID.OperatorID(operatorID: String(repeating: "<", count: 20)))], at: 7))
        #expect(ParsedXML(worst[0].xml).ok && ParsedXML(worst[0].xml).first("__uasense")?["operator_id"]?.count == 20)
    }

    @Test func rateLimitMergesBroadcastsIntoOneUpdatePerInterval() throws {
        let p = Pipeline(rateLimitS: 1)
        var sentAt: [Double] = []
        // Two UAS, broadcasting every 0.25 s for 3 s.
        for k in 0..<13 {
            let t = 100 + Double(k) * 0.25
            for e in p.feed(frame([basic("R1"), location(lat: 51 + Double(k) * 1e-4)], at: t, address: "r1"))
                where e.uid == "uasense-R1" { sentAt.append(e.timeS) }
            let other = p.feed(frame([basic("R2"), location()], at: t + 0.01, address: "r2"))
            if k % 4 == 0 { #expect(other.count == 1) } else { #expect(other.isEmpty) }
        }
        #expect(sentAt == [100, 101, 102, 103])
        #expect(p.cot.counts.heldBack == 2 * 9)
        // Nothing pending after an update at the last broadcast.
        #expect(p.cot.flush().isEmpty)

        // Held-back broadcasts go out at the end of a recording, with the latest state and time.
        let q = Pipeline(rateLimitS: 1)
        _ = q.feed(frame([basic("R3"), location(lat: 50)], at: 10))
        #expect(q.feed(frame([basic("R3"), location(lat: 50.001)], at: 10.4)).isEmpty)
        #expect(q.feed(frame([basic("R3"), location(lat: 50.002)], at: 10.8)).isEmpty)
        // Live: not before the interval has passed on the wall clock.
        #expect(q.cot.flush(nowS: 10.9).isEmpty)
        let flushed = q.cot.flush(nowS: 11.0)
        #expect(flushed.count == 1 && flushed[0].timeS == 10.8 && flushed[0].latitudeDeg == 50.002)
        #expect(q.cot.flush().isEmpty)

        var limiter = try RateLimiter<String>(minimumIntervalS: 2)
        #expect(limiter.allows("a", atS: 5))
        limiter.markSent("a", atS: 5)
        #expect(!limiter.allows("a", atS: 6.9) && limiter.allows("a", atS: 7) && limiter.allows("b", atS: 6))
        // The next file of a run starts earlier: not silenced.
        #expect(limiter.allows("a", atS: 1))
    }

    @Test func broadcastsWithoutAPositionArePlacedAtTheSensor() throws {
        let sensor = try GeoPosition(parsing: "51.5, -0.1, 35")
        let p = Pipeline { $0.sensorPosition = sensor }
        let events = p.feed(frame([basic("NOPOS", uaType: 2), location(lat: nil, lon: nil)], at: 50))
        #expect(events.count == 1)
        let e = ParsedXML(events[0].xml)
        #expect(e.first("event")?["uid"] == "uasense-NOPOS" && e.first("event")?["how"] == "m-c")
        #expect(e.first("event")?["type"] == "a-u-A-M-H-Q")
        #expect(e.first("point")?["lat"] == "51.5000000" && e.first("point")?["lon"] == "-0.1000000")
        #expect(e.first("point")?["hae"] == "35.0")
        // Legacy BLE without an RSSI in dBm: its typical reach.
        #expect(e.first("point")?["ce"] == "500.0" && e.first("point")?["le"] == "9999999.0")
        #expect(e.first("__uasense")?["rf_only"] == "true" && e.remarks.contains("placed at sensor test-sensor"))
        // Once a position arrives, the same object moves to it.
        let moved = p.feed(frame([basic("NOPOS"), location()], at: 51))
        #expect(moved[0].uid == "uasense-NOPOS" && moved[0].how == "m-g" && moved[0].latitudeDeg == 51.4775)

        // An RSSI tightens the radius: −60 dBm at 2.4 GHz is within ~100 m of a 20 dBm transmitter.
        let near = RemoteIDCoT.receptionRadiusM(transport: .wifiBeacon, frequencyHz: 2437e6, rssiDBm: -60)
        #expect(near > 80 && near < 120)
        #expect(RemoteIDCoT.receptionRadiusM(transport: .wifiBeacon, frequencyHz: 2437e6, rssiDBm: -95) == 1500)
        #expect(RemoteIDCoT.receptionRadiusM(transport: .bleLegacy, frequencyHz: 2402e6, rssiDBm: -10) == 50)

        // Without a sensor position there is nowhere to put it: nothing sent, and counted.
        let q = Pipeline()
        #expect(q.feed(frame([basic("NOPOS"), location(lat: nil, lon: nil)], at: 50)).isEmpty)
        #expect(q.cot.counts.unplaced == 1)

        #expect(throws: OutputError.self) { try GeoPosition(parsing: "91,0") }
        #expect(throws: OutputError.self) { try GeoPosition(parsing: "51.5") }
        #expect(throws: OutputError.self) { try GeoPosition(parsing: "51.5,-0.1,high") }
    }

    @Test func homeIsTheLastGroundPositionWithoutADeclaredTakeOff() {
        let p = Pipeline()
        // Live-GNSS operator location (type 1): the home point comes from the ground positions.
        let first = p.feed(frame([basic("H1"), location(lat: 52.0, lon: 1.0, status: 1), system(type: 1)], at: 1))
        #expect(first.map(\.uid) == ["uasense-H1", "uasense-H1-operator", "uasense-H1-home"])
        #expect(first[1].latitudeDeg == 51.477 && first[2].latitudeDeg == 52.0)
        // Still on the ground, moved a little: the home point follows.
        let second = p.feed(frame([basic("H1"), location(lat: 52.0001, lon: 1.0, status: 1)], at: 2))
        #expect(second.map(\.uid) == ["uasense-H1", "uasense-H1-home"] && second[1].latitudeDeg == 52.0001)
        // Airborne: the home point stays; operator and home are unchanged, so only the aircraft goes.
        let airborne = p.feed(frame([basic("H1"), location(lat: 52.01, lon: 1.0, status: 2)], at: 3))
        #expect(airborne.map(\.uid) == ["uasense-H1"])
        // Refreshed at half the stale time (10 s) even when unchanged.
        let later = p.feed(frame([basic("H1"), location(lat: 52.02, lon: 1.0, status: 2)], at: 7))
        #expect(later.map(\.uid) == ["uasense-H1", "uasense-H1-operator", "uasense-H1-home"])
        #expect(later[2].latitudeDeg == 52.0001)
    }

    @Test func anAddressPlaceholderIsDeletedWhenTheRealIDArrives() {
        let p = Pipeline()
        // A Location without a Basic ID yet: shown under the transmitter address.
        let early = p.feed(frame([location()], at: 1, address: "C5:44"))
        #expect(early.map(\.uid) == ["uasense-addr-C5:44"])
        let later = p.feed(frame([basic("REAL-ID"), location()], at: 2, address: "C5:44"))
        #expect(later.map(\.type) == ["t-x-d-d", "a-u-A-M-H-Q"])
        let delete = ParsedXML(later[0].xml)
        #expect(delete.first("link")?["uid"] == "uasense-addr-C5:44" && delete.first("__forcedelete") != nil)
        #expect(later[1].uid == "uasense-REAL-ID")
        // Broadcasts without a Basic ID from the same address now join the real ID.
        #expect(p.feed(frame([location(lat: 51.48)], at: 3, address: "C5:44")).first?.uid == "uasense-REAL-ID")
    }

    @Test func numbersAreFixedPointWithoutExponentOrLocale() {
        #expect(XML.fixed(-0.0014975, decimals: 7) == "-0.0014975")
        #expect(XML.fixed(0.00000001, decimals: 7) == "0.0000000")
        #expect(XML.fixed(-0.00000001, decimals: 7) == "0.0000000")
        #expect(XML.fixed(-122.96814959999999, decimals: 7) == "-122.9681496")
        #expect(XML.fixed(20.5, decimals: 2) == "20.50")
        #expect(XML.fixed(2437e6, decimals: 0) == "2437000000")
        #expect(XML.fixed(.nan, decimals: 3) == "0")
        #expect(CoTEvent.orUnknown(.infinity) == "9999999.0" && CoTEvent.orUnknown(1e12) == "9999999.0")
    }

    @Test func destinationsParseWithDefaultsAndSayWhatIsWrong() throws {
        #expect(try CoTDestination(parsing: "udp://239.2.3.1:6969") == CoTDestination(transport: .udp, host: "239.2.3.1", port: 6969))
        #expect(try CoTDestination(parsing: "udp://") == CoTDestination(transport: .udp, host: "239.2.3.1", port: 6969))
        #expect(try CoTDestination(parsing: "udp://10.0.0.5") == CoTDestination(transport: .udp, host: "10.0.0.5", port: 6969))
        #expect(try CoTDestination(parsing: "tcp://tak.example") == CoTDestination(transport: .tcp, host: "tak.example", port: 8087))
        #expect(try CoTDestination(parsing: "TCP://[::1]:9000/") == CoTDestination(transport: .tcp, host: "::1", port: 9000))
        #expect(try CoTDestination(parsing: "udp://[ff02::1]:6969").description == "udp://[ff02::1]:6969")
        #expect(try CoTDestination(parsing: "tls://tak.example") == CoTDestination(transport: .tls, host: "tak.example", port: 8089))
        for (bad, says) in [("239.2.3.1:6969", "no scheme"), ("udp://host:0", "port '0'"), ("udp://host:70000", "port"),
                            ("tcp://", "needs the TAK Server's host"), ("mqtt://broker", "unknown scheme"),
                            ("tls://", "tls:// needs the TAK Server's host")] {
            do {
                _ = try CoTDestination(parsing: bad)
                Issue.record("\(bad) accepted")
            } catch let error as OutputError {
                #expect(error.description.contains(says), "\(bad): \(error)")
                #expect(!error.description.contains("\n"))
            }
        }
    }
}
