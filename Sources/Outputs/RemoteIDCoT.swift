import Captures
import Detection
import RemoteID
#if canImport(Glibc)
import Glibc
#endif

/// A point on the WGS-84 ellipsoid, e.g. where the sensor stands (`--sensor-position`).
public struct GeoPosition: Sendable, Equatable {
    public var latitudeDeg: Double
    public var longitudeDeg: Double
    /// Height above the ellipsoid; nil = unknown.
    public var heightAboveEllipsoidM: Double?

    public init(latitudeDeg: Double, longitudeDeg: Double, heightAboveEllipsoidM: Double? = nil) {
        self.latitudeDeg = latitudeDeg
        self.longitudeDeg = longitudeDeg
        self.heightAboveEllipsoidM = heightAboveEllipsoidM
    }

    /// `LAT,LON` or `LAT,LON,ALT` in decimal degrees and metres above the ellipsoid.
    public init(parsing text: String) throws {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { part -> String in
            var s = part
            while s.first == " " { s.removeFirst() }
            while s.last == " " { s.removeLast() }
            return String(s)
        }
        guard parts.count == 2 || parts.count == 3, let lat = Double(parts[0]), let lon = Double(parts[1]),
              (-90...90).contains(lat), (-180...180).contains(lon) else {
            throw OutputError.invalidArgument("sensor position '\(text)' is not LAT,LON[,ALT] in decimal degrees "
                                              + "(latitude −90…90, longitude −180…180), e.g. 51.4775,-0.0015,45")
        }
        var hae: Double?
        if parts.count == 3 {
            guard let a = Double(parts[2]), a.isFinite, abs(a) < 100_000 else {
                throw OutputError.invalidArgument("sensor position '\(text)': altitude '\(parts[2])' is not metres above the ellipsoid")
            }
            hae = a
        }
        self.init(latitudeDeg: lat, longitudeDeg: lon, heightAboveEllipsoidM: hae)
    }

    var isValid: Bool {
        latitudeDeg.isFinite && longitudeDeg.isFinite && abs(latitudeDeg) <= 90 && abs(longitudeDeg) <= 180
    }
}

/// How Remote ID state becomes CoT, and how often.
public struct CoTSettings: Sendable {
    /// Who heard it (remarks and the `__uasense` detail).
    public var sensorID: String
    /// Where RF-only detections (no position in the broadcast) are placed; without it they are
    /// not sent.
    public var sensorPosition: GeoPosition?
    /// UAS IDs shown as friends (`a-f-…`) instead of unknown (`a-u-…`).
    public var friendlyUASIDs: Set<String> = []
    /// Per-UAS rate limit: at most one drone update per this many seconds (0 = every broadcast).
    public var minUpdateIntervalS: Double = 1
    /// Stale time = this multiple of the update interval (observed, but no shorter than the rate
    /// limit), bounded below and above: a track that stops broadcasting leaves the map after a few
    /// missed updates, and a flaky link does not make it flicker.
    public var staleMultiple: Double = 5
    public var staleMinimumS: Double = 10
    public var staleMaximumS: Double = 300
    /// `ce` of RF-only detections; nil = estimated from the transport's reach and the RSSI.
    public var rfOnlyRadiusM: Double?
    /// uids are `<prefix>-<UAS ID>`, `…-operator`, `…-home`.
    public var uidPrefix = "uasense"

    public init(sensorID: String, sensorPosition: GeoPosition? = nil) {
        self.sensorID = sensorID
        self.sensorPosition = sensorPosition
    }
}

/// Turns decoded Remote ID, merged per UAS by `UASTracker`, into CoT events: the aircraft, its
/// operator and its take-off (home) point as three linked map objects.
///
/// Mapping (docs/COT.md has the table and the reasons):
/// - aircraft: uid `uasense-<UAS ID>` (stable across sensors and transports, so every sensor
///   updates the same map object), type from the Basic ID's UA type — `a-u-A-M-F-Q` for
///   aeroplane, ornithopter, glider; `a-u-A-M-H-Q` for multirotor, gyroplane, hybrid lift and
///   undeclared or other; `a-u-A-C-L` for balloons and airships; `a-u-A` for kites, parachutes and
///   rockets; `a-u-G` for ground obstacles — and `a-f-…` for allow-listed IDs. `how="m-g"`, `hae`
///   the geodetic altitude, `ce`/`le` the Location message's horizontal/vertical accuracy bounds.
/// - no position in the broadcasts: the same uid at the sensor's position, `how="m-c"` (configured),
///   `ce` the estimated reception radius.
/// - operator: `…-operator`, `a-u-G` (`a-f-G` for friends), at the System message's operator
///   position, linked to the aircraft (`relation="p-p"`).
/// - home: `…-home`, `b-m-p-s-m` with a house icon, at the take-off point: the System message's
///   operator position when its location type is 0 (take-off), else the last position reported
///   with status "ground".
public final class RemoteIDCoT {
    public private(set) var settings: CoTSettings
    private var limiter: RateLimiter<String>

