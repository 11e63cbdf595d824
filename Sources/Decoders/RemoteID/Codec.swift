/// Open Drone ID wire format: 25-byte messages, little-endian fields.
///
/// ```
/// byte 0     type (high nibble) | protocol version (low nibble: 0 F3411-19, 1 F3411-20/EN draft, 2 F3411-22a)
/// Basic ID   1: ID type | UA type   2…21: UAS ID (20 bytes, NUL-padded)   22…24: reserved
/// Location   1: status | rsvd | height type | E/W | speed mult   2: direction   3: speed   4: vertical speed (int8)
///            5…8 lat, 9…12 lon (int32 ·1e-7°)   13…14 pressure alt, 15…16 geodetic alt, 17…18 height ((m+1000)·2)
///            19: vertical | horizontal accuracy   20: baro | speed accuracy   21…22: tenths of s since the hour
///            23: rsvd | timestamp accuracy (0.1 s)   24: reserved
/// Auth       1: auth type | page   page 0: 2 last page, 3 length, 4…7 timestamp (s since 2019), 8…24 data
///                                  pages 1…15: 2…24 data
/// Self-ID    1: description type   2…24: text (23 bytes)
/// System     1: rsvd | classification type | operator location type   2…5 lat, 6…9 lon   10…11 area count
///            12: area radius (10 m)   13…14 ceiling, 15…16 floor   17: EU category | class
///            18…19: operator altitude   20…23: timestamp (s since 2019)   24: reserved
/// Operator   1: operator ID type   2…21: operator ID (20 bytes)   22…24 reserved
/// Pack       1: message size (0x19)   2: count N (0…9)   then N × 25 bytes
/// ```
/// Example, a Location (protocol 2) from the reference encoder's tests — airborne, 216°, 5.5 m/s,
/// +5.0 m/s, 45.539309 / −122.966389, baro 100 m, geodetic 110 m, 80 m AGL, timestamp 360.5 s:
/// `12 26 24 16 0a 42 bf 24 1b 6e d1 b4 b6 98 08 ac 08 70 08 6b 53 15 0e 02 00`.
///
/// Decoding never traps: malformed input yields a `DecodeFailure`, which callers count. Reserved
/// bits and bytes are ignored (real transmitters fill them), and the version nibble is not
/// checked (newer versions decode, some fields may be missing).
extension RemoteID {
    public enum DecodeFailure: Error, Equatable, Sendable, CustomStringConvertible {
        case tooShort(needed: Int, got: Int)
        case unknownType(UInt8)
        case packMessageSize(UInt8)
        case packTooManyMessages(Int)
        case packInPack

        public var description: String {
            switch self {
            case .tooShort(let needed, let got): return "message too short (\(got) of \(needed) bytes)"
            case .unknownType(let t): return "unknown message type 0x\(String(t, radix: 16))"
            case .packMessageSize(let s): return "message pack with message size \(s) (must be 25)"
            case .packTooManyMessages(let n): return "message pack claims \(n) messages (at most 9)"
            case .packInPack: return "message pack inside a message pack"
            }
        }
    }

    /// Decodes one message (or a pack) from the start of `bytes`.
    public static func decode(_ bytes: ArraySlice<UInt8>) -> Result<Message, DecodeFailure> {
        decode(bytes, allowPack: true)
    }

    public static func decode(_ bytes: [UInt8]) -> Result<Message, DecodeFailure> { decode(bytes[...]) }

