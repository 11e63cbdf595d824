import BLE
import RemoteID

/// Finds Remote ID in captured frames of every link type a sniffer writes:
/// 802.11 with radiotap (127) or without (105) — beacon vendor elements and NAN service
/// discovery frames — and Bluetooth LE with the LL pseudo-header (256) or from the nRF Sniffer
/// (272). Each broadcast becomes one `RemoteIDFrame`; everything else is counted, not thrown.
public struct RemoteIDFrame: Sendable, Equatable {
    public enum Transport: String, Sendable {
        case bleLegacy = "ble-legacy-remote-id"
        case bleExtended = "ble-coded-remote-id"
        case wifiBeacon = "wifi-beacon-remote-id"
        case wifiNAN = "wifi-nan-remote-id"
    }

    public var transport: Transport
    public var timestampS: Double
    public var frequencyHz: Double?
    public var rssiDBm: Double?
    /// BLE channel index, or the Wi-Fi channel number.
    public var channel: Int?
    /// Transmitter address (BLE AdvA or 802.11 source), as text.
    public var address: String?
    public var counter: UInt8
    public var message: RemoteID.Message
    /// BLE PHY: "1M", "2M", "coded".
    public var phy: String?
    /// BLE: the advertising PDU (header, length, payload), CRC-checked, for re-export.
    public var blePDU: [UInt8]?
    /// Received from IQ: where the packet starts in the recording, its SNR in 2 MHz and its power.
    public var sampleIndex: Int64? = nil
    public var snrDB: Double? = nil
    public var rssiDBFS: Double? = nil
}

public struct FrameCounters: Sendable, Equatable {
    public var packets = 0
    public var remoteID = 0
    public var notRemoteID = 0
    public var badCRC = 0
    public var decodeFailures = 0
    public var unsupportedLinkType = 0
    public var malformed = 0
    public init() {}
}

public enum RemoteIDFrameDecoder {
    public static func frames(in capture: CaptureFile, counters: inout FrameCounters) -> [RemoteIDFrame] {
        var out: [RemoteIDFrame] = []
        for packet in capture.packets {
            counters.packets += 1
            let found: [RemoteIDFrame]?
            switch packet.linkType {
            case 127: found = radiotap(packet, &counters)
            case 105: found = ieee80211(packet.data[...], packet.timestampS, nil, nil, hasFCS: false, &counters)
            case 256: found = bleWithPseudoHeader(packet, &counters)
            case 272: found = nordicBLE(packet, &counters)
            default:
                counters.unsupportedLinkType += 1
                found = nil
            }
            if let found, !found.isEmpty {
                counters.remoteID += found.count
                out += found
            }
        }
        return out
    }

    // MARK: - 802.11

    /// Radiotap: version, pad, length (LE16), present bitmaps, then fields in bit order, each
    /// aligned to its natural size. Only what we need: flags (FCS), channel, antenna signal.
    static func radiotap(_ packet: CaptureFile.Packet, _ counters: inout FrameCounters) -> [RemoteIDFrame]? {
        let d = packet.data
        guard d.count >= 8 else { counters.malformed += 1; return nil }
        let length = Int(d[2]) | Int(d[3]) << 8
        guard length >= 8, length <= d.count else { counters.malformed += 1; return nil }
        var present: [UInt32] = []
        var k = 4
        repeat {
            guard k + 4 <= length else { counters.malformed += 1; return nil }
            present.append(UInt32(d[k]) | UInt32(d[k + 1]) << 8 | UInt32(d[k + 2]) << 16 | UInt32(d[k + 3]) << 24)
            k += 4
        } while present.last! & 0x8000_0000 != 0 && present.count < 8
        var hasFCS = false
        var frequency: Double?
        var signal: Double?
        // Fields of the first bitmap, in order: (bit, size, alignment).
        let layout: [(Int, Int, Int)] = [(0, 8, 8), (1, 1, 1), (2, 1, 1), (3, 4, 2), (4, 2, 1), (5, 1, 1)]
        for (bit, size, align) in layout where present[0] & (1 << bit) != 0 {
            k = (k + align - 1) / align * align
            guard k + size <= length else { break }
            switch bit {
            case 1: hasFCS = d[k] & 0x10 != 0
            case 3: frequency = Double(Int(d[k]) | Int(d[k + 1]) << 8) * 1e6
            case 5: signal = Double(Int8(bitPattern: d[k]))
            default: break
            }
            k += size
        }
        return ieee80211(d[length...], packet.timestampS, frequency, signal, hasFCS: hasFCS, &counters)
    }

