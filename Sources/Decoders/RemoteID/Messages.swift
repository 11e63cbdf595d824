/// Open Drone ID messages (ASTM F3411-19/-22a, ASD-STAN EN 4709-002) as values in SI units.
///
/// Every "unknown" sentinel of the wire format decodes to `nil`, never to 0. Codes that carry a
/// bound (accuracies) decode to that bound in metres or seconds. Enumerations keep their raw
/// codes, so reserved and private values survive a decode–encode round trip.
public enum RemoteID {
    /// Every message is exactly 25 bytes.
    public static let messageSize = 25
    /// A pack holds at most 9 messages.
    public static let maxPackMessages = 9
    /// Timestamps in Authentication and System messages count seconds from 2019-01-01 00:00:00 UTC.
    public static let epoch2019S: Double = 1_546_300_800

    public enum MessageType: UInt8, Sendable, CaseIterable {
        case basicID = 0x0, location = 0x1, authentication = 0x2, selfID = 0x3, system = 0x4, operatorID = 0x5
        case messagePack = 0xF
    }

    public enum Message: Equatable, Sendable {
        case basicID(BasicID)
        case location(Location)
        case authentication(AuthenticationPage)
        case selfID(SelfID)
        case system(System)
        case operatorID(OperatorID)
        case pack(MessagePack)

        public var type: MessageType {
            switch self {
            case .basicID: return .basicID
            case .location: return .location
            case .authentication: return .authentication
            case .selfID: return .selfID
            case .system: return .system
            case .operatorID: return .operatorID
            case .pack: return .messagePack
            }
        }
    }

    /// Basic ID (type 0): who the aircraft is.
    public struct BasicID: Equatable, Sendable {
        /// 0 none, 1 serial number (ANSI/CTA-2063-A), 2 CAA registration, 3 UTM UUID, 4 session ID.
        public var idType: UInt8
        /// 0 none, 1 aeroplane, 2 helicopter/multirotor, 3 gyroplane, 4 hybrid lift, 5 ornithopter,
        /// 6 glider, 7 kite, 8 free balloon, 9 captive balloon, 10 airship, 11 parachute, 12 rocket,
        /// 13 tethered, 14 ground obstacle, 15 other.
        public var uaType: UInt8
        /// The 20 ID bytes as sent (NUL-padded).
        public var idBytes: [UInt8]
        public var protocolVersion: UInt8

        public init(idType: UInt8, uaType: UInt8, uasID: String, protocolVersion: UInt8 = 2) {
            self.init(idType: idType, uaType: uaType, idBytes: RemoteID.padded(Array(uasID.utf8), 20), protocolVersion: protocolVersion)
        }

        public init(idType: UInt8, uaType: UInt8, idBytes: [UInt8], protocolVersion: UInt8 = 2) {
            self.idType = idType & 0x0F
            self.uaType = uaType & 0x0F
            self.idBytes = RemoteID.padded(idBytes, 20)
            self.protocolVersion = protocolVersion & 0x0F
        }

        /// The ID as text: ASCII up to the first NUL for serial numbers and registrations, hex for
        /// binary IDs (UUID, session ID) and anything not printable.
        public var uasID: String {
            if idType == 3 || idType == 4 { return RemoteID.hex(idBytes) }
            return RemoteID.text(idBytes) ?? RemoteID.hex(idBytes)
        }
    }

    /// Location/Vector (type 1): where it is and how it moves. All optional values are nil when
    /// the sender said "unknown".
    public struct Location: Equatable, Sendable {
        /// 0 undeclared, 1 ground, 2 airborne, 3 emergency, 4 remote ID system failure.
        public var status: UInt8
        /// false: height above takeoff; true: above ground level.
        public var heightAboveGround: Bool
        /// Track over ground, 0 ≤ d < 360 (whole degrees on the wire).
        public var directionDeg: Double?
        public var speedHorizontalMps: Double?
        /// Up is positive.
        public var speedVerticalMps: Double?
        public var latitudeDeg: Double?
        public var longitudeDeg: Double?
        /// Barometric altitude referenced to 29.92 inHg.
        public var altitudePressureM: Double?
        /// WGS-84 height above ellipsoid.
        public var altitudeGeodeticM: Double?
        public var heightM: Double?
        /// Accuracy codes as sent (0 = unknown); see `…AccuracyM` for their bounds.
        public var horizontalAccuracyCode: UInt8
        public var verticalAccuracyCode: UInt8
        public var baroAccuracyCode: UInt8
        public var speedAccuracyCode: UInt8
        /// Tenths of a second since the start of the current UTC hour, as seconds.
        public var timestampS: Double?
        /// Timestamp accuracy (0.1 … 1.5 s).
        public var timestampAccuracyS: Double?
        public var protocolVersion: UInt8

