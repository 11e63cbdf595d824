import Foundation
import IQ
import Synth
import TestSupport
import Testing
@testable import BLE

/// LE Coded: the bit layer against the code's definition, then the receiver on synthetic packets
/// through the whole chain (GFSK, carrier and clock offsets, noise, DC spike, cu8).
@Suite struct CodedTests {
    static func receive(_ samples: [IQSample], sampleRateHz: Double = 2.4e6, chunk: Int = 65536,
                        receive1M: Bool = true) -> (packets: [BLEReceiver.Packet], counters: BLEReceiver.Counters) {
        LE1MTests.receive(samples, sampleRateHz: sampleRateHz, chunk: chunk, receive1M: receive1M)
    }

    static func rate(_ trial: BLEPacketTrial, _ packets: [BLEReceiver.Packet]) -> Double {
        trial.decodeRate(packets.map { ($0.sampleIndex, $0.pdu) })
    }

    @Test func encoderImpulseResponseIsTheGenerators() {
        // A single 1 walks through the register: G0 = 1 + D + D² + D³ gives 1 1 1 1, G1 = 1 + D² + D³ gives 1 0 1 1.
        #expect(CodedPHY.encode([1, 0, 0, 0]) == [1, 1, 1, 0, 1, 1, 1, 1])
        // Linear: the code of a sum is the sum of the codes.
        let a: [UInt8] = [1, 0, 1, 1, 0, 0, 1, 0, 0, 0], b: [UInt8] = [0, 1, 1, 0, 1, 0, 0, 1, 0, 0]
        let sum = zip(a, b).map { $0 ^ $1 }
        #expect(CodedPHY.encode(sum) == zip(CodedPHY.encode(a), CodedPHY.encode(b)).map { $0 ^ $1 })
        #expect(CodedPHY.map([0, 1], coding: .s8) == [0, 0, 1, 1, 1, 1, 0, 0])
        #expect(CodedPHY.map([0, 1], coding: .s2) == [0, 1])
    }

    @Test func packetLayoutLengths() {
        let pdu: [UInt8] = [0x07, 0x00]  // an empty extended advert: 2-byte PDU
        let s8 = CodedPHY.airSymbols(pdu: pdu, channel: 37, coding: .s8)
        let s2 = CodedPHY.airSymbols(pdu: pdu, channel: 37, coding: .s2)
        // 80 preamble + 296 block 1 + (5 bytes · 8 + 3) · 2 · (4 or 1).
        #expect(s8.count == 80 + 296 + 43 * 8)
        #expect(s2.count == 80 + 296 + 43 * 2)
        #expect(Array(s8.prefix(16)) == [0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0])
        // FEC block 1 of the advertising access address, worked by hand from the generators.
        let pairs: [UInt8] = [0, 0, 1, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 0, 1, 0, 0, 1, 1, 1, 1, 0, 1, 0, 0, 1, 0, 1, 1, 0, 1, 1]
        #expect(Array(s8[80..<(80 + 128)]) == CodedPHY.map(pairs, coding: .s8))
    }

