/// Follows extended advertising from a primary channel to its secondary one: an ADV_EXT_IND
/// carries only an AuxPtr — channel, PHY and a time window — and the Remote ID pack rides in the
/// AUX_ADV_IND there. The follower pairs the two across the receivers of a capture, so a sensor
/// can say how many announced packs it heard, missed, or could not hear because their channel
/// was outside the band.
///
/// ```
/// ADV_EXT_IND  (ch 37, Coded S=8)  07 07 | 06 18 | ADI 34 12 | AuxPtr 97 0c 40
///              AuxPtr = channel 23 | 300 µs units | offset 12 → 3.6 ms | PHY 2 (Coded)
/// AUX_ADV_IND  (ch 23, Coded S=8) starts 3.6–3.9 ms after the ADV_EXT_IND started, same ADI
/// ```
/// Packets may arrive out of order across channels (each receiver releases its own), so both
/// sides wait up to `horizonS` for their partner.
public struct AuxFollower {
    public struct Counts: Equatable, Sendable {
        /// ADV_EXT_INDs with an AuxPtr, and those whose aux channel is received.
        public var pointers = 0
        public var pointersInBand = 0
        /// Announced AUX_ADV_INDs received, and announced ones in band never heard.
        public var followed = 0
        public var missed = 0
    }

    struct Pointer {
        var windowStart: Int64
        var windowEnd: Int64
        var channel: Int
        var dataID: UInt16?
        var setID: UInt8?
    }

    public let sampleRateHz: Double
    public let channels: Set<Int>
    public private(set) var counts = Counts()
    var pointers: [Pointer] = []
    var unclaimed: [(start: Int64, channel: Int, dataID: UInt16?, setID: UInt8?)] = []
    var latest: Int64 = 0
    let horizon: Int64
    /// Allowance for the two packets' start estimates and clocks.
    let slack: Int64

    public init(sampleRateHz: Double, channels: some Sequence<Int>, horizonS: Double = 3) {
        self.sampleRateHz = sampleRateHz
        self.channels = Set(channels)
        horizon = Int64(horizonS * sampleRateHz)
        slack = Int64(20e-6 * sampleRateHz) + 4
    }

    /// Takes a received packet (sample indices all on one clock); returns true for an
    /// AUX_ADV_IND that an ADV_EXT_IND announced.
    @discardableResult
    public mutating func add(_ packet: BLEReceiver.Packet) -> Bool {
        latest = max(latest, packet.sampleIndex)
        expire(before: latest - horizon)
        guard case .success(let advert) = BLE.parseAdvertising(packet.pdu[...]), advert.isExtended else { return false }
        if let aux = advert.auxPointer, (37...39).contains(packet.channel) {
            counts.pointers += 1
            guard channels.contains(aux.channel) else { return false }
            counts.pointersInBand += 1
            let start = packet.sampleIndex + Int64(Double(aux.offsetUs) * 1e-6 * sampleRateHz)
            let pointer = Pointer(windowStart: start - slack,
                                  windowEnd: start + Int64(Double(aux.offsetUnitUs) * 1e-6 * sampleRateHz) + slack,
                                  channel: aux.channel, dataID: advert.dataID, setID: advert.setID)
            if let k = unclaimed.firstIndex(where: { pointer.accepts($0.start, $0.channel, $0.dataID, $0.setID) }) {
                unclaimed.remove(at: k)
                counts.followed += 1
            } else {
                pointers.append(pointer)
            }
            return false
        }
        guard !(37...39).contains(packet.channel) else { return false }
        if let k = pointers.firstIndex(where: { $0.accepts(packet.sampleIndex, packet.channel, advert.dataID, advert.setID) }) {
            pointers.remove(at: k)
            counts.followed += 1
            return true
        }
        unclaimed.append((packet.sampleIndex, packet.channel, advert.dataID, advert.setID))
        return false
    }

    /// Counts the pointers still waiting as missed (the stream has ended).
    public mutating func finish() {
        counts.missed += pointers.count
        pointers.removeAll()
        unclaimed.removeAll()
    }

    mutating func expire(before oldest: Int64) {
        let stale = pointers.filter { $0.windowEnd < oldest }.count
        if stale > 0 {
            counts.missed += stale
            pointers.removeAll { $0.windowEnd < oldest }
        }
        unclaimed.removeAll { $0.start < oldest }
    }
}

extension AuxFollower.Pointer {
    func accepts(_ start: Int64, _ channel: Int, _ dataID: UInt16?, _ setID: UInt8?) -> Bool {
        guard channel == self.channel, start >= windowStart, start <= windowEnd else { return false }
        // The ADI, when both carry one, must agree (a set's data ID changes with its content).
        if let a = self.dataID, let b = dataID, a != b { return false }
        if let a = self.setID, let b = setID, a != b { return false }
        return true
    }
}
