import Foundation
import IQ
import Synth
import TestSupport
import Testing

@Suite struct RecordingTests {
    /// A short deterministic cf32 signal with structure (tone + noise) for round trips.
    static func testSignal(count: Int = 20000) -> [IQSample] {
        var rng = Xoshiro256(seed: 42)
        return (0..<count).map { k in
            let (a, b) = rng.gaussianPair()
            let phase = Float(k) * 0.05
            return IQSample(i: 0.5 * cos(phase) + 0.05 * a, q: 0.5 * sin(phase) + 0.05 * b)
        }
    }

    static func write(_ samples: [IQSample], to path: String, format: SampleFormat? = nil, rateHz: Double = 2_400_000,
                      freqHz: Double? = 915e6) throws {
        var meta = SigMFMetadata(format: format ?? .cf32, sampleRateHz: rateHz)
        meta.captures = [SigMFCapture(sampleStart: 0, frequencyHz: freqHz, datetimeS: 1_795_961_804.5)]
        meta.annotations = [SigMFAnnotation(sampleStart: 100, sampleCount: 50, freqLowerEdgeHz: 914.9e6,
                                            freqUpperEdgeHz: 915.1e6, label: "burst", comment: "test")]
        meta.global["acme:custom"] = .string("kept")
        let writer = try RecordingWriter(path: path, format: format, metadata: meta)
        try samples.withUnsafeBufferPointer { try writer.write($0) }
        try writer.finish()
    }

    @Test(arguments: ["rec.sigmf-meta", "rec.sigmf", "rec.sigmf-data"])
    func sigmfRoundTripKeepsMetadataAndSamples(name: String) throws {
        let dir = TempDir()
        let samples = Self.testSignal()
        try Self.write(samples, to: dir.file(name), format: .cf32)
        let rec = try Recording.open(dir.file(name))
        #expect(rec.sampleRateHz == 2_400_000)
        #expect(rec.centerFrequencyHz == 915e6)
        #expect(rec.startTimeS == 1_795_961_804.5)
        #expect(rec.sampleCount == Int64(samples.count))
        #expect(rec.metadata.annotations.first?.label == "burst")
        #expect(rec.metadata.annotations.first?.freqUpperEdgeHz == 915.1e6)
        #expect(rec.metadata[string: "acme:custom"] == "kept")
        #expect(try readAll(dir.file(name)) == samples)
    }

    @Test func rawFileTakesRateAndFrequencyFromName() throws {
        let dir = TempDir()
        let path = dir.write("drone_915M_2400k.cu8", pseudoRandomBytes(2000))
        let rec = try Recording.open(path)
        #expect(rec.format == .cu8 && rec.sampleRateHz == 2_400_000 && rec.centerFrequencyHz == 915e6)
        #expect(rec.sampleCount == 1000)
        let overridden = try Recording.open(path, options: .init(format: .cs16, sampleRateHz: 1e6, centerFrequencyHz: 868e6))
        #expect(overridden.format == .cs16 && overridden.sampleRateHz == 1e6 && overridden.centerFrequencyHz == 868e6)
        #expect(overridden.sampleCount == 500)
    }

    /// cu8 → cf32 → SigMF (ci16) → cs16 → cu8 loses at most 1 LSB.
    @Test func conversionChainWithinOneLSB() throws {
        let dir = TempDir()
        let original = pseudoRandomBytes(2 * 30000, seed: 9)
        let cu8 = dir.write("a_915M_2400k.cu8", original)
        func convert(_ from: String, _ to: String, _ format: SampleFormat? = nil) throws {
            let source = try FileSource(path: from, blockSamples: 4099)
            let writer = try RecordingWriter(path: to, format: format, metadata: source.recording.metadata)
            var block = IQBlock()
            while try source.read(into: &block) == .samples { try block.samples.withUnsafeBufferPointer { try writer.write($0) } }
            try writer.finish()
        }
        try convert(cu8, dir.file("b.cf32"))
        try Self.copyTags(from: cu8, to: dir.file("b.cf32"))
        try convert(dir.file("b_915M_2400k.cf32"), dir.file("c.sigmf-meta"), .cs16)
        try convert(dir.file("c.sigmf-meta"), dir.file("d.cs16"))
        try Self.copyTags(from: cu8, to: dir.file("d.cs16"))
        try convert(dir.file("d_915M_2400k.cs16"), dir.file("e.cu8"))
        let back = try Array(Data(contentsOf: URL(fileURLWithPath: dir.file("e.cu8"))))
        #expect(back.count == original.count)
        let worst = zip(back, original).map { abs(Int($0) - Int($1)) }.max() ?? 99
        #expect(worst <= 1)
        let meta = try Recording.open(dir.file("c.sigmf-meta"))
        #expect(meta.format == .cs16 && meta.sampleRateHz == 2_400_000 && meta.centerFrequencyHz == 915e6)
    }

