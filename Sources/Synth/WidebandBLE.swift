import BLE
import IQ
import RemoteID

// Wideband Bluetooth LE scenes: many transmitters on different RF channels of one capture, as a
// HackRF-class radio at 4–40 MS/s sees them.
//
// SNR is the Scene's: for `.gfsk` the noise counted is the noise in 2 × the symbol rate (2 MHz for
// LE 1M) at the scene's noise density (noise power / sample rate). So "14 dB" states the same noise
// density whatever the capture rate: at 20 MS/s it is signal over a tenth of the band's noise power.

extension Scene {
    /// Two drones and a phone as a HackRF at 20 MS/s centred on advertising channel 38 (2426 MHz)
    /// sees them, with a DC spike:
    /// - drone A: legacy Remote ID (ADV_NONCONN_IND) on channel 38 every 25 ms, cycling Basic ID,
    ///   Location, Self-ID, System and Operator ID; +60 kHz carrier offset, +20 ppm clock;
    /// - drone B: Bluetooth 5 Long Range every 40 ms, an LE Coded S=8 ADV_EXT_IND on channel 38
    ///   whose AuxPtr points 2.4 ms ahead to an AUX_ADV_IND (Coded S=8, a Basic ID + Location pack)
    ///   on a data channel chosen at random from those in band; −85 kHz, −35 ppm, 8–16 dB;
    /// - a phone: non-Remote ID ADV_IND (flags + name) on random data channels every 15 ms; +20 kHz.
    /// LE 1M at 12–20 dB SNR in 2 MHz. Annotations carry the message type ("adv_ext_ind", "pack",
    /// "other") and the channel ("… ch12").
    public static func bleWideband(seed: UInt64, durationS: Double, sampleRateHz: Double = 20e6,
                                   centerFrequencyHz: Double = 2426e6) -> Scene {
        var rng = Xoshiro256(seed: seed ^ 0x3B1E)
        let inBand = WidebandBLEReceiver.channelsInBand(sampleRateHz: sampleRateHz, centerFrequencyHz: centerFrequencyHz)
        let data = inBand.filter { $0 <= 36 }
        let advertising = inBand.filter { $0 >= 37 }
        var bursts: [Burst] = []
        func add(_ pdu: [UInt8], channel: Int, atS t: Double, offsetHz: Double, ppm: Double, label: String) {
            let bits = GFSKModulator.bitsLSBFirst(BLE.airBytes1M(pdu: pdu, channel: channel))
            let symbolRateHz = 1e6 * (1 + ppm * 1e-6)
            let offset = BLE.frequencyHz(channel: channel)! - centerFrequencyHz + offsetHz
            bursts.append(Burst(startS: t, durationS: Double(bits.count) / symbolRateHz, offsetHz: offset,
                                modulation: .gfsk(bits: bits, symbolRateHz: symbolRateHz), snrDB: 12 + 8 * rng.uniform(),
                                label: "\(label) ch\(channel)"))
        }
        func addCoded(_ pdu: [UInt8], channel: Int, atS t: Double, offsetHz: Double, ppm: Double, label: String) {
            let symbols = CodedPHY.airSymbols(pdu: pdu, channel: channel, coding: .s8)
            let symbolRateHz = 1e6 * (1 + ppm * 1e-6)
            let offset = BLE.frequencyHz(channel: channel)! - centerFrequencyHz + offsetHz
            bursts.append(Burst(startS: t, durationS: Double(symbols.count) / symbolRateHz, offsetHz: offset,
                                modulation: .gfsk(bits: symbols, symbolRateHz: symbolRateHz), snrDB: 8 + 8 * rng.uniform(),
                                label: "\(label) ch\(channel)"))
        }
        // Drone A, legacy Remote ID on the advertising channel in band (if any).
        let droneA: [UInt8] = [0x5A, 0x11, 0x22, 0x33, 0x44, 0xC5]
        var counterA: UInt8 = 0
        if let channel = advertising.first {
            var k = 0
            while Double(k) * 0.025 + 0.004 + 0.0006 < durationS {
                let t = Double(k) * 0.025
                let (message, label): (RemoteID.Message, String)
                switch k % 5 {
                case 0: (message, label) = (.basicID(.init(idType: 1, uaType: 2, uasID: "1596F3SYNTHWIDEA")), "basic_id")
                case 1:
                    (message, label) = (.location(.init(status: 2, directionDeg: 90, speedHorizontalMps: 8, speedVerticalMps: 0,
                                                         latitudeDeg: 51.50 + t * 1e-4, longitudeDeg: -0.12,
                                                         altitudeGeodeticM: 80, heightM: 40, timestampS: (t * 10).rounded() / 10)),
                                        "location")
                case 2: (message, label) = (.selfID(.init(text: "uasense wideband A")), "self_id")
                case 3: (message, label) = (.system(.init(operatorLatitudeDeg: 51.4995, operatorLongitudeDeg: -0.1205)), "system")
                default: (message, label) = (.operatorID(.init(operatorID: "GBR-OP-WIDEA01")), "operator_id")
                }
                let ad: [UInt8] = [0x1E, 0x16, 0xFA, 0xFF, 0x0D, counterA] + RemoteID.encode(message)
                counterA &+= 1
                add([0x42, UInt8(6 + ad.count)] + droneA + ad, channel: channel,
                    atS: t + 0.004 + Double(rng.next() % 1000) * 1e-6, offsetHz: 60e3, ppm: 20, label: label)
                k += 1
            }
        }
        // Drone B, Bluetooth 5 Long Range: a Coded S=8 ADV_EXT_IND on the advertising channel whose
        // AuxPtr sends the receiver 2.4 ms later to a Coded S=8 AUX_ADV_IND on a data channel in band,
        // which carries the pack (AdvA + ADI, then Basic ID + Location).
        let droneB: [UInt8] = [0x77, 0x66, 0x55, 0x44, 0x33, 0xD2]
        var counterB: UInt8 = 0
        if let primary = advertising.first, !data.isEmpty {
            var k = 0
            while Double(k) * 0.040 + 0.011 + 0.008 < durationS {
                let t = Double(k) * 0.040 + 0.011 + Double(rng.next() % 1000) * 1e-6
                let channel = data[Int(rng.next() % UInt64(data.count))]
                let adi: [UInt8] = [UInt8(k & 0xFF), UInt8(k >> 8 & 0x0F) | 0x10]  // data ID k, set 1
                // AuxPtr: channel | 30 µs units | offset 80 units (2.4 ms) | PHY 2 (Coded).
                let auxPtr = UInt32(channel) | 80 << 8 | 2 << 21
                let primaryHeader: [UInt8] = [12, 0x01 | 0x08 | 0x10] + droneB + adi
                    + [UInt8(auxPtr & 0xFF), UInt8(auxPtr >> 8 & 0xFF), UInt8(auxPtr >> 16)]
                addCoded([0x47, UInt8(primaryHeader.count)] + primaryHeader, channel: primary, atS: t, offsetHz: -85e3, ppm: -35,
                         label: "adv_ext_ind")
                let pack = RemoteID.encode(.pack(.init(messages: [
                    .basicID(.init(idType: 1, uaType: 2, uasID: "1596F3SYNTHWIDEB")),
                    .location(.init(status: 2, directionDeg: 180, speedHorizontalMps: 5, speedVerticalMps: 0,
                                    latitudeDeg: 51.51, longitudeDeg: -0.13 + t * 1e-4, altitudeGeodeticM: 60, heightM: 30,
                                    timestampS: (t * 10).rounded() / 10)),
                ])))
                let ad: [UInt8] = [UInt8(4 + 1 + pack.count), 0x16, 0xFA, 0xFF, 0x0D, counterB] + pack
                counterB &+= 1
                let auxHeader: [UInt8] = [9, 0x01 | 0x08] + droneB + adi
                addCoded([0x47, UInt8(auxHeader.count + ad.count)] + auxHeader + ad, channel: channel, atS: t + 2.4e-3,
                         offsetHz: -85e3, ppm: -35, label: "pack")
                k += 1
            }
        }
        // A phone's ordinary advertising, which must come out as "other adverts".
        let phone: [UInt8] = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60]
        let name = Array("uasense-phone".utf8)
        if !data.isEmpty {
            var k = 0
            while Double(k) * 0.015 + 0.007 + 0.0005 < durationS {
                let ad: [UInt8] = [0x02, 0x01, 0x06, UInt8(name.count + 1), 0x09] + name
                let t = Double(k) * 0.015 + 0.007 + Double(rng.next() % 500) * 1e-6
                // A channel no other transmitter is on at the time (the phone's controller would
                // not transmit into a collision either, and the ground truth stays decodable).
                let first = Int(rng.next() % UInt64(data.count))
                let free = (0..<data.count).map { data[(first + $0) % data.count] }.first { channel in
                    !bursts.contains { $0.label.hasSuffix(" ch\(channel)") && $0.startS < t + 0.0004 && t < $0.startS + $0.durationS + 1e-4 }
                }
                if let channel = free {
                    add([0x40, UInt8(6 + ad.count)] + phone + ad, channel: channel, atS: t, offsetHz: 20e3, ppm: 5, label: "other")
                }
                k += 1
            }
        }
        var scene = Scene(sampleRateHz: sampleRateHz, centerFrequencyHz: centerFrequencyHz, durationS: durationS,
                          noiseDBFS: -28, bursts: bursts, seed: seed,
                          description: "uasense wideband Bluetooth LE: Remote ID legacy and extended plus other adverts "
                              + "on channels \(inBand.map(String.init).joined(separator: ",")), seed \(seed)")
        scene.dcOffset = IQSample(i: 0.01, q: -0.008)
        return scene
    }
}

