import RemoteID
import Testing

func hex(_ s: String) -> [UInt8] {
    s.split(separator: " ").map { UInt8($0, radix: 16)! }
}

/// Golden vectors: `../shared/captures/remote-id-vectors.md` (reference encoder, protocol 2).
@Suite struct GoldenVectorTests {
    static let basicID = hex("02 22 31 32 33 34 35 36 37 38 39 30 31 32 33 34 35 36 37 38 39 30 00 00 00")
    static let location = hex("12 26 24 16 0a 42 bf 24 1b 6e d1 b4 b6 98 08 ac 08 70 08 6b 53 15 0e 02 00")
    static let auth0 = hex("22 10 01 28 00 3f ab 01 31 32 33 34 35 36 37 38 39 30 31 32 33 34 35 36 37")
    static let auth1 = hex("22 11 31 32 33 34 35 36 37 38 39 30 31 32 33 34 35 36 37 38 39 30 31 32 33")
    static let selfID = hex("32 00 44 72 6f 6e 65 73 52 55 53 3a 20 52 65 61 6c 20 45 73 74 61 74 65 00")
    static let system = hex("42 04 a6 bf 24 1b d2 d1 b4 b6 23 00 07 31 09 23 08 24 f9 07 00 3f ab 01 00")
    static let operatorID = hex("52 00 39 38 37 36 35 34 33 32 31 30 30 31 32 33 34 35 36 37 38 39 00 00 00")

    @Test func basicIDEncodesAndDecodes() throws {
        let m = RemoteID.BasicID(idType: 2, uaType: 2, uasID: "12345678901234567890")
        #expect(RemoteID.encode(.basicID(m)) == Self.basicID)
        guard case .success(.basicID(let d)) = RemoteID.decode(Self.basicID) else { Issue.record("decode"); return }
        #expect(d.uasID == "12345678901234567890" && d.idType == 2 && d.uaType == 2 && d.protocolVersion == 2)
    }

    @Test func locationEncodesAndDecodesLossily() throws {
        let m = RemoteID.Location(
            status: 2, heightAboveGround: true, directionDeg: 215.7, speedHorizontalMps: 5.4, speedVerticalMps: 5.25,
            latitudeDeg: 45.539309, longitudeDeg: -122.966389, altitudePressureM: 100, altitudeGeodeticM: 110, heightM: 80,
            horizontalAccuracyCode: RemoteID.Accuracy.horizontalCode(meters: 2.5),
            verticalAccuracyCode: RemoteID.Accuracy.verticalCode(meters: 0.5),
            baroAccuracyCode: RemoteID.Accuracy.verticalCode(meters: 1.5),
            speedAccuracyCode: RemoteID.Accuracy.speedCode(mps: 0.5), timestampS: 360.52, timestampAccuracyS: 0.2)
        #expect(RemoteID.encode(.location(m)) == Self.location)
        guard case .success(.location(let d)) = RemoteID.decode(Self.location) else { Issue.record("decode"); return }
        #expect(d.status == 2 && d.heightAboveGround)
        #expect(d.directionDeg == 216 && d.speedHorizontalMps == 5.5 && d.speedVerticalMps == 5.0)
        #expect(abs(d.latitudeDeg! - 45.539309) < 1e-9 && abs(d.longitudeDeg! + 122.966389) < 1e-9)
        #expect(d.altitudePressureM == 100 && d.altitudeGeodeticM == 110 && d.heightM == 80)
        #expect(d.horizontalAccuracyM == 3 && d.verticalAccuracyM == 1 && d.baroAccuracyM == 3 && d.speedAccuracyMps == 1)
        #expect(d.timestampS == 360.5 && d.timestampAccuracyS == 0.2)
    }

    @Test func authenticationPagesEncodeAndDecode() throws {
        let p0 = RemoteID.AuthenticationPage(authType: 1, pageNumber: 0, lastPageIndex: 1, length: 40,
                                             timestampS: RemoteID.epoch2019S + 28_000_000, data: Array("12345678901234567".utf8))
        let p1 = RemoteID.AuthenticationPage(authType: 1, pageNumber: 1, data: Array("12345678901234567890123".utf8))
        #expect(RemoteID.encode(.authentication(p0)) == Self.auth0)
        #expect(RemoteID.encode(.authentication(p1)) == Self.auth1)
        #expect(RemoteID.decode(Self.auth0) == .success(.authentication(p0)))
        #expect(RemoteID.decode(Self.auth1) == .success(.authentication(p1)))
    }

    @Test func selfIDAndOperatorID() {
        #expect(RemoteID.encode(.selfID(.init(text: "DronesRUS: Real Estate"))) == Self.selfID)
        #expect(RemoteID.encode(.operatorID(.init(operatorID: "98765432100123456789"))) == Self.operatorID)
        guard case .success(.selfID(let s)) = RemoteID.decode(Self.selfID),
              case .success(.operatorID(let o)) = RemoteID.decode(Self.operatorID) else { Issue.record("decode"); return }
        #expect(s.text == "DronesRUS: Real Estate" && s.descriptionType == 0)
        #expect(o.operatorID == "98765432100123456789" && o.operatorIDType == 0)
    }

