import Foundation
import IQ
import TestSupport
import Testing

/// The shipped profile files, found from this source file (tests run from any directory).
func shippedProfile(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("calibration/receivers/\(name).json").path
}

/// Mean frequency of a single tone, from the average phase step between neighbouring samples.
func toneFrequencyHz(_ samples: [IQSample], sampleRateHz: Double) -> Double {
    var re = 0.0, im = 0.0
    for k in 1..<samples.count {
        let a = samples[k], b = samples[k - 1]
        // a · conj(b)
        re += Double(a.i * b.i + a.q * b.q)
        im += Double(a.q * b.i - a.i * b.q)
    }
    return atan2(im, re) / (2 * Double.pi) * sampleRateHz
}

@Suite struct ReceiverProfileParsingTests {
    @Test func shippedProfilesLoadAndMapBLEChannel37() throws {
        let low = try ReceiverProfile.load(path: shippedProfile("rtlsdr-downconverter-2g4-lowside"))
        #expect(low.name == "rtlsdr-downconverter-2g4-lowside")
        #expect(low.loFrequencyHz == 1.6e9 && !low.spectralInversion)
        #expect(low.tunerPPM == nil && low.tunerGainDB == nil)
        #expect(try low.intermediateFrequencyHz(skyHz: 2402e6) == 802e6)
        #expect(try low.skyFrequencyHz(intermediateHz: 802e6) == 2402e6)

        let high = try ReceiverProfile.load(path: shippedProfile("rtlsdr-downconverter-2g4-highside"))
        #expect(high.name == "rtlsdr-downconverter-2g4-highside")
        #expect(high.loFrequencyHz == 3.2e9 && high.spectralInversion)
        #expect(high.tunerPPM == 0 && high.tunerGainDB == 40.2)
        #expect(try high.intermediateFrequencyHz(skyHz: 2402e6) == 798e6)
        #expect(try high.skyFrequencyHz(intermediateHz: 798e6) == 2402e6)
        // Every advertising channel of the band lands inside an R820T's 24–1766 MHz.
        for profile in [low, high] {
            for skyHz in [2402e6, 2426e6, 2480e6] {
                let intermediateHz = try profile.intermediateFrequencyHz(skyHz: skyHz)
                #expect(intermediateHz > 24e6 && intermediateHz < 1766e6)
                #expect(try profile.skyFrequencyHz(intermediateHz: intermediateHz) == skyHz)
            }
        }
    }

    @Test func bandEdgesMirrorUnderHighSideInjection() throws {
        let high = try ReceiverProfile(name: "h", loFrequencyHz: 3.2e9, spectralInversion: true)
        let edges = high.skyEdgesHz(lowerHz: 797e6, upperHz: 799e6)
        #expect(edges.lowerHz == 2401e6 && edges.upperHz == 2403e6)
        let onlyLower = high.skyEdgesHz(lowerHz: 797e6, upperHz: nil)
        #expect(onlyLower.lowerHz == nil && onlyLower.upperHz == 2403e6)
        let low = try ReceiverProfile(name: "l", loFrequencyHz: 1.6e9, spectralInversion: false)
        let upright = low.skyEdgesHz(lowerHz: 801e6, upperHz: 803e6)
        #expect(upright.lowerHz == 2401e6 && upright.upperHz == 2403e6)
    }

