import ArgumentParser
import BLE
import Captures
import Foundation
import IQ

/// The live sensor: samples from a source through the Bluetooth LE receive chain to Remote ID
/// records on stdout and the outputs the flags ask for (UDP, CoT, MQTT).
///
/// Two threads: this one reads and receives (it must never wait on a network), and an output
/// thread that runs the tracks and writes to stdout, UDP, CoT and MQTT. Between them a bounded
/// queue: a console that stalls costs queued records (counted), never samples.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the live sensor on a source until SIGINT/SIGTERM: Remote ID records on stdout and the chosen outputs, status lines on stderr.")

    @Option(help: "rtlsdr[:N|:serial=S], rtltcp://HOST:PORT or file:PATH (replayed in real time).")
    var source: String

    @Option(name: .customLong("stats-interval"), help: "Seconds between status lines.")
    var statsIntervalS: Double = 5

    @Flag(help: "file: sources: replay the recording again and again until stopped (a standing test signal).")
    var loop = false

    @OptionGroup var tuner: TunerOptions

    @OptionGroup var outputOptions: OutputOptions

    func validate() throws {
        guard statsIntervalS > 0, statsIntervalS.isFinite else { throw ValidationError("--stats-interval must be above 0") }
        if loop, !source.hasPrefix("file:") { throw ValidationError("--loop replays recordings: use it with --source file:PATH") }
    }

    func run() throws {
        installStopHandlers()
        let src = try openSource(source, tuner: tuner, realTime: true)
        defer { src.stop() }
        if loop, let file = src as? FileSource { file.loops = true }
        let outputs = try outputOptions.open()
        let rateHz = src.info.sampleRateHz
        printErr("uasense: reading \(src.info.origin) at \(Text.rate(rateHz)), \(Text.hz(src.info.centerFrequencyHz))"
                 + (src.info.hardware.map { " [\($0)]" } ?? "") + describeProfile(src.info))
        let (chain, note) = BLEChain.make(sampleRateHz: rateHz, centerFrequencyHz: src.info.centerFrequencyHz)
        if let chain {
            let channels = chain.channelCounters.map { String($0.channel) }.joined(separator: ", ")
            printErr("uasense: receiving Bluetooth LE Remote ID on channel\(chain.channelCounters.count == 1 ? "" : "s") \(channels)")
        } else {
            printErr("uasense: no Remote ID reception: " + (note ?? "no Bluetooth LE channel at this frequency and rate "
                + "(tune to 2402, 2426 or 2480 MHz at 2–4 MS/s, or a 4–40 MS/s band holding them)"))
        }

        let stream = try DetectionStream(outputs: outputs, tracking: outputOptions.tracking)
        let worker = OutputWorker(stream: stream)
        // Also when the source fails: the tracks end, and the consoles hear it from the outputs.
        defer {
            worker.finish()
            outputs.close()
        }

        var block = IQBlock(capacity: 65536)
        var packets: [BLEReceiver.Packet] = []
        var counters = FrameCounters()
        var window = PowerStatistics()
        var broadcasts = 0
        // Stream time on the wall clock: sample k of the stream was taken at anchor + k / rate.
        var anchor: (wallS: Double, sampleIndex: Int64)?
        var lastStats = src.stats
        var lastNs = monotonicNs()
        var ended = false
        func streamTimeS(_ index: Int64) -> Double {
            guard let anchor else { return wallClockS() }
            return anchor.wallS + Double(index - anchor.sampleIndex) / rateHz
        }
        func hand(_ packets: [BLEReceiver.Packet]) {
            for packet in packets {
                for frame in BLEChain.remoteIDFrames(packet, timeS: streamTimeS(packet.sampleIndex), counters: &counters) {
                    worker.push(.frame(frame))
                    broadcasts += 1
                }
            }
        }
        while !stopRequested.isSet && !ended {
            switch try src.read(into: &block, timeoutS: 0.5) {
            case .endOfStream: ended = true
            case .timedOut: break
            case .samples:
                if anchor == nil { anchor = (wallClockS(), block.firstSampleIndex) }
                window.add(block)
                if block.droppedBefore > 0 {
                    printErr("uasense: gap of \(block.droppedBefore) samples (\(Text.seconds(Double(block.droppedBefore) / rateHz))) before sample \(block.firstSampleIndex)")
                }
                packets.removeAll(keepingCapacity: true)
                chain?.process(block, into: &packets)
                hand(packets)
                worker.push(.tick(timeS: streamTimeS(block.endSampleIndex)))
            }
            let now = monotonicNs()
            let elapsedS = Double(now - lastNs) * 1e-9
            if elapsedS >= statsIntervalS || stopRequested.isSet || ended {
                let stats = src.stats
                let rate = Double(stats.samplesDelivered - lastStats.samplesDelivered) / elapsedS
                let received = chain?.channelCounters.reduce(0) { $0 + $1.counters.packets + $1.counters.codedPackets } ?? 0
                printErr(String(format: "%@ %.3f MS/s, dropped %lld (total %lld), reconnects %lld, mean %.1f dBFS, clipping %.2f %%",
                                RFC3339.format(wallClockS(), fractionDigits: 0), rate / 1e6,
                                stats.samplesDropped - lastStats.samplesDropped, stats.samplesDropped, stats.reconnects,
                                window.samples > 0 ? window.meanPowerDBFS : -200, window.clippedPercent)
                         + "; BLE packets \(received), Remote ID broadcasts \(broadcasts)"
                         + (worker.dropped > 0 ? ", \(worker.dropped) dropped by a stalled output" : ""))
                outputs.mqtt?.setHealth([
                    "source": .string(src.info.origin),
                    "sample_rate_msps": .number((rate / 1e3).rounded() / 1e3),
                    "samples_delivered": .int(stats.samplesDelivered), "samples_dropped": .int(stats.samplesDropped),
                    "source_reconnects": .int(stats.reconnects),
                    "mean_power_dbfs": .number(((window.samples > 0 ? window.meanPowerDBFS : -200) * 10).rounded() / 10),
                    "clipping_percent": .number((window.clippedPercent * 100).rounded() / 100),
                    "ble_packets": .int(Int64(received)), "remote_id_broadcasts": .int(Int64(broadcasts)),
                    "records_dropped_by_output_queue": .int(Int64(worker.dropped)),
                ])
                lastStats = stats
                lastNs = now
                window = PowerStatistics()
            }
        }
        if let chain {
            packets.removeAll()
            chain.finish(into: &packets)
            hand(packets)
        }
        printErr("uasense: stopped after \(src.stats.samplesDelivered) samples, \(src.stats.samplesDropped) dropped; "
                 + "\(broadcasts) Remote ID broadcasts")
    }
}

