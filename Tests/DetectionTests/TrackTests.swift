@testable import Captures
import Detection
import IQ
import RemoteID
import Testing

/// Broadcasts for the track tests: a Basic ID and/or a Location, from one transmitter.
enum Broadcast {
    static let addressA = "AA:00:00:00:00:01"
    static let addressB = "BB:00:00:00:00:02"

    static func frame(at timeS: Double, address: String? = addressA, id: String? = "UAS-1", latDeg: Double? = nil,
                      lonDeg: Double = 8.5) -> RemoteIDFrame {
        var messages: [RemoteID.Message] = []
        if let id { messages.append(.basicID(RemoteID.BasicID(idType: 1, uaType: 2, uasID: id))) }
        if let latDeg {
            messages.append(.location(RemoteID.Location(status: 2, speedHorizontalMps: 5, latitudeDeg: latDeg,
                                                        longitudeDeg: lonDeg, altitudeGeodeticM: 120)))
        }
        let message: RemoteID.Message = messages.count == 1 ? messages[0] : .pack(RemoteID.MessagePack(messages: messages))
        return RemoteIDFrame(transport: .bleLegacy, timestampS: timeS, frequencyHz: 2.402e9, rssiDBm: -60, channel: 37,
                             address: address, counter: 0, message: message, phy: "1M", blePDU: nil)
    }

    /// Latitude of the k-th report of a slow flight (≈ 1 m/s northwards at 8 reports/s).
    static func latDeg(_ k: Int) -> Double { 47.0 + Double(k) * 1e-6 }

    /// A UAS reporting a new position every 0.125 s (exact in binary, so times compare exactly).
    static func flight(from startS: Double = 0, count: Int, id: String? = "UAS-1", address: String = addressA,
                       firstReport: Int = 0) -> [RemoteIDFrame] {
        (0..<count).map { k in
            frame(at: startS + Double(k) * 0.125, address: address, id: id, latDeg: latDeg(firstReport + k))
        }
    }
}

/// Deterministic random numbers (SplitMix64), so a failing chunking reproduces.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct RateLimiterTests {
    @Test func aRequestInsideTheIntervalIsHeldAndReleasedWhenItEnds() throws {
        var limiter = try RateLimiter<String>(minimumIntervalS: 1)
        // (`#expect` cannot call a mutating method, so the answers are collected first.)
        var sent = [limiter.request("a", atS: 10), limiter.request("a", atS: 10.25),
                    limiter.request("b", atS: 10.25),  // keys do not share a budget
                    limiter.request("a", atS: 10.75)]
        #expect(sent == [true, false, true, false])
        #expect(limiter.nextReleaseS == 11)
        let early = limiter.releaseDue(upToS: 10.999)
        #expect(early.isEmpty)
        let due = limiter.releaseDue(upToS: 12)
        #expect(due.map(\.key) == ["a"] && due.map(\.timeS) == [11])
        #expect(!limiter.isHeld("a"))
        // The release counted as a send at 11; a send at the end of the interval clears a held one.
        sent = [limiter.request("a", atS: 11.5), limiter.request("a", atS: 12)]
        #expect(sent == [false, true])
        let none = limiter.releaseDue(upToS: 100)
        #expect(none.isEmpty)
        // A forgotten key sends at once.
        sent = [limiter.request("b", atS: 10.5)]
        limiter.forget("b")
        sent.append(limiter.request("b", atS: 10.5))
        #expect(sent == [false, true])
    }

    @Test func badIntervalsAreRejected() {
        #expect(throws: TrackConfigurationError.invalidUpdateInterval(-1)) { try RateLimiter<String>(minimumIntervalS: -1) }
        #expect(throws: TrackConfigurationError.invalidUpdateInterval(.infinity)) {
            try RateLimiter<String>(minimumIntervalS: .infinity)
        }
        #expect(throws: TrackConfigurationError.invalidLostTimeout(0)) { try TrackConfiguration(lostAfterS: 0) }
        #expect("\(TrackConfigurationError.invalidLostTimeout(0))".contains("> 0"))
    }
}

@Suite struct TrackEventTests {
    func tracks(intervalS: Double = 1, timeoutS: Double = 30) throws -> TrackEvents {
        TrackEvents(configuration: try TrackConfiguration(updateIntervalS: intervalS, lostAfterS: timeoutS))
    }

