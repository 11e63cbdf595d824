import Captures
import RemoteID

/// Bad track settings, as one actionable line.
public enum TrackConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidUpdateInterval(Double)
    case invalidLostTimeout(Double)

    public var description: String {
        switch self {
        case .invalidUpdateInterval(let s):
            return "track update interval \(s) s is not a number of seconds ≥ 0 (0 sends every change, default 1)"
        case .invalidLostTimeout(let s):
            return "track timeout \(s) s is not a number of seconds > 0 (default 30)"
        }
    }
}

public struct TrackConfiguration: Sendable, Equatable {
    /// At most one update event per track in this much sample time (changes in between are
    /// held and sent when it ends).
    public let updateIntervalS: Double
    /// A track is lost when nothing has been heard from it for this much sample time.
    public let lostAfterS: Double

    public init(updateIntervalS: Double = 1, lostAfterS: Double = 30) throws(TrackConfigurationError) {
        guard updateIntervalS.isFinite, updateIntervalS >= 0 else { throw .invalidUpdateInterval(updateIntervalS) }
        guard lostAfterS.isFinite, lostAfterS > 0 else { throw .invalidLostTimeout(lostAfterS) }
        self.updateIntervalS = updateIntervalS
        self.lostAfterS = lostAfterS
    }
}

/// What a track record says about its UAS: the tracker's merged state, reduced to what a
/// console draws (a valid position, the operator, IDs) plus counts.
public struct TrackSnapshot: Equatable, Sendable {
    public var uasID: String?
    public var uaType: UInt8?
    /// Transports heard (record `family` ids), sorted.
    public var families: [String] = []
    /// Transmitter addresses heard, sorted.
    public var addresses: [String] = []
    public var firstSeenS: Double
    public var lastSeenS: Double
    public var frameCount = 0
    /// Remote ID messages received, by the record's type name.
    public var messageCounts: [String: Int] = [:]
    /// The last Location that held a valid position, and when it was received.
    public var location: RemoteID.Location?
    public var positionTimeS: Double?
    public var operatorLatitudeDeg: Double?
    public var operatorLongitudeDeg: Double?
    public var operatorAltitudeGeodeticM: Double?
    /// 0 take-off point, 1 live GNSS, 2 fixed (F3411), qualifying the operator position.
    public var operatorLocationType: UInt8?
    public var operatorID: String?
    public var selfIDText: String?
    /// Plausibility flags of `UASTracker`, sorted.
    public var flags: [String] = []

    /// Whether anything a console shows changed: everything but the counts and the last-seen time,
    /// which move with every broadcast. A new Location report counts (its receive time moves), so a
    /// hovering UAS still refreshes at the update rate.
    public func differsInState(from other: TrackSnapshot) -> Bool {
        var a = self, b = other
        a.frameCount = 0; b.frameCount = 0
        a.messageCounts = [:]; b.messageCounts = [:]
        a.lastSeenS = 0; b.lastSeenS = 0
        return a != b
    }

    init(_ u: UASTracker.UAS) {
        uasID = u.placeholderAddress == nil ? u.uasID : nil
        uaType = u.uaType
        families = u.transports.sorted()
        addresses = u.addresses.sorted()
        firstSeenS = u.firstSeenS
        lastSeenS = u.lastSeenS
        frameCount = u.frames
        for (type, count) in u.messageCounts { messageCounts[RemoteIDRecord.typeName(type)] = count }
        if let l = u.lastLocation, let lat = l.latitudeDeg, let lon = l.longitudeDeg, RemoteIDRecord.isPosition(lat, lon) {
            location = l
            positionTimeS = u.lastLocationTimeS
        }
        if let s = u.system {
            if let lat = s.operatorLatitudeDeg, let lon = s.operatorLongitudeDeg, RemoteIDRecord.isPosition(lat, lon) {
                operatorLatitudeDeg = lat
                operatorLongitudeDeg = lon
                operatorLocationType = s.operatorLocationType
            }
            operatorAltitudeGeodeticM = s.operatorAltitudeGeodeticM
        }
        // All-NUL texts decode to "": unknown, so absent.
        operatorID = u.operatorID.flatMap { $0.isEmpty ? nil : $0 }
        selfIDText = u.selfID.flatMap { $0.isEmpty ? nil : $0 }
        flags = u.flags.sorted()
    }
}

public struct TrackEvent: Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        /// The track is new, came back, or what it shows changed.
        case update
        case lost(LostReason)
    }

    public enum LostReason: Equatable, Sendable {
        /// Nothing heard for the timeout.
        case timeout
        /// An unidentified transmitter's track ends because it sent its UAS ID: the UAS carries
        /// on as this track.
        case identified(replacedBy: String)
    }

    public var kind: Kind
    /// Stream (sample) time of the event: the broadcast that caused an update, the end of the
    /// rate-limit interval for a held one, last heard + timeout for a loss.
    public var timeS: Double
    public var trackID: String
    public var snapshot: TrackSnapshot

    public init(kind: Kind, timeS: Double, trackID: String, snapshot: TrackSnapshot) {
        self.kind = kind
        self.timeS = timeS
        self.trackID = trackID
        self.snapshot = snapshot
    }
}