    @Test func viterbiCorrectsScatteredErrors() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            let bits = (0..<200).map { _ in UInt8.random(in: 0...1, using: &rng) } + [0, 0, 0]
            var soft = CodedPHY.encode(bits).map { $0 == 1 ? Float(1) : -1 }
            // One wrong coded bit in every 24: well inside the free distance of 6.
            for k in stride(from: Int.random(in: 0..<24, using: &rng), to: soft.count, by: 24) { soft[k] = -soft[k] }
            var viterbi = CodedViterbi()
            #expect(viterbi.decode(soft, terminated: true) == bits)
        }
    }

    @Test(arguments: [(2.4e6, BLEReceiver.PHY.codedS8, 4.0, 0.9), (2.0e6, .codedS8, 4.0, 0.9),
                      (2.4e6, .codedS2, 8.0, 0.95), (2.4e6, .codedS8, 14.0, 1.0)])
    func decodesImpairedCodedPackets(sampleRateHz: Double, phy: BLEReceiver.PHY, snrDB: Double, wanted: Double) {
        let trial = BLEPacketTrial(count: 150, snrDB: snrDB, maxOffsetHz: 100e3, maxPPM: 50, sampleRateHz: sampleRateHz,
                                   seed: 21, phy: phy)
        let result = Self.receive(cu8RoundTrip(trial.scene.render()), sampleRateHz: sampleRateHz)
        let rate = Self.rate(trial, result.packets)
        #expect(rate >= wanted, "\(phy) at \(snrDB) dB, \(sampleRateHz / 1e6) MS/s: \(rate)")
        #expect(result.packets.allSatisfy { $0.phy == phy && $0.channel == 37 })
        #expect(result.packets.count == Int((rate * 150).rounded()), "no packet twice, none invented")
    }

    @Test func advExtIndPointsAtItsAuxPacket() throws {
        // ADV_EXT_IND: ext header length 6 (flags, ADI, AuxPtr), AuxPtr to channel 23 in 300 µs
        // units, offset 12 (3.6 ms), Coded PHY.
        let auxPointer: UInt32 = 23 | 1 << 7 | 12 << 8 | 2 << 21
        let pdu: [UInt8] = [0x07, 0x07, 0x06, 0x18, 0x34, 0x12,
                            UInt8(auxPointer & 0xFF), UInt8(auxPointer >> 8 & 0xFF), UInt8(auxPointer >> 16)]
        let symbols = CodedPHY.airSymbols(pdu: pdu, channel: 37, coding: .s8)
        var scene = Scene(sampleRateHz: 2.4e6, centerFrequencyHz: 2.402e9, durationS: 0.004, noiseDBFS: -30,
                          bursts: [.init(startS: 0.001, durationS: Double(symbols.count) / 1e6, offsetHz: -60e3,
                                         modulation: .gfsk(bits: symbols, symbolRateHz: 1e6), snrDB: 10, label: "ext")],
                          seed: 3)
        scene.dcOffset = IQSample(i: 0.02, q: -0.015)
        let packets = Self.receive(cu8RoundTrip(scene.render())).packets
        #expect(packets.count == 1)
        let packet = try #require(packets.first)
        #expect(packet.phy == .codedS8 && packet.pdu == pdu)
        #expect(abs(packet.sampleIndex - 2400) <= 4)
        #expect(abs(packet.carrierOffsetHz + 60e3) < 10e3)
        guard case .success(let advert) = BLE.parseAdvertising(packet.pdu[...]) else { Issue.record("not an advert"); return }
        let aux = try #require(advert.auxPointer)
        #expect(aux.channel == 23 && aux.offsetUs == 3600 && aux.phy == 2)
    }

    @Test func sameResultForAnyChunkingWithBothPHYs() {
        // LE 1M adverts, Coded packs, LE 1M adverts on one channel: packets in order of their first
        // sample, identical whatever the block sizes.
        let coded = BLEPacketTrial(count: 12, snrDB: 8, maxOffsetHz: 100e3, maxPPM: 50, seed: 8, phy: .codedS8)
        let legacy = BLEPacketTrial(count: 100, snrDB: 14, maxOffsetHz: 100e3, maxPPM: 50, seed: 9)
        let legacySamples = legacy.scene.render()
        let samples = cu8RoundTrip(legacySamples + coded.scene.render() + legacySamples)
        let reference = Self.receive(samples, chunk: 1 << 20)
        #expect(reference.packets.contains { $0.phy == .le1M } && reference.packets.contains { $0.phy == .codedS8 })
        #expect(reference.packets.map(\.sampleIndex) == reference.packets.map(\.sampleIndex).sorted())
        for chunk in [1, 7, 4096, 77777] {
            let other = Self.receive(samples, chunk: chunk)
            #expect(other.packets == reference.packets, "chunk \(chunk)")
            #expect(other.counters == reference.counters, "chunk \(chunk)")
        }
    }

    @Test func blockSearchesAgreeWithTheirReferences() {
        let trial = BLEPacketTrial(count: 6, snrDB: 6, maxOffsetHz: 100e3, maxPPM: 50, seed: 4, phy: .codedS8)
        let legacy = BLEPacketTrial(count: 40, snrDB: 9, maxOffsetHz: 100e3, maxPPM: 50, seed: 4)
        for samples in [cu8RoundTrip(trial.scene.render()), cu8RoundTrip(legacy.scene.render())] {
            let receiver = BLEReceiver(sampleRateHz: 2.4e6, channel: 37)!
            samples.withUnsafeBufferPointer { receiver.append($0) }
            let limit = receiver.smoothed.count - 600
            var fast: [Int] = [], plain: [Int] = [], c = 10
            while let hit = receiver.codedPreambleHit(from: c, to: limit) { fast.append(hit); c = hit + 1 }
            c = 10
            while let hit = receiver.codedPreambleHitReference(from: c, to: limit) { plain.append(hit); c = hit + 1 }
            #expect(fast == plain)
            var fast1M: [Int] = [], plain1M: [Int] = []
            c = 10
            while let hit = receiver.coarseSync(from: c, to: limit, halfWindow: 2) { fast1M.append(hit); c = hit + 1 }
            c = 10
            while let hit = receiver.coarseSyncReference(from: c, to: limit, halfWindow: 2) { plain1M.append(hit); c = hit + 1 }
            #expect(fast1M == plain1M)
            #expect(!fast.isEmpty || !fast1M.isEmpty)
        }
    }

    @Test func noPacketsFromNoiseOrGarbage() {
        // 10 s of quantised noise with a DC spike: the Coded search alone.
        var scene = Scene(sampleRateHz: 2.4e6, centerFrequencyHz: 2.402e9, durationS: 10, noiseDBFS: -25, bursts: [], seed: 77)
        scene.dcOffset = IQSample(i: 0.02, q: -0.015)
        let result = Self.receive(cu8RoundTrip(scene.render()), receive1M: false)
        #expect(result.packets.isEmpty)
        #expect(result.counters.codedPackets == 0 && result.counters.codedBadCRC == 0)
        // Hostile values: NaN, infinities, huge and zero stretches, a packet cut off by the end.
        var hostile = [IQSample](repeating: .zero, count: 50_000)
        for k in hostile.indices {
            switch k / 10_000 {
            case 0: hostile[k] = IQSample(i: .nan, q: 1)
            case 1: hostile[k] = IQSample(i: .infinity, q: -.infinity)
            case 2: hostile[k] = IQSample(i: 1e30, q: -1e30)
            default: break
            }
        }
        let cut = BLEPacketTrial(count: 1, snrDB: 20, maxOffsetHz: 0, maxPPM: 0, phy: .codedS8).scene.render()
        let tail = Self.receive(hostile + Array(cut.prefix(cut.count / 2)))
        #expect(tail.packets.isEmpty)
    }
}