/// The output thread of `run`: takes broadcasts and clock ticks from the receive thread through a
/// bounded queue and runs them through the tracks to the outputs. When the queue is full (an output
/// blocked for long) the newest item is dropped and counted; ticks are merged, not queued.
final class OutputWorker: @unchecked Sendable {
    enum Item: Sendable {
        case frame(RemoteIDFrame)
        case tick(timeS: Double)
    }

    static let capacity = 4096

    private let stream: DetectionStream
    private let condition = NSCondition()
    private var queue: [Item] = []
    private var finishing = false
    private var done = false
    private var droppedCount = 0
    /// Distinct output failures already printed (a dead console is reported once, not per record).
    private var reported: Set<String> = []

    init(stream: DetectionStream) {
        self.stream = stream
        let thread = Thread { [self] in work() }
        thread.name = "uasense-outputs"
        thread.start()
    }

    var dropped: Int { condition.withLock { droppedCount } }

    func push(_ item: Item) {
        condition.withLock {
            if case .tick = item, case .tick = queue.last {
                queue[queue.count - 1] = item
            } else if queue.count >= Self.capacity {
                droppedCount += 1
                return
            } else {
                queue.append(item)
            }
            condition.signal()
        }
    }

    /// Drains the queue, ends the stream (held updates, losses) and stops the thread.
    func finish() {
        condition.withLock {
            finishing = true
            condition.signal()
            while !done { condition.wait() }
        }
    }

    private func work() {
        // Two buffers swapped under the lock: no copy and no allocation per batch.
        var items: [Item] = []
        items.reserveCapacity(Self.capacity)
        while true {
            items.removeAll(keepingCapacity: true)
            condition.lock()
            while queue.isEmpty && !finishing { condition.wait() }
            swap(&items, &queue)
            let last = finishing && items.isEmpty
            condition.unlock()
            if last { break }
            for item in items {
                attempt {
                    switch item {
                    case .frame(let frame): try stream.add(frame)
                    case .tick(let timeS): try stream.advance(toS: timeS)
                    }
                }
            }
            stream.outputs.flushStdout()
        }
        attempt { try stream.finish() }
        stream.outputs.flushStdout()
        condition.withLock {
            done = true
            condition.broadcast()
        }
    }

    private func attempt(_ body: () throws -> Void) {
        do {
            try body()
        } catch {
            let text = "\(error)"
            if reported.insert(text).inserted { printErr("uasense: output: \(text) (the sensor goes on)") }
        }
    }
}