    @Test func systemEncodesAndDecodesLossily() throws {
        let m = RemoteID.System(operatorLocationType: 0, classificationType: 1, operatorLatitudeDeg: 45.539319,
                                operatorLongitudeDeg: -122.966379, areaCount: 35, areaRadiusM: 75, areaCeilingM: 176.9,
                                areaFloorM: 41.7, euCategory: 2, euClass: 4, operatorAltitudeGeodeticM: 20.5,
                                timestampS: RemoteID.epoch2019S + 28_000_000)
        #expect(RemoteID.encode(.system(m)) == Self.system)
        guard case .success(.system(let d)) = RemoteID.decode(Self.system) else { Issue.record("decode"); return }
        #expect(d.areaRadiusM == 70 && d.areaCeilingM == 176.5 && d.areaFloorM == 41.5 && d.areaCount == 35)
        #expect(d.classificationType == 1 && d.euCategory == 2 && d.euClass == 4 && d.operatorAltitudeGeodeticM == 20.5)
        #expect(d.timestampS == RemoteID.epoch2019S + 28_000_000)
        #expect(abs(d.operatorLatitudeDeg! - 45.539319) < 1e-9)
    }

    @Test func packOfAllSeven() throws {
        let all = [Self.basicID, Self.location, Self.auth0, Self.auth1, Self.selfID, Self.system, Self.operatorID]
        let bytes = hex("f2 19 07") + all.flatMap { $0 }
        guard case .success(.pack(let pack)) = RemoteID.decode(bytes) else { Issue.record("decode"); return }
        #expect(pack.messages.count == 7)
        #expect(pack.messages.map(\.type) == [.basicID, .location, .authentication, .authentication, .selfID, .system, .operatorID])
        #expect(RemoteID.encode(.pack(pack)) == bytes)
        // Padded to 9 slots, as Bluetooth 5 senders do: the count byte wins.
        #expect(RemoteID.decode(bytes + [UInt8](repeating: 0, count: 50)) == .success(.pack(pack)))
    }

    /// Vector B: a second encoder's Location.
    @Test func secondEncodersLocation() throws {
        let bytes = hex("12 20 2d 3e 04 20 bd 5c 25 40 1c 19 0d 00 00 c1 08 34 08 4a 03 39 30 01 00")
        guard case .success(.location(let d)) = RemoteID.decode(bytes) else { Issue.record("decode"); return }
        #expect(d.status == 2 && d.directionDeg == 45 && d.speedHorizontalMps == 15.5 && d.speedVerticalMps == 2.0)
        #expect(abs(d.latitudeDeg! - 62.683472) < 1e-7 && abs(d.longitudeDeg! - 21.974944) < 1e-7)
        #expect(d.altitudePressureM == nil && d.altitudeGeodeticM == 120.5 && d.heightM == 50 && !d.heightAboveGround)
        #expect(d.horizontalAccuracyCode == 10 && d.verticalAccuracyCode == 4 && d.speedAccuracyCode == 3 && d.baroAccuracyCode == 0)
        #expect(d.timestampS == 1234.5 && d.timestampAccuracyS == 0.1)
    }

    /// Vector D (real Wi-Fi beacon, protocol 0): non-zero reserved bytes in the Basic ID.
    @Test func realBeaconPackWithGarbageInReservedBytes() throws {
        let pack = hex("""
        f0 19 05 00 00 4d 46 47 31 41 30 31 32 33 34 35 36 37 38 39 00 00 00 00 00 00 50 f6 \
        10 00 5c 52 7e bc ba 25 1b a8 8c b4 b6 00 00 aa 09 98 08 39 41 00 00 0a 00 \
        30 00 52 65 63 72 65 61 74 69 6f 6e 61 6c 00 00 00 00 00 00 00 00 00 00 00 \
        40 04 a4 85 25 1b 6e db b3 b6 01 00 32 00 00 00 00 15 00 00 00 00 00 00 00 \
        50 00 47 42 52 2d 4f 50 2d 31 32 33 41 42 43 44 00 00 00 00 00 00 00 00 00
        """)
        guard case .success(.pack(let p)) = RemoteID.decode(pack), p.messages.count == 5 else { Issue.record("decode"); return }
        guard case .basicID(let b) = p.messages[0], case .location(let l) = p.messages[1], case .selfID(let s) = p.messages[2],
              case .system(let sys) = p.messages[3], case .operatorID(let o) = p.messages[4] else { Issue.record("types"); return }
        #expect(b.uasID == "MFG1A0123456789" && b.protocolVersion == 0)
        #expect(l.directionDeg == 92 && l.speedHorizontalMps == 20.5 && l.speedVerticalMps == nil)
        #expect(abs(l.latitudeDeg! - 45.5457468) < 1e-9 && abs(l.longitudeDeg! + 122.9681496) < 1e-9)
        #expect(l.altitudePressureM == nil && l.altitudeGeodeticM == 237.0 && l.heightM == 100.0)
        #expect(l.horizontalAccuracyCode == 9 && l.verticalAccuracyCode == 3 && l.baroAccuracyCode == 4 && l.speedAccuracyCode == 1)
        #expect(l.timestampS == 0 && l.timestampAccuracyS == 1.0)
        #expect(s.text == "Recreational")
        #expect(sys.classificationType == 1 && sys.operatorLocationType == 0 && sys.areaRadiusM == 500 && sys.areaCount == 1)
        #expect(abs(sys.operatorLatitudeDeg! - 45.5443876) < 1e-9 && abs(sys.operatorLongitudeDeg! + 122.9726866) < 1e-9)
        #expect(sys.euCategory == 1 && sys.euClass == 5)
        #expect(sys.timestampS == nil)
        #expect(o.operatorID == "GBR-OP-123ABCD")
    }