    static func decode(_ bytes: ArraySlice<UInt8>, allowPack: Bool) -> Result<Message, DecodeFailure> {
        guard let first = bytes.first else { return .failure(.tooShort(needed: messageSize, got: 0)) }
        let version = first & 0x0F
        guard let type = MessageType(rawValue: first >> 4) else { return .failure(.unknownType(first >> 4)) }
        if type == .messagePack {
            guard allowPack else { return .failure(.packInPack) }
            return decodePack(bytes, version: version)
        }
        guard bytes.count >= messageSize else { return .failure(.tooShort(needed: messageSize, got: bytes.count)) }
        let m = Reader(bytes.prefix(messageSize))
        switch type {
        case .basicID:
            return .success(.basicID(BasicID(idType: m[1] >> 4, uaType: m[1] & 0x0F, idBytes: m.bytes(2, 20),
                                             protocolVersion: version)))
        case .location:
            return .success(.location(decodeLocation(m, version: version)))
        case .authentication:
            let page = m[1] & 0x0F
            if page == 0 {
                return .success(.authentication(AuthenticationPage(
                    authType: m[1] >> 4, pageNumber: 0, lastPageIndex: m[2], length: m[3],
                    timestampS: Double(m.uint32(4)) + epoch2019S, data: m.bytes(8, 17), protocolVersion: version)))
            }
            return .success(.authentication(AuthenticationPage(authType: m[1] >> 4, pageNumber: page, data: m.bytes(2, 23),
                                                               protocolVersion: version)))
        case .selfID:
            return .success(.selfID(SelfID(descriptionType: m[1], textBytes: m.bytes(2, 23), protocolVersion: version)))
        case .system:
            let lat = m.int32(2), lon = m.int32(6)
            let timestamp = m.uint32(20)
            return .success(.system(System(
                operatorLocationType: m[1] & 0x03, classificationType: (m[1] >> 2) & 0x07,
                operatorLatitudeDeg: lat == 0 && lon == 0 ? nil : Double(lat) * 1e-7,
                operatorLongitudeDeg: lat == 0 && lon == 0 ? nil : Double(lon) * 1e-7,
                areaCount: m.uint16(10), areaRadiusM: Double(m[12]) * 10,
                areaCeilingM: altitude(m.uint16(13)), areaFloorM: altitude(m.uint16(15)),
                euCategory: m[17] >> 4, euClass: m[17] & 0x0F, operatorAltitudeGeodeticM: altitude(m.uint16(18)),
                timestampS: timestamp == 0 ? nil : Double(timestamp) + epoch2019S, protocolVersion: version)))
        case .operatorID:
            return .success(.operatorID(OperatorID(operatorIDType: m[1], idBytes: m.bytes(2, 20), protocolVersion: version)))
        case .messagePack:
            return .failure(.packInPack)  // handled above
        }
    }

    static func decodePack(_ bytes: ArraySlice<UInt8>, version: UInt8) -> Result<Message, DecodeFailure> {
        guard bytes.count >= 3 else { return .failure(.tooShort(needed: 3, got: bytes.count)) }
        let start = bytes.startIndex
        let size = bytes[start + 1]
        guard size == UInt8(messageSize) else { return .failure(.packMessageSize(size)) }
        // The count byte, not the container length: senders pad packs to 9 slots.
        let count = Int(bytes[start + 2])
        guard count <= maxPackMessages else { return .failure(.packTooManyMessages(count)) }
        let needed = 3 + count * messageSize
        guard bytes.count >= needed else { return .failure(.tooShort(needed: needed, got: bytes.count)) }
        var messages: [Message] = []
        messages.reserveCapacity(count)
        for k in 0..<count {
            let from = start + 3 + k * messageSize
            switch decode(bytes[from..<(from + messageSize)], allowPack: false) {
            case .success(let message): messages.append(message)
            case .failure(let failure): return .failure(failure)
            }
        }
        return .success(.pack(MessagePack(messages: messages, protocolVersion: version)))
    }

    static func decodeLocation(_ m: Reader, version: UInt8) -> Location {
        let flags = m[1]
        let eastWest = flags & 0x02 != 0
        let multiplier = flags & 0x01 != 0
        let direction = Double(m[2]) + (eastWest ? 180 : 0)
        let speed = multiplier ? Double(m[3]) * 0.75 + 63.75 : Double(m[3]) * 0.25
        let vertical = Double(Int8(bitPattern: m[4])) * 0.5
        let lat = m.int32(5), lon = m.int32(9)
        let timestamp = m.uint16(21)
        let timestampAccuracy = m[23] & 0x0F
        return Location(
            status: flags >> 4, heightAboveGround: flags & 0x04 != 0,
            directionDeg: direction > 360 ? nil : direction,  // 361 = unknown
            speedHorizontalMps: multiplier && m[3] == 255 ? nil : speed,
            speedVerticalMps: m[4] == 126 ? nil : vertical,  // 63 m/s = unknown
            latitudeDeg: lat == 0 && lon == 0 ? nil : Double(lat) * 1e-7,
            longitudeDeg: lat == 0 && lon == 0 ? nil : Double(lon) * 1e-7,
            altitudePressureM: altitude(m.uint16(13)), altitudeGeodeticM: altitude(m.uint16(15)), heightM: altitude(m.uint16(17)),
            horizontalAccuracyCode: m[19] & 0x0F, verticalAccuracyCode: m[19] >> 4,
            baroAccuracyCode: m[20] >> 4, speedAccuracyCode: m[20] & 0x0F,
            timestampS: timestamp == 0xFFFF ? nil : Double(timestamp) / 10,
            timestampAccuracyS: timestampAccuracy == 0 ? nil : Double(timestampAccuracy) / 10,
            protocolVersion: version)
    }