    @Test func updatesAreRateLimitedPerTrackAndTheLastChangeStillGoesOut() throws {
        let tracks = try tracks(intervalS: 1)
        var events: [TrackEvent] = []
        let flight = Broadcast.flight(count: 25)  // 0 … 3 s
        for frame in flight {
            events += tracks.add(frame)
            // A second UAS starting mid-interval of the first gets its first update at once.
            if frame.timestampS == 0.5 {
                events += tracks.add(Broadcast.frame(at: 0.5, address: Broadcast.addressB, id: "UAS-2", latDeg: 40))
            }
        }
        events += tracks.finish()
        let first = events.filter { $0.trackID == "rid:UAS-1" && $0.kind == .update }
        #expect(first.map(\.timeS) == [0, 1, 2, 3, 4])
        // A held update carries the state as it stood when its interval ended (reports 7, 15, 23),
        // and the last report (24, at 3 s) goes out when the stream ends.
        #expect(first.map { $0.snapshot.location?.latitudeDeg } == [0, 7, 15, 23, 24].map(Broadcast.latDeg))
        #expect(first.last?.snapshot.frameCount == 25)
        let second = events.filter { $0.trackID == "rid:UAS-2" }
        #expect(second.map(\.timeS) == [0.5, 30.5] && second.last?.kind == .lost(.timeout))
        let lastUpdate = try #require(first.last)
        #expect(events.last == TrackEvent(kind: .lost(.timeout), timeS: 33, trackID: "rid:UAS-1", snapshot: lastUpdate.snapshot))
        // Interval 0: every change is an update.
        let unlimited = try self.tracks(intervalS: 0)
        let all = flight.flatMap { unlimited.add($0) }
        #expect(all.filter { $0.kind == .update }.map(\.timeS) == flight.map(\.timestampS))
    }

    @Test func aUASWhoseStateDoesNotChangeSendsNoFurtherUpdates() throws {
        let tracks = try tracks(intervalS: 1)
        // Basic ID only, from one transmitter, for 10 s: nothing a console shows changes.
        var events = (0...20).flatMap { tracks.add(Broadcast.frame(at: Double($0) * 0.5)) }
        events += tracks.finish()
        #expect(events.map(\.kind) == [.update, .lost(.timeout)])
        #expect(events.last?.timeS == 40 && events.last?.snapshot.frameCount == 21)
    }

    @Test func aTrackIsLostAfterTheTimeoutInSampleTime() throws {
        let tracks = try tracks(timeoutS: 30)
        _ = tracks.add(Broadcast.frame(at: 100, latDeg: 47))
        _ = tracks.add(Broadcast.frame(at: 102, latDeg: 47.001))
        #expect(tracks.advance(toS: 131.999).isEmpty)
        #expect(tracks.activeTrackIDs == ["rid:UAS-1"])
        // However late time is advanced, the loss is dated last heard + timeout.
        let lost = tracks.advance(toS: 500)
        #expect(lost.map(\.kind) == [.lost(.timeout)] && lost.map(\.timeS) == [132])
        #expect(lost.first?.snapshot.location?.latitudeDeg == 47.001)
        #expect(tracks.activeTrackIDs.isEmpty)
        #expect(tracks.advance(toS: 1000).isEmpty && tracks.finish().isEmpty)
    }

    @Test func aLostTrackComesBackAtOnceWithItsHistory() throws {
        // An interval longer than the whole scene: only track starts pass the limiter.
        let tracks = try tracks(intervalS: 100, timeoutS: 30)
        var events = tracks.add(Broadcast.frame(at: 0, latDeg: 47))
        events += tracks.add(Broadcast.frame(at: 1, latDeg: 47.001))  // held until 100, dropped by the loss
        events += tracks.add(Broadcast.frame(at: 60, latDeg: 47.002))
        events += tracks.finish()
        #expect(events.map(\.kind) == [.update, .lost(.timeout), .update, .lost(.timeout)])
        #expect(events.map(\.timeS) == [0, 31, 60, 90])
        #expect(Set(events.map(\.trackID)) == ["rid:UAS-1"])
        let back = events[2].snapshot
        #expect(back.firstSeenS == 0 && back.frameCount == 3 && back.location?.latitudeDeg == 47.002)
    }

