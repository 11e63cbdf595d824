import Foundation
import IQ
import Synth
import TestSupport
import Testing
@testable import BLE

/// Wideband BLE: a 4–40 MS/s capture split into every BLE channel in band, one receiver each, packets
/// placed back in the wideband stream. Inputs as a HackRF records them: cs8, DC spike, several
/// transmitters at once on adjacent channels.
@Suite struct WidebandTests {
    typealias Packet = WidebandBLEReceiver.Packet

    static func cs8(_ samples: [IQSample]) -> [IQSample] { SampleConverter(format: .cs8).roundTrip(samples) }

    /// Feeds `samples` in blocks of `chunk` (a sequence of sizes, cycled), the first at `firstSampleIndex`.
    static func receive(_ samples: [IQSample], sampleRateHz: Double = 20e6, centerFrequencyHz: Double = 2426e6,
                        chunks: [Int] = [65536], firstSampleIndex: Int64 = 0,
                        receiverRateHz: Double? = nil) throws -> ([Packet], WidebandBLEReceiver) {
        let receiver = try WidebandBLEReceiver(sampleRateHz: sampleRateHz, centerFrequencyHz: centerFrequencyHz, usableBandwidthHz: nil,
                                               receiverRateHz: receiverRateHz)
        var packets: [Packet] = []
        var block = IQBlock()
        var k = 0, c = 0
        while k < samples.count {
            let end = min(samples.count, k + chunks[c % chunks.count])
            block.samples.removeAll(keepingCapacity: true)
            block.samples.append(contentsOf: samples[k..<end])
            block.firstSampleIndex = firstSampleIndex + Int64(k)
            receiver.process(block, into: &packets)
            k = end
            c += 1
        }
        receiver.finish(into: &packets)
        return (packets, receiver)
    }

    static func received(_ packets: [Packet]) -> [(sampleIndex: Int64, channel: Int, pdu: [UInt8])] {
        packets.map { ($0.sampleIndex, $0.channel, $0.packet.pdu) }
    }

