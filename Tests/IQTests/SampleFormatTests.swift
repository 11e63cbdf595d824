import Foundation
import IQ
import Synth
import TestSupport
import Testing

@Suite struct SampleFormatTests {
    @Test(arguments: SampleFormat.allCases)
    func optimisedDecoderAgreesWithReference(format: SampleFormat) {
        var bytes = pseudoRandomBytes(8 * 5003, seed: 7)
        if format == .cf32 {
            // Keep floats finite and in a sane range so equality is meaningful.
            let floats = (0..<(bytes.count / 4)).map { Float(Int($0 % 2001) - 1000) / 1000 }
            bytes = floats.withUnsafeBytes { Array($0) }
        }
        let converter = SampleConverter(format: format, dcOffset: 127.4)
        let reference = converter.referenceDecode(bytes)
        var fast = [IQSample](repeating: .zero, count: reference.count)
        let n = bytes.withUnsafeBytes { raw in fast.withUnsafeMutableBufferPointer { converter.decode(raw, into: $0) } }
        #expect(n == bytes.count / format.bytesPerSample)
        for k in 0..<n {
            #expect(abs(fast[k].i - reference[k].i) <= 1e-6 && abs(fast[k].q - reference[k].q) <= 1e-6,
                    "sample \(k): \(fast[k]) vs \(reference[k])")
            if abs(fast[k].i - reference[k].i) > 1e-6 { break }
        }
    }

    @Test(arguments: SampleFormat.allCases)
    func optimisedEncoderAgreesWithReference(format: SampleFormat) {
        var rng = Xoshiro256(seed: 11)
        var samples = (0..<10007).map { _ in
            let (a, b) = rng.gaussianPair()
            return IQSample(i: a * 0.6, q: b * 0.6)  // some beyond ±1 to exercise clamping
        }
        samples += [IQSample(i: .nan, q: .infinity), IQSample(i: -.infinity, q: 0.5 / 127.5), IQSample(i: 1.5 / 32768, q: -0.5 / 128)]
        let converter = SampleConverter(format: format, dcOffset: 127.4)
        var fast = [UInt8](repeating: 0, count: samples.count * format.bytesPerSample)
        samples.withUnsafeBufferPointer { s in fast.withUnsafeMutableBytes { _ = converter.encode(s, into: $0) } }
        #expect(fast == converter.referenceEncode(samples))  // bytes, so NaN payloads compare too
    }

    @Test(arguments: [SampleFormat.cu8, .cs8, .cs16])
    func integerFormatsRoundTripExactly(format: SampleFormat) {
        let bytes = pseudoRandomBytes(4 * 4096, seed: 3)
        let converter = SampleConverter(format: format)
        var samples = [IQSample](repeating: .zero, count: bytes.count / format.bytesPerSample)
        bytes.withUnsafeBytes { raw in samples.withUnsafeMutableBufferPointer { _ = converter.decode(raw, into: $0) } }
        var back = [UInt8](repeating: 0, count: bytes.count)
        samples.withUnsafeBufferPointer { s in back.withUnsafeMutableBytes { _ = converter.encode(s, into: $0) } }
        #expect(back == bytes)
    }

    @Test func fullScaleMapsToPlusMinusOne() {
        let converter = SampleConverter(format: .cu8)
        let bytes: [UInt8] = [0, 255]
        var out = [IQSample](repeating: .zero, count: 1)
        bytes.withUnsafeBytes { b in out.withUnsafeMutableBufferPointer { _ = converter.decode(b, into: $0) } }
        #expect(out[0] == IQSample(i: -1, q: 1))
    }

    @Test func encodingClampsAndMapsNaNToZero() {
        let samples = [IQSample(i: .nan, q: 5), IQSample(i: -.infinity, q: -0.5)]
        var cs16 = [UInt8](repeating: 0, count: 8)
        samples.withUnsafeBufferPointer { s in cs16.withUnsafeMutableBytes { _ = SampleConverter(format: .cs16).encode(s, into: $0) } }
        let values = cs16.withUnsafeBytes { raw in (0..<4).map { Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: Int16.self)) } }
        #expect(values == [0, 32767, -32768, -16384])
        var cu8 = [UInt8](repeating: 0, count: 4)
        samples.withUnsafeBufferPointer { s in cu8.withUnsafeMutableBytes { _ = SampleConverter(format: .cu8).encode(s, into: $0) } }
        #expect(cu8 == [128, 255, 0, 64])  // NaN → zero code 127.5, rounded to even (128)
    }

    @Test func clippingCountsExtremeCodes() {
        let cu8: [UInt8] = [0, 128, 128, 128, 128, 255, 127, 129]
        #expect(cu8.withUnsafeBytes { SampleConverter.countClipped($0, format: .cu8) } == 2)
        let cs8: [Int8] = [-128, 0, 5, 5, 0, 127]
        #expect(cs8.withUnsafeBytes { SampleConverter.countClipped($0, format: .cs8) } == 2)
    }

    @Test func formatNamesAndExtensions() throws {
        #expect(SampleFormat(fileExtension: "cfile") == .cf32)
        #expect(SampleFormat(fileExtension: "DATA") == .cu8)
        #expect(try SampleFormat(name: "ci16_le") == .cs16)
        #expect(throws: IQError.unknownFormatName("ci32_le")) { try SampleFormat(name: "ci32_le") }
    }
}

@Suite struct NameTagTests {
    @Test(arguments: [
        ("name_915M_2400k.cu8", 2_400_000.0, 915e6),
        ("g001_433.92M_250k.cu8", 250_000.0, 433.92e6),
        ("capture_2.4M.cu8", 2_400_000.0, nil),
        ("ble_2426M_20M.cs8", 20e6, 2426e6),
        ("x_868.3MHz_1Msps.cs16", 1e6, 868.3e6),
        ("/data/2.4G/rec_2.4G_2048k.cf32", 2_048_000.0, 2.4e9),
    ] as [(String, Double, Double?)])
    func parsesTags(name: String, rate: Double, freq: Double?) {
        let tags = NameTags(path: name)
        #expect(tags.sampleRateHz == rate)
        #expect(tags.centerFrequencyHz == freq)
    }

    @Test func untaggedNameHasNoRate() {
        #expect(NameTags(path: "recording.cu8") == NameTags())
        #expect(NameTags(path: "v2_final.cu8") == NameTags())
    }
}

@Suite struct RFC3339Tests {
    @Test func parsesAndFormats() {
        #expect(RFC3339.parse("1970-01-01T00:00:00Z") == 0)
        #expect(RFC3339.parse("2026-11-29T14:16:44Z") == 1_795_961_804)
        #expect(RFC3339.parse("2026-11-29T15:16:44.5+01:00") == 1_795_961_804.5)
        #expect(RFC3339.parse("2026-11-29T14:16:44") == nil)
        #expect(RFC3339.parse("not a date") == nil)
        #expect(RFC3339.format(1_795_961_804.25) == "2026-11-29T14:16:44.250000Z")
        #expect(RFC3339.format(-0.5, fractionDigits: 1) == "1969-12-31T23:59:59.5Z")
    }
}
