import Foundation
import IQ
import Synth
import TestSupport
import Testing
@testable import BLE

/// The LE 1M receiver on synthetic packets through the whole chain: GFSK transmitter, carrier and
/// clock offsets, noise, DC spike, 8-bit quantisation, block-by-block input.
@Suite struct LE1MTests {
    typealias Trial = BLEPacketTrial

    static func trial(count: Int, snrDB: Double, maxOffsetHz: Double, maxPPM: Double, sampleRateHz: Double = 2.4e6) -> Trial {
        BLEPacketTrial(count: count, snrDB: snrDB, maxOffsetHz: maxOffsetHz, maxPPM: maxPPM, sampleRateHz: sampleRateHz)
    }

    static func receive(_ samples: [IQSample], sampleRateHz: Double = 2.4e6, channel: Int = 37, chunk: Int = 65536,
                        receive1M: Bool = true) -> (packets: [BLEReceiver.Packet], counters: BLEReceiver.Counters) {
        let receiver = BLEReceiver(sampleRateHz: sampleRateHz, channel: channel, receive1M: receive1M)!
        var packets: [BLEReceiver.Packet] = []
        var k = 0
        while k < samples.count {
            let end = min(samples.count, k + chunk)
            packets += samples[k..<end].withUnsafeBufferPointer { receiver.process($0) }
            k = end
        }
        return (packets + receiver.finish(), receiver.counters)
    }

    static func rate(_ trial: Trial, _ packets: [BLEReceiver.Packet]) -> Double {
        trial.decodeRate(packets.map { ($0.sampleIndex, $0.pdu) })
    }

    @Test func fastAtan2AgreesWithLibm() {
        var worst: Float = 0
        for a in stride(from: -3.14159, through: 3.14159, by: 0.001) {
            for r in [1e-6, 0.01, 1, 1000] as [Float] {
                let y = r * Float(sin(a)), x = r * Float(cos(a))
                worst = max(worst, abs(fastAtan2(y, x) - atan2(y, x)))
            }
        }
        #expect(worst < 3e-4)
        #expect(fastAtan2(0, 0) == 0)
    }

    @Test func blockFrontEndAgreesWithReference() {
        // Odd block sizes, so the carried filter and smoothing tails are exercised.
        let trial = Self.trial(count: 3, snrDB: 12, maxOffsetHz: 100e3, maxPPM: 50)
        let samples = cu8RoundTrip(trial.scene.render())
        let taps = BLEReceiver.lowPass(cutoffHz: 850e3, sampleRateHz: 2.4e6)
        var fast = GFSKDiscriminator(taps: taps, smoothing: 2)
        var plain = GFSKDiscriminator(taps: taps, smoothing: 2)
        let reference = plain.processReference(samples)
        var values = [Float](repeating: 0, count: samples.count), power = values
        var k = 0, size = 1
        while k < samples.count {
            let end = min(samples.count, k + size)
            samples[k..<end].withUnsafeBufferPointer { block in
                values[k..<end].withUnsafeMutableBufferPointer { v in
                    power[k..<end].withUnsafeMutableBufferPointer { p in fast.process(block, values: v, power: p) }
                }
            }
            k = end
            size = size * 3 + 1
        }
        var worstAngle: Float = 0, worstPower: Float = 0
        for n in samples.indices {
            worstAngle = max(worstAngle, abs(values[n] - reference.values[n]))
            worstPower = max(worstPower, abs(power[n] - reference.power[n]))
        }
        #expect(worstAngle < 5e-4)  // the polynomial atan2 against libm
        #expect(worstPower < 1e-6)
    }

    @Test func decodesTheGoldenVectorExactly() throws {
        // The link-layer golden vector of the reference notes: its on-air bytes on channel 37.
        let pdu: [UInt8] = [0x42, 0x25, 0x55, 0x44, 0x33, 0x22, 0x11, 0xC0, 0x1E, 0x16, 0xFA, 0xFF, 0x0D, 0x07, 0x12,
                            0x26, 0x24, 0x16, 0x0A, 0x42, 0xBF, 0x24, 0x1B, 0x6E, 0xD1, 0xB4, 0xB6, 0x98, 0x08, 0xAC,
                            0x08, 0x70, 0x08, 0x6B, 0x53, 0x15, 0x0E, 0x02, 0x00]
        let air = BLE.airBytes1M(pdu: pdu, channel: 37)
        #expect(Array(air.prefix(12)) == [0xAA, 0xD6, 0xBE, 0x89, 0x8E, 0xCF, 0xF7, 0x02, 0xE5, 0x0E, 0x85, 0x77])
        let bits = GFSKModulator.bitsLSBFirst(air)
        let scene = Scene(sampleRateHz: 2.4e6, centerFrequencyHz: 2402e6, durationS: 4e-3, noiseDBFS: -40,
                          bursts: [Scene.Burst(startS: 2e-3, durationS: Double(bits.count) / 1e6, offsetHz: 0,
                                               modulation: .gfsk(bits: bits, symbolRateHz: 1e6), snrDB: 30, label: "")])
        let (packets, counters) = Self.receive(scene.render(), sampleRateHz: 2.4e6)
        #expect(packets.count == 1 && counters.badCRC == 0)
        let packet = try #require(packets.first)
        #expect(packet.pdu == pdu)
        #expect(packet.crc == 0x0CF401)
        #expect(abs(Int(packet.sampleIndex) - 4800) <= 3)
        #expect(abs(packet.carrierOffsetHz) < 15_000)
        #expect(abs(packet.snrDB - 30) < 2)
    }

