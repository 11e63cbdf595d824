import Foundation
import IQ
import Spectrum

/// Bluetooth LE on every RF channel inside a wideband capture (4–40 MS/s, e.g. a HackRF at 20 MS/s).
///
/// ```
/// RF channels:  37 → 2402 MHz | 0…10 → 2404…2424 | 38 → 2426 | 11…36 → 2428…2478 | 39 → 2480; 2 MHz apart
/// 20 MS/s at 2426 MHz sees 2417…2435 MHz whole: channels 7, 8, 9, 10, 38, 11, 12, 13, 14
///
/// fs an even number of MHz (12, 14, … 20, … 40 MS/s):
///   input ─ [DC removal + NCO: off-grid centre onto the 1 MHz grid] ─ polyphase filter bank, M = fs / 1 MHz,
///           decimation D with fs/D in 2.1–2.45 MS/s (20 MS/s: D = 9, 2.22 MS/s)
///         ─┬─ bin of ch 7 ─ receiver
///          ├─ bin of ch 8 ─ receiver
///          └─ …  (the odd bins, between BLE channels, are not used)
/// 4, 6, 8, 10 MS/s: the same bank at D = M/2 (2 MS/s), each bin resampled to 2.4 MS/s
/// any other rate (10.24, 25, 30.72 MS/s …):
///   input ─ per channel: NCO + FIR + decimate by ⌊fs / 2 MHz⌋ ─ shape and resample to 2.4 MS/s ─ receiver
/// ```
/// Each channel is filtered to −6 dB at ±700 kHz and handed to its receiver at 2.1–2.45 samples
/// per symbol, never exactly 2: the LE 1M search decodes 2 samples per symbol well only when the
/// samples fall near symbol centres (at 10 dB, 86 % of packets in the best timing phase, 13 % in
/// the worst), while a little above 2 the phase drifts through every value within a packet, as on
/// the 2.4 MS/s RTL-SDR the receiver was tuned on. (2.5–2.9 are poor again: the discriminator then
/// smooths over 3 samples, more than a symbol.) At 20 MS/s the bins at 2.22 MS/s decode about
/// 0.3 dB worse than the same bins resampled to 2.4 MS/s (92.6 % against 94.3 % at 11 dB), and
/// cost a quarter less (0.56 against 0.75 CPU-seconds per second of input): room on the same core
/// for the burst detector.
///
/// A channel is used when its centre ±1 MHz (the band its packets and their carrier offset occupy)
/// lies inside the captured band, ±fs/2 around the centre, or a narrower `usableBandwidthHz`
/// (a radio whose anti-alias filter eats the band edges).
///
/// Every packet is mapped back to the wideband stream: `sampleIndex` is the absolute input index
/// of its first preamble sample (through the resampler's and the filters' delays), `frequencyHz`
/// the channel's centre plus the measured carrier offset, and `snrDB` is corrected for the noise
/// the channel filter removed, so it keeps meaning signal over noise in 2 MHz. Packets come out in
/// (sampleIndex, channel) order, held back `holdbackS` so every channel has seen that far: the
/// output is the same sequence whatever the block sizes.
public final class WidebandBLEReceiver {
    public typealias ChannelPacket = BLEReceiver.Packet

    public struct Packet: Equatable, Sendable {
        /// The channel receiver's packet, with `sampleIndex` in wideband input samples and `snrDB`
        /// over the noise in 2 MHz.
        public var packet: ChannelPacket
        /// RF of the packet: its channel's centre plus the measured carrier offset.
        public var frequencyHz: Double
        public var channel: Int { packet.channel }
        public var sampleIndex: Int64 { packet.sampleIndex }
    }

    /// How the channels are cut out of the input.
    public enum Method: Equatable, Sendable, CustomStringConvertible {
        /// Polyphase filter bank on a 1 MHz grid (fs an even number of MHz): every BLE channel for
        /// the cost of one filter bank; an NCO first moves an off-grid centre onto the grid.
        case filterBank(bins: Int, decimation: Int, inputShiftHz: Double)
        /// Any other rate: one NCO + low-pass + decimator per channel (costs more per channel).
        case perChannel(decimation: Int)

        public var description: String {
            switch self {
            case .filterBank(let bins, let d, let shift):
                return "\(bins) × 1 MHz filter bank, decimation \(d)"
                    + (shift == 0 ? "" : String(format: ", centre shifted %+.0f Hz", shift))
            case .perChannel(let d): return "one filter per channel, decimation \(d)"
            }
        }
    }