    public struct Counts: Sendable, Equatable {
        public var aircraft = 0
        public var operators = 0
        public var homes = 0
        public var deletes = 0
        /// Updates held back by the rate limit (their data goes out with the next update).
        public var heldBack = 0
        /// Broadcasts of a UAS with no position that could not be placed (no sensor position).
        public var unplaced = 0
    }
    public private(set) var counts = Counts()

    private struct Marker {
        var position: GeoPosition
        var sentS: Double
    }

    private struct Track {
        var uid: String
        var uasID: String?
        var uaType: UInt8?
        var idType: UInt8?
        var state: UASTracker.UAS?
        var frame: RemoteIDFrame
        var lastFrameS: Double?
        var frameIntervalS: Double?
        var lastLocationS: Double?
        var locationIntervalS: Double?
        var home: GeoPosition?
        var homeSource = ""
        var pending = false
        var sentOperator: Marker?
        var sentHome: Marker?
        /// Every uid sent for this UAS (for the delete when an address placeholder is renamed).
        var sentUIDs: Set<String> = []
        var lastDroneType: String?
    }

    private var tracks: [String: Track] = [:]

    public init(settings: CoTSettings) {
        self.settings = settings
        limiter = RateLimiter(validatedIntervalS: settings.minUpdateIntervalS)
    }

    /// Feeds one broadcast, after `tracker.add(frame)`. Returns the events to send now: the
    /// aircraft (with operator and home when they are new, moved or due a refresh), or nothing
    /// while the UAS's rate limit holds updates back — `flush` sends those.
    public func update(_ frame: RemoteIDFrame, tracker: UASTracker) -> [CoTEvent] {
        let messages = RemoteIDRecord.flatten(frame.message)
        let basics = messages.compactMap { message -> RemoteID.BasicID? in
            if case .basicID(let b) = message { return b } else { return nil }
        }
        // The first Basic ID names the UAS (as in the detection record); any of them may declare the UA type.
        let basic = basics.first { $0.uaType != 0 } ?? basics.first
        let uasID = basics.first?.uasID ?? tracker.knownID(address: frame.address)
        let state = uasID.flatMap { tracker.uas[$0] }
            ?? frame.address.flatMap { address in tracker.uas.values.first { $0.addresses.contains(address) } }
        let uid: String
        if let uasID {
            uid = settings.uidPrefix + "-" + uasID
        } else if let address = frame.address {
            uid = settings.uidPrefix + "-addr-" + address
        } else {
            return []
        }

        var out: [CoTEvent] = []
        // A transmitter first seen without a Basic ID was shown under its address: that object
        // goes once its real ID is known.
        if uasID != nil, let address = frame.address,
           let placeholder = tracks.removeValue(forKey: settings.uidPrefix + "-addr-" + address) {
            limiter.forget(placeholder.uid)
            for old in placeholder.sentUIDs.sorted() {
                out.append(Self.deleteEvent(uid: old, timeS: frame.timestampS))
                counts.deletes += 1
            }
        }

        var track = tracks[uid] ?? Track(uid: uid, uasID: uasID, frame: frame)
        track.uasID = uasID ?? track.uasID
        if let basic {
            if basic.uaType != 0 || track.uaType == nil { track.uaType = basic.uaType }
            track.idType = basic.idType
        }
        track.state = state ?? track.state
        track.frame = frame
        observeTiming(&track, frame: frame, messages: messages)
        if let state { updateHome(&track, state: state, messages: messages) }

        let t = frame.timestampS
        if limiter.allows(uid, atS: t) {
            let events = self.events(&track, atS: t)
            if !events.isEmpty { limiter.markSent(uid, atS: t) }
            track.pending = false
            out += events
        } else {
            track.pending = true
            counts.heldBack += 1
        }
        tracks[uid] = track
        return out
    }