    static func ieee80211(_ frame: ArraySlice<UInt8>, _ time: Double, _ frequencyHz: Double?, _ rssi: Double?,
                          hasFCS: Bool, _ counters: inout FrameCounters) -> [RemoteIDFrame]? {
        let f = Array(hasFCS ? frame.dropLast(4) : frame)
        guard f.count >= 24 else { counters.malformed += 1; return nil }
        let type = (f[0] >> 2) & 0x3, subtype = f[0] >> 4
        guard type == 0 else { counters.notRemoteID += 1; return nil }
        let source = address(f[10..<16])
        let channel = frequencyHz.flatMap(wifiChannel)
        var frames: [RemoteIDFrame] = []
        func add(_ transport: RemoteIDFrame.Transport, _ result: Result<RemoteID.Framed, RemoteID.DecodeFailure>) {
            switch result {
            case .success(let framed):
                frames.append(RemoteIDFrame(transport: transport, timestampS: time, frequencyHz: frequencyHz, rssiDBm: rssi,
                                            channel: channel, address: source, counter: framed.counter,
                                            message: framed.message, phy: nil, blePDU: nil))
            case .failure:
                counters.decodeFailures += 1
            }
        }
        if subtype == 8 {  // beacon: timestamp, interval, capabilities, then elements
            var k = 24 + 12
            while k + 2 <= f.count {
                let id = f[k], length = Int(f[k + 1])
                guard k + 2 + length <= f.count else { break }
                if id == 221, let result = RemoteID.decodeWiFiVendorElement(Array(f[(k + 2)..<(k + 2 + length)])) {
                    add(.wifiBeacon, result)
                }
                k += 2 + length
            }
        } else if subtype == 13, f.count >= 24 + 6, f[24] == 0x04, f[25] == 0x09,
                  f[26] == 0x50, f[27] == 0x6F, f[28] == 0x9A, f[29] == 0x13 {
            // NAN service discovery frame: attributes (ID, LE16 length, body).
            var k = 30
            while k + 3 <= f.count {
                let id = f[k], length = Int(f[k + 1]) | Int(f[k + 2]) << 8
                guard k + 3 + length <= f.count else { break }
                if id == 0x03, let info = nanServiceInfo(Array(f[(k + 3)..<(k + 3 + length)])),
                   let result = RemoteID.decodeNANServiceInfo(info) {
                    add(.wifiNAN, result)
                }
                k += 3 + length
            }
        }
        if frames.isEmpty { counters.notRemoteID += 1 }
        return frames
    }

    /// The Remote ID service's info inside a NAN Service Descriptor Attribute: service ID (6),
    /// instance, requestor instance, control; optional matching filter, SRF, then service info.
    static let remoteIDServiceID: [UInt8] = [0x88, 0x69, 0x19, 0x9D, 0x92, 0x09]

    static func nanServiceInfo(_ a: [UInt8]) -> [UInt8]? {
        guard a.count >= 9, Array(a[0..<6]) == remoteIDServiceID else { return nil }
        let control = a[8]
        var k = 9
        if control & 0x20 != 0 { k += 2 }  // binding bitmap
        for bit in [UInt8(0x04), 0x08] where control & bit != 0 {  // matching filter, service response filter
            guard k < a.count else { return nil }
            k += 1 + Int(a[k])
        }
        guard control & 0x10 != 0, k < a.count else { return nil }
        let length = Int(a[k])
        guard k + 1 + length <= a.count else { return nil }
        return Array(a[(k + 1)..<(k + 1 + length)])
    }

    /// The 802.11 channel number of a centre frequency in the 2.4, 5 or 6 GHz band (NAN's 5 GHz
    /// channel 149 is 5745 MHz); nil off the channel raster.
    public static func wifiChannel(frequencyHz: Double) -> Int? {
        let mhz = Int((frequencyHz / 1e6).rounded())
        switch mhz {
        case 2484: return 14
        case 2412...2472 where (mhz - 2407) % 5 == 0: return (mhz - 2407) / 5
        case 5005...5895 where mhz % 5 == 0: return (mhz - 5000) / 5
        case 5935: return 2  // the 6 GHz band's channel 2 sits below its raster
        case 5955...7115 where (mhz - 5950) % 5 == 0: return (mhz - 5950) / 5
        default: return nil
        }
    }

    static func address(_ bytes: ArraySlice<UInt8>) -> String {
        bytes.map { b in
            let s = String(b, radix: 16, uppercase: true)
            return s.count == 1 ? "0" + s : s
        }.joined(separator: ":")
    }

    // MARK: - Bluetooth LE

