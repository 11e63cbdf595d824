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
        public var frames = 0
        public var messageCounts: [String: Int] = [:]
        public var firstSeenS: Double
        public var lastSeenS: Double
        public var lastLocation: RemoteID.Location?
        public var lastLocationTimeS: Double?
        public var operatorID: String?
        public var selfID: String?
        public var system: RemoteID.System?
        public var flags: Set<String> = []
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

    public func add(_ frame: RemoteIDFrame) {
        let messages = RemoteIDRecord.flatten(frame.message)
        var id: String?
        for case .basicID(let b) in messages { id = id ?? b.uasID }
        if let id, let address = frame.address { idByAddress[address] = id }
        // Without an ID yet, the transmitter's address stands in (renamed once a Basic ID arrives).
        guard let key = id ?? frame.address.flatMap({ idByAddress[$0] ?? "unidentified \($0)" }) else { return }
        if let id, let address = frame.address, let placeholder = uas.removeValue(forKey: "unidentified \(address)") {
            var merged = placeholder
            merged.uasID = id
            uas[id] = merged
        }
        var u = uas[key] ?? UAS(uasID: key, firstSeenS: frame.timestampS, lastSeenS: frame.timestampS)
        u.frames += 1
        u.transports.insert(frame.transport.rawValue)
        if let a = frame.address { u.addresses.insert(a) }
        u.lastSeenS = max(u.lastSeenS, frame.timestampS)
        for message in messages {
            u.messageCounts[String(describing: message.type), default: 0] += 1
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