    /// Sends what the rate limit held back: every UAS with a newer state than its last update, once
    /// its interval has passed on `nowS` (live: wall-clock time), or all of them when `nowS` is nil
    /// (end of a recording). Each event carries the time of the UAS's latest broadcast.
    public func flush(nowS: Double? = nil) -> [CoTEvent] {
        var out: [CoTEvent] = []
        for uid in tracks.keys.sorted() {
            guard var track = tracks[uid], track.pending else { continue }
            if let nowS, !limiter.allows(uid, atS: nowS) { continue }
            let t = track.frame.timestampS
            let events = self.events(&track, atS: t)
            if !events.isEmpty { limiter.markSent(uid, atS: nowS ?? t) }
            track.pending = false
            tracks[uid] = track
            out += events
        }
        return out
    }

    // MARK: - Timing

    /// Update intervals, smoothed: between broadcasts carrying a Location (what moves the map
    /// object), and between any broadcasts as a fallback. Repeats of one broadcast on several
    /// channels (within 50 ms) do not count as updates.
    private func observeTiming(_ track: inout Track, frame: RemoteIDFrame, messages: [RemoteID.Message]) {
        let t = frame.timestampS
        let cap = settings.staleMaximumS
        func smooth(_ previous: Double?, _ dt: Double) -> Double {
            let v = min(dt, cap)
            return previous.map { 0.75 * $0 + 0.25 * v } ?? v
        }
        if let last = track.lastFrameS, t >= last {
            if t - last >= 0.05 {
                track.frameIntervalS = smooth(track.frameIntervalS, t - last)
                track.lastFrameS = t
            }
        } else {
            track.lastFrameS = t
        }
        guard messages.contains(where: { if case .location = $0 { return true } else { return false } }) else { return }
        if let last = track.lastLocationS, t >= last {
            if t - last >= 0.05 {
                track.locationIntervalS = smooth(track.locationIntervalS, t - last)
                track.lastLocationS = t
            }
        } else {
            track.lastLocationS = t
        }
    }

    /// How long a map object stays fresh: a multiple of the interval between updates the console
    /// will see (the broadcast rate, slowed by the rate limit), bounded.
    private func staleDurationS(_ track: Track) -> Double {
        // Remote ID requires Location at least once a second; assume that until measured.
        let observed = track.locationIntervalS ?? track.frameIntervalS ?? 1
        let interval = max(observed, settings.minUpdateIntervalS)
        return min(max(settings.staleMultiple * interval, settings.staleMinimumS), settings.staleMaximumS)
    }

    // MARK: - Home point

    private func updateHome(_ track: inout Track, state: UASTracker.UAS, messages: [RemoteID.Message]) {
        if let s = state.system, s.operatorLocationType == 0,
           let lat = s.operatorLatitudeDeg, let lon = s.operatorLongitudeDeg {
            let p = GeoPosition(latitudeDeg: lat, longitudeDeg: lon, heightAboveEllipsoidM: s.operatorAltitudeGeodeticM)
            if p.isValid {
                track.home = p
                track.homeSource = "the System message's operator location, declared as the take-off point"
                return
            }
        }
        // No declared take-off point: where it last stood on the ground before flying.
        for case .location(let l) in messages where l.status == 1 {
            guard let lat = l.latitudeDeg, let lon = l.longitudeDeg else { continue }
            let p = GeoPosition(latitudeDeg: lat, longitudeDeg: lon, heightAboveEllipsoidM: l.altitudeGeodeticM)
            if p.isValid {
                track.home = p
                track.homeSource = "the last position reported on the ground"
            }
        }
    }

    // MARK: - Events