    /// Altitudes: (m + 1000) / 0.5 as uint16, 0 = unknown.
    static func altitude(_ raw: UInt16) -> Double? { raw == 0 ? nil : Double(raw) * 0.5 - 1000 }

    /// Little-endian reads from a 25-byte message.
    struct Reader {
        let b: ArraySlice<UInt8>
        init(_ bytes: ArraySlice<UInt8>) { b = bytes }
        subscript(_ k: Int) -> UInt8 { b[b.startIndex + k] }
        func uint16(_ k: Int) -> UInt16 { UInt16(self[k]) | UInt16(self[k + 1]) << 8 }
        func uint32(_ k: Int) -> UInt32 { UInt32(uint16(k)) | UInt32(uint16(k + 2)) << 16 }
        func int32(_ k: Int) -> Int32 { Int32(bitPattern: uint32(k)) }
        func bytes(_ k: Int, _ n: Int) -> [UInt8] { Array(b[(b.startIndex + k)..<(b.startIndex + k + n)]) }
    }
}

// MARK: - Encoding

extension RemoteID {
    /// Encodes a message as sent: 25 bytes, or 3 + 25·N for a pack. Values are rounded or
    /// truncated as the reference encoder does; nil fields are written as "unknown".
    public static func encode(_ message: Message) -> [UInt8] {
        var w = Writer()
        switch message {
        case .basicID(let m):
            w.put(0, 0x00 | m.protocolVersion)
            w.put(1, m.idType << 4 | m.uaType)
            w.put(2, m.idBytes)
        case .location(let m):
            encodeLocation(m, into: &w)
        case .authentication(let m):
            w.put(0, 0x20 | m.protocolVersion)
            w.put(1, m.authType << 4 | m.pageNumber)
            if m.pageNumber == 0 {
                w.put(2, m.lastPageIndex ?? 0)
                w.put(3, m.length ?? 0)
                w.putUInt32(4, secondsSince2019(m.timestampS))
                w.put(8, padded(m.data, 17))
            } else {
                w.put(2, padded(m.data, 23))
            }
        case .selfID(let m):
            w.put(0, 0x30 | m.protocolVersion)
            w.put(1, m.descriptionType)
            w.put(2, m.textBytes)
        case .system(let m):
            w.put(0, 0x40 | m.protocolVersion)
            w.put(1, (m.classificationType & 0x07) << 2 | (m.operatorLocationType & 0x03))
            w.putInt32(2, latLon(m.operatorLatitudeDeg))
            w.putInt32(6, latLon(m.operatorLongitudeDeg))
            w.putUInt16(10, m.areaCount)
            w.put(12, UInt8(clamping: Int((m.areaRadiusM.isFinite ? m.areaRadiusM : 0) / 10)))
            w.putUInt16(13, altitudeCode(m.areaCeilingM))
            w.putUInt16(15, altitudeCode(m.areaFloorM))
            w.put(17, m.euCategory << 4 | m.euClass)
            w.putUInt16(18, altitudeCode(m.operatorAltitudeGeodeticM))
            w.putUInt32(20, secondsSince2019(m.timestampS))
        case .operatorID(let m):
            w.put(0, 0x50 | m.protocolVersion)
            w.put(1, m.operatorIDType)
            w.put(2, m.idBytes)
        case .pack(let p):
            let inner = p.messages.prefix(maxPackMessages).filter { $0.type != .messagePack }
            var out: [UInt8] = [0xF0 | p.protocolVersion, UInt8(messageSize), UInt8(inner.count)]
            for message in inner { out += encode(message) }
            return out
        }
        return w.bytes
    }