    /// Renames `x.ext` to `x_915M_2400k.ext` the way a user tags a raw file.
    static func copyTags(from: String, to: String) throws {
        let url = URL(fileURLWithPath: to)
        let tagged = url.deletingPathExtension().path + "_915M_2400k." + url.pathExtension
        try FileManager.default.moveItem(atPath: to, toPath: tagged)
    }

    @Test(arguments: [1, 7, 4096, 65536, 1_000_000])
    func anyBlockSizeYieldsTheSameSamples(blockSamples: Int) throws {
        let dir = TempDir()
        let samples = Self.testSignal(count: 70001)
        try Self.write(samples, to: dir.file("r.sigmf"), format: .cs16)
        let whole = try readAll(dir.file("r.sigmf"), blockSamples: 1 << 20)
        #expect(try readAll(dir.file("r.sigmf"), blockSamples: blockSamples) == whole)
    }

    @Test func blocksCarryIndexTimeAndFrequencyPerCapture() throws {
        let dir = TempDir()
        var meta = SigMFMetadata(format: .cu8, sampleRateHz: 1000)
        meta.captures = [SigMFCapture(sampleStart: 0, frequencyHz: 915e6, datetimeS: 100),
                         SigMFCapture(sampleStart: 600, frequencyHz: 916e6, datetimeS: 200, globalIndex: 5000)]
        let writer = try RecordingWriter(path: dir.file("h.sigmf-meta"), format: .cu8, metadata: meta)
        let zeros = [IQSample](repeating: .zero, count: 1000)
        try zeros.withUnsafeBufferPointer { try writer.write($0) }
        try writer.finish()
        let source = try FileSource(path: dir.file("h.sigmf-meta"), blockSamples: 400)
        var block = IQBlock()
        var seen: [(Int64, Int, Int64, Double?, Double?)] = []
        while try source.read(into: &block) == .samples {
            seen.append((block.firstSampleIndex, block.count, block.droppedBefore, block.centerFrequencyHz, block.captureTimeS))
        }
        #expect(seen.map(\.0) == [0, 400, 5000])
        #expect(seen.map(\.1) == [400, 200, 400])
        #expect(seen.map(\.2) == [0, 0, 4400])
        #expect(seen.map(\.3) == [915e6, 915e6, 916e6])
        #expect(seen.map(\.4) == [100, 100.4, 200])
        #expect(source.stats.samplesDropped == 4400)
    }

    @Test func loopedReplayIsOneGaplessStream() throws {
        let dir = TempDir()
        var meta = SigMFMetadata(format: .cu8, sampleRateHz: 1000)
        // Two captures with a jump in global index: the gap repeats each pass, the passes join.
        meta.captures = [SigMFCapture(sampleStart: 0, frequencyHz: 915e6, datetimeS: 100, globalIndex: 10),
                         SigMFCapture(sampleStart: 600, frequencyHz: 915e6, datetimeS: 200, globalIndex: 5000)]
        let writer = try RecordingWriter(path: dir.file("l.sigmf-meta"), format: .cu8, metadata: meta)
        let ramp = (0..<1000).map { IQSample(i: Float($0 % 200) / 128 - 0.78, q: 0) }
        try ramp.withUnsafeBufferPointer { try writer.write($0) }
        try writer.finish()
        let source = try FileSource(path: dir.file("l.sigmf-meta"), blockSamples: 400)
        source.loops = true
        var block = IQBlock()
        var seen: [(Int64, Int, Int64, Bool)] = []
        var samples: [IQSample] = []
        for _ in 0..<9 {
            #expect(try source.read(into: &block) == .samples)
            seen.append((block.firstSampleIndex, block.count, block.droppedBefore, block.captureTimeS != nil))
            samples += block.samples
        }
        // Pass 1: 10, 410 (to 610), jump to 5000 (to 5400). Pass 2 starts at 5400.
        #expect(seen.map(\.0) == [10, 410, 5000, 5400, 5800, 10390, 10790, 11190, 15780])
        #expect(seen.map(\.1) == [400, 200, 400, 400, 200, 400, 400, 200, 400])
        #expect(seen.map(\.2) == [0, 0, 4390, 0, 0, 4390, 0, 0, 4390])
        #expect(seen.map(\.3) == [true, true, true, false, false, false, false, false, false])
        #expect(source.passes == 2)
        #expect(Array(samples[1000..<2000]) == Array(samples[0..<1000]))
        source.stop()
        #expect(try source.read(into: &block) == .endOfStream)
    }

