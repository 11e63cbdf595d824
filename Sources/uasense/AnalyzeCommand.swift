import ArgumentParser
import BLE
import Captures
import Detection
import Foundation
import IQ
import Outputs
import Spectrum

struct AnalyzeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Analyse recordings offline: detections as NDJSON on stdout, a summary on stderr.")

    @Argument(help: "IQ files (raw, .sigmf-meta, .sigmf archive) and frame captures (.pcap, .pcapng).")
    var files: [String]

    @OptionGroup var recording: RecordingOptions

    @Flag(help: "Frame captures: print each UAS's merged state (IDs, operator, last position, flags) on stderr.")
    var summary = false

    @Option(help: "Write every CRC-valid Bluetooth Remote ID packet to this pcap (LINKTYPE 256, opens in Wireshark).")
    var pcap: String?

    @OptionGroup var outputOptions: OutputOptions

    func run() throws {
        var failed = 0
        let writer = try pcap.map { path throws in try BLEPcapWriter(path: path) }
        defer { try? writer?.close() }
        let outputs = try outputOptions.open(waitForBrokerS: 10)
        defer { outputs.close() }
        for path in files {
            let lower = path.lowercased()
            if lower.hasSuffix(".pcap") || lower.hasSuffix(".pcapng") || lower.hasSuffix(".cap") {
                do {
                    try analyzeCapture(path, outputs: outputs, writer: writer)
                } catch {
                    printErr("uasense: \(error)")
                    failed += 1
                }
                continue
            }
            do {
                let report = try FileReport.measure(path: path, options: recording.options(), detectBursts: true,
                                                    receiveBLE: true)
                let r = report.recording
                let speed = r.durationS / max(report.readS, 1e-9)
                printErr("""
                \(r.path): \(r.format) \(Text.rate(r.sampleRateHz)) at \(Text.hz(r.centerFrequencyHz)), \
                \(r.sampleCount) samples (\(Text.seconds(r.durationS)))
                  power: mean \(String(format: "%.2f", report.power.meanPowerDBFS)) dBFS, \
                peak \(String(format: "%.2f", report.power.peakPowerDBFS)) dBFS, \
                clipping \(String(format: "%.3f", report.power.clippedPercent)) %
                  metadata: \(r.metadata.captures.count) capture(s), \(r.metadata.annotations.count) annotation(s)\
                \(r.metadata.annotations.isEmpty ? "" : " [" + Self.labelSummary(r.metadata.annotations) + "]")
                  bursts: \(Self.burstSummary(report.bursts ?? []))
                  processed in \(Text.seconds(report.readS)) (\(String(format: "%.0f", speed))× real time)
                """)
                if let note = report.bleNote { printErr("  Bluetooth LE not received: \(note)") }
                if !report.bleChannels.isEmpty {
                    try emitBLE(report, outputs: outputs, writer: writer)
                }
            } catch let error as IQError {
                printErr("uasense: \(error)")
                failed += 1
            }
        }
        outputs.close()
        if let mqtt = outputs.mqtt, outputs.mqttNeverConnected {
            printErr("uasense: nothing reached the MQTT broker \(mqtt.endpoint): "
                     + (mqtt.counters.lastError ?? "it never answered"))
            failed += 1
        }
        if failed > 0 { throw ExitCode(1) }
    }

    /// One record per Remote ID broadcast on stdout; counts (and the per-UAS summary) on stderr.
    func analyzeCapture(_ path: String, outputs: RecordOutputs, writer: BLEPcapWriter?) throws {
        let file = try CaptureFile.read(path: path)
        var counters = FrameCounters()
        let frames = RemoteIDFrameDecoder.frames(in: file, counters: &counters)
        let stream = try DetectionStream(outputs: outputs, tracking: outputOptions.tracking)
        defer { outputs.flushStdout() }
        var byTransport: [String: Int] = [:]
        for frame in frames {
            try stream.add(frame)
            byTransport[frame.transport.rawValue, default: 0] += 1
            if let writer, let pdu = frame.blePDU, let channel = frame.channel {
                try writer.write(timestampS: frame.timestampS, channel: channel, rssiDBm: frame.rssiDBm, pdu: pdu,
                                 phy: frame.phy ?? "1M")
            }
        }
        try stream.finish()
        outputs.flushStdout()
        let transports = byTransport.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        printErr("\(path): \(file.format), \(counters.packets) packets, \(frames.count) Remote ID broadcasts"
                 + (transports.isEmpty ? "" : " (\(transports))")
                 + "; \(counters.badCRC) bad CRC, \(counters.decodeFailures) undecodable, \(counters.notRemoteID) other frames"
                 + (counters.unsupportedLinkType > 0 ? ", \(counters.unsupportedLinkType) of an unsupported link type" : "")
                 + (counters.malformed > 0 ? ", \(counters.malformed) malformed" : ""))
        if let damage = file.damage { printErr("uasense: \(damage) (the packets before it were read)") }
        if summary { printSummary(stream.tracker) }
    }

    /// Records for the Bluetooth LE packets received from IQ, and counts on stderr: a line for the
    /// channel of a single-channel recording, or a line for the wideband plan and one for each
    /// channel that had packets.
    func emitBLE(_ report: FileReport, outputs: RecordOutputs, writer: BLEPcapWriter?) throws {
        let r = report.recording
        var counters = FrameCounters()
        let stream = try DetectionStream(outputs: outputs, tracking: outputOptions.tracking)
        defer { outputs.flushStdout() }
        var remoteIDByChannel: [Int: Int] = [:], otherByChannel: [Int: Int] = [:]
        // Extended advertising: which announced AUX_ADV_INDs were heard (their channel received).
        var follower = AuxFollower(sampleRateHz: r.sampleRateHz, channels: report.bleChannels.map(\.channel))
        for packet in report.blePackets {
            follower.add(packet)
            let timeS = (r.startTimeS ?? 0) + Double(packet.sampleIndex) / r.sampleRateHz
            let others = counters.notRemoteID
            let frames = BLEChain.remoteIDFrames(packet, timeS: timeS, counters: &counters)
            otherByChannel[packet.channel, default: 0] += counters.notRemoteID - others
            for frame in frames {
                try stream.add(frame)
                remoteIDByChannel[packet.channel, default: 0] += 1
            }
            try writer?.write(timestampS: timeS, channel: packet.channel, rssiDBm: nil, pdu: packet.pdu,
                              phy: packet.phy == .le1M ? "1M" : "coded",
                              codingIndicator: packet.phy == .codedS2 ? 1 : 0)
        }
        try stream.finish()
        outputs.flushStdout()
        // The channels are in RF order, so the first and last give the span.
        if let wide = report.bleWideband, let low = wide.channels.first.flatMap(BLE.frequencyHz(channel:)),
           let high = wide.channels.last.flatMap(BLE.frequencyHz(channel:)) {
            let lowMHz = low / 1e6, highMHz = high / 1e6
            printErr("  Bluetooth LE wideband: \(wide.channels.count) channels, \(Int(lowMHz))–\(Int(highMHz)) MHz (\(wide.method)); "
                     + "\(report.blePackets.count) packets")
        }
        for (channel, c) in report.bleChannels where report.bleWideband == nil || c.packets + c.codedPackets > 0 {
            printErr("  Bluetooth LE, channel \(channel): "
                     + "\(c.packets + c.codedPackets) packets (\(remoteIDByChannel[channel] ?? 0) Remote ID broadcasts; "
                     + "\(c.packets) LE 1M, \(c.codedPackets) LE Coded), "
                     + "\(c.badCRC + c.codedBadCRC) with a bad CRC, \(otherByChannel[channel] ?? 0) other adverts")
        }
        follower.finish()
        let f = follower.counts
        if f.pointers > 0 {
            printErr("  extended advertising: \(f.pointers) AuxPtrs, \(f.pointersInBand) to a channel received; "
                     + "\(f.followed) AUX_ADV_INDs followed, \(f.missed) missed")
        }
        if summary { printSummary(stream.tracker) }
    }

    func printSummary(_ tracker: UASTracker) {
        for u in tracker.uas.values.sorted(by: { $0.uasID < $1.uasID }) { printErr(Self.describe(u)) }
    }

    static func describe(_ u: UASTracker.UAS) -> String {
        var lines = ["UAS \(u.uasID): \(u.frames) frames over \(String(format: "%.1f", u.lastSeenS - u.firstSeenS)) s via "
                     + u.transports.sorted().joined(separator: ", ")]
        if let l = u.lastLocation {
            if let lat = l.latitudeDeg, let lon = l.longitudeDeg {
                lines.append(String(format: "  position %.7f, %.7f", lat, lon)
                             + (l.altitudeGeodeticM.map { String(format: ", %.1f m geodetic", $0) } ?? "")
                             + (l.heightM.map { String(format: ", %.1f m height", $0) } ?? "")
                             + (l.speedHorizontalMps.map { String(format: ", %.2f m/s", $0) } ?? "")
                             + (l.directionDeg.map { String(format: " towards %.0f°", $0) } ?? ""))
            } else {
                lines.append("  position unknown (every Location field absent)")
            }
        }
        if let o = u.operatorID { lines.append("  operator \(o)") }
        if let s = u.system, let lat = s.operatorLatitudeDeg, let lon = s.operatorLongitudeDeg {
            lines.append(String(format: "  operator position %.7f, %.7f", lat, lon))
        }
        if let s = u.selfID { lines.append("  self-ID \"\(s)\"") }
        lines.append("  messages " + u.messageCounts.map { (String(describing: $0.key), $0.value) }.sorted { $0.0 < $1.0 }
            .map { "\($0.1) \($0.0)" }.joined(separator: ", "))
        if !u.flags.isEmpty { lines.append("  flags " + u.flags.sorted().joined(separator: ", ")) }
        return lines.joined(separator: "\n")
    }

    static func burstSummary(_ bursts: [Burst]) -> String {
        guard !bursts.isEmpty else { return "none" }
        let snrs = bursts.map(\.snrDB).sorted()
        let widths = bursts.map(\.bandwidthHz).sorted()
        return "\(bursts.count), SNR \(String(format: "%.0f", snrs[0]))…\(String(format: "%.0f", snrs[snrs.count - 1])) dB, "
            + "bandwidth \(Text.hz(widths[0]))…\(Text.hz(widths[widths.count - 1])) (uasense bursts FILE lists them)"
    }

    static func labelSummary(_ annotations: [SigMFAnnotation]) -> String {
        var counts: [String: Int] = [:]
        for a in annotations { counts[a.label ?? "unlabelled", default: 0] += 1 }
        return counts.sorted { $0.key < $1.key }.map { "\($0.value)× \($0.key)" }.joined(separator: ", ")
    }
}