    public static let minimumSampleRateHz = 4e6
    public static let maximumSampleRateHz = 40e6
    /// A BLE channel's half-width: GFSK at 1 Msym/s with h = 0.5 and a ±150 kHz carrier tolerance.
    public static let channelHalfWidthHz = 1e6
    /// How long a packet is held back before release (longest LE packet, LE Coded S=8 ≈ 17 ms, plus
    /// the receivers' look-ahead): what keeps the output order independent of block sizes.
    public static let holdbackS = 0.05
    /// The rate channel receivers run at when no filter-bank decimation gives 2.1–2.45 MS/s (see
    /// above for why not 2 MS/s).
    public static let resampledRateHz = 2.4e6
    static let receiverSamplesPerSymbol = 2.1...2.45
    /// The channel filter's −6 dB edge. Swept at 9–14 dB with ±100–150 kHz carrier offsets: 0.7 MHz
    /// decodes best (0.6 distorts offset packets; 0.75 and wider let in noise that the
    /// discriminator, which weighs noise by frequency², feels most).
    static let channelCutoffHz = 700e3
    static let channelTransitionHz = 300e3

    public let sampleRateHz: Double
    public let centerFrequencyHz: Double
    public let method: Method
    /// BLE channel indices received, in RF order.
    public let channels: [Int]
    /// Rate of the streams the channel receivers get.
    public let receiverRateHz: Double
    /// Packets a receiver reported after a later one had already been released (stays 0 unless a
    /// receiver lags more than `holdbackS`; counted so a test can check it).
    public private(set) var lateReleases = 0

    // Filter-bank mode: channel j of `channels` reads bin `bins[j]`.
    private let bank: PolyphaseChannelizer?
    private var bankOutputs: [IQBlock] = []
    private let bins: [Int]
    private let shift: InputShift?
    private var shifted = IQBlock()
    // Per-channel mode.
    private let extractors: [ChannelExtractor]
    private var extracted: [IQBlock]
    // Then, per channel: the resampler to `receiverRateHz` (none when the channel stream already
    // has that rate), its output, and the receiver.
    private let resamplers: [ChannelResampler]
    private var resampled: [[IQSample]]
    private let receivers: [BLEReceiver]
    /// Input samples per channel-stream sample.
    private let decimation: Int
    /// Channel-stream samples per receiver sample, and the resampler's delay in channel samples.
    private let ratio: Double
    private let resamplerDelay: Double
    /// Group delay of the first channel filter, in input samples.
    private let filterDelay: Double
    private let snrCorrectionDB: Double
    private let holdbackSamples: Int64
    /// Where the receivers' streams sit in the channel stream: receiver sample `fed` is channel time
    /// `channelIndex` (a new pair after every gap in the input, where the filters restart).
    private var segments: [(fed: Int64, channelIndex: Int64)] = []
    private var fed: Int64 = 0
    private var expectedIndex: Int64?
    private var pending: [Packet] = []
    private var lastReleased: (sampleIndex: Int64, channel: Int)?

    /// - Parameters:
    ///   - centerFrequencyHz: the capture's RF centre.
    ///   - usableBandwidthHz: the part of the band the radio passes flat (default: all of fs).
    public convenience init(sampleRateHz: Double, centerFrequencyHz: Double, usableBandwidthHz: Double? = nil) throws(WidebandBLEError) {
        try self.init(sampleRateHz: sampleRateHz, centerFrequencyHz: centerFrequencyHz, usableBandwidthHz: usableBandwidthHz,
                      receiverRateHz: nil)
    }