    static func encodeLocation(_ m: Location, into w: inout Writer) {
        w.put(0, 0x10 | m.protocolVersion)
        // Direction: whole degrees, 360 → 0; ≥ 180 sets the E/W bit. Unknown = 361.
        var direction = 361
        if let d = m.directionDeg, d.isFinite, d >= 0, d <= 360 {
            direction = Int(d.rounded()) % 360
        }
        let eastWest = direction >= 180
        let directionByte = UInt8(direction - (eastWest ? 180 : 0))
        // Horizontal speed: 0.25 m/s steps up to 63.75, then 0.75 m/s steps; unknown = 255 m/s.
        var multiplier = true
        var speedByte: UInt8 = 255
        if let v = m.speedHorizontalMps, v.isFinite, v >= 0 {
            if v <= 63.75 {
                multiplier = false
                speedByte = UInt8(clamping: Int((v / 0.25).rounded()))
            } else {
                speedByte = UInt8(clamping: Int(((v - 63.75) / 0.75).rounded()))
                if speedByte == 255 { speedByte = 254 }  // 255 means unknown
            }
        }
        var vertical: Int8 = 126  // 63 m/s: unknown
        if let v = m.speedVerticalMps, v.isFinite {
            vertical = Int8(clamping: Int(max(-62, min(62, v)) / 0.5))  // truncated, as the reference encoder
        }
        w.put(1, (m.status & 0x0F) << 4 | (m.heightAboveGround ? 0x04 : 0) | (eastWest ? 0x02 : 0) | (multiplier ? 0x01 : 0))
        w.put(2, directionByte)
        w.put(3, speedByte)
        w.put(4, UInt8(bitPattern: vertical))
        w.putInt32(5, latLon(m.latitudeDeg))
        w.putInt32(9, latLon(m.longitudeDeg))
        w.putUInt16(13, altitudeCode(m.altitudePressureM))
        w.putUInt16(15, altitudeCode(m.altitudeGeodeticM))
        w.putUInt16(17, altitudeCode(m.heightM))
        w.put(19, m.verticalAccuracyCode << 4 | m.horizontalAccuracyCode)
        w.put(20, m.baroAccuracyCode << 4 | m.speedAccuracyCode)
        var timestamp: UInt16 = 0xFFFF
        if let t = m.timestampS, t.isFinite, t >= 0, t <= 3600 { timestamp = UInt16((t * 10).rounded(.down)) }
        w.putUInt16(21, timestamp)
        var accuracy: UInt8 = 0
        if let a = m.timestampAccuracyS, a.isFinite, a > 0 { accuracy = UInt8(clamping: Int((a * 10).rounded())) & 0x0F }
        w.put(23, accuracy)
    }

    static func latLon(_ degrees: Double?) -> Int32 {
        guard let degrees, degrees.isFinite else { return 0 }
        return Int32(clamping: Int64((degrees * 1e7).rounded()))
    }

    static func altitudeCode(_ meters: Double?) -> UInt16 {
        guard let meters, meters.isFinite else { return 0 }
        return UInt16(clamping: Int(((meters + 1000) / 0.5).rounded(.down)))
    }

    static func secondsSince2019(_ unixS: Double?) -> UInt32 {
        guard let unixS, unixS.isFinite else { return 0 }
        return UInt32(clamping: Int64((unixS - epoch2019S).rounded(.down)))
    }

    struct Writer {
        var bytes = [UInt8](repeating: 0, count: RemoteID.messageSize)
        mutating func put(_ k: Int, _ v: UInt8) { bytes[k] = v }
        mutating func put(_ k: Int, _ v: [UInt8]) { for (j, b) in v.enumerated() where k + j < bytes.count { bytes[k + j] = b } }
        mutating func putUInt16(_ k: Int, _ v: UInt16) { bytes[k] = UInt8(v & 0xFF); bytes[k + 1] = UInt8(v >> 8) }
        mutating func putUInt32(_ k: Int, _ v: UInt32) { putUInt16(k, UInt16(v & 0xFFFF)); putUInt16(k + 2, UInt16(v >> 16)) }
        mutating func putInt32(_ k: Int, _ v: Int32) { putUInt32(k, UInt32(bitPattern: v)) }
    }
}
