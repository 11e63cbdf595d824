#if canImport(Glibc)
import Glibc
#endif

/// Packet capture files: classic pcap (either byte order, µs or ns timestamps) and pcapng
/// (section header, interface description, enhanced and simple packet blocks; several
/// interfaces with their own link types and timestamp resolutions).
///
/// ```
/// pcap:   magic a1b2c3d4 (µs) / a1b23c4d (ns), version, zone, sigfigs, snaplen, link type
///         per packet: seconds, fraction, captured length, original length, data
/// pcapng: blocks of type (u32), total length (u32), body, total length again
///         0x0A0D0D0A section header (byte-order magic 1A2B3C4D), 1 interface description
///         (link type u16, snaplen; option 9 if_tsresol), 6 enhanced packet (interface, time
///         high/low, captured, original, data), 3 simple packet (original length, data)
/// ```
/// Reading never traps: a truncated or corrupt file ends the packet list with a `CaptureError`
/// that says where, after the packets that were whole.
public struct CaptureFile: Sendable {
    public struct Packet: Sendable, Equatable {
        public var linkType: UInt32
        /// Seconds since 1970 UTC.
        public var timestampS: Double
        public var data: [UInt8]
        /// Length on the wire (data may be shorter when the capture was cut at the snap length).
        public var originalLength: Int
    }

    public enum Format: String, Sendable { case pcap, pcapng }

    public var format: Format
    public var packets: [Packet]
    /// Set when the file ended badly; the packets before the damage are in `packets`.
    public var damage: CaptureError?