/// Tracks, one per UAS, over `UASTracker`'s merged state: `update` events when what a console
/// shows changes (rate-limited per track) and `lost` events after a silence — all judged on
/// sample time, so the events are the same however the stream is cut into blocks and whether it
/// is a file or live.
///
/// Feed broadcasts with `add(_:)` in stream order; call `advance(toS:)` as sample time passes
/// without broadcasts (each block) to release held updates and losses, and `finish()` at the end.
public final class TrackEvents {
    public let configuration: TrackConfiguration
    public let tracker: UASTracker
    /// Latest stream time seen; never goes back (a late broadcast counts as heard now).
    public private(set) var clockS = -Double.infinity

    private struct Track {
        var key: String  // in `tracker.uas`
        var lastHeardS: Double
        var lastSent: TrackSnapshot?
    }

    private var active: [String: Track] = [:]
    private var limiter: RateLimiter<String>

    public init(configuration: TrackConfiguration, tracker: UASTracker = UASTracker()) {
        self.configuration = configuration
        self.tracker = tracker
        limiter = RateLimiter(validatedIntervalS: configuration.updateIntervalS)
    }

    /// A track is its UAS ID; an unidentified transmitter's track is its address (never equal to
    /// an ID-based one: the prefixes differ).
    public static func trackID(uasID: String) -> String { "rid:" + uasID }
    public static func trackID(address: String) -> String { "rid-addr:" + address }

    /// Ids of the live (not lost) tracks, sorted.
    public var activeTrackIDs: [String] { active.keys.sorted() }

    /// Moves stream time to `timeS`: held updates and losses due by then, in time order (an update
    /// before a loss at the same time; ties by track id).
    public func advance(toS timeS: Double) -> [TrackEvent] {
        guard timeS > clockS else { return [] }
        clockS = timeS
        var due: [(timeS: Double, isLoss: Bool, trackID: String)] = []
        for (id, releaseS) in limiter.releaseDue(upToS: timeS) { due.append((releaseS, false, id)) }
        for (id, track) in active where track.lastHeardS + configuration.lostAfterS <= timeS {
            due.append((track.lastHeardS + configuration.lostAfterS, true, id))
        }
        due.sort { ($0.timeS, $0.isLoss ? 1 : 0, $0.trackID) < ($1.timeS, $1.isLoss ? 1 : 0, $1.trackID) }
        var events: [TrackEvent] = []
        for item in due {
            // A loss earlier in this batch ends the track and drops its held update.
            guard var track = active[item.trackID], let u = tracker.uas[track.key] else { continue }
            let snapshot = TrackSnapshot(u)
            if item.isLoss {
                events.append(TrackEvent(kind: .lost(.timeout), timeS: item.timeS, trackID: item.trackID, snapshot: snapshot))
                active[item.trackID] = nil
                limiter.forget(item.trackID)
            } else if track.lastSent.map({ snapshot.differsInState(from: $0) }) ?? true {
                events.append(TrackEvent(kind: .update, timeS: item.timeS, trackID: item.trackID, snapshot: snapshot))
                track.lastSent = snapshot
                active[item.trackID] = track
            }
        }
        return events
    }

    /// Ends the stream: time runs on in silence, so held updates go out when their interval ends
    /// and every track is lost after the timeout — what a live sensor would report if the band
    /// fell quiet. Every track's last record is then a `lost` with its final state. Add nothing after.
    public func finish() -> [TrackEvent] { advance(toS: .infinity) }

    /// Merges a broadcast into its UAS; returns the events due before it, then its own: the end of
    /// a placeholder track it identifies, and an update if its track is new, came back or changed
    /// (and the rate limit allows; otherwise the update is held).
    public func add(_ frame: RemoteIDFrame) -> [TrackEvent] {
        var events = advance(toS: frame.timestampS)
        let timeS = max(clockS, frame.timestampS)
        clockS = timeS
        // The placeholder track this transmitter may have had, as it stood before this frame.
        let placeholderID = frame.address.map(Self.trackID(address:))
        let placeholderBefore = placeholderID.flatMap { active[$0] }.flatMap { tracker.uas[$0.key] }.map(TrackSnapshot.init)
        guard let key = tracker.add(frame), let u = tracker.uas[key] else { return events }
        let trackID = u.placeholderAddress.map(Self.trackID(address:)) ?? Self.trackID(uasID: u.uasID)
        if let placeholderID, placeholderID != trackID, let snapshot = placeholderBefore {
            events.append(TrackEvent(kind: .lost(.identified(replacedBy: trackID)), timeS: timeS, trackID: placeholderID,
                                     snapshot: snapshot))
            active[placeholderID] = nil
            limiter.forget(placeholderID)
        }
        let snapshot = TrackSnapshot(u)
        var track = active[trackID] ?? Track(key: key, lastHeardS: timeS, lastSent: nil)
        track.key = key
        track.lastHeardS = timeS
        if track.lastSent.map({ snapshot.differsInState(from: $0) }) ?? true, limiter.request(trackID, atS: timeS) {
            events.append(TrackEvent(kind: .update, timeS: timeS, trackID: trackID, snapshot: snapshot))
            track.lastSent = snapshot
        }
        active[trackID] = track
        return events
    }
}