        public init(status: UInt8 = 0, heightAboveGround: Bool = false, directionDeg: Double? = nil,
                    speedHorizontalMps: Double? = nil, speedVerticalMps: Double? = nil, latitudeDeg: Double? = nil,
                    longitudeDeg: Double? = nil, altitudePressureM: Double? = nil, altitudeGeodeticM: Double? = nil,
                    heightM: Double? = nil, horizontalAccuracyCode: UInt8 = 0, verticalAccuracyCode: UInt8 = 0,
                    baroAccuracyCode: UInt8 = 0, speedAccuracyCode: UInt8 = 0, timestampS: Double? = nil,
                    timestampAccuracyS: Double? = nil, protocolVersion: UInt8 = 2) {
            self.status = status & 0x0F
            self.heightAboveGround = heightAboveGround
            self.directionDeg = directionDeg
            self.speedHorizontalMps = speedHorizontalMps
            self.speedVerticalMps = speedVerticalMps
            self.latitudeDeg = latitudeDeg
            self.longitudeDeg = longitudeDeg
            self.altitudePressureM = altitudePressureM
            self.altitudeGeodeticM = altitudeGeodeticM
            self.heightM = heightM
            self.horizontalAccuracyCode = horizontalAccuracyCode & 0x0F
            self.verticalAccuracyCode = verticalAccuracyCode & 0x0F
            self.baroAccuracyCode = baroAccuracyCode & 0x0F
            self.speedAccuracyCode = speedAccuracyCode & 0x0F
            self.timestampS = timestampS
            self.timestampAccuracyS = timestampAccuracyS
            self.protocolVersion = protocolVersion & 0x0F
        }

        public var horizontalAccuracyM: Double? { Accuracy.horizontalM(horizontalAccuracyCode) }
        public var verticalAccuracyM: Double? { Accuracy.verticalM(verticalAccuracyCode) }
        public var baroAccuracyM: Double? { Accuracy.verticalM(baroAccuracyCode) }
        public var speedAccuracyMps: Double? { Accuracy.speedMps(speedAccuracyCode) }
    }

    /// One page of an Authentication message (type 2). Page 0 carries the header.
    public struct AuthenticationPage: Equatable, Sendable {
        /// 0 none, 1 UAS ID signature, 2 operator ID signature, 3 message set signature,
        /// 4 network remote ID, 5 specific method, 0xA–0xF private.
        public var authType: UInt8
        public var pageNumber: UInt8
        /// Page 0 only.
        public var lastPageIndex: UInt8?
        /// Page 0 only: total bytes of authentication data over all pages.
        public var length: UInt8?
        /// Page 0 only: seconds since 1970 UTC (sent as seconds since 2019).
        public var timestampS: Double?
        /// 17 bytes on page 0, 23 on the others.
        public var data: [UInt8]
        public var protocolVersion: UInt8

        public init(authType: UInt8, pageNumber: UInt8, lastPageIndex: UInt8? = nil, length: UInt8? = nil,
                    timestampS: Double? = nil, data: [UInt8], protocolVersion: UInt8 = 2) {
            self.authType = authType & 0x0F
            self.pageNumber = pageNumber & 0x0F
            self.lastPageIndex = lastPageIndex
            self.length = length
            self.timestampS = timestampS
            self.data = RemoteID.padded(data, pageNumber == 0 ? 17 : 23)
            self.protocolVersion = protocolVersion & 0x0F
        }
    }

    /// Self-ID (type 3): a short free text (flight purpose, emergency, status).
    public struct SelfID: Equatable, Sendable {
        /// 0 text, 1 emergency, 2 extended status, 201–255 private.
        public var descriptionType: UInt8
        public var textBytes: [UInt8]
        public var protocolVersion: UInt8

        public init(descriptionType: UInt8 = 0, text: String, protocolVersion: UInt8 = 2) {
            self.descriptionType = descriptionType
            textBytes = RemoteID.padded(Array(text.utf8), 23)
            self.protocolVersion = protocolVersion & 0x0F
        }

        init(descriptionType: UInt8, textBytes: [UInt8], protocolVersion: UInt8) {
            self.descriptionType = descriptionType
            self.textBytes = RemoteID.padded(textBytes, 23)
            self.protocolVersion = protocolVersion
        }

        public var text: String { RemoteID.text(textBytes) ?? RemoteID.hex(textBytes) }
    }

    /// System (type 4): where the operator is, the operating area, EU category and class.
    public struct System: Equatable, Sendable {
        /// 0 takeoff, 1 live GNSS, 2 fixed.
        public var operatorLocationType: UInt8
        /// 0 undeclared, 1 EU.
        public var classificationType: UInt8
        public var operatorLatitudeDeg: Double?
        public var operatorLongitudeDeg: Double?
        public var areaCount: UInt16
        /// Stored in 10 m steps.
        public var areaRadiusM: Double
        public var areaCeilingM: Double?
        public var areaFloorM: Double?
        /// 0 undeclared, 1 open, 2 specific, 3 certified.
        public var euCategory: UInt8
        /// 0 undeclared, 1…7 = class 0…6.
        public var euClass: UInt8
        public var operatorAltitudeGeodeticM: Double?
        /// Seconds since 1970 UTC (sent as seconds since 2019); nil when 0 (not sent, v0/v1).
        public var timestampS: Double?
        public var protocolVersion: UInt8