    @Test func unknownSentinelsDecodeToNil() throws {
        // Location with every field "unknown": direction 361, speed 255, vertical 63, no position, no altitudes.
        let unknown = RemoteID.encode(.location(RemoteID.Location()))
        #expect(unknown[2] == 181 && unknown[3] == 255 && unknown[4] == 0x7E && unknown[21] == 0xFF && unknown[22] == 0xFF)
        guard case .success(.location(let d)) = RemoteID.decode(unknown) else { Issue.record("decode"); return }
        #expect(d.directionDeg == nil && d.speedHorizontalMps == nil && d.speedVerticalMps == nil)
        #expect(d.latitudeDeg == nil && d.longitudeDeg == nil && d.altitudeGeodeticM == nil && d.altitudePressureM == nil)
        #expect(d.heightM == nil && d.timestampS == nil && d.timestampAccuracyS == nil && d.horizontalAccuracyM == nil)
    }
}

@Suite struct HostileMessageTests {
    @Test func clearFailures() {
        #expect(RemoteID.decode([]) == .failure(.tooShort(needed: 25, got: 0)))
        #expect(RemoteID.decode([0x12, 0x00]) == .failure(.tooShort(needed: 25, got: 2)))
        #expect(RemoteID.decode([0x72] + [UInt8](repeating: 0, count: 24)) == .failure(.unknownType(7)))
        #expect(RemoteID.decode([0xF2, 0x18, 0x01]) == .failure(.packMessageSize(0x18)))
        #expect(RemoteID.decode([0xF2, 0x19, 0x0A]) == .failure(.packTooManyMessages(10)))
        #expect(RemoteID.decode([0xF2, 0x19, 0x02] + [UInt8](repeating: 0, count: 30)) == .failure(.tooShort(needed: 53, got: 33)))
        #expect(RemoteID.decode([0xF2, 0x19, 0x01, 0xF2, 0x19, 0x00] + [UInt8](repeating: 0, count: 22)) == .failure(.packInPack))
        #expect(RemoteID.decode([0xF2, 0x19, 0x00]) == .success(.pack(.init(messages: [], protocolVersion: 2))))
    }

    /// A million random and truncated inputs: every one decodes or fails cleanly; what decodes
    /// re-encodes to 25-byte messages.
    @Test func aMillionRandomInputsNeverCrash() {
        var state: UInt64 = 0x9E3779B97F4A7C15
        func next() -> UInt64 {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return state
        }
        var buffer = [UInt8](repeating: 0, count: 300)
        var decoded = 0, failed = 0
        for round in 0..<1_000_000 {
            let length = Int(next() % 300)
            for k in 0..<length { buffer[k] = UInt8(truncatingIfNeeded: next()) }
            if round % 3 == 0 && length > 0 { buffer[0] = UInt8(truncatingIfNeeded: next() % 6) << 4 | 2 }  // valid types often
            if round % 5 == 0 && length > 2 { buffer[0] = 0xF1; buffer[1] = 0x19; buffer[2] = UInt8(next() % 11) }
            switch RemoteID.decode(buffer[0..<length]) {
            case .success(let message):
                decoded += 1
                let bytes = RemoteID.encode(message)
                if case .pack = message { continue }
                if bytes.count != 25 { Issue.record("re-encoded \(bytes.count) bytes") }
            case .failure:
                failed += 1
            }
        }
        #expect(decoded > 100_000 && failed > 100_000)
    }
}

@Suite struct AuthenticationTests {
    @Test func pagesReassembleInAnyOrder() {
        let p0 = RemoteID.AuthenticationPage(authType: 1, pageNumber: 0, lastPageIndex: 1, length: 40,
                                             timestampS: RemoteID.epoch2019S + 28_000_000, data: Array("12345678901234567".utf8))
        let p1 = RemoteID.AuthenticationPage(authType: 1, pageNumber: 1, data: Array("12345678901234567890123".utf8))
        var a = AuthenticationAssembler()
        #expect(a.add(p1) == nil)
        let done = a.add(p0)
        #expect(done?.data == Array("1234567890123456712345678901234567890123".utf8))
        #expect(done?.authType == 1 && done?.timestampS == RemoteID.epoch2019S + 28_000_000)
        // A header whose length the pages cannot hold is not completed.
        var b = AuthenticationAssembler()
        var bad = p0
        bad.length = 200
        #expect(b.add(bad) == nil && b.add(p1) == nil)
    }
}
