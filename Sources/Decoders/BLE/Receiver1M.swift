import Foundation
import IQ
import Spectrum

/// Bluetooth LE 1M advertising receiver for one channel's complex baseband (≥ 2 samples per symbol,
/// the channel centred within ±150 kHz).
///
/// ```
/// on air:  preamble 0xAA | access address D6 BE 89 8E | PDU (2-byte header, ≤ 255 bytes) | CRC-24
///          1 Msym/s GFSK, h ≈ 0.5 (±250 kHz), bit 1 = frequency up, bytes LSB first
/// example: ADV_NONCONN_IND with a Remote ID Location on channel 37 —
///          aa d6 be 89 8e cf f7 02 e5 0e 85 … (BLE.airBytes1M of the link-layer golden vector)
/// ```
/// Method: DC removal; a ±850 kHz channel filter (the best of 0.55–1 MHz in the impaired-packet
/// tests); an FM discriminator, the angle of the phase-step products summed over about a symbol.
/// Every sample is a candidate start, sliced at the 40 known preamble + access-address bits against
/// their window mean (which follows the carrier offset), allowing `maxSyncErrors` mismatches. A hit
/// is refined to a quarter sample by correlation, the carrier offset is the midpoint of the sync
/// bits' two levels, and the rest of the packet is sliced at that timing; CRC-24 decides.
/// Decisions depend only on absolute sample positions, so the output is the same whatever the
/// input block sizes.
public final class BLE1MReceiver {
    public struct Packet: Equatable, Sendable {
        /// Absolute index of the first preamble sample.
        public var sampleIndex: Int64
        public var channel: Int
        /// De-whitened PDU, CRC checked and removed.
        public var pdu: [UInt8]
        public var crc: UInt32
        public var carrierOffsetHz: Double
        /// Mean power over the packet, dB relative to full scale.
        public var rssiDBFS: Double
        /// Signal power over the noise power in 2 MHz around the channel (99 before the first noise
        /// estimate, 1024 samples in).
        public var snrDB: Double
    }

    public struct Counters: Equatable, Sendable {
        /// Access-address matches that were followed up.
        public var syncs = 0
        public var badCRC = 0
        public var packets = 0
    }

    public let sampleRateHz: Double
    public let channel: Int
    public let samplesPerSymbol: Double
    public var maxSyncErrors = 2
    public private(set) var counters = Counters()

    static let syncBits: [Float] = {
        let bytes: [UInt8] = [0xAA, 0xD6, 0xBE, 0x89, 0x8E]
        return bytes.flatMap { b in (0..<8).map { b >> $0 & 1 == 1 ? Float(1) : -1 } }
    }()
    static let syncOnes = Float(syncBits.filter { $0 > 0 }.count)
    let syncOffsets: [Int]

    // Smoothed discriminator and power from absolute sample `base` on; `cumulative[i]` is the sum of
    // every smoothed value before buffer position i, for the window means.
    var smoothed: [Float] = []
    var power: [Float] = []
    var cumulative: [Double] = [0]
    var base: Int64 = 0
    var nextCandidate: Int64 = 0
    var frontEnd: GFSKDiscriminator
    // Noise power per sample, tracked as the quietest 1024-sample stretch with a slow rise; the
    // estimate after each stretch is kept so a packet uses the one its own end saw, whatever the
    // block sizes. `noiseHistory[j]` follows stretch `noiseHistoryFirst + j`.
    static let stretchLength = 1024
    var noisePower: Double = 0
    var stretchPower: Double = 0
    var stretchCount = 0
    var noiseHistory: [Double] = []
    var noiseHistoryFirst: Int64 = 0

    /// nil below 1.9 MS/s (LE 1M needs about 2 samples per symbol) or for a channel outside 0…39.
    public init?(sampleRateHz: Double, channel: Int) {
        guard sampleRateHz >= 1.9e6, sampleRateHz.isFinite, (0...39).contains(channel) else { return nil }
        self.sampleRateHz = sampleRateHz
        self.channel = channel
        samplesPerSymbol = sampleRateHz / 1e6
        syncOffsets = (0..<40).map { Int((Double($0) * sampleRateHz / 1e6).rounded()) }
        frontEnd = GFSKDiscriminator(taps: Self.lowPass(cutoffHz: 850e3, sampleRateHz: sampleRateHz),
                                     smoothing: max(2, Int(samplesPerSymbol.rounded())))
    }

    /// The channel filter: a windowed-sinc low-pass about 3 symbols long.
    static func lowPass(cutoffHz: Double, sampleRateHz: Double) -> [Float] {
        FIRDesign.lowpass(cutoff: cutoffHz / sampleRateHz, transition: 0.1, attenuationDB: 58,
                          taps: Int(3 * sampleRateHz / 1e6) | 1)
    }