    @Test func anUnidentifiedTransmitterContinuesUnderItsUASID() throws {
        let tracks = try tracks(intervalS: 1)
        var events = tracks.add(Broadcast.frame(at: 0, address: Broadcast.addressB, id: nil, latDeg: 47))
        events += tracks.add(Broadcast.frame(at: 0.5, address: Broadcast.addressB, id: nil, latDeg: 47.001))
        events += tracks.add(Broadcast.frame(at: 2, address: Broadcast.addressB, id: "UAS-2", latDeg: 47.002))
        let placeholder = "rid-addr:" + Broadcast.addressB
        #expect(events.map(\.trackID) == [placeholder, placeholder, placeholder, "rid:UAS-2"])
        #expect(events.map(\.kind) == [.update, .update, .lost(.identified(replacedBy: "rid:UAS-2")), .update])
        #expect(events.map(\.timeS) == [0, 1, 2, 2])
        #expect(events[0].snapshot.uasID == nil && events[2].snapshot.frameCount == 2)
        let identified = events[3].snapshot
        #expect(identified.uasID == "UAS-2" && identified.frameCount == 3 && identified.firstSeenS == 0)
        #expect(identified.addresses == [Broadcast.addressB] && identified.uaType == 2)
        #expect(tracks.activeTrackIDs == ["rid:UAS-2"])
    }

    @Test func aSecondTransmitterOfAKnownUASJoinsItsTrack() throws {
        let tracks = try tracks(intervalS: 1)
        var events = tracks.add(Broadcast.frame(at: 0, address: Broadcast.addressA, id: "UAS-1"))
        events += tracks.add(Broadcast.frame(at: 0.5, address: Broadcast.addressB, id: nil, latDeg: 47))
        events += tracks.add(Broadcast.frame(at: 1, address: Broadcast.addressB, id: "UAS-1", latDeg: 47.001))
        #expect(events.map(\.kind) == [.update, .update, .lost(.identified(replacedBy: "rid:UAS-1")), .update])
        // One UAS with both transmitters' broadcasts (before the fix the placeholder replaced it).
        #expect(tracks.tracker.uas.count == 1)
        let merged = try #require(tracks.tracker.uas["UAS-1"])
        #expect(merged.frames == 3 && merged.addresses == [Broadcast.addressA, Broadcast.addressB])
        #expect(merged.firstSeenS == 0 && merged.messageCounts[.basicID] == 2 && merged.messageCounts[.location] == 2)
        #expect(events.last?.snapshot.addresses == [Broadcast.addressA, Broadcast.addressB])
    }

    /// A scene with every kind of event: two flights, a transmitter identified late, a track lost
    /// and back, a UAS heard once, held updates.
    static func scene() -> [RemoteIDFrame] {
        var frames = Broadcast.flight(count: 25)  // UAS-1, 0 … 3 s
        frames += [Broadcast.frame(at: 1.0625, address: Broadcast.addressB, id: nil, latDeg: 45),
                   Broadcast.frame(at: 1.5625, address: Broadcast.addressB, id: nil, latDeg: 45.001)]
        frames += Broadcast.flight(from: 2.0625, count: 16, id: "UAS-2", address: Broadcast.addressB, firstReport: 100)
        frames += Broadcast.flight(from: 12, count: 9, firstReport: 25)  // UAS-1 again, after its loss at 8 s
        frames.append(Broadcast.frame(at: 20, address: "CC:00:00:00:00:03", id: "UAS-3"))
        return frames.sorted { $0.timestampS < $1.timestampS }
    }

    static func run(_ frames: [RemoteIDFrame], boundaries: [Double]) throws -> [TrackEvent] {
        let tracks = TrackEvents(configuration: try TrackConfiguration(updateIntervalS: 1, lostAfterS: 5))
        var events: [TrackEvent] = []
        var pending = boundaries[...]
        for frame in frames {
            // Sample blocks end between broadcasts: time advances without one.
            while let next = pending.first, next <= frame.timestampS {
                events += tracks.advance(toS: next)
                pending.removeFirst()
            }
            events += tracks.add(frame)
        }
        for next in pending { events += tracks.advance(toS: next) }
        return events + tracks.finish()
    }