    @Test func channelPlans() throws {
        let hackRF = try WidebandBLEReceiver(sampleRateHz: 20e6, centerFrequencyHz: 2426e6)
        #expect(hackRF.channels == [7, 8, 9, 10, 38, 11, 12, 13, 14])
        #expect(hackRF.method == .filterBank(bins: 20, decimation: 9, inputShiftHz: 0))
        #expect(hackRF.receiverRateHz == 20e6 / 9)
        // Centre between two channels: the band edges (±9 MHz) hold channels 7 and 15.
        #expect(try WidebandBLEReceiver(sampleRateHz: 20e6, centerFrequencyHz: 2427e6).channels.count == 10)
        // Off the 1 MHz grid: the input is shifted onto it first.
        let offGrid = try WidebandBLEReceiver(sampleRateHz: 20e6, centerFrequencyHz: 2440.3e6)
        #expect(offGrid.method == .filterBank(bins: 20, decimation: 9, inputShiftHz: -300e3))
        #expect(offGrid.channels == Array(13...21))
        // 4 MS/s: no decimation gives 2.1–2.45 MS/s, so the 2 MS/s bins are resampled to 2.4 MS/s.
        let narrow = try WidebandBLEReceiver(sampleRateHz: 4e6, centerFrequencyHz: 2402e6)
        #expect(narrow.channels == [37] && narrow.method == .filterBank(bins: 4, decimation: 2, inputShiftHz: 0))
        #expect(narrow.receiverRateHz == 2.4e6)
        #expect(try WidebandBLEReceiver(sampleRateHz: 12e6, centerFrequencyHz: 2426e6).receiverRateHz == 2.4e6)
        #expect(try WidebandBLEReceiver(sampleRateHz: 40e6, centerFrequencyHz: 2441e6).channels.count == 20)
        // A rate that is not an even number of MHz: one filter per channel.
        let odd = try WidebandBLEReceiver(sampleRateHz: 10.24e6, centerFrequencyHz: 2426e6)
        #expect(odd.method == .perChannel(decimation: 5) && odd.channels == [9, 10, 38, 11, 12])
        #expect(odd.receiverRateHz == 2.4e6)
        // A narrower usable band keeps away from the anti-alias filter's edges.
        #expect(WidebandBLEReceiver.channelsInBand(sampleRateHz: 20e6, centerFrequencyHz: 2426e6, usableBandwidthHz: 15e6)
                == [8, 9, 10, 38, 11, 12, 13])
    }

    @Test func resamplerAgreesWithItsReferenceInAnyChunking() {
        // 2 → 2.4 MS/s (the filter bank's bins) and 2.048 → 2.4 MS/s (10.24 MS/s decimated by 5).
        var rng = Xoshiro256(seed: 30)
        let input = (0..<20_000).map { _ in let (a, b) = rng.gaussianPair(); return IQSample(i: a, q: b) }
        for (inRate, cutoff) in [(2e6, 975e3), (2.048e6, 700e3)] {
            let resampler = ChannelResampler(inputRateHz: inRate, outputRateHz: 2.4e6, cutoffHz: cutoff, transitionHz: 450e3)
            let reference = ChannelResampler.reference(input, inputRateHz: inRate, outputRateHz: 2.4e6, prototype: resampler.prototype)
            #expect(abs(Double(reference.count) - Double(input.count) * 2.4e6 / inRate) <= 2)
            for sizes in [[input.count], [1], [7, 1000, 3], [4096]] {
                resampler.reset()
                var out: [IQSample] = [], piece: [IQSample] = []
                var k = 0, c = 0
                while k < input.count {
                    let end = min(input.count, k + sizes[c % sizes.count])
                    input[k..<end].withUnsafeBufferPointer { resampler.process($0, into: &piece) }
                    out += piece
                    k = end
                    c += 1
                }
                #expect(out.count == reference.count, "\(inRate) \(sizes)")
                let worst = zip(out, reference).map { max(abs($0.i - $1.i), abs($0.q - $1.q)) }.max() ?? 0
                #expect(worst < 1e-4, "\(inRate) \(sizes): \(worst)")
            }
        }
        // A tone keeps its amplitude through the passband and vanishes in the stop band.
        let resampler = ChannelResampler(inputRateHz: 2e6, outputRateHz: 2.4e6, cutoffHz: 975e3, transitionHz: 450e3)
        #expect(resampler.tapsPerPhase == 16)
        #expect(abs(resampler.powerGain(atHz: 0) - 1) < 1e-3)
        #expect(abs(10 * log10(resampler.powerGain(atHz: 700e3))) < 0.1)
        #expect(10 * log10(resampler.powerGain(atHz: 1.2e6)) < -45)
    }

    @Test func refusesWhatItCannotReceive() {
        func error(_ rate: Double, _ centre: Double) -> WidebandBLEError? {
            do { _ = try WidebandBLEReceiver(sampleRateHz: rate, centerFrequencyHz: centre); return nil } catch { return error }
        }
        #expect(error(2.4e6, 2426e6) == .sampleRateOutOfRange(sampleRateHz: 2.4e6))
        #expect(error(3.99e6, 2426e6) == .sampleRateOutOfRange(sampleRateHz: 3.99e6))
        #expect(error(61.44e6, 2441e6) == .sampleRateOutOfRange(sampleRateHz: 61.44e6))
        #expect(error(.nan, 2426e6) != nil)
        #expect(error(20e6, .infinity) == .invalidCenterFrequency(.infinity))
        #expect(error(20e6, 915e6) == .noChannelInBand(centerFrequencyHz: 915e6, sampleRateHz: 20e6, usableBandwidthHz: 20e6))
        // 2490 MHz ± 10 MHz reaches channel 39's centre but not its lower half.
        #expect(error(20e6, 2490e6) != nil)
        for e in [error(2.4e6, 2426e6), error(20e6, 915e6), error(20e6, -1)] {
            let text = e.map(String.init(describing:)) ?? ""
            #expect(!text.isEmpty && !text.contains("\n"), "\(text)")
        }
    }

    @Test(arguments: [(14.0, 0.99), (11.0, 0.90)])
    func decodesEveryChannelAt20MSps(snrDB: Double, wanted: Double) throws {
        // 900 packets, 100 on each of the 9 channels, 3 at once on adjacent channels.
        let trial = BLEWidebandTrial(count: 900, snrDB: snrDB, maxOffsetHz: 100e3, maxPPM: 50, seed: 20)
        let (packets, receiver) = try Self.receive(Self.cs8(trial.scene.render()))
        let received = Self.received(packets)
        let rate = trial.decodeRate(received)
        let perChannel = trial.channels.map { (channel: $0, rate: trial.decodeRate(received, channel: $0)) }
        print("wideband 20 MS/s, \(snrDB) dB: \(rate * 100) % of \(trial.sent.count); per channel "
              + perChannel.map { "\($0.channel): \(Int(($0.rate * 100).rounded())) %" }.joined(separator: ", "))
        #expect(rate >= wanted)
        // No channel is left behind: each within a few packets of the target.
        #expect(perChannel.allSatisfy { $0.rate >= wanted - 0.07 }, "\(perChannel)")
        #expect(packets.count <= trial.sent.count)
        #expect(receiver.lateReleases == 0)
    }

    @Test func decodesLongRangePacksAt4dB() throws {
        // Coded S=8 Remote ID-sized packs on all 9 channels of a 20 MS/s capture, 3 at once on
        // adjacent channels, at 4 dB in 2 MHz.
        let trial = BLEWidebandTrial(count: 135, snrDB: 4, maxOffsetHz: 100e3, maxPPM: 50, seed: 31, phy: .codedS8)
        let (packets, _) = try Self.receive(Self.cs8(trial.scene.render()))
        let rate = trial.decodeRate(Self.received(packets))
        #expect(rate >= 0.9, "\(rate)")
        #expect(packets.allSatisfy { $0.packet.phy == .codedS8 })
    }

    @Test func packetsSitAtTheirChannelTimeAndFrequency() throws {
        let trial = BLEWidebandTrial(count: 180, snrDB: 20, maxOffsetHz: 100e3, maxPPM: 50, seed: 21)
        let (packets, _) = try Self.receive(Self.cs8(trial.scene.render()))
        #expect(packets.count == trial.sent.count)
        var worstIndex = 0, worstFrequency = 0.0, snrError = 0.0
        for p in packets {
            let sent = try #require(trial.sent.first { $0.pdu == p.packet.pdu })
            #expect(p.channel == sent.channel)
            worstIndex = max(worstIndex, abs(Int(p.sampleIndex) - sent.startSample))
            worstFrequency = max(worstFrequency, abs(p.frequencyHz - (BLE.frequencyHz(channel: sent.channel)! + sent.carrierOffsetHz)))
            snrError += p.packet.snrDB - 20
        }
        snrError /= Double(max(1, packets.count))
        print("wideband placement: worst index error \(worstIndex) samples, worst frequency error \(worstFrequency) Hz, "
              + "mean SNR error \(snrError) dB")
        #expect(worstIndex <= 20)  // 1 µs at 20 MS/s: half a sample of the 2 MS/s channel stream and rounding
        #expect(worstFrequency < 15_000)
        #expect(abs(snrError) < 1.5)
        // Released in stream order.
        #expect(zip(packets, packets.dropFirst()).allSatisfy { ($0.sampleIndex, $0.channel) < ($1.sampleIndex, $1.channel) })
    }

    /// Also for the bins at 2 MS/s fed to the receivers as they are or resampled to 2.4 MS/s, and for
    /// the per-channel filters of a rate off the 1 MHz grid.
    @Test(arguments: [(20e6, nil), (20e6, 2e6), (20e6, 2.4e6), (10.24e6, nil)] as [(Double, Double?)])
    func sameResultForAnyChunking(sampleRateHz: Double, receiverRateHz: Double?) throws {
        let trial = BLEWidebandTrial(count: 72, snrDB: 13, maxOffsetHz: 100e3, maxPPM: 50, sampleRateHz: sampleRateHz, seed: 22)
        let samples = Self.cs8(trial.scene.render())
        let (reference, referenceReceiver) = try Self.receive(samples, sampleRateHz: sampleRateHz, chunks: [samples.count],
                                                              receiverRateHz: receiverRateHz)
        #expect(reference.count >= 60)
        for chunks in [[7], [1000], [4096], [77777], [1, 3, 10, 999, 65536, 12345]] {
            let (other, receiver) = try Self.receive(samples, sampleRateHz: sampleRateHz, chunks: chunks, receiverRateHz: receiverRateHz)
            #expect(other == reference, "chunks \(chunks)")
            #expect(receiver.channelCounters.map(\.counters) == referenceReceiver.channelCounters.map(\.counters), "chunks \(chunks)")
        }
        guard sampleRateHz == 20e6, receiverRateHz == nil else { return }
        // A stream that does not start at index 0 gives the same packets, shifted (by a multiple of the
        // decimation, 9, so the channel grid is the same).
        let (shifted, _) = try Self.receive(samples, chunks: [50000], firstSampleIndex: 999_999)
        #expect(shifted.map { $0.sampleIndex - 999_999 } == reference.map(\.sampleIndex))
        #expect(shifted.map(\.packet.pdu) == reference.map(\.packet.pdu))
    }

    @Test func offGridCentreAndOtherRates() throws {
        // (rate, centre): centre 300 kHz off the grid (input shift); 10.24 MS/s and 25 MS/s (one filter per channel).
        for (rateHz, centreHz) in [(20e6, 2440.3e6), (10.24e6, 2426e6), (25e6, 2426e6)] {
            let trial = BLEWidebandTrial(count: 150, snrDB: 14, maxOffsetHz: 100e3, maxPPM: 50, sampleRateHz: rateHz,
                                         centerFrequencyHz: centreHz, seed: 23)
            let (packets, receiver) = try Self.receive(Self.cs8(trial.scene.render()), sampleRateHz: rateHz, centerFrequencyHz: centreHz)
            let rate = trial.decodeRate(Self.received(packets))
            print("wideband \(rateHz / 1e6) MS/s at \(centreHz / 1e6) MHz (\(receiver.method)): \(rate * 100) % at 14 dB")
            #expect(rate >= 0.97, "\(rateHz) at \(centreHz)")
            #expect(packets.count <= trial.sent.count)
        }
    }

    @Test func bandEdgesAndAliases() throws {
        // Centred between channels, the outermost channels (7 at −9 MHz, 15 at +9 MHz) touch the band edge.
        let edges = BLEWidebandTrial(count: 80, snrDB: 14, maxOffsetHz: 100e3, maxPPM: 50, centerFrequencyHz: 2427e6,
                                     channels: [7, 15], perSlot: 2, seed: 24)
        let (packets, _) = try Self.receive(Self.cs8(edges.scene.render()), centerFrequencyHz: 2427e6)
        for channel in [7, 15] {
            #expect(edges.decodeRate(Self.received(packets), channel: channel) >= 0.95, "channel \(channel)")
        }
        // Transmitters at ±11 MHz are outside a 20 MS/s capture; their samples fold onto ∓9 MHz,
        // where channels 15 and 7 are listened for, but they carry the other channel's whitening:
        // nothing may come out, least of all under a wrong channel number.
        let outside = BLEWidebandTrial(count: 60, snrDB: 20, maxOffsetHz: 100e3, maxPPM: 50, centerFrequencyHz: 2427e6,
                                       channels: [6, 16], perSlot: 2, seed: 25)
        let (aliases, receiver) = try Self.receive(Self.cs8(outside.scene.render()), centerFrequencyHz: 2427e6)
        #expect(aliases.isEmpty)
        #expect(receiver.channelCounters.allSatisfy { $0.counters.packets == 0 })
    }

    @Test func noPacketsFromNoise() throws {
        // 3 s of a 20 MS/s band of noise with a DC spike, as cs8: 27 channel-seconds, no CRC-valid packet.
        let receiver = try WidebandBLEReceiver(sampleRateHz: 20e6, centerFrequencyHz: 2426e6)
        var rng = Xoshiro256(seed: 26)
        let sigma: Float = 0.028
        var block = IQBlock(capacity: 1 << 18)
        var packets: [Packet] = []
        var index: Int64 = 0
        var raw = [IQSample](repeating: .zero, count: 1 << 18)
        while index < 60_000_000 {
            for k in raw.indices {
                let (a, b) = rng.gaussianPair()
                raw[k] = IQSample(i: a * sigma + 0.01, q: b * sigma - 0.008)
            }
            block.samples = Self.cs8(raw)
            block.firstSampleIndex = index
            receiver.process(block, into: &packets)
            index += Int64(raw.count)
        }
        receiver.finish(into: &packets)
        #expect(packets.isEmpty)
        let syncs = receiver.channelCounters.reduce(0) { $0 + $1.counters.syncs }
        print("wideband noise: \(syncs) sync matches over \(receiver.channels.count) channels × 3 s, none valid")
    }

    @Test func hostileBlocks() throws {
        let receiver = try WidebandBLEReceiver(sampleRateHz: 20e6, centerFrequencyHz: 2426e6)
        var packets: [Packet] = []
        var block = IQBlock()
        var index: Int64 = 0
        for samples in [[IQSample](repeating: .zero, count: 300_000),
                        [IQSample](repeating: IQSample(i: .nan, q: .infinity), count: 300_000),
                        (0..<300_000).map { IQSample(i: Float($0 % 7) * 1e30, q: -1e30) },
                        [], [IQSample(i: 1, q: 1)], [IQSample](repeating: .zero, count: 300_000)] {
            block.samples = samples
            block.firstSampleIndex = index
            receiver.process(block, into: &packets)
            index += Int64(samples.count)
        }
        receiver.finish(into: &packets)
        #expect(packets.isEmpty)
    }

    @Test func gapsKeepSampleTime() throws {
        // Samples lost in the middle (a dropped block): packets after the gap keep their stream index.
        let trial = BLEWidebandTrial(count: 150, snrDB: 20, maxOffsetHz: 100e3, maxPPM: 50, seed: 27)
        let samples = Self.cs8(trial.scene.render())
        let receiver = try WidebandBLEReceiver(sampleRateHz: 20e6, centerFrequencyHz: 2426e6)
        var packets: [Packet] = []
        var block = IQBlock()
        let gapStart = 200_003, gapEnd = 250_000  // 2.5 ms lost, odd boundaries
        for (start, end, dropped) in [(0, gapStart, Int64(0)), (gapEnd, samples.count, Int64(gapEnd - gapStart))] {
            block.samples = Array(samples[start..<end])
            block.firstSampleIndex = Int64(start)
            block.droppedBefore = dropped
            receiver.process(block, into: &packets)
        }
        receiver.finish(into: &packets)
        let afterGap = trial.sent.filter { $0.startSample > gapEnd + 2000 }
        let found = afterGap.filter { s in packets.contains { $0.packet.pdu == s.pdu && abs(Int($0.sampleIndex) - s.startSample) <= 20 } }
        #expect(afterGap.count > 30 && found.count == afterGap.count)
        let beforeGap = trial.sent.filter { $0.startSample + 9000 < gapStart }
        #expect(beforeGap.allSatisfy { s in packets.contains { $0.packet.pdu == s.pdu && abs(Int($0.sampleIndex) - s.startSample) <= 20 } })
    }
}