    /// Each bad field: the whole one-line message, naming the file and the field.
    @Test(arguments: [
        (#"{"name":"x","lo_hz":-1,"spectral_inversion":false}"#, "lo_hz must be a positive number of Hz"),
        (#"{"name":"x","lo_hz":0,"spectral_inversion":false}"#, "lo_hz must be a positive number of Hz"),
        (#"{"name":"x","lo_hz":"1.6e9","spectral_inversion":false}"#, "lo_hz must be a positive number of Hz"),
        (#"{"name":"x","spectral_inversion":false}"#, "lo_hz must be a positive number of Hz"),
        (#"{"name":"x","lo_hz":1.6e15,"spectral_inversion":false}"#, "lo_hz 1600000000 MHz is above 1 THz; check the number of zeros"),
        (#"{"name":"x","lo_hz":1.6e9}"#,
         "spectral_inversion is missing: true for high-side injection (sky = LO − IF), false for low-side (sky = LO + IF)"),
        (#"{"name":"x","lo_hz":1.6e9,"spectral_inversion":1}"#,
         "spectral_inversion must be true (high-side, sky = LO − IF) or false (low-side, sky = LO + IF)"),
        (#"{"lo_hz":1.6e9,"spectral_inversion":false}"#, "name must be a non-empty string"),
        (#"{"name":" ","lo_hz":1.6e9,"spectral_inversion":false}"#, "name must be a non-empty string"),
        (#"{"name":"x","description":3,"lo_hz":1.6e9,"spectral_inversion":false}"#, "description must be a string"),
        (#"{"name":"x","lo_hz":1.6e9,"spectral_inversion":false,"tuner_ppm":1.5}"#,
         "tuner_ppm must be a whole number of ppm between -1000 and 1000"),
        (#"{"name":"x","lo_hz":1.6e9,"spectral_inversion":false,"tuner_ppm":5000}"#,
         "tuner_ppm must be a whole number of ppm between -1000 and 1000"),
        (#"{"name":"x","lo_hz":1.6e9,"spectral_inversion":false,"tuner_gain_db":99}"#,
         "tuner_gain_db must be a number of dB between 0 and 60"),
        (#"{"name":"x","lo_hz":1.6e9,"spectral_inversion":false,"tuner_gain_db":"auto"}"#,
         "tuner_gain_db must be a number of dB between 0 and 60"),
        (#"{"name":"x","lo_Hz":1.6e9,"spectral_inversion":false}"#,
         "unknown field 'lo_Hz' (known: description, lo_hz, name, spectral_inversion, tuner_gain_db, tuner_ppm)"),
        (#"[1, 2]"#, "top level is not a JSON object"),
        (#"{"name": "x", "#, "not valid JSON; expected an object with name, lo_hz and spectral_inversion"),
    ])
    func badFieldIsNamed(text: String, reason: String) throws {
        let dir = TempDir()
        let path = dir.write("bad.json", text: text)
        do {
            let profile = try ReceiverProfile.load(path: path)
            Issue.record("accepted \(text) as \(profile)")
        } catch let error as IQError {
            #expect(error.description == "\(path): \(reason)")
            #expect(!error.description.contains("\n"))
        }
    }

    @Test func missingAndEmptyFilesAreNamed() throws {
        let dir = TempDir()
        #expect(throws: IQError.fileNotFound(path: dir.file("none.json"))) {
            _ = try ReceiverProfile.load(path: dir.file("none.json"))
        }
        let empty = dir.write("empty.json", [])
        #expect(throws: IQError.invalidProfile(path: empty, reason: "file is empty; expected a JSON object")) {
            _ = try ReceiverProfile.load(path: empty)
        }
    }

    @Test func frequenciesOnTheWrongSideOfTheLOAreRefused() throws {
        let low = try ReceiverProfile(name: "l", loFrequencyHz: 1.6e9, spectralInversion: false, path: "low.json")
        let high = try ReceiverProfile(name: "h", loFrequencyHz: 3.2e9, spectralInversion: true, path: "high.json")
        #expect(throws: IQError.invalidProfile(path: "low.json", reason: "sky frequency 915 MHz is not above the LO 1600 MHz of this low-side downconverter (IF = sky − LO must be positive)")) {
            _ = try low.intermediateFrequencyHz(skyHz: 915e6)
        }
        #expect(throws: IQError.invalidProfile(path: "high.json", reason: "sky frequency 5800 MHz is not below the LO 3200 MHz of this high-side downconverter (IF = LO − sky must be positive)")) {
            _ = try high.intermediateFrequencyHz(skyHz: 5.8e9)
        }
        #expect(throws: IQError.invalidProfile(path: "high.json", reason: "IF 3300 MHz is not below the LO 3200 MHz, so sky = LO − IF (high-side) is not positive; wrong profile?")) {
            _ = try high.skyFrequencyHz(intermediateHz: 3.3e9)
        }
        for bad in [0, -802e6, Double.nan, .infinity] {
            #expect(throws: IQError.self) { _ = try low.skyFrequencyHz(intermediateHz: bad) }
            #expect(throws: IQError.self) { _ = try low.intermediateFrequencyHz(skyHz: bad) }
        }
        #expect(throws: IQError.invalidProfile(path: "c.json", reason: "lo_hz must be a positive number of Hz")) {
            _ = try ReceiverProfile(name: "c", loFrequencyHz: .nan, spectralInversion: false, path: "c.json")
        }
    }
}

@Suite struct ReceiverProfileConversionTests {
    /// Conjugating inside the conversion loop equals converting and then negating Q, exactly,
    /// for every format, and agrees with the reference twin.
    @Test(arguments: SampleFormat.allCases)
    func conjugatingDecodeNegatesQExactly(format: SampleFormat) throws {
        let count = 10_001
        var raw = pseudoRandomBytes(count * format.bytesPerSample, seed: 17)
        if format == .cf32 {
            // Random bytes make NaNs; use real floats.
            let floats = (0..<2 * count).map { Float(Int(raw[$0 % raw.count]) - 128) / 100 }
            raw = floats.withUnsafeBytes { Array($0) }
        }
        let plain = SampleConverter(format: format)
        let conj = SampleConverter(format: format, conjugate: true)
        var a = [IQSample](repeating: .zero, count: count), b = a
        raw.withUnsafeBytes { r in
            a.withUnsafeMutableBufferPointer { _ = plain.decode(r, into: $0) }
            b.withUnsafeMutableBufferPointer { #expect(conj.decode(r, into: $0) == count) }
        }
        #expect(zip(a, b).allSatisfy { $0.i == $1.i && $0.q == -$1.q })
        #expect(maxDifference(b, conj.referenceDecode(raw)) < 1e-6)
        #expect(a.contains { $0.q != 0 })
    }

    /// A sky tone 100 kHz above 2402 MHz, seen through a high-side LO at 3.2 GHz: the SDR tuned
    /// to 798 MHz sees it 100 kHz *below* its centre. With the profile it is back above the sky centre.
    @Test func highSideProfileRestoresTheSkyOffsetOfATone() throws {
        let dir = TempDir()
        let rateHz = 2_400_000.0
        let offsetHz = -100e3  // at the IF
        let tone = (0..<48_000).map { k -> IQSample in
            let phase = 2 * Double.pi * offsetHz * Double(k) / rateHz
            return IQSample(i: Float(0.5 * cos(phase)), q: Float(0.5 * sin(phase)))
        }
        var meta = SigMFMetadata(format: .cf32, sampleRateHz: rateHz)
        meta.captures = [SigMFCapture(sampleStart: 0, frequencyHz: 798e6)]
        meta.annotations = [SigMFAnnotation(sampleStart: 0, sampleCount: 48_000, freqLowerEdgeHz: 797.85e6,
                                            freqUpperEdgeHz: 797.95e6, label: "tone")]
        let path = dir.file("if.sigmf-meta")
        let writer = try RecordingWriter(path: path, format: .cf32, metadata: meta)
        try tone.withUnsafeBufferPointer { try writer.write($0) }
        try writer.finish()

        let atIF = try readAll(path)
        #expect(abs(toneFrequencyHz(atIF, sampleRateHz: rateHz) - -100e3) < 10)

        let high = try ReceiverProfile.load(path: shippedProfile("rtlsdr-downconverter-2g4-highside"))
        let options = Recording.Options(receiverProfile: high)
        let rec = try Recording.open(path, options: options)
        #expect(rec.centerFrequencyHz == 2402e6)
        #expect(rec.spectrumInverted)
        let a = try #require(rec.metadata.annotations.first)
        #expect(a.freqLowerEdgeHz == 2402.05e6 && a.freqUpperEdgeHz == 2402.15e6)
        #expect(rec.metadata.global[ReceiverProfile.metadataKey] == .object([
            "name": .string("rtlsdr-downconverter-2g4-highside"), "lo_hz": .int(3_200_000_000), "spectral_inversion": .bool(true),
        ]))
        let source = try FileSource(recording: rec, blockSamples: 10_000)
        #expect(source.info.centerFrequencyHz == 2402e6)
        #expect(source.info.receiverProfile?.name == "rtlsdr-downconverter-2g4-highside")
        var block = IQBlock()
        var sky: [IQSample] = []
        while try source.read(into: &block) == .samples {
            #expect(block.centerFrequencyHz == 2402e6)
            sky += block.samples
        }
        let skyOffsetHz = toneFrequencyHz(sky, sampleRateHz: rateHz)
        #expect(abs(skyOffsetHz - 100e3) < 10)
        // The tone's sky frequency is where the mixer put it: LO − (IF centre + IF offset).
        #expect(abs((rec.centerFrequencyHz! + skyOffsetHz) - (3.2e9 - (798e6 + offsetHz))) < 10)
        #expect(zip(atIF, sky).allSatisfy { $0.i == $1.i && $0.q == -$1.q })

        // Low-side: the same file is upright, only its frequencies move.
        let low = try ReceiverProfile(name: "l", loFrequencyHz: 1.6e9, spectralInversion: false)
        let upright = try readAll(path, options: .init(receiverProfile: low))
        #expect(upright == atIF)
        #expect(try Recording.open(path, options: .init(receiverProfile: low)).centerFrequencyHz == 2398e6)
    }

    @Test func rawFileTakesItsIFFromTheNameOrFreq() throws {
        let dir = TempDir()
        let high = try ReceiverProfile(name: "h", loFrequencyHz: 3.2e9, spectralInversion: true, path: "h.json")
        let tagged = dir.write("cap_798M_2400k.cu8", pseudoRandomBytes(2000))
        #expect(try Recording.open(tagged, options: .init(receiverProfile: high)).centerFrequencyHz == 2402e6)
        // --freq overrides the file's own frequency, which is what the SDR was tuned to: the IF.
        #expect(try Recording.open(tagged, options: .init(centerFrequencyHz: 774e6, receiverProfile: high)).centerFrequencyHz == 2426e6)
        let untagged = dir.write("cap_2400k.cu8", pseudoRandomBytes(2000))
        #expect(throws: IQError.invalidArgument("\(untagged): centre frequency unknown, so h.json cannot map it to the sky; pass the frequency the SDR was tuned to with --freq HZ (or a name tag like _802M)")) {
            _ = try Recording.open(untagged, options: .init(receiverProfile: high))
        }
        let aboveLO = dir.write("cap_3300M_2400k.cu8", pseudoRandomBytes(2000))
        #expect(throws: IQError.invalidProfile(path: "h.json", reason: "IF 3300 MHz is not below the LO 3200 MHz, so sky = LO − IF (high-side) is not positive; wrong profile? (centre of \(aboveLO))")) {
            _ = try Recording.open(aboveLO, options: .init(receiverProfile: high))
        }
    }

