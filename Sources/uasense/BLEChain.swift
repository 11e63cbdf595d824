import BLE
import Captures
import IQ

/// The Bluetooth LE receive chain for one IQ stream, as `analyze` and `run` use it: the single
/// channel a 1.9–4 MS/s stream is centred on (±50 kHz), or every channel inside a 4–40 MS/s
/// stream's band. Packets come out in stream order with `sampleIndex` on the stream's own count,
/// so samples lost live (an overrun, an rtl_tcp reconnect) keep later packets at their true time.
final class BLEChain {
    private let single: BLEReceiver?
    let wideband: WidebandBLEReceiver?
    /// Where the single-channel receiver's sample count meets the stream's after each gap:
    /// (samples fed to the receiver, stream index of that sample).
    private var segments: [(fed: Int64, streamIndex: Int64)] = []
    private var fed: Int64 = 0
    private var expectedIndex: Int64?
    private var widePackets: [WidebandBLEReceiver.Packet] = []

    private init(single: BLEReceiver?, wideband: WidebandBLEReceiver?) {
        self.single = single
        self.wideband = wideband
    }

    /// The chain for a stream, or nil with the reason when Bluetooth in the band cannot be
    /// received (a nil reason: there is no BLE channel to receive).
    static func make(sampleRateHz: Double, centerFrequencyHz: Double?) -> (chain: BLEChain?, note: String?) {
        guard let centre = centerFrequencyHz else { return (nil, nil) }
        if sampleRateHz >= WidebandBLEReceiver.minimumSampleRateHz {
            do {
                let wide = try WidebandBLEReceiver(sampleRateHz: sampleRateHz, centerFrequencyHz: centre)
                return (BLEChain(single: nil, wideband: wide), nil)
            } catch {
                // Say so only when there is Bluetooth in the band to miss.
                if case .sampleRateOutOfRange = error,
                   !WidebandBLEReceiver.channelsInBand(sampleRateHz: sampleRateHz, centerFrequencyHz: centre).isEmpty {
                    return (nil, "\(error)")
                }
            }
        }
        guard let channel = channel(centerHz: centre),
              let receiver = BLEReceiver(sampleRateHz: sampleRateHz, channel: channel) else { return (nil, nil) }
        return (BLEChain(single: receiver, wideband: nil), nil)
    }

    /// The BLE channel a stream is centred on, if any.
    static func channel(centerHz: Double) -> Int? {
        (0...39).first { abs(BLE.frequencyHz(channel: $0)! - centerHz) <= 50e3 }
    }

    /// Each receiving channel's counters, in RF order.
    var channelCounters: [(channel: Int, counters: BLEReceiver.Counters)] {
        wideband?.channelCounters ?? single.map { [($0.channel, $0.counters)] } ?? []
    }

    /// Receives a block; appends the packets whose place in stream order is settled.
    func process(_ block: IQBlock, into packets: inout [BLEReceiver.Packet]) {
        if let wideband {
            widePackets.removeAll(keepingCapacity: true)
            wideband.process(block, into: &widePackets)
            for p in widePackets { packets.append(p.packet) }
            return
        }
        guard let single else { return }
        if expectedIndex.map({ block.firstSampleIndex != $0 }) ?? true {
            segments.append((fed, block.firstSampleIndex))
            if segments.count > 64 { segments.removeFirst(segments.count - 64) }
        }
        expectedIndex = block.endSampleIndex
        fed += Int64(block.count)
        let found = block.samples.withUnsafeBufferPointer { single.process($0) }
        for p in found { packets.append(placed(p)) }
    }

    /// End of the stream: the packets still held.
    func finish(into packets: inout [BLEReceiver.Packet]) {
        if let wideband {
            widePackets.removeAll(keepingCapacity: true)
            wideband.finish(into: &widePackets)
            for p in widePackets { packets.append(p.packet) }
        } else if let single {
            for p in single.finish() { packets.append(placed(p)) }
        }
    }

    /// A single-channel packet with its index on the stream's count.
    private func placed(_ packet: BLEReceiver.Packet) -> BLEReceiver.Packet {
        guard var segment = segments.first else { return packet }
        for s in segments where s.fed <= packet.sampleIndex { segment = s }
        var p = packet
        p.sampleIndex = segment.streamIndex + (packet.sampleIndex - segment.fed)
        return p
    }
}

extension BLEChain {
    /// The Remote ID broadcasts in a received packet, carrying its place in the stream, SNR and level.
    static func remoteIDFrames(_ packet: BLEReceiver.Packet, timeS: Double, counters: inout FrameCounters) -> [RemoteIDFrame] {
        var frames = RemoteIDFrameDecoder.frames(advertisingPDU: packet.pdu[...], channel: packet.channel, rssiDBm: nil,
                                                 phy: packet.phy == .le1M ? "1M" : "coded", timeS: timeS, &counters)
        for k in frames.indices {
            frames[k].sampleIndex = packet.sampleIndex
            frames[k].snrDB = packet.snrDB
            frames[k].rssiDBFS = packet.rssiDBFS
        }
        return frames
    }
}
