/// Bluetooth LE link layer for advertising: CRC-24, whitening, advertising PDUs (legacy and
/// extended) and AD structures — shared by the capture readers and the IQ receiver.
///
/// ```
/// on air:  preamble (0xAA, LE 1M) | access address 0x8E89BED6 (D6 BE 89 8E) | PDU | CRC-24
///          every byte least significant bit first; PDU and CRC whitened by the channel's LFSR
/// PDU:     header[0] = type (3-0) | RFU | ChSel (5) | TxAdd (6) | RxAdd (7)   header[1] = length
///          legacy (ADV_IND 0, ADV_DIRECT_IND 1, ADV_NONCONN_IND 2, SCAN_RSP 4, ADV_SCAN_IND 6):
///             AdvA (6 bytes, little-endian) | AdvData (AD structures)
///          extended (type 7: ADV_EXT_IND, AUX_ADV_IND, AUX_CHAIN_IND …):
///             ext header length (5-0) | AdvMode (7-6) | flags | AdvA | TargetA | CTEInfo | ADI | AuxPtr
///             | SyncInfo | TxPower | ACAD | AdvData
/// AD:      length | AD type | data   (Remote ID: 0x16 service data, UUID FA FF, app code 0D, counter, message)
/// CRC-24:  x²⁴+x¹⁰+x⁹+x⁶+x⁴+x³+x+1, init 0x555555 on advertising channels, over the PDU, bits LSB first
/// ```
/// Example, an ADV_NONCONN_IND carrying a Remote ID Location (AdvA C0:11:22:33:44:55, counter 7):
/// PDU `42 25 55 44 33 22 11 c0 1e 16 fa ff 0d 07 12 26 …`, CRC `01 f4 0c`.
public enum BLE {
    public static let advertisingAccessAddress: UInt32 = 0x8E89_BED6
    public static let advertisingCRCInit: UInt32 = 0x555555

    /// CRC-24/BLE over `bytes` as sent (LSB first): the reflected register, the catalogue's
    /// convention (check value of "123456789": 0xC25A56). `initial` is the spec's preset
    /// (0x555555 for advertising), loaded bit-reversed since the register shifts right.
    /// A byte at a time through a 256-entry table; `crc24Bitwise` is the plain form.
    public static func crc24(_ bytes: some Sequence<UInt8>, initial: UInt32 = advertisingCRCInit) -> UInt32 {
        var crc = reverse24(initial)
        crc24Table.withUnsafeBufferPointer { table in
            for byte in bytes { crc = crc >> 8 ^ table[Int((crc ^ UInt32(byte)) & 0xFF)] }
        }
        return crc
    }

    /// The register after shifting each byte value through it eight times from zero.
    static let crc24Table: [UInt32] = (0..<256).map { crc24Bitwise([UInt8($0)], register: 0) }

    /// One bit at a time, from a register value (not a preset): the definition the table follows.
    static func crc24Bitwise(_ bytes: some Sequence<UInt8>, register: UInt32) -> UInt32 {
        var crc = register
        for byte in bytes {
            var b = byte
            for _ in 0..<8 {
                let feedback = (crc ^ UInt32(b)) & 1
                crc >>= 1
                if feedback != 0 { crc ^= 0xDA6000 }
                b >>= 1
            }
        }
        return crc
    }

    /// The CRC's three bytes as appended to the PDU (low byte first).
    public static func crcBytes(_ crc: UInt32) -> [UInt8] {
        [UInt8(crc & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc >> 16 & 0xFF)]
    }

    static func reverse24(_ v: UInt32) -> UInt32 {
        var out: UInt32 = 0
        for k in 0..<24 where v & (1 << k) != 0 { out |= 1 << (23 - k) }
        return out
    }

    /// Whitens (or de-whitens: the same operation) `bytes` for a channel index 0…39.
    public static func whiten(_ bytes: inout [UInt8], channel: Int) {
        var lfsr = UInt8(channel & 0x3F) | 0x40
        for k in bytes.indices {
            var b = bytes[k]
            for bit in 0..<8 {
                let w = lfsr & 1
                lfsr >>= 1
                if w != 0 { lfsr ^= 0x44 }
                b ^= w << bit
            }
            bytes[k] = b
        }
    }

    /// The RF channel (0…39 by frequency, 2402 + 2k MHz) of a link-layer channel index, as pcap's
    /// LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR records it; and back.
    public static func rfChannel(channel: Int) -> Int? {
        frequencyHz(channel: channel).map { Int((($0 - 2_402e6) / 2e6).rounded()) }
    }

    public static func channel(rfChannel: Int) -> Int? {
        switch rfChannel {
        case 0: return 37
        case 12: return 38
        case 39: return 39
        case 1...11: return rfChannel - 1
        case 13...38: return rfChannel - 2
        default: return nil
        }
    }

    /// RF frequency of a channel index (37, 38, 39 advertising; 0…36 data / secondary advertising).
    public static func frequencyHz(channel: Int) -> Double? {
        switch channel {
        case 37: return 2_402e6
        case 38: return 2_426e6
        case 39: return 2_480e6
        case 0...10: return 2_404e6 + Double(channel) * 2e6
        case 11...36: return 2_406e6 + Double(channel) * 2e6
        default: return nil
        }
    }

    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        case tooShort(needed: Int, got: Int)
        case badCRC(expected: UInt32, got: UInt32)
        case badExtendedHeader

        public var description: String {
            switch self {
            case .tooShort(let needed, let got): return "PDU too short (\(got) of \(needed) bytes)"
            case .badCRC(let e, let g): return "CRC mismatch (computed \(String(e, radix: 16)), received \(String(g, radix: 16)))"
            case .badExtendedHeader: return "extended header does not fit its PDU"
            }
        }
    }

    /// An advertising packet on LE 1M as sent, byte by byte (each byte goes out LSB first):
    /// preamble, access address, then PDU and CRC whitened for `channel`.
    public static func airBytes1M(pdu: [UInt8], channel: Int) -> [UInt8] {
        var body = pdu + crcBytes(crc24(pdu))
        whiten(&body, channel: channel)
        return [0xAA, 0xD6, 0xBE, 0x89, 0x8E] + body
    }

    /// Checks the CRC of a de-whitened PDU followed by its 3 CRC bytes; returns the PDU.
    public static func checkCRC(_ pduAndCRC: ArraySlice<UInt8>, initial: UInt32 = advertisingCRCInit) -> Result<ArraySlice<UInt8>, Failure> {
        guard pduAndCRC.count >= 5 else { return .failure(.tooShort(needed: 5, got: pduAndCRC.count)) }
        let pdu = pduAndCRC.dropLast(3)
        let computed = crc24(pdu, initial: initial)
        let received = Array(pduAndCRC.suffix(3))
        guard crcBytes(computed) == received else {
            let got = UInt32(received[0]) | UInt32(received[1]) << 8 | UInt32(received[2]) << 16
            return .failure(.badCRC(expected: computed, got: got))
        }
        return .success(pdu)
    }
}
