import Captures
import RemoteID
#if canImport(Glibc)
import Glibc
#endif

/// Per-UAS state merged across messages and transports, with plausibility flags — a first guard
/// against spoofed or broken Remote ID.
///
/// Frames are joined to a UAS by its ID (Basic ID) and, for frames without one (single-message
/// NAN frames, partial packs), by the transmitter address last seen with that ID.
public final class UASTracker {
    public struct UAS: Sendable {
        public var uasID: String
        public var transports: Set<String> = []
        public var addresses: Set<String> = []
        /// The transmitter address standing in for the ID until a Basic ID arrives; nil once identified.
        public var placeholderAddress: String?
        public var frames = 0
        public var messageCounts: [RemoteID.MessageType: Int] = [:]
        /// UA type code of the Basic ID carrying `uasID` (F3411: 1 aeroplane, 2 multirotor, …).
        public var uaType: UInt8?
        public var firstSeenS: Double
        public var lastSeenS: Double
        public var lastLocation: RemoteID.Location?
        public var lastLocationTimeS: Double?
        public var operatorID: String?
        public var selfID: String?
        public var system: RemoteID.System?
        public var flags: Set<String> = []

        /// Takes in another record of the same UAS: counts add up, sets unite, the later
        /// position wins, values this one lacks are filled in.
        mutating func absorb(_ other: UAS) {
            transports.formUnion(other.transports)
            addresses.formUnion(other.addresses)
            frames += other.frames
            messageCounts.merge(other.messageCounts, uniquingKeysWith: +)
            firstSeenS = min(firstSeenS, other.firstSeenS)
            lastSeenS = max(lastSeenS, other.lastSeenS)
            if let t = other.lastLocationTimeS, t > (lastLocationTimeS ?? -.infinity) || lastLocation == nil {
                lastLocation = other.lastLocation
                lastLocationTimeS = t
            } else if lastLocation == nil {
                lastLocation = other.lastLocation
            }
            uaType = uaType ?? other.uaType
            operatorID = operatorID ?? other.operatorID
            selfID = selfID ?? other.selfID
            system = system ?? other.system
            flags.formUnion(other.flags)
        }
    }

    public private(set) var uas: [String: UAS] = [:]
    private var idByAddress: [String: String] = [:]
    /// How far a Location's timestamp may sit from the receive time before it is flagged.
    public var timestampToleranceS: Double = 30
    /// Fastest a small UAS can plausibly fly.
    public var maxPlausibleSpeedMps: Double = 100

    public init() {}

    /// The UAS ID last sent by this transmitter address, for broadcasts that carry no Basic ID.
    public func knownID(address: String?) -> String? { address.flatMap { idByAddress[$0] } }

    /// The key a frame from this unidentified transmitter is kept under until its Basic ID arrives.
    public static func placeholderKey(address: String) -> String { "unidentified \(address)" }

    /// Merges a frame into its UAS and returns that UAS's key in `uas` (nil when the frame has
    /// neither a Basic ID nor a transmitter address to join it by).
    @discardableResult
    public func add(_ frame: RemoteIDFrame) -> String? {
        let messages = RemoteIDRecord.flatten(frame.message)
        // An all-NUL Basic ID decodes to "": no ID, as the record contract treats unknown values.
        var basic: RemoteID.BasicID?
        for case .basicID(let b) in messages where basic == nil && !b.uasID.isEmpty { basic = b }
        let id = basic?.uasID
        if let id, let address = frame.address { idByAddress[address] = id }
        // Without an ID yet, the transmitter's address stands in (renamed once a Basic ID arrives).
        guard let key = id ?? frame.address.flatMap({ idByAddress[$0] ?? Self.placeholderKey(address: $0) }) else { return nil }
        if let id, let address = frame.address, var placeholder = uas.removeValue(forKey: Self.placeholderKey(address: address)) {
            placeholder.uasID = id
            placeholder.placeholderAddress = nil
            // The same UAS may already be known through another transmitter (e.g. a second BLE address).
            if var known = uas[id] {
                known.absorb(placeholder)
                uas[id] = known
            } else {
                uas[id] = placeholder
            }
        }
        var u = uas[key] ?? UAS(uasID: key, firstSeenS: frame.timestampS, lastSeenS: frame.timestampS)
        if let address = frame.address, key == Self.placeholderKey(address: address), id == nil {
            u.placeholderAddress = address
        }
        if let basic { u.uaType = basic.uaType }
        u.frames += 1
        u.transports.insert(frame.transport.rawValue)
        if let a = frame.address { u.addresses.insert(a) }
        u.firstSeenS = min(u.firstSeenS, frame.timestampS)
        u.lastSeenS = max(u.lastSeenS, frame.timestampS)
        for message in messages {
            u.messageCounts[message.type, default: 0] += 1
            switch message {
            case .location(let l):
                check(l, at: frame.timestampS, against: &u)
                if l.latitudeDeg != nil { u.lastLocation = l; u.lastLocationTimeS = frame.timestampS }
                else if u.lastLocation == nil { u.lastLocation = l }
            case .operatorID(let o): u.operatorID = o.operatorID
            case .selfID(let s): u.selfID = s.text
            case .system(let s): u.system = s
                if let lat = s.operatorLatitudeDeg, let lon = s.operatorLongitudeDeg, abs(lat) > 90 || abs(lon) > 180 {
                    u.flags.insert("operator_position_out_of_range")
                }
            default: break
            }
        }
        uas[key] = u
        return key
    }

    private func check(_ l: RemoteID.Location, at timeS: Double, against u: inout UAS) {
        if let lat = l.latitudeDeg, let lon = l.longitudeDeg {
            if abs(lat) > 90 || abs(lon) > 180 { u.flags.insert("position_out_of_range") }
            // Speed between this and the previous position: beyond what the messages claim (with
            // margin) or what a small UAS can do.
            if let previous = u.lastLocation, let t0 = u.lastLocationTimeS, let lat0 = previous.latitudeDeg,
               let lon0 = previous.longitudeDeg, timeS - t0 > 0.5 {
                let implied = Self.distanceM(lat0, lon0, lat, lon) / (timeS - t0)
                let claimed = max(l.speedHorizontalMps ?? 0, previous.speedHorizontalMps ?? 0)
                if implied > maxPlausibleSpeedMps || implied > 2 * claimed + 10 { u.flags.insert("implausible_speed") }
            }
        }
        if let speed = l.speedHorizontalMps, speed > 254.25 { u.flags.insert("speed_out_of_range") }
        // Location timestamps count tenths of a second within the UTC hour.
        if let t = l.timestampS, t > 0 {
            let received = timeS.truncatingRemainder(dividingBy: 3600)
            var difference = abs(received - t)
            difference = min(difference, 3600 - difference)
            if difference > timestampToleranceS { u.flags.insert("timestamp_far_from_receive_time") }
        }
    }

    /// Great-circle distance (haversine on a 6371 km sphere).
    static func distanceM(_ lat1: Double, _ lon1: Double, _ lat2: Double, _ lon2: Double) -> Double {
        let r = 6_371_000.0, d2r = Double.pi / 180
        let dLat = (lat2 - lat1) * d2r, dLon = (lon2 - lon1) * d2r
        let a = sin(dLat / 2) * sin(dLat / 2) + cos(lat1 * d2r) * cos(lat2 * d2r) * sin(dLon / 2) * sin(dLon / 2)
        return 2 * r * asin(min(1, a.squareRoot()))
    }
}