    @Test(arguments: [(2.4e6, 14.0, 0.99), (2.4e6, 11.0, 0.90), (2.048e6, 11.0, 0.90), (2.0e6, 14.0, 0.97), (2.56e6, 11.0, 0.90), (3.2e6, 14.0, 0.99)])
    func decodesImpairedPackets(sampleRateHz: Double, snrDB: Double, wanted: Double) {
        let trial = Self.trial(count: 300, snrDB: snrDB, maxOffsetHz: 100e3, maxPPM: 50, sampleRateHz: sampleRateHz)
        let samples = cu8RoundTrip(trial.scene.render())
        let (packets, _) = Self.receive(samples, sampleRateHz: sampleRateHz)
        let rate = Self.rate(trial, packets)
        print("LE 1M at \(sampleRateHz / 1e6) MS/s, \(snrDB) dB: \(rate * 100) % of \(trial.sent.count)")
        #expect(rate >= wanted)
        #expect(packets.count <= trial.sent.count)
    }

    @Test func carrierOffsetIsMeasured() throws {
        for offsetHz in [-120e3, -60e3, 45e3, 140e3] {
            let bits = GFSKModulator.bitsLSBFirst(BLE.airBytes1M(pdu: [0x42, 0x06, 1, 2, 3, 4, 5, 6], channel: 38))
            let scene = Scene(sampleRateHz: 2.4e6, centerFrequencyHz: 2426e6, durationS: 5e-4, noiseDBFS: -40,
                              bursts: [Scene.Burst(startS: 1e-4, durationS: Double(bits.count) / 1e6, offsetHz: offsetHz,
                                                   modulation: .gfsk(bits: bits, symbolRateHz: 1e6), snrDB: 25, label: "")])
            let packet = try #require(Self.receive(scene.render(), sampleRateHz: 2.4e6, channel: 38).packets.first)
            #expect(abs(packet.carrierOffsetHz - offsetHz) < 15_000, "\(offsetHz): \(packet.carrierOffsetHz)")
        }
    }

    @Test func sameResultForAnyChunking() {
        let trial = Self.trial(count: 40, snrDB: 12, maxOffsetHz: 100e3, maxPPM: 50)
        let samples = cu8RoundTrip(trial.scene.render())
        let reference = Self.receive(samples, sampleRateHz: 2.4e6, chunk: samples.count)
        #expect(reference.packets.count >= 36)
        for chunk in [1, 7, 1000, 4096, 77777] {
            let other = Self.receive(samples, sampleRateHz: 2.4e6, chunk: chunk)
            #expect(other.packets == reference.packets, "chunk \(chunk)")
            #expect(other.counters == reference.counters, "chunk \(chunk)")
        }
    }

    @Test func noPacketsFromNoise() {
        // 20 s of noise with a DC spike, quantised: every sync attempt must fail the CRC.
        let scene = Scene.noiseOnly(seed: 99, durationS: 20, sampleRateHz: 2.4e6)
        let (packets, counters) = Self.receive(cu8RoundTrip(scene.render()), sampleRateHz: 2.4e6)
        #expect(packets.isEmpty)
        print("noise: \(counters.syncs) sync matches, none valid")
    }

    @Test func hostileSamples() {
        #expect(BLEReceiver(sampleRateHz: 1e6, channel: 37) == nil)
        #expect(BLEReceiver(sampleRateHz: 2.4e6, channel: 40) == nil)
        let receiver = BLEReceiver(sampleRateHz: 2.4e6, channel: 37)!
        let zeros = [IQSample](repeating: .zero, count: 100_000)
        let nan = [IQSample](repeating: IQSample(i: .nan, q: .infinity), count: 100_000)
        let huge = (0..<100_000).map { IQSample(i: Float($0 % 7) * 1e30, q: -1e30) }
        #expect(receiver.process(zeros).isEmpty)
        #expect(receiver.process(nan).isEmpty)
        #expect(receiver.process(huge).isEmpty)
        #expect(receiver.process([]).isEmpty)
    }
}