    /// `receiverRateHz` forces a rate (tests and measurements): fs/D for a filter-bank decimation D
    /// uses the bins as they are, any other rate resamples; nil chooses as described above.
    init(sampleRateHz: Double, centerFrequencyHz: Double, usableBandwidthHz: Double?, receiverRateHz wanted: Double?) throws(WidebandBLEError) {
        guard sampleRateHz.isFinite, sampleRateHz >= Self.minimumSampleRateHz * (1 - 1e-9),
              sampleRateHz <= Self.maximumSampleRateHz * (1 + 1e-9) else {
            throw .sampleRateOutOfRange(sampleRateHz: sampleRateHz)
        }
        guard centerFrequencyHz.isFinite, centerFrequencyHz > 0 else { throw .invalidCenterFrequency(centerFrequencyHz) }
        let found = Self.channelsInBand(sampleRateHz: sampleRateHz, centerFrequencyHz: centerFrequencyHz,
                                        usableBandwidthHz: usableBandwidthHz)
        guard !found.isEmpty else {
            throw .noChannelInBand(centerFrequencyHz: centerFrequencyHz, sampleRateHz: sampleRateHz,
                                   usableBandwidthHz: min(usableBandwidthHz ?? sampleRateHz, sampleRateHz))
        }
        self.sampleRateHz = sampleRateHz
        self.centerFrequencyHz = centerFrequencyHz
        channels = found
        holdbackSamples = Int64((Self.holdbackS * sampleRateHz).rounded(.up))

        let bankSize = Int((sampleRateHz / 1e6).rounded())
        let channelRateHz: Double
        let firstTaps: [Float]
        let shaping: (cutoffHz: Double, transitionHz: Double)
        if bankSize % 2 == 0, abs(sampleRateHz - Double(bankSize) * 1e6) <= 1e-6 * sampleRateHz {
            // The BLE grid (2402 + 2k MHz) lands on the 1 MHz bins once the input is shifted down by
            // the remainder of (2402 MHz − centre) modulo the bin spacing.
            let spacing = sampleRateHz / Double(bankSize)
            var remainder = (2402e6 - centerFrequencyHz).truncatingRemainder(dividingBy: spacing)
            if remainder > spacing / 2 { remainder -= spacing } else if remainder <= -spacing / 2 { remainder += spacing }
            // A sub-hertz remainder is rounding in the file's metadata, not a tuning offset.
            let shiftHz = abs(remainder) < 1 ? 0 : remainder
            // The decimation: the largest giving the receivers 2.1–2.45 samples per symbol, else M/2
            // (2 MS/s, resampled after the bank).
            let direct = wanted.flatMap { rate in (1...bankSize).first { abs(sampleRateHz / Double($0) - rate) < 1 } }
            let friendly = (1...bankSize).reversed().first { Self.receiverSamplesPerSymbol.contains(Double(bankSize) / Double($0)) }
            let d = wanted == nil ? friendly ?? bankSize / 2 : direct ?? bankSize / 2
            // 12 taps a branch: a 0.3 MHz transition, 60 dB down from 0.85 MHz, so the neighbouring
            // BLE channel (2 MHz away, folded to 2 − fs/D MHz by the output rate) stays out.
            let bank: PolyphaseChannelizer
            do {
                bank = try PolyphaseChannelizer(channels: bankSize, sampleRateHz: sampleRateHz, tapsPerBranch: 12,
                                                cutoff: Self.channelCutoffHz / spacing, decimation: d)
            } catch {
                preconditionFailure("filter bank of \(bankSize) channels: \(error)")
            }
            self.bank = bank
            shift = shiftHz == 0 ? nil : InputShift(shiftHz: shiftHz, sampleRateHz: sampleRateHz)
            bins = found.map { channel in
                let j = Int(((BLE.frequencyHz(channel: channel)! - centerFrequencyHz - shiftHz) / spacing).rounded())
                return (j + bankSize) % bankSize
            }
            method = .filterBank(bins: bankSize, decimation: d, inputShiftHz: shiftHz)
            decimation = d
            channelRateHz = bank.outputRateHz
            firstTaps = bank.taps
            // The bank has shaped the channel; the resampler only has to keep out of its way: flat
            // to 0.75 MHz, stopped from 1.2 MHz (16 taps a phase).
            shaping = (975e3, 450e3)
            extractors = []
        } else {
            // Integer decimation to the lowest rate of at least 2 MS/s. The extractor's own filter is
            // −6 dB at the output's Nyquist edge (so flat to ±0.85 MHz); the resampler's filter then
            // gives the channel the filter bank's shape.
            let d = max(1, Int((sampleRateHz / 2e6).rounded(.down)))
            extractors = found.map { channel in
                do {
                    return try ChannelExtractor(sampleRateHz: sampleRateHz,
                                                offsetHz: BLE.frequencyHz(channel: channel)! - centerFrequencyHz,
                                                bandwidthHz: 1.7e6, decimation: d)
                } catch {
                    preconditionFailure("channel filter at \(sampleRateHz) S/s: \(error)")
                }
            }
            bank = nil
            shift = nil
            bins = []
            method = .perChannel(decimation: d)
            decimation = d
            channelRateHz = sampleRateHz / Double(d)
            firstTaps = extractors[0].taps
            shaping = (Self.channelCutoffHz, Self.channelTransitionHz)
        }
        extracted = [IQBlock](repeating: IQBlock(), count: extractors.count)
        filterDelay = Double(firstTaps.count - 1) / 2
        let receiverRate: Double
        if let wanted {
            receiverRate = wanted
        } else if bank != nil, Self.receiverSamplesPerSymbol.contains(channelRateHz / 1e6) {
            receiverRate = channelRateHz
        } else {
            receiverRate = Self.resampledRateHz
        }
        receiverRateHz = receiverRate
        // The per-channel path always resamples: its resampler is also its channel shaping.
        if bank != nil, abs(receiverRate - channelRateHz) < 1 {
            resamplers = []
            ratio = 1
            resamplerDelay = 0
            // The receiver takes its stream's noise as white over the stream's rate; after the channel
            // filter it is only as wide as the filter's noise bandwidth, fs·Σh² (the taps sum to 1).
            let noiseBandwidthHz = sampleRateHz * firstTaps.reduce(0.0) { $0 + Double($1) * Double($1) }
            snrCorrectionDB = 10 * log10(noiseBandwidthHz / receiverRate)
        } else {
            resamplers = found.map { _ in
                ChannelResampler(inputRateHz: channelRateHz, outputRateHz: receiverRate, cutoffHz: shaping.cutoffHz,
                                 transitionHz: shaping.transitionHz)
            }
            ratio = resamplers[0].ratio
            resamplerDelay = resamplers[0].delay
            let noiseBandwidthHz = Self.noiseBandwidthHz(firstTaps, sampleRateHz: sampleRateHz, decimation: decimation,
                                                         then: resamplers[0])
            snrCorrectionDB = 10 * log10(noiseBandwidthHz / receiverRate)
        }
        resampled = [[IQSample]](repeating: [], count: resamplers.count)
        let rate = receiverRate
        receivers = found.map { channel in
            guard let receiver = BLEReceiver(sampleRateHz: rate, channel: channel) else {
                preconditionFailure("receiver refused \(rate) S/s on channel \(channel)")
            }
            return receiver
        }
    }