        public init(operatorLocationType: UInt8 = 0, classificationType: UInt8 = 0, operatorLatitudeDeg: Double? = nil,
                    operatorLongitudeDeg: Double? = nil, areaCount: UInt16 = 1, areaRadiusM: Double = 0,
                    areaCeilingM: Double? = nil, areaFloorM: Double? = nil, euCategory: UInt8 = 0, euClass: UInt8 = 0,
                    operatorAltitudeGeodeticM: Double? = nil, timestampS: Double? = nil, protocolVersion: UInt8 = 2) {
            self.operatorLocationType = operatorLocationType & 0x03
            self.classificationType = classificationType & 0x07
            self.operatorLatitudeDeg = operatorLatitudeDeg
            self.operatorLongitudeDeg = operatorLongitudeDeg
            self.areaCount = areaCount
            self.areaRadiusM = areaRadiusM
            self.areaCeilingM = areaCeilingM
            self.areaFloorM = areaFloorM
            self.euCategory = euCategory & 0x0F
            self.euClass = euClass & 0x0F
            self.operatorAltitudeGeodeticM = operatorAltitudeGeodeticM
            self.timestampS = timestampS
            self.protocolVersion = protocolVersion & 0x0F
        }
    }

    /// Operator ID (type 5): the operator's registration.
    public struct OperatorID: Equatable, Sendable {
        /// 0 operator ID, 201–255 private.
        public var operatorIDType: UInt8
        public var idBytes: [UInt8]
        public var protocolVersion: UInt8

        public init(operatorIDType: UInt8 = 0, operatorID: String, protocolVersion: UInt8 = 2) {
            self.operatorIDType = operatorIDType
            idBytes = RemoteID.padded(Array(operatorID.utf8), 20)
            self.protocolVersion = protocolVersion & 0x0F
        }

        init(operatorIDType: UInt8, idBytes: [UInt8], protocolVersion: UInt8) {
            self.operatorIDType = operatorIDType
            self.idBytes = RemoteID.padded(idBytes, 20)
            self.protocolVersion = protocolVersion
        }

        public var operatorID: String { RemoteID.text(idBytes) ?? RemoteID.hex(idBytes) }
    }

    /// Message Pack (type 0xF): up to 9 messages in one frame.
    public struct MessagePack: Equatable, Sendable {
        public var messages: [Message]
        public var protocolVersion: UInt8

        public init(messages: [Message], protocolVersion: UInt8 = 2) {
            self.messages = messages
            self.protocolVersion = protocolVersion & 0x0F
        }
    }

    /// Accuracy codes and the bounds they stand for (F3411 tables).
    public enum Accuracy {
        /// Upper bounds of horizontal accuracy codes 1…12, metres.
        public static let horizontalBoundsM: [Double] = [18_520, 7_408, 3_704, 1_852, 926, 555.6, 185.2, 92.6, 30, 10, 3, 1]
        /// Upper bounds of vertical (and barometric) accuracy codes 1…6, metres.
        public static let verticalBoundsM: [Double] = [150, 45, 25, 10, 3, 1]
        /// Upper bounds of speed accuracy codes 1…4, m/s.
        public static let speedBoundsMps: [Double] = [10, 3, 1, 0.3]

        static func bound(_ code: UInt8, _ table: [Double]) -> Double? {
            (1...table.count).contains(Int(code)) ? table[Int(code) - 1] : nil
        }

        public static func horizontalM(_ code: UInt8) -> Double? { bound(code, horizontalBoundsM) }
        public static func verticalM(_ code: UInt8) -> Double? { bound(code, verticalBoundsM) }
        public static func speedMps(_ code: UInt8) -> Double? { bound(code, speedBoundsMps) }

        /// The best (highest) code whose bound the value is below; 0 when unknown or too coarse.
        static func code(_ value: Double?, _ table: [Double]) -> UInt8 {
            guard let value, value.isFinite, value >= 0 else { return 0 }
            var code: UInt8 = 0
            for (k, b) in table.enumerated() where value < b { code = UInt8(k + 1) }
            return code
        }

        public static func horizontalCode(meters: Double?) -> UInt8 { code(meters, horizontalBoundsM) }
        public static func verticalCode(meters: Double?) -> UInt8 { code(meters, verticalBoundsM) }
        public static func speedCode(mps: Double?) -> UInt8 { code(mps, speedBoundsMps) }
    }

    // MARK: - Helpers

    static func padded(_ bytes: [UInt8], _ count: Int) -> [UInt8] {
        bytes.count >= count ? Array(bytes.prefix(count)) : bytes + [UInt8](repeating: 0, count: count - bytes.count)
    }

    /// Printable ASCII up to the first NUL, trailing spaces trimmed; nil if anything else is there.
    static func text(_ bytes: [UInt8]) -> String? {
        let used = bytes.prefix { $0 != 0 }
        guard used.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return nil }
        var s = String(decoding: used, as: UTF8.self)
        while s.hasSuffix(" ") { s.removeLast() }
        return s
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 0xF)]) }
        return String(decoding: out, as: UTF8.self)
    }
}