    /// Feeds the next block of samples (contiguous with the previous one) and returns the packets
    /// that completed in it.
    public func process(_ samples: UnsafeBufferPointer<IQSample>) -> [Packet] {
        append(samples)
        var packets: [Packet] = []
        scan(into: &packets)
        compact()
        return packets
    }

    public func process(_ samples: [IQSample]) -> [Packet] {
        samples.withUnsafeBufferPointer { process($0) }
    }

    /// Runs the front end over a block and extends the buffers the scan reads.
    func append(_ samples: UnsafeBufferPointer<IQSample>) {
        let n = samples.count
        let firstNew = smoothed.count
        smoothed.append(contentsOf: repeatElement(0, count: n))
        power.append(contentsOf: repeatElement(0, count: n))
        smoothed.withUnsafeMutableBufferPointer { values in
            power.withUnsafeMutableBufferPointer { power in
                frontEnd.process(samples, values: UnsafeMutableBufferPointer(rebasing: values[firstNew...]),
                                 power: UnsafeMutableBufferPointer(rebasing: power[firstNew...]))
            }
        }
        // Prefix sums for the window means, and the noise tracker; state in locals, since class
        // properties pay an exclusivity check on every access.
        var sums: [Double] = []
        swap(&sums, &cumulative)
        var total = sums[sums.count - 1]
        sums.reserveCapacity(sums.count + n)
        var stretchSum = stretchPower, stretchFill = stretchCount, noise = noisePower
        var history: [Double] = []
        swap(&history, &noiseHistory)
        smoothed.withUnsafeBufferPointer { values in
            power.withUnsafeBufferPointer { power in
                for k in firstNew..<(firstNew + n) {
                    total += Double(values[k])
                    sums.append(total)
                    stretchSum += Double(power[k])
                    stretchFill += 1
                    if stretchFill == Self.stretchLength {
                        let mean = stretchSum / Double(Self.stretchLength)
                        noise = noise == 0 || mean < noise ? mean : noise * 1.002
                        history.append(noise)
                        stretchSum = 0
                        stretchFill = 0
                    }
                }
            }
        }
        swap(&sums, &cumulative)
        swap(&history, &noiseHistory)
        stretchPower = stretchSum
        stretchCount = stretchFill
        noisePower = noise
    }

    /// Linear interpolation of the smoothed discriminator at a fractional buffer position.
    @inline(__always)
    func value(at position: Double) -> Float {
        let k = Int(position.rounded(.down))
        let f = Float(position - Double(k))
        return smoothed[k] + f * (smoothed[k + 1] - smoothed[k])
    }

    func scan(into packets: inout [Packet]) {
        let sps = samplesPerSymbol
        let halfWindow = Int(sps / 2 + 1)
        let syncSpan = syncOffsets[39]
        var c = Int(nextCandidate - base)
        let count = smoothed.count
        let limit = count - (syncSpan + halfWindow + 4)
        c = max(c, halfWindow + 2)
        while c < limit {
            guard let hit = coarseSync(from: c, to: limit, halfWindow: halfWindow) else { c = limit; break }
            c = hit
            // Fine: best quarter-sample timing from −1 to +3 samples.
            var bestStart = Double(c), bestScore = -Float.infinity
            for quarter in -4...12 {
                let start = Double(c) + Double(quarter) / 4
                var score: Float = 0
                for k in 0..<40 { score += Self.syncBits[k] * value(at: start + Double(k) * sps) }
                if score > bestScore { bestScore = score; bestStart = start }
            }
            switch decode(start: bestStart) {
            case .needMoreSamples:
                nextCandidate = base + Int64(c)
                return
            case .bad:
                counters.syncs += 1
                counters.badCRC += 1
                c += 4
            case .good(let packet, let end):
                counters.syncs += 1
                counters.packets += 1
                packets.append(packet)
                c = max(c + 1, end)
            }
        }
        nextCandidate = base + Int64(c)
    }

