@testable import BLE
import RemoteID
import Testing

func hex(_ s: String) -> [UInt8] { s.split(separator: " ").map { UInt8($0, radix: 16)! } }

/// Vector C of `../shared/captures/remote-id-vectors.md`: a legacy advertisement carrying a
/// Remote ID Location, on air on channels 37, 38 and 39.
@Suite struct LinkLayerTests {
    static let pdu = hex("42 25 55 44 33 22 11 c0 1e 16 fa ff 0d 07 12 26 24 16 0a 42 bf 24 1b 6e d1 b4 b6 98 08 ac 08 70 08 6b 53 15 0e 02 00")
    static let onAir: [Int: [UInt8]] = [
        37: hex("aa d6 be 89 8e cf f7 02 e5 0e 85 77 70 6b 27 eb b7 9b 70 ea c5 62 ff a1 92 21 77 28 b6 6b 2c be bc c3 97 f4 01 ab 9f 06 7d c1 ab 19 6d a9 40"),
        38: hex("aa d6 be 89 8e 94 e0 11 64 6a fc f0 4f 05 b3 55 bd 76 49 df 46 cf 74 28 d2 93 cb eb a9 5c 66 e1 39 35 0b 6e c0 7d 5a 42 5d 98 75 f8 e2 b2 e5"),
        39: hex("aa d6 be 89 8e 5d 12 1f 1b b6 d4 8d 5a df c0 3f bb 2d 5e cc c7 ab 0d af ed fd 5f 55 a3 b1 5f d4 ba 98 80 e7 80 cf e6 81 42 af 3f a7 67 44 79"),
    ]

    @Test func crcOfTheCheckStringAndOfTheVector() {
        #expect(BLE.crc24(Array("123456789".utf8)) == 0xC25A56)
        #expect(BLE.crcBytes(BLE.crc24(Self.pdu)) == hex("01 f4 0c"))
    }

    @Test func tableCRCAgreesWithTheBitwiseDefinition() {
        var rng = SystemRandomNumberGenerator()
        for length in [0, 1, 2, 39, 257] {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let initial = UInt32.random(in: 0...0xFFFFFF, using: &rng)
            #expect(BLE.crc24(bytes, initial: initial) == BLE.crc24Bitwise(bytes, register: BLE.reverse24(initial)))
        }
    }

    @Test func whiteningStartsAsTheSpecSays() {
        for (channel, first) in [(37, "8d d2 57 a1"), (38, "d6 c5 44 20"), (39, "1f 37 4a 5f"), (0, "40 b2 bc c3")] {
            var zeros = [UInt8](repeating: 0, count: 4)
            BLE.whiten(&zeros, channel: channel)
            #expect(zeros == hex(first), "channel \(channel)")
        }
    }

    @Test(arguments: [37, 38, 39])
    func buildsAndReadsThePacketOnAir(channel: Int) throws {
        var body = Self.pdu + BLE.crcBytes(BLE.crc24(Self.pdu))
        BLE.whiten(&body, channel: channel)
        #expect([0xAA, 0xD6, 0xBE, 0x89, 0x8E] + body == Self.onAir[channel]!)
        // And back: de-whiten, check the CRC, parse the PDU and the Remote ID inside.
        var received = Array(Self.onAir[channel]!.dropFirst(5))
        BLE.whiten(&received, channel: channel)
        let pdu = try BLE.checkCRC(received[...]).get()
        let adv = try BLE.parseAdvertising(pdu).get()
        #expect(adv.pduType == 2 && adv.advertiser?.description == "C0:11:22:33:44:55" && adv.advertiser?.isRandom == true)
        let ad = try #require(BLE.adStructures(adv.advertisingData).first)
        #expect(ad.type == 0x16)
        let framed = try #require(RemoteID.decodeBluetoothServiceData(ad.data)).get()
        #expect(framed.counter == 7)
        guard case .location(let l) = framed.message else { Issue.record("not a Location"); return }
        #expect(l.directionDeg == 216 && abs(l.latitudeDeg! - 45.539309) < 1e-9)
    }

    @Test func corruptedBitFailsTheCRC() {
        var body = Self.pdu + BLE.crcBytes(BLE.crc24(Self.pdu))
        body[10] ^= 0x04
        guard case .failure(.badCRC) = BLE.checkCRC(body[...]) else { Issue.record("expected a CRC failure"); return }
    }

    @Test func extendedHeaderFields() throws {
        // AUX_ADV_IND as the BT5 Long Range capture holds: ext header 09, flags AdvA|ADI.
        let pdu = hex("07 0d 09 09 1c 2f eb ea 7d e0 75 0e 02 01 06")
        let adv = try BLE.parseAdvertising(pdu[...]).get()
        #expect(adv.isExtended && adv.advMode == 0)
        #expect(adv.advertiser?.description == "E0:7D:EA:EB:2F:1C")
        #expect(adv.dataID == 0xE75 && adv.setID == 0)
        #expect(adv.advertisingData == hex("02 01 06"))
        // ADV_EXT_IND with an AuxPtr: channel 26, 300 µs units, offset 10, LE Coded.
        let ext = try BLE.parseAdvertising(hex("07 05 04 10 9a 0a 40")[...]).get()
        #expect(ext.auxPointer == BLE.AuxPointer(channel: 26, offsetUs: 3000, offsetUnitUs: 300, phy: 2))
    }

    @Test func hostilePDUsFailCleanly() {
        var state: UInt32 = 1
        for _ in 0..<200_000 {
            let length = Int(state % 64)
            var bytes = [UInt8](repeating: 0, count: length)
            for k in 0..<length { state = state &* 1_664_525 &+ 1_013_904_223; bytes[k] = UInt8(state >> 24) }
            state = state &* 1_664_525 &+ 1_013_904_223
            if length > 0 { bytes[0] = bytes[0] & 0xF0 | UInt8(state % 8) }
            _ = BLE.parseAdvertising(bytes[...])
            _ = BLE.checkCRC(bytes[...])
            _ = BLE.adStructures(bytes)
            _ = RemoteID.decodeBluetoothServiceData(bytes)
        }
        #expect(BLE.parseAdvertising([0x42, 0x25][...]) == .failure(.tooShort(needed: 39, got: 2)))
        #expect(BLE.parseAdvertising(hex("07 03 05 10 00 00")[...]) == .failure(.badExtendedHeader))
    }
}