    /// Channels whose centre ±1 MHz lies inside the band (±min(fs, usable)/2 around the centre), in
    /// RF order.
    public static func channelsInBand(sampleRateHz: Double, centerFrequencyHz: Double, usableBandwidthHz: Double? = nil) -> [Int] {
        guard sampleRateHz.isFinite, sampleRateHz > 0, centerFrequencyHz.isFinite else { return [] }
        let halfWidth = min(usableBandwidthHz ?? sampleRateHz, sampleRateHz) / 2
        return (0...39).filter { channel in
            abs(BLE.frequencyHz(channel: channel)! - centerFrequencyHz) + channelHalfWidthHz <= halfWidth + 1
        }.sorted { BLE.frequencyHz(channel: $0)! < BLE.frequencyHz(channel: $1)! }
    }

    /// Noise bandwidth of `first` at `sampleRateHz` decimated by `decimation` (its aliases folded
    /// in), then the resampler's filter: white noise of density N₀ reaches the receiver with power
    /// N₀ × this. Summed on a 512-point grid of the decimated band.
    static func noiseBandwidthHz(_ first: [Float], sampleRateHz: Double, decimation: Int, then resampler: ChannelResampler) -> Double {
        let channelRate = sampleRateHz / Double(decimation)
        let points = 512
        var total = 0.0
        for p in 0..<points {
            let f = ((Double(p) + 0.5) / Double(points) - 0.5) * channelRate
            var folded = 0.0
            for k in 0..<decimation {
                folded += FIRDesign.powerGain(first, cycles: (f + Double(k) * channelRate) / sampleRateHz)
            }
            total += folded * resampler.powerGain(atHz: f)
        }
        return total / Double(points) * channelRate
    }

    /// Each channel's receiver counters, in `channels` order.
    public var channelCounters: [(channel: Int, counters: BLEReceiver.Counters)] {
        receivers.map { ($0.channel, $0.counters) }
    }