    private func events(_ track: inout Track, atS t: Double) -> [CoTEvent] {
        let staleS = t + staleDurationS(track)
        let friendly = track.uasID.map { settings.friendlyUASIDs.contains($0) } ?? false
        let type = Self.aircraftType(uaType: track.uaType, friendly: friendly)
        guard let drone = aircraftEvent(track, type: type, timeS: t, staleS: staleS) else {
            counts.unplaced += 1
            return []
        }
        var out = [drone]
        counts.aircraft += 1
        track.sentUIDs.insert(drone.uid)
        let typeChanged = track.lastDroneType != nil && track.lastDroneType != type
        track.lastDroneType = type
        let refreshS = (staleS - t) / 2
        func due(_ sent: Marker?, _ p: GeoPosition) -> Bool {
            guard let sent, !typeChanged else { return true }
            return sent.position != p || t < sent.sentS || t - sent.sentS >= refreshS
        }
        let name = track.uasID ?? track.frame.address ?? "unidentified"
        let link = CoTDetail.link(uid: drone.uid, type: type, relation: "p-p")

        if let s = track.state?.system, let lat = s.operatorLatitudeDeg, let lon = s.operatorLongitudeDeg {
            let p = GeoPosition(latitudeDeg: lat, longitudeDeg: lon, heightAboveEllipsoidM: s.operatorAltitudeGeodeticM)
            if p.isValid, due(track.sentOperator, p) {
                let kind = ["take-off location", "live GNSS", "fixed location"][safe: Int(s.operatorLocationType)]
                    ?? "location type \(s.operatorLocationType)"
                var remarks = "Operator of UAS \(name) (Remote ID System message, \(kind))"
                if let o = track.state?.operatorID { remarks += "; operator ID \(o)" }
                var attributes = [CoTDetail.Attribute("sensor_id", settings.sensorID),
                                  .init("operator_location_type", String(s.operatorLocationType))]
                if let o = track.state?.operatorID { attributes.append(.init("operator_id", o)) }
                let op = CoTEvent(uid: drone.uid + "-operator", type: friendly ? "a-f-G" : "a-u-G", how: "m-g",
                                  timeS: t, staleS: staleS, latitudeDeg: lat, longitudeDeg: lon,
                                  heightAboveEllipsoidM: s.operatorAltitudeGeodeticM,
                                  detail: [.contact(callsign: name + " operator"), link, .remarks(remarks),
                                           .element(name: "__uasense", attributes: attributes)])
                out.append(op)
                counts.operators += 1
                track.sentOperator = Marker(position: p, sentS: t)
                track.sentUIDs.insert(op.uid)
            }
        }
        if let p = track.home, due(track.sentHome, p) {
            let home = CoTEvent(uid: drone.uid + "-home", type: "b-m-p-s-m", how: "m-g", timeS: t, staleS: staleS,
                                latitudeDeg: p.latitudeDeg, longitudeDeg: p.longitudeDeg,
                                heightAboveEllipsoidM: p.heightAboveEllipsoidM,
                                detail: [.contact(callsign: name + " home"), link,
                                         .userIcon(path: "com.atakmap.android.maps.public/Civilian/House.png"),
                                         .remarks("Take-off point of UAS \(name), from \(track.homeSource)")])
            out.append(home)
            counts.homes += 1
            track.sentHome = Marker(position: p, sentS: t)
            track.sentUIDs.insert(home.uid)
        }
        return out
    }

