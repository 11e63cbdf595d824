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

    @Option(name: .customLong("sensor-id"), help: "sensor_id in the records (default: the host name).")
    var sensorID: String?

    @Flag(help: "Frame captures: print each UAS's merged state (IDs, operator, last position, flags) on stderr.")
    var summary = false

    @Option(help: "Write every CRC-valid Bluetooth Remote ID packet to this pcap (LINKTYPE 256, opens in Wireshark).")
    var pcap: String?

    @Option(help: "Also send every record as a UDP datagram to udp://HOST:PORT (unicast or multicast).")
    var udp: String?

    @Option(name: .customLong("udp-key-file"),
            help: "Sign each datagram with HMAC-SHA256 under the key in this file (64 hex digits, or raw bytes).")
    var udpKeyFile: String?

    @OptionGroup var tracking: TrackOptions

    func validate() throws {
        if sensorID?.isEmpty == true { throw ValidationError("--sensor-id must not be empty: records name the sensor that heard them") }
    }

    @OptionGroup var cot: CoTOptions

    func run() throws {
        var failed = 0
        let sensor = sensorID ?? ProcessInfo.processInfo.hostName
        let writer = try pcap.map { path throws in try BLEPcapWriter(path: path) }
        defer { try? writer?.close() }
        let feed: UDPRecordFeed?
        do {
            let key = try udpKeyFile.map { path throws(OutputError) in try RecordDatagram.key(fromFile: path) }
            feed = try udp.map { text in try UDPRecordFeed(UDPEndpoint(text), key: key) }
        } catch {
            printErr("uasense: \(error)")
            throw ExitCode(1)
        }
        defer { if let feed { printErr(feed.summary) } }
        let cotOutput = try cot.makeOutput(sensorID: sensor)
        defer {
            cotOutput?.close()
            if let cotOutput { printErr(cotOutput.summary) }
        }
        for path in files {
            let lower = path.lowercased()
            if lower.hasSuffix(".pcap") || lower.hasSuffix(".pcapng") || lower.hasSuffix(".cap") {
                do {
                    try analyzeCapture(path, sensorID: sensor, writer: writer, feed: feed, cot: cotOutput)
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
                    try emitBLE(report, sensorID: sensor, writer: writer, feed: feed, cot: cotOutput)
                }
            } catch let error as IQError {
                printErr("uasense: \(error)")
                failed += 1
            }
        }
        if failed > 0 { throw ExitCode(1) }
    }

    /// A record's NDJSON line for stdout; the record also goes to the UDP feed when there is one.
    func emit(_ record: JSONValue, _ feed: UDPRecordFeed?) -> String {
        feed?.send(record)
        return record.serialized() + "\n"
    }

    func emit(_ records: [JSONValue], _ feed: UDPRecordFeed?) -> String {
        records.map { emit($0, feed) }.joined()
    }

    /// One record per Remote ID broadcast on stdout; counts (and the per-UAS summary) on stderr.
    func analyzeCapture(_ path: String, sensorID: String, writer: BLEPcapWriter?, feed: UDPRecordFeed?, cot: CoTOutput?) throws {
        let file = try CaptureFile.read(path: path)
        var counters = FrameCounters()
        let frames = RemoteIDFrameDecoder.frames(in: file, counters: &counters)
        let tracks = try tracking.makeTracks()
        let tracker = tracks.tracker
        var out = ""
        var byTransport: [String: Int] = [:]
        for frame in frames {
            // Track events due before this broadcast, its detection, then the events it caused.
            out += emit(tracking.records(tracks.advance(toS: frame.timestampS), sensorID: sensorID), feed)
            let events = tracks.add(frame)
            try cot?.add(frame, tracker: tracker)
            out += emit(RemoteIDRecord.json(frame, sensorID: sensorID, knownUASID: tracker.knownID(address: frame.address)), feed)
            out += emit(tracking.records(events, sensorID: sensorID), feed)
            byTransport[frame.transport.rawValue, default: 0] += 1
            if let writer, let pdu = frame.blePDU, let channel = frame.channel {
                try writer.write(timestampS: frame.timestampS, channel: channel, rssiDBm: frame.rssiDBm, pdu: pdu,
                                 phy: frame.phy ?? "1M")
            }
        }
        out += emit(tracking.records(tracks.finish(), sensorID: sensorID), feed)
        try cot?.flush()
        FileHandle.standardOutput.write(Data(out.utf8))
        let transports = byTransport.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        printErr("\(path): \(file.format), \(counters.packets) packets, \(frames.count) Remote ID broadcasts"
                 + (transports.isEmpty ? "" : " (\(transports))")
                 + "; \(counters.badCRC) bad CRC, \(counters.decodeFailures) undecodable, \(counters.notRemoteID) other frames"
                 + (counters.unsupportedLinkType > 0 ? ", \(counters.unsupportedLinkType) of an unsupported link type" : "")
                 + (counters.malformed > 0 ? ", \(counters.malformed) malformed" : ""))
        if let damage = file.damage { printErr("uasense: \(damage) (the packets before it were read)") }
        if summary { printSummary(tracker) }
    }

    /// Records for the Bluetooth LE packets received from IQ, and counts on stderr: a line for the
    /// channel of a single-channel recording, or a line for the wideband plan and one for each
    /// channel that had packets.
    func emitBLE(_ report: FileReport, sensorID: String, writer: BLEPcapWriter?, feed: UDPRecordFeed?, cot: CoTOutput?) throws {
        let r = report.recording
        var counters = FrameCounters()
        let tracks = try tracking.makeTracks()
        let tracker = tracks.tracker
        var out = ""
        var remoteIDByChannel: [Int: Int] = [:], otherByChannel: [Int: Int] = [:]
        // Extended advertising: which announced AUX_ADV_INDs were heard (their channel received).
        var follower = AuxFollower(sampleRateHz: r.sampleRateHz, channels: report.bleChannels.map(\.channel))
        for packet in report.blePackets {
            follower.add(packet)
            let timeS = (r.startTimeS ?? 0) + Double(packet.sampleIndex) / r.sampleRateHz
            let others = counters.notRemoteID
            let phy = packet.phy == .le1M ? "1M" : "coded"
            let frames = RemoteIDFrameDecoder.frames(advertisingPDU: packet.pdu[...], channel: packet.channel, rssiDBm: nil,
                                                     phy: phy, timeS: timeS, &counters)
            otherByChannel[packet.channel, default: 0] += counters.notRemoteID - others
            for var frame in frames {
                frame.sampleIndex = packet.sampleIndex
                frame.snrDB = packet.snrDB
                frame.rssiDBFS = packet.rssiDBFS
                out += emit(tracking.records(tracks.advance(toS: frame.timestampS), sensorID: sensorID), feed)
                let events = tracks.add(frame)
                try cot?.add(frame, tracker: tracker)
                out += emit(RemoteIDRecord.json(frame, sensorID: sensorID, knownUASID: tracker.knownID(address: frame.address)), feed)
                out += emit(tracking.records(events, sensorID: sensorID), feed)
                remoteIDByChannel[packet.channel, default: 0] += 1
            }
            try writer?.write(timestampS: timeS, channel: packet.channel, rssiDBm: nil, pdu: packet.pdu, phy: phy,
                              codingIndicator: packet.phy == .codedS2 ? 1 : 0)
        }
        out += emit(tracking.records(tracks.finish(), sensorID: sensorID), feed)
        try cot?.flush()
        FileHandle.standardOutput.write(Data(out.utf8))
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
        if summary { printSummary(tracker) }
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