    /// A recording written through a profile (convert, record) is in the sky's frame already;
    /// applying a profile to it again would move it to another band.
    @Test func profileIsNotAppliedTwice() throws {
        let dir = TempDir()
        let high = try ReceiverProfile(name: "h", loFrequencyHz: 3.2e9, spectralInversion: true)
        let source = try FileSource(path: dir.write("cap_798M_2400k.cu8", pseudoRandomBytes(4000)),
                                    options: .init(receiverProfile: high))
        let out = dir.file("sky.sigmf-meta")
        let writer = try RecordingWriter(path: out, format: .cu8, metadata: source.recording.metadata)
        var block = IQBlock()
        while try source.read(into: &block) == .samples { try writer.write(block) }
        try writer.finish()
        let sky = try Recording.open(out)
        #expect(sky.centerFrequencyHz == 2402e6)
        #expect(!sky.spectrumInverted)
        #expect(sky.metadata.global[ReceiverProfile.metadataKey]?.objectValue?["name"] == .string("h"))
        #expect(throws: IQError.invalidArgument("\(out): receiver profile 'h' was already applied (uasense:receiver_profile); its frequencies are sky frequencies, drop --profile")) {
            _ = try Recording.open(out, options: .init(receiverProfile: high))
        }
        // cu8 conjugation is exact (code → 255 − code): reading the sky file back gives the conjugated IF.
        let original = pseudoRandomBytes(4000)
        let back = try Array(Data(contentsOf: URL(fileURLWithPath: dir.file("sky.sigmf-data"))))
        #expect(back.count == original.count)
        #expect((0..<original.count).allSatisfy { back[$0] == ($0 % 2 == 0 ? original[$0] : 255 - original[$0]) })
    }
}

