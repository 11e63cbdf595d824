import Foundation
import IQ
import Spectrum

/// Bluetooth LE advertising receiver for one channel's complex baseband (≥ 2 samples per symbol,
/// the channel centred within ±150 kHz): LE 1M and LE Coded (S=8 and S=2) packets from the same
/// front end.
///
/// Method: DC removal; a ±850 kHz channel filter; an FM discriminator, the angle of the
/// phase-step products summed over about a symbol. Two searches then read the discriminator
/// output independently — the LE 1M access-address search (`LE1M.swift`) and the Coded
/// preamble search with Viterbi decoding (`LECoded.swift`) — and CRC-24 decides for both.
/// Decisions depend only on absolute sample positions, so the packets are the same whatever the
/// input block sizes; they come out in order of their first sample.
public final class BLEReceiver {
    public enum PHY: String, Sendable, Equatable, CaseIterable {
        case le1M = "le-1m"
        case codedS8 = "le-coded-s8"
        case codedS2 = "le-coded-s2"
    }

    public struct Packet: Equatable, Sendable {
        /// Absolute index of the first preamble sample.
        public var sampleIndex: Int64
        public var channel: Int
        public var phy: PHY
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
        /// LE 1M access-address matches that were followed up, and those that failed the CRC.
        public var syncs = 0
        public var badCRC = 0
        public var packets = 0
        /// Coded preambles followed up; of those, FEC block 1 without the advertising access
        /// address (mostly noise), then packets failing the CRC.
        public var codedPreambles = 0
        public var codedBadAccessAddress = 0
        public var codedBadCRC = 0
        public var codedPackets = 0

        public init() {}
    }

    public let sampleRateHz: Double
    public let channel: Int
    public let samplesPerSymbol: Double
    public let receives1M: Bool
    public let receivesCoded: Bool
    public internal(set) var counters = Counters()

    // Smoothed discriminator and power from absolute sample `base` on; `cumulative[i]` is the sum of
    // every smoothed value before buffer position i (absolute, never rebased), for window means.
    var smoothed: [Float] = []
    var power: [Float] = []
    var cumulative: [Double] = [0]
    /// The same for the squares, kept only for the Coded search.
    var cumulativeSquares: [Double] = [0]
    var base: Int64 = 0
    var frontEnd: GFSKDiscriminator
    let syncOffsets: [Int]
    var next1M: Int64 = 0
    /// Scratch for the LE 1M search's candidate blocks.
    var syncScratch: [Float] = []
    var coded: CodedSearch
    /// Packets found but not yet released: a search still behind them could find an earlier one.
    var pending: [Packet] = []
    // Noise power per sample, tracked as the quietest 1024-sample stretch with a slow rise; the
    // estimate after each stretch is kept so a packet uses the one its own end saw, whatever the
    // block sizes. `noiseHistory[j]` follows stretch `noiseHistoryFirst + j`.
    static let stretchLength = 1024
    var noisePower: Double = 0
    var stretchPower: Double = 0
    var stretchCount = 0
    var noiseHistory: [Double] = []
    var noiseHistoryFirst: Int64 = 0

    /// nil below 1.9 MS/s (about 2 samples per symbol are needed), for a channel outside 0…39 or
    /// with neither PHY asked for.
    public init?(sampleRateHz: Double, channel: Int, receive1M: Bool = true, receiveCoded: Bool = true) {
        guard sampleRateHz >= 1.9e6, sampleRateHz.isFinite, (0...39).contains(channel),
              receive1M || receiveCoded else { return nil }
        self.sampleRateHz = sampleRateHz
        self.channel = channel
        samplesPerSymbol = sampleRateHz / 1e6
        receives1M = receive1M
        receivesCoded = receiveCoded
        syncOffsets = (0..<40).map { Int((Double($0) * sampleRateHz / 1e6).rounded()) }
        frontEnd = GFSKDiscriminator(taps: Self.lowPass(cutoffHz: 850e3, sampleRateHz: sampleRateHz),
                                     smoothing: max(2, Int(samplesPerSymbol)))
        coded = CodedSearch(samplesPerSymbol: samplesPerSymbol)
    }

    /// The channel filter: a windowed-sinc low-pass about 3 symbols long.
    static func lowPass(cutoffHz: Double, sampleRateHz: Double) -> [Float] {
        FIRDesign.lowpass(cutoff: cutoffHz / sampleRateHz, transition: 0.1, attenuationDB: 58,
                          taps: Int(3 * sampleRateHz / 1e6) | 1)
    }

    /// Feeds the next block of samples (contiguous with the previous one) and returns the packets
    /// that are complete and that no search can precede any more.
    public func process(_ samples: UnsafeBufferPointer<IQSample>) -> [Packet] {
        append(samples)
        if receives1M { scan1M() }
        if receivesCoded { scanCoded() }
        compact()
        return release(before: min(receives1M ? next1M : .max, receivesCoded ? coded.next : .max))
    }

