import ArgumentParser
import BLE
import Foundation
import IQ
import Outputs
import RemoteID
import Spectrum
import Synchronization
import Synth

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the throughput of each stage on this machine, in one run.")

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @Option(help: "Seconds to spend on each stage.")
    var seconds: Double = 0.5

    struct Result {
        var stage: String
        var samplesPerS: Double
        var note: String
        /// The rate the stage must keep up with (2.4 MS/s RTL-SDR, 20 MS/s wideband).
        var realTimeRateHz: Double = 2_400_000
        /// Throughput relative to raw FFTW in this run, for the FFT-based stages.
        var ratioToFFTW: Double? = nil
        /// Throughput counted against the thread's CPU time instead of the wall clock: what one core
        /// does when the machine is shared (given for the stages that must keep up on one core).
        var cpuSamplesPerS: Double? = nil
    }

    @Flag(help: "Instead of throughput: the BLE receivers' packet decode rate against SNR (signal over noise in 2 MHz).")
    var sensitivity = false

    @Option(help: "Packets per SNR step for --sensitivity.")
    var packets = 300

    @Option(name: .customLong("false-packets"),
            help: "Instead of throughput: run the BLE receivers over this many minutes of noise (2.4 MS/s cu8 and 20 MS/s cs8) and count CRC-valid packets.")
    var falsePacketsMinutes: Double?

    @Flag(help: "Instead of throughput: send signed Remote ID records over UDP to loopback at --udp-rate for --udp-seconds and count what the sender and a receiver saw.")
    var udp = false

    @Option(name: .customLong("udp-rate"), help: "Records per second for --udp.")
    var udpRate = 10_000

    @Option(name: .customLong("udp-seconds"), help: "Seconds for --udp.")
    var udpSeconds = 10.0

    func run() throws {
        if sensitivity { return runSensitivity() }
        if udp { return try runUDP() }
        if let falsePacketsMinutes { return runFalsePackets(minutes: falsePacketsMinutes) }
        let referenceRateHz = 2_400_000.0
        var results: [Result] = []
        let n = 1 << 16
        var raw = [UInt8](repeating: 0, count: n * 8)
        var state: UInt32 = 12345
        for k in raw.indices { state = state &* 1_664_525 &+ 1_013_904_223; raw[k] = UInt8(state >> 24) }
        var out = [IQSample](repeating: .zero, count: n)

        for format in [SampleFormat.cu8, .cs8, .cs16] {
            let converter = SampleConverter(format: format)
            let rate = measure(samplesPerRun: n) {
                raw.withUnsafeBytes { r in out.withUnsafeMutableBufferPointer { _ = converter.decode(r, into: $0) } }
            }
            results.append(Result(stage: "convert.\(format)_to_cf32", samplesPerS: rate, note: "decode to IQSample"))
        }
        let encoder = SampleConverter(format: .cu8)
        let encodeRate = measure(samplesPerRun: n) {
            out.withUnsafeBufferPointer { s in raw.withUnsafeMutableBytes { _ = encoder.encode(s, into: $0) } }
        }
        results.append(Result(stage: "convert.cf32_to_cu8", samplesPerS: encodeRate, note: "encode for writing"))

        // File ingest: a cu8 recording in the page cache through FileSource (read + convert + block).
        let path = NSTemporaryDirectory() + "uasense-bench-\(getpid())_915M_2400k.cu8"
        defer { unlink(path) }
        let fileSamples = 24_000_000
        do {
            let file = try WritableFile(path: path)
            var chunk = [UInt8](repeating: 0, count: 1 << 20)
            for k in chunk.indices { state = state &* 1_664_525 &+ 1_013_904_223; chunk[k] = UInt8(state >> 24) }
            for _ in 0..<(fileSamples * 2 / chunk.count) { try file.write(chunk) }
            try file.close()
        }
        var block = IQBlock(capacity: 262_144)
        var best = 0.0
        let deadline = monotonicNs() + UInt64(max(seconds, 0.2) * 3 * 1e9)
        repeat {
            let source = try FileSource(path: path, blockSamples: 262_144)
            let t0 = monotonicNs()
            var total = 0
            while try source.read(into: &block) == .samples { total += block.count }
            best = max(best, Double(total) / (Double(monotonicNs() - t0) * 1e-9))
        } while monotonicNs() < deadline
        results.append(Result(stage: "ingest.file_cu8", samplesPerS: best, note: "pread + convert, page cache"))

        try spectralStages(into: &results)
        remoteIDStages(into: &results)

        if json {
            let stages: [JSONValue] = results.map { r in
                var fields: [String: JSONValue] = [
                    "stage": .string(r.stage), "msps": .double((r.samplesPerS / 1e6 * 10).rounded() / 10),
                    "note": .string(r.note),
                ]
                if r.realTimeRateHz > 1 {
                    fields["x_realtime"] = .double((r.samplesPerS / r.realTimeRateHz * 10).rounded() / 10)
                    fields["realtime_rate_hz"] = .number(r.realTimeRateHz)
                }
                if let ratio = r.ratioToFFTW { fields["ratio_to_fftw"] = .double((ratio * 1000).rounded() / 1000) }
                if let cpu = r.cpuSamplesPerS, r.realTimeRateHz > 1 {
                    fields["x_realtime_cpu"] = .double((cpu / r.realTimeRateHz * 100).rounded() / 100)
                }
                return .object(fields)
            }
            print(JSONValue.object(["uasense_version": .string(Uasense.version), "threads": .int(1),
                                    "reference_rate_hz": .number(referenceRateHz), "stages": .array(stages)]).serialized(indent: 2))
        } else {
            print("stage".padding(toLength: 26, withPad: " ", startingAt: 0) + "      MS/s   × real time    vs FFTW")
            for r in results {
                let ratio = r.ratioToFFTW.map { String(format: "%6.0f %%", $0 * 100) } ?? "       "
                let realTime = r.realTimeRateHz > 1
                    ? String(format: "%8.1f× @%4.1f MS/s", r.samplesPerS / r.realTimeRateHz, r.realTimeRateHz / 1e6)
                    : String(repeating: " ", count: 20)
                let cpu = r.cpuSamplesPerS.map { String(format: " (%.2f× real time in CPU time)", $0 / r.realTimeRateHz) } ?? ""
                print(r.stage.padding(toLength: 26, withPad: " ", startingAt: 0)
                      + String(format: "%10.1f   ", r.samplesPerS / 1e6) + realTime + "  " + ratio + "  " + r.note + cpu)
            }
        }
    }

    /// FFT, PSD, burst detection and channelizers, all measured in this run.
    private func spectralStages(into results: inout [Result]) throws {
        // Raw FFTW: 1024-point complex forward transforms, back to back.
        let fft = FFTPlan(size: 1024)
        for k in 0..<1024 { fft.input[k] = IQSample(i: Float(k % 7) * 0.1, q: Float(k % 5) * 0.1) }
        let fftRate = measure(samplesPerRun: 1024) { fft.execute() }
        results.append(Result(stage: "fftw.1024_complex", samplesPerS: fftRate, note: "raw fftwf_execute, 1024 points"))

        // Input for the spectral stages: 3 s of RTL-SDR-like cu8 (noise, DC spike, random bursts).
        let scene = Scene.burstMix(seed: 1, durationS: 3)
        let rendered = scene.render()
        var cu8 = [UInt8](repeating: 0, count: rendered.count * 2)
        rendered.withUnsafeBufferPointer { s in cu8.withUnsafeMutableBytes { _ = SampleConverter(format: .cu8).encode(s, into: $0) } }
        let blockSamples = 65536
        var block = IQBlock(capacity: blockSamples)
        let converter = SampleConverter(format: .cu8)
        func feed(_ consume: (IQBlock) -> Void) {
            var start = 0
            while start < rendered.count {
                let count = min(blockSamples, rendered.count - start)
                block.resize(to: count)
                block.firstSampleIndex = Int64(start)
                cu8.withUnsafeBytes { raw in
                    block.samples.withUnsafeMutableBufferPointer {
                        _ = converter.decode(UnsafeRawBufferPointer(rebasing: raw[(2 * start)..<(2 * (start + count))]), into: $0)
                    }
                }
                consume(block)
                start += count
            }
        }

        // PSD stage on cf32 blocks: Hann window, 1024-point FFT, |X|², linear average (no overlap).
        // Like the raw FFT above, on data that stays in cache (a live stream at 2.4 MS/s is never
        // memory-bound; a bench sweeping 58 MB would measure RAM instead).
        var psdBlock = IQBlock()
        psdBlock.samples = Array(rendered[0..<blockSamples])
        let psd = try WelchPSD(configuration: .init(fftSize: 1024, hop: 1024), sampleRateHz: 2.4e6)
        let psdRate = measure(samplesPerRun: blockSamples) {
            psdBlock.firstSampleIndex += Int64(blockSamples)
            psd.process(psdBlock)
        }
        results.append(Result(stage: "spectrum.psd_1024", samplesPerS: psdRate, note: "window + FFT + |X|² + average, in cache",
                              ratioToFFTW: psdRate / fftRate))

        // The whole spectral stage: convert, spectrogram, noise floor, bursts (with edge refinement),
        // on a quiet band (noise and the DC spike, as most of a sensor's time) and on a busy one.
        var burstCount = 0
        func detectorRate() -> Double {
            measureOnce(samples: rendered.count) {
                guard let detector = try? BurstDetector(sampleRateHz: 2.4e6) else { return }
                burstCount = 0
                feed { detector.process($0) { _ in burstCount += 1 } }
                detector.finish { _ in burstCount += 1 }
            }
        }
        let busyRate = detectorRate()
        let busyCount = burstCount
        let quiet = Scene.noiseOnly(seed: 2, durationS: 3).render()
        quiet.withUnsafeBufferPointer { s in cu8.withUnsafeMutableBytes { _ = SampleConverter(format: .cu8).encode(s, into: $0) } }
        let quietRate = detectorRate()
        results.append(Result(stage: "spectrum.bursts_quiet", samplesPerS: quietRate,
                              note: "convert + spectrogram + noise floor + bursts; noise and DC spike"))
        results.append(Result(stage: "spectrum.bursts_busy", samplesPerS: busyRate,
                              note: "the same on a busy band: \(busyCount) bursts in 3 s"))

        // One channel out of 2.4 MS/s: NCO, 200 kHz low-pass, decimate by 8.
        let extractRate = measureOnce(samples: rendered.count) {
            guard let extractor = try? ChannelExtractor(sampleRateHz: 2.4e6, offsetHz: 300e3, bandwidthHz: 200e3, decimation: 8) else { return }
            var out = IQBlock()
            feed { extractor.process($0, into: &out) }
        }
        results.append(Result(stage: "channel.extract_200k", samplesPerS: extractRate, note: "NCO + FIR + decimate by 8"))

        // Filter bank: 20 MS/s into 20 channels of 1 MHz at 2 MS/s each.
        var wide = [IQSample](repeating: .zero, count: 2_000_000)
        var rng = Xoshiro256(seed: 7)
        for k in wide.indices { let (a, b) = rng.gaussianPair(); wide[k] = IQSample(i: 0.05 * a, q: 0.05 * b) }
        let bankRate = measureOnce(samples: wide.count) {
            guard let bank = try? PolyphaseChannelizer(channels: 20, sampleRateHz: 20e6) else { return }
            var outputs: [IQBlock] = []
            var start = 0
            var piece = IQBlock(capacity: 65536)
            while start < wide.count {
                let end = min(wide.count, start + 65536)
                piece.samples.removeAll(keepingCapacity: true)
                piece.samples.append(contentsOf: wide[start..<end])
                piece.firstSampleIndex = Int64(start)
                bank.process(piece, into: &outputs)
                start = end
            }
        }
        results.append(Result(stage: "channel.filterbank_20x1M", samplesPerS: bankRate,
                              note: "20 MS/s → 20 channels × 2 MS/s, 240 taps", realTimeRateHz: 20e6))
    }

    /// Remote ID message decoding: a pack of the seven kinds of message, decoded again and again.
    /// The rate counts messages (the `msps` column is millions of messages per second).
    private func remoteIDStages(into results: inout [Result]) {
        let pack = RemoteID.encode(.pack(.init(messages: [
            .basicID(.init(idType: 1, uaType: 2, uasID: "1581F5FJD239C00DW22E")),
            .location(.init(status: 2, directionDeg: 92, speedHorizontalMps: 20.5, speedVerticalMps: -1,
                            latitudeDeg: 45.5457468, longitudeDeg: -122.9681496, altitudeGeodeticM: 237, heightM: 100,
                            horizontalAccuracyCode: 9, timestampS: 1234.5)),
            .authentication(.init(authType: 1, pageNumber: 0, lastPageIndex: 0, length: 17, timestampS: 1.7e9,
                                  data: Array("12345678901234567".utf8))),
            .selfID(.init(text: "Recreational")),
            .system(.init(classificationType: 1, operatorLatitudeDeg: 45.54, operatorLongitudeDeg: -122.97)),
            .operatorID(.init(operatorID: "GBR-OP-123ABCD")),
        ])))
        var decoded = 0
        let rate = measure(samplesPerRun: 6) {
            if case .success(.pack(let p)) = RemoteID.decode(pack) { decoded &+= p.messages.count }
        }
        results.append(Result(stage: "remoteid.decode_messages", samplesPerS: rate,
                              note: "millions of messages/s in the MS/s column; 6-message packs",
                              realTimeRateHz: 1))
        _ = decoded

        // LE 1M receiver at 2.4 MS/s: a packet every millisecond at 15 dB, offsets and clock errors as in the tests.
        let air = BLEPacketTrial(count: 1000, snrDB: 15, maxOffsetHz: 100e3, maxPPM: 50).scene.render()
        var received = 0
        for coded in [false, true] {
            var cpuRate = 0.0
            let bleRate = measureOnce(samples: air.count, cpuRate: &cpuRate) {
                guard let receiver = BLEReceiver(sampleRateHz: 2.4e6, channel: 37, receiveCoded: coded) else { return }
                air.withUnsafeBufferPointer { all in
                    var start = 0
                    while start < all.count {
                        let end = min(all.count, start + 65536)
                        received = receiver.process(UnsafeBufferPointer(rebasing: all[start..<end])).count + received
                        start = end
                    }
                }
            }
            results.append(Result(stage: coded ? "ble.receiver_1m_coded" : "ble.le1m_receiver", samplesPerS: bleRate,
                                  note: coded ? "the same with the LE Coded search as well (a sensor's default)"
                                      : "LE 1M only, one advertising channel at 2.4 MS/s, 1000 packets/s",
                                  cpuSamplesPerS: cpuRate))
        }
        _ = received

        // Every BLE channel of a HackRF-style 20 MS/s cs8 capture at 2426 MHz: the filter bank, the
        // resamplers and the nine channel receivers (38 and data channels 7–14), 3000 packets/s on
        // adjacent channels.
        let wideTrial = BLEWidebandTrial(count: 1500, snrDB: 15, maxOffsetHz: 100e3, maxPPM: 50, seed: 9)
        let wide = SampleConverter(format: .cs8).roundTrip(wideTrial.scene.render())
        var wideChannels = 0
        var wideCPURate = 0.0
        let wideRate = measureOnce(samples: wide.count, cpuRate: &wideCPURate) {
            guard let receiver = try? WidebandBLEReceiver(sampleRateHz: 20e6, centerFrequencyHz: 2426e6) else { return }
            wideChannels = receiver.channels.count
            var piece = IQBlock(capacity: 65536)
            var packets: [WidebandBLEReceiver.Packet] = []
            var start = 0
            while start < wide.count {
                let end = min(wide.count, start + 65536)
                piece.samples.removeAll(keepingCapacity: true)
                piece.samples.append(contentsOf: wide[start..<end])
                piece.firstSampleIndex = Int64(start)
                receiver.process(piece, into: &packets)
                start = end
            }
            receiver.finish(into: &packets)
            received = packets.count
        }
        results.append(Result(stage: "ble.wideband_20M", samplesPerS: wideRate,
                              note: "filter bank + \(wideChannels) channel receivers (1M + Coded) at 2.22 MS/s, cs8, "
                                  + "3000 packets/s (\(received) of \(wideTrial.sent.count) decoded)",
                              realTimeRateHz: 20e6, cpuSamplesPerS: wideCPURate))
    }

    /// Decode rate against SNR: LE 1M at 2.4, 2.048 and 2 MS/s and through the 20 MS/s wideband
    /// path, LE Coded S=8 and S=2 at 2.4 MS/s. Packets have carrier offsets to ±100 kHz, clock
    /// errors to ±50 ppm and start anywhere between samples; single-channel input has a DC spike
    /// and is quantised to cu8 as an RTL-SDR records it, wideband input to cs8.
    func runSensitivity() {
        let quantiser = SampleConverter(format: .cu8)
        var rows: [JSONValue] = []
        if !json {
            print("(\(packets) packets per cell; ±100 kHz, ±50 ppm, DC spike, cu8; wideband cs8)")
            print("snr_db   1M 2.4 MS/s   1M 2.048   1M 2.0   1M 20 MS/s wideband   Coded S=8 2.4   Coded S=2 2.4   Coded S=8 20 MS/s")
        }
        func singleChannel(_ trial: BLEPacketTrial, _ sampleRateHz: Double) -> Double {
            guard let receiver = BLEReceiver(sampleRateHz: sampleRateHz, channel: 37) else { return 0 }
            let received = receiver.process(quantiser.roundTrip(trial.scene.render())) + receiver.finish()
            return trial.decodeRate(received.map { ($0.sampleIndex, $0.pdu) })
        }
        func wideband(_ trial: BLEWidebandTrial) -> Double {
            guard let receiver = try? WidebandBLEReceiver(sampleRateHz: 20e6, centerFrequencyHz: 2426e6) else { return 0 }
            var block = IQBlock()
            block.samples = SampleConverter(format: .cs8).roundTrip(trial.scene.render())
            var received: [WidebandBLEReceiver.Packet] = []
            receiver.process(block, into: &received)
            receiver.finish(into: &received)
            return trial.decodeRate(received.map { ($0.sampleIndex, $0.channel, $0.packet.pdu) })
        }
        for snrDB in stride(from: 0.0, through: 16.0, by: 1.0) {
            let seed = UInt64(snrDB * 10 + 1)
            var rates: [Double] = []
            for sampleRateHz in [2.4e6, 2.048e6, 2.0e6] {
                let trial = BLEPacketTrial(count: packets, snrDB: snrDB, maxOffsetHz: 100e3, maxPPM: 50,
                                           sampleRateHz: sampleRateHz, seed: seed)
                rates.append(singleChannel(trial, sampleRateHz))
            }
            // The same packets spread over the nine channels of a 20 MS/s HackRF-style capture, three at
            // a time on adjacent channels, through the wideband front end (filter bank at 2.22 MS/s).
            rates.append(wideband(BLEWidebandTrial(count: packets, snrDB: snrDB, maxOffsetHz: 100e3, maxPPM: 50, seed: seed)))
            // Coded packs are long (8.4 ms at S=8); a quarter as many keeps the run short.
            for phy in [BLEReceiver.PHY.codedS8, .codedS2] {
                let trial = BLEPacketTrial(count: max(1, packets / 4), snrDB: snrDB, maxOffsetHz: 100e3, maxPPM: 50,
                                           seed: seed, phy: phy)
                rates.append(singleChannel(trial, 2.4e6))
            }
            rates.append(wideband(BLEWidebandTrial(count: max(1, packets / 4), snrDB: snrDB, maxOffsetHz: 100e3, maxPPM: 50,
                                                   seed: seed, phy: .codedS8)))
            if json {
                rows.append(.object(["snr_db": .double(snrDB), "le1m_2400k": .double(rates[0]), "le1m_2048k": .double(rates[1]),
                                     "le1m_2000k": .double(rates[2]), "le1m_wideband_20m": .double(rates[3]),
                                     "coded_s8_2400k": .double(rates[4]), "coded_s2_2400k": .double(rates[5]),
                                     "coded_s8_wideband_20m": .double(rates[6])]))
            } else {
                print(String(format: "%6.0f   %9.1f %%  %7.1f %%  %5.1f %%  %17.1f %%   %11.1f %%   %11.1f %%   %13.1f %%", snrDB,
                             rates[0] * 100, rates[1] * 100, rates[2] * 100, rates[3] * 100, rates[4] * 100, rates[5] * 100,
                             rates[6] * 100))
            }
        }
        if json {
            print(JSONValue.object(["ble_sensitivity": .array(rows), "packets": .int(Int64(packets)),
                                    "coded_packets": .int(Int64(max(1, packets / 4)))]).serialized())
        }
    }

    /// CRC-valid packets from noise alone: the single-channel receiver (LE 1M and Coded) over
    /// 2.4 MS/s cu8 noise with a DC spike, and the wideband path over 20 MS/s cs8 noise, a second of
    /// fresh noise at a time.
    func runFalsePackets(minutes: Double) {
        let seconds = max(1, Int((minutes * 60).rounded()))
        var single: [BLEReceiver.Packet] = []
        var counters = BLEReceiver.Counters()
        if let receiver = BLEReceiver(sampleRateHz: 2.4e6, channel: 37) {
            for second in 0..<seconds {
                var scene = Scene(sampleRateHz: 2.4e6, centerFrequencyHz: 2.402e9, durationS: 1, noiseDBFS: -25, bursts: [],
                                  seed: UInt64(second) + 1)
                scene.dcOffset = IQSample(i: 0.02, q: -0.015)
                single += receiver.process(SampleConverter(format: .cu8).roundTrip(scene.render()))
            }
            single += receiver.finish()
            counters = receiver.counters
        }
        var wide: [WidebandBLEReceiver.Packet] = []
        var channels = 0
        if let receiver = try? WidebandBLEReceiver(sampleRateHz: 20e6, centerFrequencyHz: 2426e6) {
            channels = receiver.channels.count
            var block = IQBlock()
            for second in 0..<seconds {
                let scene = Scene(sampleRateHz: 20e6, centerFrequencyHz: 2.426e9, durationS: 1, noiseDBFS: -25, bursts: [],
                                  seed: UInt64(second) + 100_000)
                block.samples = SampleConverter(format: .cs8).roundTrip(scene.render())
                block.firstSampleIndex = Int64(second) * 20_000_000
                receiver.process(block, into: &wide)
            }
            receiver.finish(into: &wide)
        }
        if json {
            print(JSONValue.object([
                "noise_seconds": .int(Int64(seconds)), "single_channel_packets": .int(Int64(single.count)),
                "le1m_syncs": .int(Int64(counters.syncs)), "coded_preambles": .int(Int64(counters.codedPreambles)),
                "wideband_channels": .int(Int64(channels)), "wideband_packets": .int(Int64(wide.count)),
            ]).serialized())
        } else {
            print("\(seconds) s of noise, 2.4 MS/s single channel (LE 1M + Coded): \(single.count) CRC-valid packets "
                  + "(\(counters.syncs) LE 1M syncs and \(counters.codedPreambles) Coded preambles followed up)")
            print("\(seconds) s of noise, 20 MS/s wideband (\(channels) channels, LE 1M + Coded each): \(wide.count) CRC-valid packets")
        }
    }

    /// Records over UDP to loopback at a fixed rate, HMAC-signed: the sender must lose none; a
    /// receiver on its own thread counts and verifies what arrives.
    func runUDP() throws {
        let port = UInt16(40_000 + getpid() % 20_000)
        let endpoint = try UDPEndpoint("udp://127.0.0.1:\(port)")
        let key = RecordDatagram.Key(data: Array(repeating: UInt8(0x42), count: 32))
        let receiver = try UDPReceiver(endpoint)
        let feed = try UDPRecordFeed(endpoint, key: key)
        // A real record: the first Location broadcast of the bundled BLE recording's drone.
        let record = JSONValue.object([
            "schema": .int(1), "kind": .string("remote_id"), "family": .string("ble-legacy-remote-id"),
            "uas_id": .string("1596F3SYNTH0001"), "time": .string("2026-11-29T12:00:00.004217Z"), "sensor_id": .string("bench"),
            "channel": .int(37), "freq_hz": .int(2_402_000_000), "snr_db": .double(14.2), "rssi_dbfs": .double(-25.1),
            "lat": .double(51.4775), "lon": .double(-0.0015), "alt_geo_m": .double(120),
            "remote_id": .array([.object(["type": .string("location"), "lat": .double(51.4775), "lon": .double(-0.0015),
                                          "speed_h_mps": .double(12), "direction_deg": .double(45)])]),
        ])
        let total = Int(Double(udpRate) * udpSeconds)
        let received = Mutex((count: 0, verified: 0))
        let finished = DispatchSemaphore(value: 0)
        Thread {
            while let datagram = receiver.receive(timeoutS: 1) {
                let valid = RecordDatagram.open(datagram, key: key)?.verification == .valid
                received.withLock { $0.count += 1; if valid { $0.verified += 1 } }
            }
            finished.signal()
        }.start()
        let t0 = monotonicNs()
        for k in 0..<total {
            feed.send(record)
            // Paced in steps of 100 records.
            if k % 100 == 99 {
                let due = t0 + UInt64(Double(k + 1) / Double(udpRate) * 1e9)
                while monotonicNs() < due { usleep(100) }
            }
        }
        let sendS = Double(monotonicNs() - t0) * 1e-9
        finished.wait()
        let got = received.withLock { $0 }
        let datagramBytes = RecordDatagram.datagrams(record, key: key)[0].count
        if json {
            print(JSONValue.object([
                "udp_records": .int(Int64(total)), "udp_seconds": .double(sendS), "sender_failures": .int(Int64(feed.sender.failedSends)),
                "received": .int(Int64(got.count)), "verified": .int(Int64(got.verified)), "datagram_bytes": .int(Int64(datagramBytes)),
            ]).serialized())
        } else {
            print("UDP to loopback: \(total) signed records (\(datagramBytes)-byte datagrams) in \(String(format: "%.2f", sendS)) s = "
                  + "\(Int(Double(total) / sendS)) records/s; \(feed.sender.failedSends) lost by the sender; "
                  + "\(got.count) received, \(got.verified) with a valid HMAC")
        }
    }

    /// Best of a few timed runs of a whole pass over `samples` samples.
    private func measureOnce(samples: Int, _ body: () -> Void) -> Double {
        var cpu = 0.0
        return measureOnce(samples: samples, cpuRate: &cpu, body)
    }

    /// The same, also giving the best rate against this thread's CPU time.
    private func measureOnce(samples: Int, cpuRate: inout Double, _ body: () -> Void) -> Double {
        var best = 0.0
        cpuRate = 0
        let deadline = monotonicNs() + UInt64(max(seconds, 0.2) * 2 * 1e9)
        repeat {
            let t0 = monotonicNs(), c0 = threadCPUSeconds()
            body()
            best = max(best, Double(samples) / (Double(monotonicNs() - t0) * 1e-9))
            cpuRate = max(cpuRate, Double(samples) / max(threadCPUSeconds() - c0, 1e-9))
        } while monotonicNs() < deadline
        return best
    }

    private func threadCPUSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    /// Best-of-several throughput of `body`, samples per second.
    private func measure(samplesPerRun: Int, _ body: () -> Void) -> Double {
        for _ in 0..<10 { body() }  // warm caches and page in buffers
        var best = 0.0
        let deadline = monotonicNs() + UInt64(seconds * 1e9)
        repeat {
            let t0 = monotonicNs()
            for _ in 0..<50 { body() }
            best = max(best, Double(samplesPerRun * 50) / (Double(monotonicNs() - t0) * 1e-9))
        } while monotonicNs() < deadline
        return best
    }
}