@Suite(.serialized) struct ReceiverProfileLiveTests {
    @Test func tunerSettingsTuneToTheIF() throws {
        let high = try ReceiverProfile(name: "h", loFrequencyHz: 3.2e9, spectralInversion: true, path: "h.json")
        let settings = TunerSettings(centerFrequencyHz: 2402e6, receiverProfile: high)
        #expect(settings.tunerFrequencyHz == 798e6)
        try settings.validate()
        let wrongSide = TunerSettings(centerFrequencyHz: 5.8e9, receiverProfile: high)
        #expect(wrongSide.tunerFrequencyHz.isNaN)
        #expect(throws: IQError.invalidProfile(path: "h.json", reason: "sky frequency 5800 MHz is not below the LO 3200 MHz of this high-side downconverter (IF = LO − sky must be positive)")) {
            try wrongSide.validate()
        }
        // 5.8 GHz through a 1 GHz low-side LO is a 4.8 GHz IF: beyond the tuner's 32-bit Hz.
        let low = try ReceiverProfile(name: "l", loFrequencyHz: 1e9, spectralInversion: false, path: "l.json")
        #expect(throws: IQError.invalidProfile(path: "l.json", reason: "IF 4800 MHz for sky frequency 5800 MHz is out of the tuner's range (1 Hz – 4.29 GHz)")) {
            try TunerSettings(centerFrequencyHz: 5.8e9, receiverProfile: low).validate()
        }
        #expect(TunerSettings(centerFrequencyHz: 915e6).tunerFrequencyHz == 915e6)
    }

    /// rtl_tcp behind a high-side downconverter: the server is tuned to the IF, the stream speaks
    /// of the sky and its samples arrive conjugated (Q code → 255 − code).
    @Test func rtlTcpTunesTheIFAndConjugates() throws {
        let server = try FakeRtlTcpServer()
        let high = try ReceiverProfile(name: "h", loFrequencyHz: 3.2e9, spectralInversion: true)
        let settings = TunerSettings(centerFrequencyHz: 2402e6, sampleRateHz: 1_000_000, receiverProfile: high)
        let source = try RtlTcpSource(host: "127.0.0.1", port: server.port, settings: settings)
        defer { source.stop() }
        #expect(source.info.centerFrequencyHz == 2402e6)
        #expect(source.info.receiverProfile == high)
        var block = IQBlock()
        var checked = 0
        var mismatches = 0
        while checked < 200_000 {
            guard try source.read(into: &block, timeoutS: 2) == .samples else { Issue.record("timed out"); return }
            #expect(block.centerFrequencyHz == 2402e6)
            for (k, s) in block.samples.enumerated() {
                let index = Int(block.firstSampleIndex) + k
                let i = Int((s.i * 127.5 + 127.5).rounded()), q = Int((s.q * 127.5 + 127.5).rounded())
                if i != index % 256 || q != 255 - (index / 256) % 256 { mismatches += 1 }
            }
            checked += block.count
        }
        #expect(mismatches == 0)
        let commands = server.commands()
        #expect(commands.contains { $0 == (0x01, 798_000_000) })
        #expect(!commands.contains { $0 == (0x01, 2_402_000_000) })
    }
}