    private func aircraftEvent(_ track: Track, type: String, timeS t: Double, staleS: Double) -> CoTEvent? {
        let frame = track.frame
        let state = track.state
        let location = state?.lastLocation
        let name = track.uasID ?? frame.address ?? "unidentified"
        var attributes: [CoTDetail.Attribute] = [.init("sensor_id", settings.sensorID),
                                                 .init("family", frame.transport.rawValue)]
        if let id = track.uasID { attributes.append(.init("uas_id", id)) }
        if let v = track.idType { attributes.append(.init("id_type", String(v))) }
        if let v = track.uaType { attributes.append(.init("ua_type", String(v))) }
        if let v = frame.address { attributes.append(.init("address", v)) }
        if let v = frame.frequencyHz { attributes.append(.init("freq_hz", XML.fixed(v, decimals: 0))) }
        if let v = frame.channel { attributes.append(.init("channel", String(v))) }
        if let v = frame.rssiDBm { attributes.append(.init("rssi_dbm", XML.fixed(v, decimals: 1))) }
        if let v = frame.rssiDBFS { attributes.append(.init("rssi_dbfs", XML.fixed(v, decimals: 1))) }
        if let v = frame.snrDB { attributes.append(.init("snr_db", XML.fixed(v, decimals: 1))) }
        if let v = state?.operatorID { attributes.append(.init("operator_id", v)) }
        if let v = state?.selfID { attributes.append(.init("self_id", v)) }
        if let flags = state?.flags, !flags.isEmpty { attributes.append(.init("flags", flags.sorted().joined(separator: ","))) }

        if let l = location, let lat = l.latitudeDeg, let lon = l.longitudeDeg,
           GeoPosition(latitudeDeg: lat, longitudeDeg: lon).isValid {
            var detail: [CoTDetail] = [.contact(callsign: name)]
            if let course = l.directionDeg, let speed = l.speedHorizontalMps { detail.append(.track(courseDeg: course, speedMps: speed)) }
            detail.append(.precisionLocation(geopointSource: "GPS", altitudeSource: l.altitudeGeodeticM == nil ? "???" : "GPS"))
            let remarksAt = detail.count
            detail.append(.remarks(remarks(track, location: l)))
            detail.append(.element(name: "__uasense", attributes: attributes))
            var event = CoTEvent(uid: track.uid, type: type, how: "m-g", timeS: t, staleS: staleS, latitudeDeg: lat,
                                 longitudeDeg: lon, heightAboveEllipsoidM: l.altitudeGeodeticM,
                                 circularErrorM: l.horizontalAccuracyM, linearErrorM: l.verticalAccuracyM, detail: detail)
            // Mesh SA datagrams should not fragment: when long (escaped) texts push the event past
            // the budget, the remarks keep only what `__uasense` does not already carry.
            if event.xml.utf8.count > Self.datagramBudgetBytes {
                event.detail[remarksAt] = .remarks(remarks(track, location: l, brief: true))
            }
            return event
        }
        // RF-only: heard, but no position in what it sent.
        guard let sensor = settings.sensorPosition, sensor.isValid else { return nil }
        let radiusM = settings.rfOnlyRadiusM
            ?? Self.receptionRadiusM(transport: frame.transport, frequencyHz: frame.frequencyHz, rssiDBm: frame.rssiDBm)
        attributes.append(.init("rf_only", "true"))
        attributes.append(.init("radius_m", XML.fixed(radiusM, decimals: 0)))
        let text = remarks(track, location: location)
            + "; no position broadcast: placed at sensor \(settings.sensorID), within about \(XML.fixed(radiusM, decimals: 0)) m"
        return CoTEvent(uid: track.uid, type: type, how: "m-c", timeS: t, staleS: staleS,
                        latitudeDeg: sensor.latitudeDeg, longitudeDeg: sensor.longitudeDeg,
                        heightAboveEllipsoidM: sensor.heightAboveEllipsoidM, circularErrorM: radiusM, linearErrorM: nil,
                        detail: [.contact(callsign: name), .remarks(text), .element(name: "__uasense", attributes: attributes)])
    }

    /// Readable summary for the `remarks` line TAK clients show.
    private func remarks(_ track: Track, location l: RemoteID.Location?, brief: Bool = false) -> String {
        let frame = track.frame
        var parts: [String] = []
        if brief {
            if let l, let h = l.heightM { parts.append("height \(XML.fixed(h, decimals: 1)) m") }
            parts.append("heard by \(settings.sensorID); details in __uasense")
            return parts.joined(separator: "; ")
        }
        let idKind = track.idType.flatMap { ["ID type undeclared", "serial number", "CAA registration", "UTM UUID", "session ID"][safe: Int($0)] }
        parts.append("Remote ID " + (track.uasID ?? "without a Basic ID") + (idKind.map { " (\($0))" } ?? ""))
        if let ua = track.uaType { parts.append("UA type " + Self.uaTypeName(ua)) }
        if let o = track.state?.operatorID { parts.append("operator ID " + o) }
        if let s = track.state?.selfID { parts.append("self-ID \"\(s)\"") }
        if let l {
            if let status = [nil, "on the ground", "airborne", "EMERGENCY", "Remote ID system failure"][safe: Int(l.status)] ?? nil {
                parts.append(status)
            }
            if let h = l.heightM { parts.append("height \(XML.fixed(h, decimals: 1)) m " + (l.heightAboveGround ? "above ground" : "above take-off")) }
            if let v = l.speedHorizontalMps {
                parts.append("\(XML.fixed(v, decimals: 1)) m/s" + (l.directionDeg.map { " towards \(XML.fixed($0, decimals: 0))°" } ?? ""))
            }
            if let v = l.speedVerticalMps { parts.append("vertical \(XML.fixed(v, decimals: 1)) m/s") }
        }
        var heard = "heard by \(settings.sensorID) via \(frame.transport.rawValue)"
        if let f = frame.frequencyHz { heard += " at \(XML.fixed(f / 1e6, decimals: 0)) MHz" }
        if let r = frame.rssiDBm { heard += ", \(XML.fixed(r, decimals: 1)) dBm" }
        if let s = frame.snrDB { heard += ", SNR \(XML.fixed(s, decimals: 1)) dB" }
        parts.append(heard)
        if let flags = track.state?.flags, !flags.isEmpty { parts.append("flags " + flags.sorted().joined(separator: ", ")) }
        return parts.joined(separator: "; ")
    }

