/// Advertising PDUs and their AD structures.
extension BLE {
    public struct Address: Equatable, Hashable, Sendable, CustomStringConvertible {
        /// Little-endian as sent.
        public var bytes: [UInt8]
        public var isRandom: Bool
        public var description: String {
            bytes.reversed().map { b in
                let s = String(b, radix: 16, uppercase: true)
                return s.count == 1 ? "0" + s : s
            }.joined(separator: ":")
        }
    }

    /// AuxPtr: where the AUX_ADV_IND follows an ADV_EXT_IND.
    public struct AuxPointer: Equatable, Sendable {
        public var channel: Int
        /// Offset from the start of this packet to the start of the auxiliary one, which begins
        /// within one `offsetUnitUs` (30 or 300 µs) after it.
        public var offsetUs: Int
        public var offsetUnitUs: Int
        /// 0 LE 1M, 1 LE 2M, 2 LE Coded.
        public var phy: Int

        public init(channel: Int, offsetUs: Int, offsetUnitUs: Int = 30, phy: Int) {
            self.channel = channel
            self.offsetUs = offsetUs
            self.offsetUnitUs = offsetUnitUs
            self.phy = phy
        }
    }

    public struct AdvertisingPDU: Equatable, Sendable {
        /// 0 ADV_IND, 1 ADV_DIRECT_IND, 2 ADV_NONCONN_IND, 3 SCAN_REQ, 4 SCAN_RSP, 5 CONNECT_IND,
        /// 6 ADV_SCAN_IND, 7 extended (ADV_EXT_IND / AUX_*).
        public var pduType: UInt8
        public var channelSelection: Bool
        public var advertiser: Address?
        /// Extended PDUs: AdvMode (0 non-connectable non-scannable) and the optional fields.
        public var advMode: UInt8?
        /// Advertising data ID (12 bits) and set ID (4 bits).
        public var dataID: UInt16?
        public var setID: UInt8?
        public var auxPointer: AuxPointer?
        public var txPowerDBm: Int8?
        /// The AD structures' bytes.
        public var advertisingData: [UInt8]

        public var isExtended: Bool { pduType == 7 }
    }

    /// Parses a (de-whitened, CRC-stripped) advertising PDU.
    public static func parseAdvertising(_ pdu: ArraySlice<UInt8>) -> Result<AdvertisingPDU, Failure> {
        guard pdu.count >= 2 else { return .failure(.tooShort(needed: 2, got: pdu.count)) }
        let s = pdu.startIndex
        let h0 = pdu[s], length = Int(pdu[s + 1])
        guard pdu.count >= 2 + length else { return .failure(.tooShort(needed: 2 + length, got: pdu.count)) }
        let payload = pdu[(s + 2)..<(s + 2 + length)]
        let type = h0 & 0x0F
        let txRandom = h0 & 0x40 != 0
        var result = AdvertisingPDU(pduType: type, channelSelection: h0 & 0x20 != 0, advertiser: nil, advMode: nil,
                                    dataID: nil, setID: nil, auxPointer: nil, txPowerDBm: nil, advertisingData: [])
        switch type {
        case 0, 1, 2, 4, 6:
            guard payload.count >= 6 else { return .failure(.tooShort(needed: 8, got: pdu.count)) }
            result.advertiser = Address(bytes: Array(payload.prefix(6)), isRandom: txRandom)
            result.advertisingData = type == 1 ? [] : Array(payload.dropFirst(6))
        case 7:
            guard let first = payload.first else { return .success(result) }
            let headerLength = Int(first & 0x3F)
            result.advMode = first >> 6
            guard payload.count >= 1 + headerLength else { return .failure(.badExtendedHeader) }
            var k = payload.startIndex + 1
            let end = k + headerLength
            if headerLength > 0 {
                let flags = payload[k]
                k += 1
                func take(_ n: Int) -> ArraySlice<UInt8>? {
                    guard k + n <= end else { return nil }
                    defer { k += n }
                    return payload[k..<(k + n)]
                }
                if flags & 0x01 != 0 {
                    guard let a = take(6) else { return .failure(.badExtendedHeader) }
                    result.advertiser = Address(bytes: Array(a), isRandom: txRandom)
                }
                if flags & 0x02 != 0 { guard take(6) != nil else { return .failure(.badExtendedHeader) } }
                if flags & 0x04 != 0 { guard take(1) != nil else { return .failure(.badExtendedHeader) } }
                if flags & 0x08 != 0 {
                    guard let adi = take(2) else { return .failure(.badExtendedHeader) }
                    let v = UInt16(adi[adi.startIndex]) | UInt16(adi[adi.startIndex + 1]) << 8
                    result.dataID = v & 0x0FFF
                    result.setID = UInt8(v >> 12)
                }
                if flags & 0x10 != 0 {
                    guard let p = take(3) else { return .failure(.badExtendedHeader) }
                    let v = UInt32(p[p.startIndex]) | UInt32(p[p.startIndex + 1]) << 8 | UInt32(p[p.startIndex + 2]) << 16
                    let units = v & 0x80 != 0 ? 300 : 30
                    result.auxPointer = AuxPointer(channel: Int(v & 0x3F), offsetUs: Int((v >> 8) & 0x1FFF) * units,
                                                   offsetUnitUs: units, phy: Int((v >> 21) & 0x07))
                }
                if flags & 0x20 != 0 { guard take(18) != nil else { return .failure(.badExtendedHeader) } }
                if flags & 0x40 != 0 {
                    guard let t = take(1) else { return .failure(.badExtendedHeader) }
                    result.txPowerDBm = Int8(bitPattern: t[t.startIndex])
                }
            }
            result.advertisingData = Array(payload[end...])
        default:
            break  // SCAN_REQ, CONNECT_IND: nothing to read here
        }
        return .success(result)
    }

    public struct ADStructure: Equatable, Sendable {
        public var type: UInt8
        public var data: [UInt8]
    }

    /// Splits advertising data into AD structures; stops at a zero length or a structure that
    /// runs past the end (what follows is padding or garbage).
    public static func adStructures(_ data: [UInt8]) -> [ADStructure] {
        var out: [ADStructure] = []
        var k = 0
        while k < data.count {
            let length = Int(data[k])
            guard length > 0, k + 1 + length <= data.count else { break }
            out.append(ADStructure(type: data[k + 1], data: Array(data[(k + 2)..<(k + 1 + length)])))
            k += 1 + length
        }
        return out
    }
}