    /// LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR: channel, signal dBm, noise dBm, AA offenses,
    /// reference AA (4), flags (LE16), then access address, PDU and CRC.
    static func bleWithPseudoHeader(_ captured: CaptureFile.Packet, _ counters: inout FrameCounters) -> [RemoteIDFrame]? {
        let d = captured.data
        guard d.count >= 10 + 4 + 2 + 3 else { counters.malformed += 1; return nil }
        let flags = UInt16(d[8]) | UInt16(d[9]) << 8
        let signal: Double? = flags & 0x0002 != 0 ? Double(Int8(bitPattern: d[1])) : nil
        let phy: String
        switch flags & 0xC000 {
        case 0x4000: phy = "2M"
        case 0x8000: phy = "coded"
        default: phy = "1M"
        }
        // On LE Coded a coding-indicator byte follows the access address.
        let packet = phy == "coded" ? Array(d[10..<14]) + d[15...] : Array(d[10...])
        // The header's channel is the RF channel (by frequency); records use the link-layer index.
        let channel = BLE.channel(rfChannel: Int(d[0])) ?? Int(d[0])
        return blePacket(packet[...], channel: channel, rssi: signal, phy: phy, time: captured.timestampS, &counters)
    }

    /// nRF Sniffer for Bluetooth LE (LINKTYPE_NORDIC_BLE), protocol versions 2 and 3: board,
    /// payload length (2), protocol version, packet counter (2), packet ID, then a header of
    /// `header length` bytes: flags (bit 0 CRC OK — ignored, we check ourselves; bits 4-6 PHY),
    /// channel, RSSI (−dBm), event counter (2), timestamp (4); then access address, a coding
    /// indicator byte on LE Coded, the PDU and the CRC.
    static func nordicBLE(_ packet: CaptureFile.Packet, _ counters: inout FrameCounters) -> [RemoteIDFrame]? {
        let d = packet.data
        guard d.count >= 8 else { counters.malformed += 1; return nil }
        let headerLength = Int(d[7])
        let start = 7 + headerLength
        guard headerLength >= 6, d.count >= start + 4 + 2 + 3 else { counters.malformed += 1; return nil }
        let flags = d[8], channel = Int(d[9]), rssi = -Double(d[10])
        let coded = (flags >> 4) & 0x07 == 2
        let phy = coded ? "coded" : ((flags >> 4) & 0x07 == 1 ? "2M" : "1M")
        let pduStart = start + 4 + (coded ? 1 : 0)
        guard pduStart <= d.count else { counters.malformed += 1; return nil }
        return blePacket(Array(d[start..<(start + 4)]) + d[pduStart...], channel: channel, rssi: rssi, phy: phy,
                         time: packet.timestampS, &counters)
    }

    /// Access address, PDU and CRC (de-whitened): checks the CRC ourselves, then reads the
    /// advertising PDU's Remote ID service data.
    static func blePacket(_ bytes: ArraySlice<UInt8>, channel: Int, rssi: Double?, phy: String, time: Double,
                          _ counters: inout FrameCounters) -> [RemoteIDFrame]? {
        let aa = bytes.prefix(4)
        guard aa.count == 4, aa.elementsEqual([0xD6, 0xBE, 0x89, 0x8E]) else { counters.notRemoteID += 1; return nil }
        let rest = bytes.dropFirst(4)
        guard rest.count >= 2 else { counters.malformed += 1; return nil }
        let pduLength = 2 + Int(rest[rest.startIndex + 1])
        guard rest.count >= pduLength + 3 else { counters.malformed += 1; return nil }
        let pduAndCRC = rest.prefix(pduLength + 3)
        switch BLE.checkCRC(pduAndCRC) {
        case .success(let pdu):
            return frames(advertisingPDU: pdu, channel: channel, rssiDBm: rssi, phy: phy, timeS: time, &counters)
        case .failure:
            counters.badCRC += 1
            return nil
        }
    }

    /// Remote ID in a CRC-checked advertising PDU (from a capture or from the IQ receiver).
    public static func frames(advertisingPDU pdu: ArraySlice<UInt8>, channel: Int, rssiDBm rssi: Double?, phy: String,
                              timeS time: Double, _ counters: inout FrameCounters) -> [RemoteIDFrame] {
        guard case .success(let adv) = BLE.parseAdvertising(pdu) else { counters.malformed += 1; return [] }
        var frames: [RemoteIDFrame] = []
        for ad in BLE.adStructures(adv.advertisingData) where ad.type == 0x16 {
            guard let result = RemoteID.decodeBluetoothServiceData(ad.data) else { continue }
            switch result {
            case .success(let framed):
                frames.append(RemoteIDFrame(transport: adv.isExtended ? .bleExtended : .bleLegacy, timestampS: time,
                                            frequencyHz: BLE.frequencyHz(channel: channel), rssiDBm: rssi,
                                            // A sniffer's channel byte outside 0–39 names no channel.
                                            channel: BLE.frequencyHz(channel: channel) == nil ? nil : channel,
                                            address: adv.advertiser?.description, counter: framed.counter,
                                            message: framed.message, phy: phy, blePDU: Array(pdu)))
            case .failure:
                counters.decodeFailures += 1
            }
        }
        if frames.isEmpty { counters.notRemoteID += 1 }
        return frames
    }
}