    // MARK: - Mapping tables

    /// Largest event that crosses a 1500-byte Ethernet MTU unfragmented, with room for IP/UDP and
    /// tunnel headers.
    public static let datagramBudgetBytes = 1400

    /// CoT type of the aircraft from the Basic ID's UA type (ASTM F3411 codes). Drones use the
    /// MIL-STD-2525 UAV leaf `Q` under military air (`A-M-F` fixed wing, `A-M-H` rotary): the civil
    /// branch has no drone leaf, and TAK clients draw `Q` as a drone.
    public static func aircraftType(uaType: UInt8?, friendly: Bool) -> String {
        let affiliation = friendly ? "f" : "u"
        switch uaType ?? 0 {
        case 1, 5, 6: return "a-\(affiliation)-A-M-F-Q"  // aeroplane, ornithopter, glider: fixed wing
        case 8, 9, 10: return "a-\(affiliation)-A-C-L"  // free/captive balloon, airship: lighter than air
        case 7, 11, 12: return "a-\(affiliation)-A"  // kite, parachute, rocket: an air object, no drone
        case 14: return "a-\(affiliation)-G"  // ground obstacle
        // 2 multirotor, 3 gyroplane, 4 hybrid lift (VTOL), 13 tethered powered aircraft, 15 other and
        // 0 undeclared: most small UAS are multirotors.
        default: return "a-\(affiliation)-A-M-H-Q"
        }
    }

    public static func uaTypeName(_ code: UInt8) -> String {
        ["undeclared", "aeroplane", "helicopter or multirotor", "gyroplane", "hybrid lift (VTOL)", "ornithopter",
         "glider", "kite", "free balloon", "captive balloon", "airship", "parachute", "rocket",
         "tethered powered aircraft", "ground obstacle", "other"][safe: Int(code)] ?? "code \(code)"
    }

    /// How far away a transmitter heard with this RSSI can be: the transport's typical reach
    /// (legacy BLE ~0.5 km, Wi-Fi ~1.5 km, BLE Long Range ~2 km), tightened by the free-space
    /// distance at which a 20 dBm EIRP transmitter would arrive this strong (real paths lose more,
    /// so the drone is closer than that). Never under 50 m.
    public static func receptionRadiusM(transport: RemoteIDFrame.Transport, frequencyHz: Double?, rssiDBm: Double?) -> Double {
        let typicalM: Double
        switch transport {
        case .bleLegacy: typicalM = 500
        case .bleExtended: typicalM = 2000
        case .wifiBeacon, .wifiNAN: typicalM = 1500
        }
        guard let f = frequencyHz, f > 0, let rssi = rssiDBm, rssi.isFinite else { return typicalM }
        let eirpDBm = 20.0
        // Free-space path loss (dB) = 20·log10(d) + 20·log10(f) − 147.55.
        let freeSpaceM = pow(10, (eirpDBm - rssi - 20 * log10(f) + 147.55) / 20)
        return max(50, min(typicalM, freeSpaceM))
    }

    /// A `t-x-d-d` event that makes TAK clients remove the object `uid` at once.
    public static func deleteEvent(uid: String, timeS: Double) -> CoTEvent {
        CoTEvent(uid: uid + "-delete", type: "t-x-d-d", how: "m-g", timeS: timeS, staleS: timeS + 20,
                 latitudeDeg: 0, longitudeDeg: 0,
                 detail: [.link(uid: uid, type: "none", relation: "none"), .flag(name: "__forcedelete")])
    }
}

extension Array {
    fileprivate subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
