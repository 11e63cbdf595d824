import ArgumentParser
import Foundation
import IQ

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
    }

    func run() throws {
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

        if json {
            let stages: [JSONValue] = results.map {
                .object(["stage": .string($0.stage), "msps": .double(($0.samplesPerS / 1e6 * 10).rounded() / 10),
                         "x_realtime_2400k": .double(($0.samplesPerS / referenceRateHz).rounded()),
                         "note": .string($0.note)])
            }
            print(JSONValue.object(["uasense_version": .string(Uasense.version), "threads": .int(1),
                                    "reference_rate_hz": .number(referenceRateHz), "stages": .array(stages)]).serialized(indent: 2))
        } else {
            print("stage".padding(toLength: 24, withPad: " ", startingAt: 0) + "      MS/s   × real time @2.4 MS/s")
            for r in results {
                print(r.stage.padding(toLength: 24, withPad: " ", startingAt: 0)
                      + String(format: "%10.1f   %8.0f×   ", r.samplesPerS / 1e6, r.samplesPerS / referenceRateHz) + r.note)
            }
        }
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