    @Test func realTimePacingHoldsTheSampleRate() throws {
        let dir = TempDir()
        let path = dir.write("p_915M_250k.cu8", pseudoRandomBytes(2 * 50000))
        let source = try FileSource(path: path, blockSamples: 5000, pacing: .realTime)
        var block = IQBlock()
        let t0 = monotonicNs()
        while try source.read(into: &block) == .samples {}
        let elapsedS = Double(monotonicNs() - t0) * 1e-9
        // 50000 samples at 250 kS/s = 0.2 s; the first block goes out at once.
        #expect(elapsedS > 0.17 && elapsedS < 0.5, "took \(elapsedS) s")
    }

    @Test func readsPaxArchivesWrittenByPythonTarfile() throws {
        let dir = TempDir()
        try Self.write(Self.testSignal(count: 1000), to: dir.file("src.sigmf-meta"), format: .cf32)
        let long = String(repeating: "x", count: 120)
        let script = """
        import tarfile, sys
        d = sys.argv[1]
        with tarfile.open(d + '/py.sigmf', 'w', format=tarfile.PAX_FORMAT) as t:
            t.add(d + '/src.sigmf-meta', arcname='\(long)/\(long).sigmf-meta')
            t.add(d + '/src.sigmf-data', arcname='\(long)/\(long).sigmf-data')
        """
        let (status, _, err) = try runProcess("/usr/bin/env", ["python3", "-c", script, dir.path])
        #expect(status == 0, "\(err)")
        let rec = try Recording.open(dir.file("py.sigmf"))
        #expect(rec.sampleCount == 1000 && rec.container == .sigmfArchive)
        #expect(try readAll(dir.file("py.sigmf")) == Self.testSignal(count: 1000))
    }

    @Test func sceneGeneratorIsDeterministicAndAnnotated() throws {
        let dir = TempDir()
        let scene = try #require(Scene.named("demo-915"))
        _ = try scene.write(to: dir.file("a.sigmf-meta"), format: .cu8, recorder: "test")
        _ = try scene.write(to: dir.file("b.sigmf-meta"), format: .cu8, recorder: "test")
        let a = try Data(contentsOf: URL(fileURLWithPath: dir.file("a.sigmf-data")))
        let b = try Data(contentsOf: URL(fileURLWithPath: dir.file("b.sigmf-data")))
        #expect(a == b)
        let rec = try Recording.open(dir.file("a.sigmf-meta"))
        #expect(rec.metadata.annotations.count == scene.bursts.count)
        #expect(rec.sampleCount == Int64(scene.sampleCount))
    }
}

@Suite struct BundledSampleTests {
    /// iq-samples/ holds exactly what `uasense synth` generates (`make samples`), so the demo and
    /// golden tests stay reproducible. libm may differ by an ulp across machines: allow 1 LSB.
    @Test(arguments: [("demo-915", nil), ("ble-remote-id-2402M", 0.5)] as [(String, Double?)])
    func bundledRecordingMatchesTheGenerator(name: String, durationS: Double?) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let bundled = root.appendingPathComponent("iq-samples/\(name).sigmf-meta").path
        let dir = TempDir()
        let scene = try #require(name == "demo-915" ? Scene.named(name) : Scene.named("ble-remote-id", seed: 1, durationS: durationS))
        _ = try scene.write(to: dir.file("demo.sigmf-meta"), format: .cu8, recorder: "test")
        let a = try Array(Data(contentsOf: URL(fileURLWithPath: dir.file("demo.sigmf-data"))))
        let b = try Array(Data(contentsOf: URL(fileURLWithPath: String(bundled.dropLast(4)) + "data")))
        #expect(a.count == b.count)
        let differing = zip(a, b).filter { $0 != $1 }
        #expect(differing.allSatisfy { abs(Int($0) - Int($1)) <= 1 })
        #expect(differing.count <= a.count / 10_000)
        let rec = try Recording.open(bundled)
        #expect(rec.metadata.annotations.count == scene.bursts.count)
        #expect(rec.centerFrequencyHz == scene.centerFrequencyHz && rec.sampleRateHz == scene.sampleRateHz)
    }
}