    public func process(_ samples: [IQSample]) -> [Packet] {
        samples.withUnsafeBufferPointer { process($0) }
    }

    /// The packets still held at the end of the stream.
    public func finish() -> [Packet] {
        release(before: .max)
    }

    func release(before position: Int64) -> [Packet] {
        guard !pending.isEmpty else { return [] }
        pending.sort { $0.sampleIndex < $1.sampleIndex }
        // `sampleIndex` is the search position less the filter delay, so compare like with like.
        let limit = position == .max ? position : position - Int64(frontEnd.taps.count / 2)
        let count = pending.firstIndex { $0.sampleIndex >= limit } ?? pending.count
        defer { pending.removeFirst(count) }
        return Array(pending.prefix(count))
    }

    /// Runs the front end over a block and extends the buffers the searches read.
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
        // Prefix sums for the window means, and the noise tracker, written through raw pointers;
        // state in locals, since class properties pay an exclusivity check on every access.
        let firstSum = cumulative.count
        cumulative.append(contentsOf: repeatElement(0, count: n))
        if receivesCoded { cumulativeSquares.append(contentsOf: repeatElement(0, count: n)) }
        var stretchSum = stretchPower, stretchFill = stretchCount, noise = noisePower
        var history: [Double] = []
        swap(&history, &noiseHistory)
        // One loop, so the serial additions of the three running sums overlap.
        smoothed.withUnsafeBufferPointer { values in
            power.withUnsafeBufferPointer { power in
                cumulative.withUnsafeMutableBufferPointer { sums in
                    cumulativeSquares.withUnsafeMutableBufferPointer { squares in
                        var total = sums[firstSum - 1]
                        var totalSquares = receivesCoded ? squares[firstSum - 1] : 0
                        for k in 0..<n {
                            let v = values[firstNew + k]
                            total += Double(v)
                            sums[firstSum + k] = total
                            if receivesCoded {
                                totalSquares += Double(v * v)
                                squares[firstSum + k] = totalSquares
                            }
                            stretchSum += Double(power[firstNew + k])
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
            }
        }
        swap(&history, &noiseHistory)
        stretchPower = stretchSum
        stretchCount = stretchFill
        noisePower = noise
    }

    /// Linear interpolation of the smoothed discriminator (`values`, the buffer's contents) at a
    /// fractional buffer position. The searches read through a raw buffer: on the class's array
    /// every read would pay an exclusivity check.
    @inline(__always)
    static func interpolate(_ values: UnsafeBufferPointer<Float>, at position: Double) -> Float {
        let k = Int(position)  // positions are never negative, so this is the floor without a libm call
        let f = Float(position - Double(k))
        return values[k] + f * (values[k + 1] - values[k])
    }

    /// A packet spanning buffer positions `first..<end`, with its level and SNR measured there.
    func packet(first: Int, end: Int, phy: PHY, pduAndCRC: ArraySlice<UInt8>, pdu: ArraySlice<UInt8>,
                offset: Float) -> Packet {
        let from = max(0, first)
        let packetPower = Double(power[from..<max(from, end)].reduce(0, +)) / Double(max(1, end - from))
        let lastStretch = (base + Int64(end)) / Int64(Self.stretchLength) - 1 - noiseHistoryFirst
        let noise = lastStretch >= 0 && lastStretch < noiseHistory.count ? noiseHistory[Int(lastStretch)] : 0
        let noiseIn2MHz = noise * 2e6 / sampleRateHz
        let signal = max(packetPower - noise, 1e-20)
        let crc = pduAndCRC.suffix(3).reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        return Packet(
            sampleIndex: max(0, base + Int64(first) - Int64(frontEnd.taps.count / 2)), channel: channel, phy: phy,
            pdu: Array(pdu), crc: crc,
            carrierOffsetHz: Double(offset) * sampleRateHz / (2 * Double.pi),
            rssiDBFS: 10 * log10(max(packetPower, 1e-20)),
            snrDB: noiseIn2MHz > 0 ? 10 * log10(signal / noiseIn2MHz) : 99)
    }

    /// Drops what no future candidate can use.
    func compact() {
        let oldest = min(receives1M ? next1M : .max, receivesCoded ? coded.next : .max)
        let keepFrom = Int(oldest - base) - Int(samplesPerSymbol + 8)
        guard keepFrom > 65_536 else { return }
        smoothed.removeFirst(keepFrom)
        power.removeFirst(keepFrom)
        // The prefix sums stay absolute (not rebased), so no value depends on when this ran.
        cumulative.removeFirst(keepFrom)
        if receivesCoded { cumulativeSquares.removeFirst(keepFrom) }
        base += Int64(keepFrom)
        let dropStretches = Int(base / Int64(Self.stretchLength) - 1 - noiseHistoryFirst)
        if dropStretches > 0 {
            noiseHistory.removeFirst(min(dropStretches, noiseHistory.count))
            noiseHistoryFirst += Int64(dropStretches)
        }
    }
}
