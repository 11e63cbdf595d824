import BLE
import IQ
import RemoteID

extension Scene {
    /// A drone's Bluetooth legacy Remote ID as an RTL-SDR behind a 2.4 GHz downconverter sees it on
    /// advertising channel 37: ADV_NONCONN_IND every 25 ms cycling Basic ID, Location (flying a
    /// straight line), Self-ID, System and Operator ID, at 12–20 dB SNR, a 40 kHz carrier offset,
    /// a 20 ppm clock error and a DC spike. Annotations carry each packet's message type.
    public static func bleRemoteID(seed: UInt64, durationS: Double, sampleRateHz: Double = 2_400_000) -> Scene {
        var rng = Xoshiro256(seed: seed)
        let address: [UInt8] = [0x5A, 0x11, 0x22, 0x33, 0x44, 0xC5]  // random static address, LSB first
        var bursts: [Burst] = []
        var counter: UInt8 = 0
        var k = 0
        while Double(k) * 0.025 + 0.005 + 0.0005 < durationS {
            let t = Double(k) * 0.025
            let message: RemoteID.Message
            let label: String
            switch k % 5 {
            case 0:
                message = .basicID(.init(idType: 1, uaType: 2, uasID: "1596F3SYNTH0001"))
                label = "basic_id"
            case 1:
                message = .location(.init(status: 2, directionDeg: 45, speedHorizontalMps: 12,
                                          speedVerticalMps: 0.5, latitudeDeg: 51.4775 + t * 1e-4, longitudeDeg: -0.0015 + t * 1e-4,
                                          altitudeGeodeticM: 120, heightM: 60, timestampS: (t * 10).rounded() / 10))
                label = "location"
            case 2:
                message = .selfID(.init(text: "uasense synthetic"))
                label = "self_id"
            case 3:
                message = .system(.init(operatorLatitudeDeg: 51.4770, operatorLongitudeDeg: -0.0020))
                label = "system"
            default:
                message = .operatorID(.init(operatorID: "GBR-OP-SYNTH001"))
                label = "operator_id"
            }
            let ad: [UInt8] = [0x1E, 0x16, 0xFA, 0xFF, 0x0D, counter] + RemoteID.encode(message)
            counter &+= 1
            let pdu: [UInt8] = [0x42, UInt8(6 + ad.count)] + address + ad
            let bits = GFSKModulator.bitsLSBFirst(BLE.airBytes1M(pdu: pdu, channel: 37))
            let symbolRateHz = 1e6 * (1 + 20e-6)
            bursts.append(Burst(startS: t + 0.005 + Double(rng.next() % 1000) * 1e-6, durationS: Double(bits.count) / symbolRateHz,
                                offsetHz: 40e3, modulation: .gfsk(bits: bits, symbolRateHz: symbolRateHz),
                                snrDB: 12 + Double(rng.next() % 9), label: label))
            k += 1
        }
        var scene = Scene(sampleRateHz: sampleRateHz, centerFrequencyHz: BLE.frequencyHz(channel: 37)!, durationS: durationS,
                          noiseDBFS: -30, bursts: bursts, seed: seed,
                          description: "uasense Bluetooth legacy Remote ID on channel 37, seed \(seed)")
        scene.dcOffset = IQSample(i: 0.02, q: -0.015)
        return scene
    }
}

/// Bluetooth LE packets in noise, each with its own carrier offset and clock error: the workload
/// of the receiver's tests and of `uasense bench --sensitivity`. LE 1M packets are Remote ID-sized
/// legacy adverts 1 ms apart; Coded packets are AUX_ADV_INDs the size of a 4-message Remote ID pack
/// (121-byte PDU, 8.4 ms at S=8), each followed by 0.5 ms of noise.
public struct BLEPacketTrial: Sendable {
    public var scene: Scene
    /// Where each packet starts (sample index) and its PDU.
    public var sent: [(startSample: Int, pdu: [UInt8])]