    /// The first candidate in `first..<limit` whose 40 sync bits, sliced against their window
    /// mean, show at most `maxSyncErrors` mismatches. Runs at every sample, so it works on raw
    /// buffers and gives up on a candidate at its first excess error.
    func coarseSync(from first: Int, to limit: Int, halfWindow: Int) -> Int? {
        let maxErrors = maxSyncErrors, syncSpan = syncOffsets[39]
        return smoothed.withUnsafeBufferPointer { values in
            cumulative.withUnsafeBufferPointer { sums in
                syncOffsets.withUnsafeBufferPointer { offsets in
                    Self.syncBits.withUnsafeBufferPointer { bits in
                        let width = Double(syncSpan + 2 * halfWindow)
                        for c in first..<limit {
                            let mean = Float((sums[c + syncSpan + halfWindow] - sums[c - halfWindow]) / width)
                            // The first 16 bits without branches (noise rarely passes them), then the rest.
                            var errors = 0
                            for k in 0..<16 { errors += (values[c + offsets[k]] > mean) != (bits[k] > 0) ? 1 : 0 }
                            if errors > maxErrors { continue }
                            for k in 16..<40 where (values[c + offsets[k]] > mean) != (bits[k] > 0) {
                                errors += 1
                                if errors > maxErrors { break }
                            }
                            if errors <= maxErrors { return c }
                        }
                        return nil
                    }
                }
            }
        }
    }

    enum Outcome {
        case needMoreSamples
        case bad
        case good(Packet, end: Int)
    }

    /// Slices the packet whose first preamble bit is centred at buffer position `start`.
    func decode(start: Double) -> Outcome {
        let sps = samplesPerSymbol
        // Carrier offset: halfway between the mean "1" and the mean "0" of the sync bits, which stays
        // unbiased although the access address has more ones than zeros.
        var sumOnes: Float = 0, sumZeros: Float = 0
        for k in 0..<40 {
            let v = value(at: start + Double(k) * sps)
            if Self.syncBits[k] > 0 { sumOnes += v } else { sumZeros += v }
        }
        let offset = 0.5 * (sumOnes / Self.syncOnes + sumZeros / (40 - Self.syncOnes))
        let lastNeeded: (Int) -> Double = { bits in start + Double(bits) * sps + 2 }
        func byte(_ index: Int) -> UInt8 {
            var b: UInt8 = 0
            for bit in 0..<8 where value(at: start + Double(40 + index * 8 + bit) * sps) > offset { b |= 1 << bit }
            return b
        }
        guard lastNeeded(56) < Double(smoothed.count) else { return .needMoreSamples }
        var header = [byte(0), byte(1)]
        BLE.whiten(&header, channel: channel)
        let totalBytes = 2 + Int(header[1]) + 3
        guard lastNeeded(40 + totalBytes * 8) < Double(smoothed.count) else { return .needMoreSamples }
        var body = (0..<totalBytes).map(byte)
        BLE.whiten(&body, channel: channel)
        guard case .success(let pdu) = BLE.checkCRC(body[...]) else { return .bad }

        let first = Int((start - sps / 2).rounded())
        let end = Int((start + Double(40 + totalBytes * 8) * sps).rounded())
        var packetPower = 0.0
        for k in max(0, first)..<end { packetPower += Double(power[k]) }
        packetPower /= Double(max(1, end - max(0, first)))
        let lastStretch = (base + Int64(end)) / Int64(Self.stretchLength) - 1 - noiseHistoryFirst
        let noise = lastStretch >= 0 && lastStretch < noiseHistory.count ? noiseHistory[Int(lastStretch)] : 0
        let noiseIn2MHz = noise * 2e6 / sampleRateHz
        let signal = max(packetPower - noise, 1e-20)
        let crcBytes = body.suffix(3)
        let packet = Packet(
            sampleIndex: max(0, base + Int64(first) - Int64(frontEnd.taps.count / 2)), channel: channel, pdu: Array(pdu),
            crc: UInt32(crcBytes[crcBytes.startIndex]) | UInt32(crcBytes[crcBytes.startIndex + 1]) << 8
                | UInt32(crcBytes[crcBytes.startIndex + 2]) << 16,
            carrierOffsetHz: Double(offset) * sampleRateHz / (2 * Double.pi),
            rssiDBFS: 10 * log10(max(packetPower, 1e-20)),
            snrDB: noiseIn2MHz > 0 ? 10 * log10(signal / noiseIn2MHz) : 99)
        return .good(packet, end: end)
    }

    /// Drops what no future candidate can use.
    func compact() {
        let keepFrom = Int(nextCandidate - base) - Int(samplesPerSymbol + 8)
        guard keepFrom > 65_536 else { return }
        smoothed.removeFirst(keepFrom)
        power.removeFirst(keepFrom)
        // The prefix sums stay absolute (not rebased), so no value depends on when this ran.
        cumulative.removeFirst(keepFrom)
        base += Int64(keepFrom)
        let dropStretches = Int(base / Int64(Self.stretchLength) - 1 - noiseHistoryFirst)
        if dropStretches > 0 {
            noiseHistory.removeFirst(min(dropStretches, noiseHistory.count))
            noiseHistoryFirst += Int64(dropStretches)
        }
    }
}
