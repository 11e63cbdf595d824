#if canImport(Glibc)
import Glibc
#endif
import BLE

/// Writes Bluetooth LE packets as a classic pcap with LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR (256),
/// which Wireshark and tshark dissect down to the Remote ID messages.
///
/// Per packet: a 10-byte pseudo-header — RF channel (by frequency: 0 is 2402 MHz), signal dBm (int8), noise dBm (int8),
/// access-address offenses, reference access address (LE32), flags (LE16: 0x0001 de-whitened,
/// 0x0002 signal valid, 0x0010 reference AA valid, 0x0400 CRC checked, 0x0800 CRC valid,
/// PHY in bits 14-15: 0 1M, 1 2M, 2 Coded) — then access address, PDU and CRC-24 as on air
/// (de-whitened).
public final class BLEPcapWriter {
    public let path: String
    private var file: UnsafeMutablePointer<FILE>?
    public private(set) var packetsWritten = 0

    public init(path: String) throws(CaptureError) {
        self.path = path
        guard let f = fopenWrite(path) else { throw .unreadable(path: path, reason: lastErrorText()) }
        file = f
        var header: [UInt8] = []
        header += le32(0xA1B2_C3D4) + le16(2) + le16(4) + le32(0) + le32(0) + le32(65535) + le32(256)
        try write(header)
    }

    deinit { try? close() }

    /// - Parameters:
    ///   - pdu: header, length and payload (no access address, no CRC); the CRC is computed.
    ///   - phy: "1M", "2M" or "coded"; for coded, `codingIndicator` 0 is S=8 and 1 is S=2.
    public func write(timestampS: Double, channel: Int, rssiDBm: Double?, pdu: [UInt8], phy: String = "1M",
                      codingIndicator: UInt8 = 0) throws(CaptureError) {
        let crc = BLE.crcBytes(BLE.crc24(pdu))
        // PDU type (bits 7-9): 0 primary advertising, 1 auxiliary advertising, so a dissector uses
        // the advertising CRC init on a secondary (data-numbered) channel too. On LE 1M and 2M the CRC is left for the reader to
        // verify. On LE Coded, tshark 4.0's check of this link type disagrees with CRCs it accepts
        // from the nRF Sniffer's own format; ours were checked on the way in, so say so.
        // The header names the RF channel (by frequency), not the link-layer index.
        let rfChannel = BLE.rfChannel(channel: channel) ?? 0
        let primary = (37...39).contains(channel)
        var flags: UInt16 = 0x0001 | 0x0010 | (primary ? 0 : 0x0080)
        if rssiDBm != nil { flags |= 0x0002 }
        switch phy {
        case "2M": flags |= 0x4000
        case "coded": flags |= 0x8000 | 0x0400 | 0x0800
        default: break
        }
        let signal = Int8(clamping: Int((rssiDBm ?? -128).rounded()))
        var record: [UInt8] = [UInt8(rfChannel), UInt8(bitPattern: signal), UInt8(bitPattern: -128), 0]
        record += le32(BLE.advertisingAccessAddress) + le16(flags)
        record += le32(BLE.advertisingAccessAddress)
        if phy == "coded" { record.append(codingIndicator) }
        record += pdu + crc
        let seconds = timestampS.rounded(.down)
        let micros = UInt32(max(0, min(999_999, ((timestampS - seconds) * 1e6).rounded())))
        try write(le32(UInt32(clamping: Int64(seconds))) + le32(micros) + le32(UInt32(record.count)) + le32(UInt32(record.count)))
        try write(record)
        packetsWritten += 1
    }

    public func close() throws(CaptureError) {
        guard let f = file else { return }
        file = nil
        if fclose(f) != 0 { throw .unreadable(path: path, reason: lastErrorText()) }
    }

    private func write(_ bytes: [UInt8]) throws(CaptureError) {
        guard let f = file else { return }
        let n = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
        if n != bytes.count { throw .unreadable(path: path, reason: "write failed: \(lastErrorText())") }
    }

    private func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
    private func le32(_ v: UInt32) -> [UInt8] { le16(UInt16(v & 0xFFFF)) + le16(UInt16(v >> 16)) }
}