/// Packets on every BLE channel of a wideband capture, several at once on different channels
/// (adjacent ones included), each with its own carrier offset and clock error: the wideband twin of
/// `BLEPacketTrial` (the same PDUs; LE 1M in 1 ms slots, Coded packs in 9 ms slots), for tests and
/// `uasense bench`.
public struct BLEWidebandTrial: Sendable {
    public struct Sent: Sendable, Equatable {
        /// Wideband sample index of the first preamble sample.
        public var startSample: Int
        public var channel: Int
        public var pdu: [UInt8]
        public var carrierOffsetHz: Double
    }

    public var scene: Scene
    public var sent: [Sent]
    /// The channels packets were sent on (every BLE channel in band, RF order).
    public let channels: [Int]

    /// - Parameters:
    ///   - count: packets in all; packet p goes on channel `channels[p % channels.count]`.
    ///   - perSlot: packets sent in each 1 ms slot, on consecutive (so adjacent) channels, their
    ///     starts scattered over 200 µs so they overlap in time.
    ///   - offsets are uniform in ±`maxOffsetHz`, clock errors in ±`maxPPM`.
    public init(count: Int, snrDB: Double, maxOffsetHz: Double, maxPPM: Double, sampleRateHz: Double = 20e6,
                centerFrequencyHz: Double = 2426e6, channels: [Int]? = nil, perSlot: Int = 3, seed: UInt64 = 5,
                phy: BLEReceiver.PHY = .le1M) {
        var rng = Xoshiro256(seed: seed)
        let list = channels ?? WidebandBLEReceiver.channelsInBand(sampleRateHz: sampleRateHz, centerFrequencyHz: centerFrequencyHz)
        self.channels = list
        let slotCount = list.isEmpty ? 0 : (count + max(1, perSlot) - 1) / max(1, perSlot)
        let slotS = phy == .le1M ? 1e-3 : 9e-3
        var bursts: [Scene.Burst] = []
        sent = []
        for p in 0..<(list.isEmpty ? 0 : count) {
            let channel = list[p % list.count]
            let pdu = BLEPacketTrial.pdu(index: p, phy: phy, rng: &rng)
            let offsetHz = maxOffsetHz * (Double(rng.next() % 2_000_001) / 1_000_000 - 1)
            let ppm = maxPPM * (Double(rng.next() % 2_000_001) / 1_000_000 - 1)
            let bits = BLEPacketTrial.airSymbols(pdu: pdu, channel: channel, phy: phy)
            let symbolRateHz = 1e6 * (1 + ppm * 1e-6)
            // Starts anywhere in 200 µs (to the nanosecond, so every phase against the channel grid occurs).
            let startS = 0.5e-3 + Double(p / max(1, perSlot)) * slotS + Double(rng.next() % 200_000) * 1e-9
            bursts.append(Scene.Burst(startS: startS, durationS: Double(bits.count) / symbolRateHz,
                                      offsetHz: BLE.frequencyHz(channel: channel)! - centerFrequencyHz + offsetHz,
                                      modulation: .gfsk(bits: bits, symbolRateHz: symbolRateHz), snrDB: snrDB, label: "ble ch\(channel)"))
            sent.append(Sent(startSample: Int((startS * sampleRateHz).rounded()), channel: channel, pdu: pdu, carrierOffsetHz: offsetHz))
        }
        scene = Scene(sampleRateHz: sampleRateHz, centerFrequencyHz: centerFrequencyHz,
                      durationS: Double(slotCount) * slotS + 1e-3, noiseDBFS: -28, bursts: bursts, seed: seed)
        scene.dcOffset = IQSample(i: 0.01, q: -0.008)
    }

    /// The fraction of sent packets (on `channel` only, when given) found in `received`: same PDU,
    /// same channel, start within `toleranceS`.
    public func decodeRate(_ received: [(sampleIndex: Int64, channel: Int, pdu: [UInt8])], channel: Int? = nil,
                           toleranceS: Double = 2e-6) -> Double {
        let tolerance = Int((toleranceS * scene.sampleRateHz).rounded())
        var byPDU: [[UInt8]: [(sampleIndex: Int64, channel: Int)]] = [:]
        for r in received { byPDU[r.pdu, default: []].append((r.sampleIndex, r.channel)) }
        var found = 0, total = 0
        for s in sent where channel == nil || s.channel == channel {
            total += 1
            if byPDU[s.pdu]?.contains(where: { $0.channel == s.channel && abs(Int($0.sampleIndex) - s.startSample) <= tolerance }) == true {
                found += 1
            }
        }
        return Double(found) / Double(max(1, total))
    }
}
