import Foundation
import IQ
import TestSupport
import Testing

/// uasense and the reference Python `sigmf` package read each other's files with the same rate,
/// frequency, time, annotations and samples. `make test` installs the package with pip.
@Suite struct SigMFInteropTests {
    struct PythonView: Decodable {
        var datatype: String
        var sample_rate: Double
        var frequency: Double?
        var datetime: String?
        var hw: String?
        var count: Int
        var labels: [String?]
    }

    static let script = fixturePath("sigmf_interop.py")

    static func python(_ args: [String]) throws -> String {
        let (status, out, err) = try runProcess("/usr/bin/env", ["python3", "-W", "ignore", script] + args)
        guard status == 0 else {
            throw IQError.invalidArgument("sigmf_interop.py \(args.first ?? "") failed (is the sigmf package installed? `pip install sigmf`): \(err)")
        }
        return out
    }

    @Test(arguments: [("w.sigmf-meta", SampleFormat.cf32), ("w.sigmf", .cs16), ("w8.sigmf-meta", .cs8), ("w.sigmf", .cu8)])
    func pythonReadsWhatUasenseWrites(name: String, format: SampleFormat) throws {
        let dir = TempDir()
        let samples = RecordingTests.testSignal(count: 12345)
        try RecordingTests.write(samples, to: dir.file(name), format: format)
        let out = try Self.python(["read", dir.file(name), dir.file("py.cf32")])
        let view = try JSONDecoder().decode(PythonView.self, from: Data(out.utf8))
        #expect(view.datatype == format.sigmfDatatype)
        #expect(view.sample_rate == 2_400_000)
        #expect(view.frequency == 915e6)
        #expect(view.datetime.flatMap(RFC3339.parse) == 1_795_961_804.5)
        #expect(view.count == samples.count)
        #expect(view.labels == ["burst"])
        // Python's samples against uasense's own reading of the same file. sigmf-python
        // centres cu8 at 128 (uasense: 127.5) and scales by 128 (uasense: 127.5): compare codes.
        let python = try readAll(dir.file("py.cf32"), options: .init(format: .cf32, sampleRateHz: 1))
        let ours = try readAll(dir.file(name))
        #expect(python.count == ours.count)
        var worst: Float = 0
        for (p, o) in zip(python, ours) {
            if format == .cu8 {
                worst = max(worst, abs((p.i * 128 + 128) - (o.i * 127.5 + 127.5)), abs((p.q * 128 + 128) - (o.q * 127.5 + 127.5)))
            } else {
                worst = max(worst, abs(p.i - o.i), abs(p.q - o.q))
            }
        }
        #expect(worst <= (format == .cu8 ? 1e-3 : 1e-6), "largest difference \(worst)")
    }

    @Test(arguments: [("p.sigmf-meta", "cf32_le"), ("p.sigmf", "ci16_le"), ("p.sigmf-meta", "ci8"), ("p.sigmf", "cu8")])
    func uasenseReadsWhatPythonWrites(name: String, datatype: String) throws {
        let dir = TempDir()
        _ = try Self.python(["write", dir.file(name), datatype])
        let rec = try Recording.open(dir.file(name))
        #expect(rec.format == SampleFormat(sigmfDatatype: datatype))
        #expect(rec.sampleRateHz == 2_400_000)
        #expect(rec.centerFrequencyHz == 915e6)
        #expect(rec.startTimeS == 1_795_961_804.25)
        #expect(rec.metadata[string: "core:hw"] == "python-sigmf")
        #expect(rec.metadata.annotations.map(\.label) == ["py-burst"])
        #expect(rec.metadata.annotations.first?.freqLowerEdgeHz == 914.9e6)
        #expect(rec.sampleCount == 5000)
        // The raw components python wrote, decoded by uasense's reference converter.
        let components = try Array(Data(contentsOf: URL(fileURLWithPath: dir.file(name) + ".components")))
        let expected = SampleConverter(format: rec.format).referenceDecode(components)
        let ours = try readAll(dir.file(name))
        #expect(ours.count == expected.count)
        #expect(maxDifference(ours, expected) <= 1e-6)
    }
}