    public static func read(path: String) throws(CaptureError) -> CaptureFile {
        guard let file = fopenRead(path) else { throw .unreadable(path: path, reason: lastErrorText()) }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if n > 0 { bytes.append(contentsOf: chunk[0..<n]) }
            if n < chunk.count { break }
            if bytes.count > maxFileBytes { throw .tooLarge(path: path) }
        }
        return try parse(bytes, name: path)
    }

    /// Files above this are refused (frame captures for Remote ID are small; IQ belongs elsewhere).
    public static let maxFileBytes = 2 << 30

    public static func parse(_ bytes: [UInt8], name: String = "capture") throws(CaptureError) -> CaptureFile {
        guard bytes.count >= 4 else {
            throw bytes.isEmpty ? .empty(path: name) : .notACapture(path: name)
        }
        let magic = Bytes(bytes: bytes, littleEndian: true).u32(0)
        switch magic {
        case 0xA1B2_C3D4, 0xD4C3_B2A1, 0xA1B2_3C4D, 0x4D3C_B2A1:
            return try parsePcap(bytes, name: name)
        case 0x0A0D_0D0A:
            return try parsePcapng(bytes, name: name)
        default:
            throw .notACapture(path: name)
        }
    }

    static func parsePcap(_ bytes: [UInt8], name: String) throws(CaptureError) -> CaptureFile {
        guard bytes.count >= 24 else { throw .truncated(path: name, offset: 0, what: "file header") }
        let magicLE = Bytes(bytes: bytes, littleEndian: true).u32(0)
        let littleEndian = magicLE == 0xA1B2_C3D4 || magicLE == 0xA1B2_3C4D
        let b = Bytes(bytes: bytes, littleEndian: littleEndian)
        let nanoseconds = b.u32(0) == 0xA1B2_3C4D
        let linkType = b.u32(20) & 0x0FFF_FFFF  // upper bits: FCS flags
        var result = CaptureFile(format: .pcap, packets: [], damage: nil)
        var offset = 24
        while offset < bytes.count {
            guard offset + 16 <= bytes.count else {
                result.damage = .truncated(path: name, offset: offset, what: "packet header")
                break
            }
            let seconds = b.u32(offset), fraction = b.u32(offset + 4)
            let captured = Int(b.u32(offset + 8)), original = Int(b.u32(offset + 12))
            guard captured <= 1 << 20, offset + 16 + captured <= bytes.count else {
                result.damage = .truncated(path: name, offset: offset, what: "packet data")
                break
            }
            result.packets.append(Packet(linkType: linkType,
                                         timestampS: Double(seconds) + Double(fraction) * (nanoseconds ? 1e-9 : 1e-6),
                                         data: Array(bytes[(offset + 16)..<(offset + 16 + captured)]),
                                         originalLength: original))
            offset += 16 + captured
        }
        return result
    }

    static func parsePcapng(_ bytes: [UInt8], name: String) throws(CaptureError) -> CaptureFile {
        var result = CaptureFile(format: .pcapng, packets: [], damage: nil)
        var b = Bytes(bytes: bytes, littleEndian: true)
        var interfaces: [(linkType: UInt32, unitsPerSecond: Double)] = []
        var offset = 0
        while offset < bytes.count {
            guard offset + 12 <= bytes.count else {
                result.damage = .truncated(path: name, offset: offset, what: "block header")
                break
            }
            let type = b.u32(offset)
            if type == 0x0A0D_0D0A {
                // Section header: the byte-order magic decides how to read everything in the section.
                guard offset + 12 <= bytes.count else { break }
                let magic = Bytes(bytes: bytes, littleEndian: true).u32(offset + 8)
                guard magic == 0x1A2B_3C4D || magic == 0x4D3C_2B1A else {
                    throw .notACapture(path: name)
                }
                b = Bytes(bytes: bytes, littleEndian: magic == 0x1A2B_3C4D)
                interfaces = []
            }
            let length = Int(b.u32(offset + 4))
            guard length >= 12, length % 4 == 0, offset + length <= bytes.count else {
                result.damage = .truncated(path: name, offset: offset, what: "block of \(length) bytes")
                break
            }
            let body = offset + 8, bodyEnd = offset + length - 4
            switch type {
            case 1 where bodyEnd - body >= 8:  // interface description
                var unitsPerSecond = 1e6
                var k = body + 8
                while k + 4 <= bodyEnd {
                    let code = b.u16(k), optionLength = Int(b.u16(k + 2))
                    if code == 0 { break }
                    if code == 9, optionLength >= 1, k + 4 < bodyEnd {
                        let v = bytes[k + 4]
                        let exponent = Double(v & 0x7F)
                        unitsPerSecond = v & 0x80 != 0 ? pow2(exponent) : pow10(exponent)
                    }
                    k += 4 + (optionLength + 3) / 4 * 4
                }
                interfaces.append((UInt32(b.u16(body)), unitsPerSecond))
            case 6 where bodyEnd - body >= 20:  // enhanced packet
                let interface = Int(b.u32(body))
                let time = UInt64(b.u32(body + 4)) << 32 | UInt64(b.u32(body + 8))
                let captured = Int(b.u32(body + 12)), original = Int(b.u32(body + 16))
                guard interface < interfaces.count, body + 20 + captured <= bodyEnd else {
                    result.damage = .truncated(path: name, offset: offset, what: "enhanced packet")
                    return result
                }
                let (linkType, units) = interfaces[interface]
                result.packets.append(Packet(linkType: linkType, timestampS: Double(time) / units,
                                             data: Array(bytes[(body + 20)..<(body + 20 + captured)]),
                                             originalLength: original))
            case 3 where bodyEnd - body >= 4:  // simple packet (interface 0, no timestamp)
                guard let first = interfaces.first else { break }
                let original = Int(b.u32(body))
                let captured = min(original, bodyEnd - body - 4)
                result.packets.append(Packet(linkType: first.linkType, timestampS: 0,
                                             data: Array(bytes[(body + 4)..<(body + 4 + captured)]), originalLength: original))
            default:
                break  // name resolution, statistics, custom blocks…
            }
            offset += length
        }
        return result
    }

    static func pow10(_ e: Double) -> Double { var v = 1.0; for _ in 0..<Int(e) { v *= 10 }; return v }
    static func pow2(_ e: Double) -> Double { var v = 1.0; for _ in 0..<Int(e) { v *= 2 }; return v }
}

/// Reads integers of either byte order at byte offsets (callers check bounds first).
struct Bytes {
    let bytes: [UInt8]
    let littleEndian: Bool
    func u16(_ k: Int) -> UInt16 {
        let a = UInt16(bytes[k]), b = UInt16(bytes[k + 1])
        return littleEndian ? a | b << 8 : a << 8 | b
    }
    func u32(_ k: Int) -> UInt32 {
        let a = UInt32(u16(k)), b = UInt32(u16(k + 2))
        return littleEndian ? a | b << 16 : a << 16 | b
    }
}

public enum CaptureError: Error, Equatable, Sendable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case empty(path: String)
    case notACapture(path: String)
    case truncated(path: String, offset: Int, what: String)
    case tooLarge(path: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "\(path): cannot read (\(reason))"
        case .empty(let path): return "\(path): file is empty"
        case .notACapture(let path): return "\(path): not a pcap or pcapng file"
        case .truncated(let path, let offset, let what): return "\(path): truncated or corrupt \(what) at byte \(offset)"
        case .tooLarge(let path): return "\(path): larger than 2 GiB; not a frame capture"
        }
    }
}