    /// Receives a block; appends the packets whose place in the output order is settled.
    public func process(_ block: IQBlock, into packets: inout [Packet]) {
        let gap = expectedIndex.map { block.firstSampleIndex != $0 || block.droppedBefore > 0 } ?? true
        expectedIndex = block.endSampleIndex
        let first: Int64
        if let bank {
            if let shift {
                shift.apply(block, into: &shifted)
                bank.process(shifted, into: &bankOutputs)
            } else {
                bank.process(block, into: &bankOutputs)
            }
            first = bankOutputs[0].firstSampleIndex
        } else {
            for j in extractors.indices { extractors[j].process(block, into: &extracted[j]) }
            first = extracted[0].firstSampleIndex
        }
        if gap {
            // The filters restarted (zeros before the gap); so do the resamplers. The receivers go
            // on, and their next sample is this block's first channel sample.
            segments.append((fed, first))
            if segments.count > 64 { segments.removeFirst(segments.count - 64) }
            for resampler in resamplers { resampler.reset() }
        }
        var count = 0
        for j in receivers.indices {
            let found: [ChannelPacket]
            let channelStream = bank != nil ? bankOutputs[bins[j]].samples : extracted[j].samples
            if resamplers.isEmpty {
                count = channelStream.count
                found = channelStream.withUnsafeBufferPointer { receivers[j].process($0) }
            } else {
                channelStream.withUnsafeBufferPointer { resamplers[j].process($0, into: &resampled[j]) }
                count = resampled[j].count
                found = resampled[j].withUnsafeBufferPointer { receivers[j].process($0) }
            }
            for packet in found { pending.append(widebandPacket(packet)) }
        }
        fed += Int64(count)
        release(before: block.endSampleIndex - holdbackSamples, into: &packets)
    }

    public func process(_ block: IQBlock) -> [Packet] {
        var packets: [Packet] = []
        process(block, into: &packets)
        return packets
    }

    /// End of the stream: the receivers' last packets, then every packet still held back.
    public func finish(into packets: inout [Packet]) {
        for receiver in receivers {
            for packet in receiver.finish() { pending.append(widebandPacket(packet)) }
        }
        release(before: .max, into: &packets)
    }

    /// Moves held packets that start before `limit` to `packets`, in (sampleIndex, channel) order.
    private func release(before limit: Int64, into packets: inout [Packet]) {
        guard !pending.isEmpty else { return }
        pending.sort { ($0.sampleIndex, $0.channel) < ($1.sampleIndex, $1.channel) }
        var k = 0
        while k < pending.count, pending[k].sampleIndex < limit {
            let p = pending[k]
            if let last = lastReleased, (p.sampleIndex, p.channel) < (last.sampleIndex, last.channel) { lateReleases += 1 }
            lastReleased = (p.sampleIndex, p.channel)
            packets.append(p)
            k += 1
        }
        pending.removeFirst(k)
    }

    /// The channel receiver's packet placed in the wideband stream.
    private func widebandPacket(_ packet: ChannelPacket) -> Packet {
        var segment = segments[0]
        for s in segments where s.fed <= packet.sampleIndex { segment = s }
        let channelTime = Double(segment.channelIndex) + Double(packet.sampleIndex - segment.fed) * ratio - resamplerDelay
        var p = packet
        p.sampleIndex = max(0, Int64((channelTime * Double(decimation) - filterDelay).rounded()))
        // 99 is the receiver's "no noise estimate yet".
        if p.snrDB != 99 { p.snrDB += snrCorrectionDB }
        return Packet(packet: p, frequencyHz: BLE.frequencyHz(channel: p.channel)! + p.carrierOffsetHz)
    }
}

/// Why a capture cannot be received as wideband BLE; each renders as one actionable line.
public enum WidebandBLEError: Error, Equatable, Sendable, CustomStringConvertible {
    case sampleRateOutOfRange(sampleRateHz: Double)
    case invalidCenterFrequency(Double)
    case noChannelInBand(centerFrequencyHz: Double, sampleRateHz: Double, usableBandwidthHz: Double)

    public var description: String {
        switch self {
        case .sampleRateOutOfRange(let rate):
            return String(format: "wideband Bluetooth LE needs 4–40 MS/s, the capture has %.6g MS/s "
                          + "(a 2–3.2 MS/s capture centred on one BLE channel uses the single-channel receiver)", rate / 1e6)
        case .invalidCenterFrequency(let f):
            return "wideband Bluetooth LE needs the capture's centre frequency (got \(f) Hz); pass --freq HZ"
        case .noChannelInBand(let centre, let rate, let usable):
            return String(format: "no Bluetooth LE channel (2402–2480 MHz, each ±1 MHz) lies inside %.6g MHz ± %.6g MHz "
                          + "(%.6g MS/s); tune between 2402 and 2480 MHz", centre / 1e6, usable / 2e6, rate / 1e6)
        }
    }
}