    @Test func eventsAreTheSameForAnyChunkingOfTheStream() throws {
        let frames = Self.scene()
        let reference = try Self.run(frames, boundaries: [])
        // The scene exercises what chunking could disturb.
        #expect(reference.contains { $0.kind == .lost(.identified(replacedBy: "rid:UAS-2")) })
        #expect(reference.contains { $0.kind == .lost(.timeout) && $0.trackID == "rid:UAS-1" && $0.timeS == 8 })
        #expect(reference.filter { $0.trackID == "rid:UAS-1" }.map(\.kind).suffix(2) == [.update, .lost(.timeout)])
        let frameTimes = Set(frames.map(\.timestampS))
        #expect(reference.contains { $0.kind == .update && !frameTimes.contains($0.timeS) })  // a held update
        #expect(zip(reference, reference.dropFirst()).allSatisfy { $0.timeS <= $1.timeS })
        var random = SplitMix64(state: 6)
        for _ in 0..<200 {
            // Blocks of random length, from tiny to longer than the timeout.
            var boundaries: [Double] = []
            var t = -1.0
            let longest = [0.01, 0.3, 2, 7].randomElement(using: &random)!
            while t < 30 {
                t += Double.random(in: 0.0001...longest, using: &random)
                boundaries.append(t)
            }
            #expect(try Self.run(frames, boundaries: boundaries) == reference)
        }
        // Blocks that end exactly on the events' own times.
        #expect(try Self.run(frames, boundaries: reference.map(\.timeS)) == reference)
    }

    @Test func anOutOfRangePositionIsFlaggedNotPublished() throws {
        let tracks = try tracks()
        let frame = Broadcast.frame(at: 0, latDeg: 120)  // encodable (±214°), not a latitude
        let events = tracks.add(frame)
        #expect(events.first?.snapshot.location == nil && events.first?.snapshot.flags == ["position_out_of_range"])
        let track = try #require(TrackRecord.json(events[0], sensorID: "s").objectValue)
        #expect(track["lat"] == nil && track["position_time"] == nil && track["uas_id"] == .string("UAS-1"))
        let record = try #require(RemoteIDRecord.json(frame, sensorID: "s").objectValue)
        #expect(record["lat"] == nil && record["lon"] == nil)
        let location = record["remote_id"]?.arrayValue?.compactMap(\.objectValue).first { $0["type"] == .string("location") }
        #expect(location?["lat"] == .double(120))  // the broadcast itself stays as sent
    }

    @Test func anEmptyBasicIDIsNoID() throws {
        let tracks = try tracks()
        let frame = Broadcast.frame(at: 0, id: "", latDeg: 47)
        let events = tracks.add(frame)
        #expect(events.map(\.trackID) == ["rid-addr:" + Broadcast.addressA] && events.first?.snapshot.uasID == nil)
        #expect(RemoteIDRecord.json(frame, sensorID: "s").objectValue?["uas_id"] == nil)
    }

    @Test func trackRecordsNameTheirEvent() throws {
        let tracks = try tracks()
        var events = tracks.add(Broadcast.frame(at: 0, address: Broadcast.addressB, id: nil, latDeg: 47))
        events += tracks.add(Broadcast.frame(at: 0.5, address: Broadcast.addressB, id: "UAS-9", latDeg: 47))
        events += tracks.finish()
        let records = events.compactMap { TrackRecord.json($0, sensorID: "s1").objectValue }
        #expect(records.map { $0["event"] } == [.string("update"), .string("lost"), .string("update"), .string("lost")])
        #expect(records[1]["reason"] == .string("identified") && records[1]["replaced_by_track_id"] == .string("rid:UAS-9"))
        #expect(records[3]["reason"] == .string("timeout") && records[3]["time"] == .string("1970-01-01T00:00:30.500000Z"))
        #expect(records[2]["lat"] == .double(47) && records[2]["position_time"] == .string("1970-01-01T00:00:00.500000Z"))
        #expect(records[2]["message_counts"] == .object(["basic_id": .int(1), "location": .int(2)]))
        #expect(records.allSatisfy { $0["kind"] == .string("track") && $0["schema"] == .int(1) && $0["sensor_id"] == .string("s1") })
    }
}

@Suite struct RecordConsistencyTests {
    @Test func wifiChannelNumbersFollowTheBand() {
        let cases: [(Double, Int?)] = [(2412e6, 1), (2437e6, 6), (2472e6, 13), (2484e6, 14), (5180e6, 36), (5745e6, 149),
                                       (5885e6, 177), (5955e6, 1), (7115e6, 233), (2400e6, nil), (5000e6, nil), (2437.4e6, 6)]
        for (hz, channel) in cases {
            #expect(RemoteIDFrameDecoder.wifiChannel(frequencyHz: hz) == channel, "\(hz) Hz")
        }
    }
}