@Suite struct AuxFollowerTests {
    static func packet(_ sampleIndex: Int64, channel: Int, pdu: [UInt8]) -> BLEReceiver.Packet {
        BLEReceiver.Packet(sampleIndex: sampleIndex, channel: channel, phy: .codedS8, pdu: pdu, crc: 0,
                           carrierOffsetHz: 0, rssiDBFS: -40, snrDB: 10)
    }

    /// ADV_EXT_IND with ADI `dataID` and an AuxPtr to `channel`, `offset` × 300 µs, Coded.
    static func pointer(to channel: Int, offset: UInt32, dataID: UInt16) -> [UInt8] {
        let aux = UInt32(channel) | 1 << 7 | offset << 8 | 2 << 21
        return [0x07, 0x07, 0x06, 0x18, UInt8(dataID & 0xFF), UInt8(dataID >> 8),
                UInt8(aux & 0xFF), UInt8(aux >> 8 & 0xFF), UInt8(aux >> 16)]
    }

    /// AUX_ADV_IND with the same ADI and one AD structure.
    static func aux(dataID: UInt16) -> [UInt8] {
        [0x07, 0x07, 0x03, 0x08, UInt8(dataID & 0xFF), UInt8(dataID >> 8), 0x02, 0x01, 0x06]
    }

    @Test func pairsPointersWithTheirAuxPackets() {
        // 2 MS/s: 3.6 ms is 7200 samples; the aux may start anywhere in the next 300 µs (600 samples).
        var follower = AuxFollower(sampleRateHz: 2e6, channels: [37, 38, 20, 21, 22, 23])
        let primaryIsAux = follower.add(Self.packet(1000, channel: 37, pdu: Self.pointer(to: 23, offset: 12, dataID: 0x101)))
        let auxFollowed = follower.add(Self.packet(1000 + 7200 + 450, channel: 23, pdu: Self.aux(dataID: 0x101)))
        #expect(!primaryIsAux && auxFollowed)
        // Out of band: counted, not awaited.
        follower.add(Self.packet(20_000, channel: 38, pdu: Self.pointer(to: 5, offset: 12, dataID: 0x102)))
        // Wrong ADI, wrong time, then the right one; released before its pointer (another receiver).
        follower.add(Self.packet(40_000 + 7300, channel: 22, pdu: Self.aux(dataID: 0x999)))
        follower.add(Self.packet(40_000 + 9000, channel: 22, pdu: Self.aux(dataID: 0x103)))
        follower.add(Self.packet(40_000 + 7300, channel: 22, pdu: Self.aux(dataID: 0x103)))
        follower.add(Self.packet(40_000, channel: 37, pdu: Self.pointer(to: 22, offset: 12, dataID: 0x103)))
        // Announced in band, never heard.
        follower.add(Self.packet(60_000, channel: 37, pdu: Self.pointer(to: 21, offset: 12, dataID: 0x104)))
        follower.finish()
        #expect(follower.counts == AuxFollower.Counts(pointers: 4, pointersInBand: 3, followed: 2, missed: 1))
    }
}