    /// - Parameters: offsets are uniform in ±`maxOffsetHz`, clock errors in ±`maxPPM`.
    public init(count: Int, snrDB: Double, maxOffsetHz: Double, maxPPM: Double, sampleRateHz: Double = 2.4e6,
                channel: Int = 37, seed: UInt64 = 5, phy: BLEReceiver.PHY = .le1M) {
        var rng = Xoshiro256(seed: seed)
        var bursts: [Scene.Burst] = []
        sent = []
        var startS = 0.5e-3
        for k in 0..<count {
            let pdu = Self.pdu(index: k, phy: phy, rng: &rng)
            let offsetHz = maxOffsetHz * (Double(rng.next() % 2_000_001) / 1_000_000 - 1)
            let ppm = maxPPM * (Double(rng.next() % 2_000_001) / 1_000_000 - 1)
            let bits = Self.airSymbols(pdu: pdu, channel: channel, phy: phy)
            let symbolRateHz = 1e6 * (1 + ppm * 1e-6)
            let durationS = Double(bits.count) / symbolRateHz
            // Anywhere between two samples: receivers must not depend on where the samples fall.
            let fraction = Double(rng.next() % 1000) / 1000 / sampleRateHz
            bursts.append(Scene.Burst(startS: startS + fraction, durationS: durationS, offsetHz: offsetHz,
                                      modulation: .gfsk(bits: bits, symbolRateHz: symbolRateHz), snrDB: snrDB, label: "ble"))
            sent.append((Int((startS * sampleRateHz).rounded()), pdu))
            startS += phy == .le1M ? 1e-3 : (durationS + 0.5e-3)
        }
        scene = Scene(sampleRateHz: sampleRateHz, centerFrequencyHz: BLE.frequencyHz(channel: channel)!,
                      durationS: startS + 0.5e-3, noiseDBFS: -28, bursts: bursts, seed: seed)
        scene.dcOffset = IQSample(i: 0.02, q: -0.015)
    }

    /// Packet `index`'s PDU. LE 1M: an ADV_NONCONN_IND with a Remote ID-shaped service-data AD
    /// (counter and 25 random bytes). Coded: an AUX_ADV_IND with AdvA and ADI, then a Message Pack
    /// AD of 4 random messages.
    static func pdu(index: Int, phy: BLEReceiver.PHY, rng: inout Xoshiro256) -> [UInt8] {
        var pdu: [UInt8]
        if phy == .le1M {
            pdu = [0x42, 0x25, 0x55, 0x44, 0x33, 0x22, 0x11, 0xC0, 0x1E, 0x16, 0xFA, 0xFF, 0x0D, UInt8(truncatingIfNeeded: index)]
            for _ in 0..<25 { pdu.append(UInt8(truncatingIfNeeded: rng.next())) }
        } else {
            pdu = [0x07, 0x77, 0x09, 0x09, 0x55, 0x44, 0x33, 0x22, 0x11, 0xC0, 0x01, 0x10,
                   0x6C, 0x16, 0xFA, 0xFF, 0x0D, UInt8(truncatingIfNeeded: index), 0xF2, 0x19, 0x04]
            for _ in 0..<100 { pdu.append(UInt8(truncatingIfNeeded: rng.next())) }
            assert(Int(pdu[1]) == pdu.count - 2)
        }
        return pdu
    }

    /// The symbols (0/1) of a packet on air.
    static func airSymbols(pdu: [UInt8], channel: Int, phy: BLEReceiver.PHY) -> [UInt8] {
        switch phy {
        case .le1M: return GFSKModulator.bitsLSBFirst(BLE.airBytes1M(pdu: pdu, channel: channel))
        case .codedS8: return CodedPHY.airSymbols(pdu: pdu, channel: channel, coding: .s8)
        case .codedS2: return CodedPHY.airSymbols(pdu: pdu, channel: channel, coding: .s2)
        }
    }

    /// The fraction of sent packets among `received` (same PDU, start within 4 samples).
    public func decodeRate(_ received: [(sampleIndex: Int64, pdu: [UInt8])]) -> Double {
        var found = 0
        for (start, pdu) in sent where received.contains(where: { $0.pdu == pdu && abs(Int($0.sampleIndex) - start) <= 4 }) {
            found += 1
        }
        return Double(found) / Double(max(1, sent.count))
    }
}
