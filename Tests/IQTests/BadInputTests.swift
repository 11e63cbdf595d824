import Foundation
import IQ
import TestSupport
import Testing

/// Every kind of bad input gives a typed error with a one-line message, never a crash.
@Suite struct BadInputTests {
    func openError(_ path: String, _ options: Recording.Options = .init()) -> IQError? {
        do {
            _ = try readAll(path, options: options)
            return nil
        } catch let error as IQError {
            return error
        } catch {
            return nil
        }
    }

    @Test func emptyFile() {
        let dir = TempDir()
        let path = dir.write("e_915M_2400k.cu8", [])
        #expect(openError(path) == .emptyFile(path: path))
        #expect(IQError.emptyFile(path: path).description.hasSuffix("file is empty (0 samples)"))
    }

    @Test func byteCountEndsMidSample() {
        let dir = TempDir()
        let path = dir.write("t_915M_2400k.cs16", pseudoRandomBytes(4 * 10 + 3))
        #expect(openError(path) == .partialSample(path: path, byteCount: 43, bytesPerSample: 4, format: .cs16))
        #expect(openError(path)?.description.contains("not a whole number of cs16 samples") == true)
    }

    @Test func unknownExtensionWithoutFormat() {
        let dir = TempDir()
        let path = dir.write("capture_2400k.bin", pseudoRandomBytes(100))
        #expect(openError(path) == .unknownFormat(path: path))
        #expect(openError(path, .init(format: .cu8)) == nil)
    }

    @Test func missingSampleRateIsAnErrorNotAGuess() {
        let dir = TempDir()
        let path = dir.write("capture.cu8", pseudoRandomBytes(100))
        #expect(openError(path) == .missingSampleRate(path: path))
        #expect(openError(path, .init(sampleRateHz: 2_400_000)) == nil)
    }

    @Test func fileNotFoundAndUnreadable() {
        #expect(openError("/nonexistent/x_2400k.cu8") == .fileNotFound(path: "/nonexistent/x_2400k.cu8"))
        let dir = TempDir()
        #expect(openError(dir.path + "/") != nil)  // a directory
    }

    @Test func sigmfInvalidJSON() {
        let dir = TempDir()
        let meta = dir.write("bad.sigmf-meta", text: "{\"global\": {\"core:datatype\": \"cu8\",")
        _ = dir.write("bad.sigmf-data", [1, 2, 3, 4])
        guard case .invalidMetadata(_, let reason)? = openError(meta) else {
            Issue.record("expected invalidMetadata")
            return
        }
        #expect(reason.contains("not valid JSON"))
    }

    @Test func sigmfUnsupportedDatatype() {
        let dir = TempDir()
        let meta = dir.write("c.sigmf-meta", text: #"{"global": {"core:datatype": "ci32_le", "core:sample_rate": 1e6, "core:version": "1.2.0"}, "captures": [], "annotations": []}"#)
        _ = dir.write("c.sigmf-data", pseudoRandomBytes(80))
        #expect(openError(meta) == .unsupportedDatatype(path: meta, datatype: "ci32_le"))
        #expect(openError(meta)?.description.contains("unsupported SigMF datatype 'ci32_le'") == true)
    }

    @Test func sigmfMissingDataFile() {
        let dir = TempDir()
        let meta = dir.write("m.sigmf-meta", text: #"{"global": {"core:datatype": "cu8", "core:sample_rate": 1e6, "core:version": "1.2.0"}}"#)
        #expect(openError(meta) == .missingDataFile(path: dir.file("m.sigmf-data")))
    }

    @Test func sigmfSampleStartPastTheEnd() {
        let dir = TempDir()
        let meta = dir.write("s.sigmf-meta", text: #"{"global": {"core:datatype": "cu8", "core:sample_rate": 1e6, "core:version": "1.2.0"}, "captures": [{"core:sample_start": 0}, {"core:sample_start": 500}]}"#)
        _ = dir.write("s.sigmf-data", pseudoRandomBytes(200))
        #expect(openError(meta) == .captureBeyondData(path: meta, sampleStart: 500, sampleCount: 100))
    }

    @Test func sigmfMissingRate() {
        let dir = TempDir()
        let meta = dir.write("r.sigmf-meta", text: #"{"global": {"core:datatype": "cu8", "core:version": "1.2.0"}}"#)
        _ = dir.write("r.sigmf-data", pseudoRandomBytes(200))
        #expect(openError(meta) == .missingSampleRate(path: meta))
    }

    @Test func archiveThatIsNotATar() {
        let dir = TempDir()
        let path = dir.write("x.sigmf", pseudoRandomBytes(4096))
        #expect(openError(path) == .notATar(path: path))
        let tiny = dir.write("y.sigmf", [1, 2, 3])
        #expect(openError(tiny) == .notATar(path: tiny))
    }

    @Test func truncatedArchive() throws {
        let dir = TempDir()
        try RecordingTests.write(RecordingTests.testSignal(count: 1000), to: dir.file("t.sigmf"), format: .cf32)
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: dir.file("t.sigmf"))))
        let cut = dir.write("cut.sigmf", Array(bytes.prefix(4000)))
        guard case .archiveIncomplete? = openError(cut) else {
            Issue.record("expected archiveIncomplete, got \(String(describing: openError(cut)))")
            return
        }
    }

    /// Random and truncated bytes through every opener: only IQError comes out.
    @Test func randomBytesNeverCrash() throws {
        let dir = TempDir()
        for seed in 1...200 as ClosedRange<UInt32> {
            let bytes = pseudoRandomBytes(Int(seed * 37 % 3000), seed: seed)
            for name in ["f\(seed).sigmf", "f\(seed)_2400k.cs16", "f\(seed).sigmf-meta"] {
                let path = dir.write(name, bytes)
                if name.hasSuffix(".sigmf-meta") { _ = dir.write("f\(seed).sigmf-data", bytes) }
                do { _ = try readAll(path) } catch is IQError {} catch { Issue.record("non-IQError \(error) for \(name)") }
            }
        }
    }

    @Test func sourceSpecErrors() throws {
        #expect(throws: IQError.self) { try SourceSpec("rtlsdr:abc") }
        #expect(throws: IQError.self) { try SourceSpec("bogus") }
        #expect(throws: IQError.self) { try SourceSpec("rtltcp://host:99999") }
        #expect(try SourceSpec("rtltcp://10.1.2.3:1235") == .rtlTcp(host: "10.1.2.3", port: 1235))
        #expect(try SourceSpec("rtl_tcp://[::1]") == .rtlTcp(host: "::1", port: 1234))
        #expect(try SourceSpec("rtlsdr:serial=0001") == .rtlsdr(.serial("0001")))
        #expect(try SourceSpec("file:a.cu8") == .file(path: "a.cu8"))
    }

    @Test func tunerRangesFollowLibrtlsdr() {
        #expect(throws: IQError.self) { try TunerSettings.validateSampleRate(225_000) }
        #expect(throws: IQError.self) { try TunerSettings.validateSampleRate(600_000) }
        #expect(throws: IQError.self) { try TunerSettings.validateSampleRate(3_200_001) }
        #expect(throws: Never.self) { try TunerSettings.validateSampleRate(250_000) }
        #expect(throws: Never.self) { try TunerSettings.validateSampleRate(2_400_000) }
    }
}

/// Hostile archives and metadata found in review: absurd sizes and indices give a clear error.
@Suite struct HostileMetadataTests {
    /// A tar header of `type` whose size field is `sizeField` (12 bytes), checksum fixed up.
    static func header(name: String, type: UInt8, sizeField: [UInt8]? = nil, size: Int64 = 0) -> [UInt8] {
        var h = Tar.header(name: name, size: size)
        h[156] = type
        if let sizeField { for (k, b) in sizeField.enumerated() { h[124 + k] = b } }
        for k in 148..<156 { h[k] = 0x20 }
        let digits = String(h.reduce(0) { $0 + Int($1) }, radix: 8)
        let text = Array((String(repeating: "0", count: 6 - digits.count) + digits).utf8)
        for k in 0..<6 { h[148 + k] = text[k] }
        h[154] = 0
        h[155] = 0x20
        return h
    }

    func error(_ path: String) -> IQError? {
        do { _ = try readAll(path); return nil } catch let e as IQError { return e } catch { return nil }
    }

    @Test func paxRecordWithNegativeSize() {
        let dir = TempDir()
        let record = Array("14 size=-1024\n".utf8)
        var bytes = Self.header(name: "PaxHeader", type: UInt8(ascii: "x"), size: Int64(record.count))
        bytes += record + [UInt8](repeating: 0, count: 512 - record.count)
        bytes += Self.header(name: "a/a.sigmf-meta", type: UInt8(ascii: "0"))
        bytes += [UInt8](repeating: 0, count: 1024)
        let path = dir.write("neg.sigmf", bytes)
        guard case .archiveIncomplete(_, let reason)? = error(path) else {
            Issue.record("expected archiveIncomplete, got \(String(describing: error(path)))")
            return
        }
        #expect(reason.contains("negative size"))
    }

    @Test func base256SizeFarBeyondTheFile() {
        let dir = TempDir()
        var bytes = Self.header(name: "a/a.sigmf-data", type: UInt8(ascii: "0"),
                                sizeField: [0x80] + [UInt8](repeating: 0xFF, count: 11))
        bytes += [UInt8](repeating: 0, count: 1024)
        let path = dir.write("huge.sigmf", bytes)
        // 11 bytes of 0xFF overflow 63 bits: whether it reads as huge or negative, it is refused.
        guard case .archiveIncomplete? = error(path) else {
            Issue.record("expected archiveIncomplete, got \(String(describing: error(path)))")
            return
        }
    }

    @Test(arguments: ["-5000000", "9223372036854775000"])
    func globalIndexOutOfRange(value: String) {
        let dir = TempDir()
        let meta = dir.write("g.sigmf-meta", text: #"{"global":{"core:datatype":"cu8","core:sample_rate":1e6},"captures":[{"core:sample_start":0,"core:global_index":\#(value)}]}"#)
        _ = dir.write("g.sigmf-data", pseudoRandomBytes(2000))
        guard case .invalidMetadata(_, let reason)? = error(meta) else {
            Issue.record("expected invalidMetadata, got \(String(describing: error(meta)))")
            return
        }
        #expect(reason.contains("core:global_index"))
    }

    @Test func headerBytesBeyondTheData() {
        let dir = TempDir()
        let meta = dir.write("h.sigmf-meta", text: #"{"global":{"core:datatype":"cu8","core:sample_rate":1e6,"core:trailing_bytes":9223372036854775807},"captures":[{"core:sample_start":0,"core:header_bytes":9223372036854775807}]}"#)
        _ = dir.write("h.sigmf-data", pseudoRandomBytes(2000))
        guard case .invalidMetadata(_, let reason)? = error(meta) else {
            Issue.record("expected invalidMetadata, got \(String(describing: error(meta)))")
            return
        }
        #expect(reason.contains("do not fit"))
    }

    @Test func absurdSampleRate() {
        let dir = TempDir()
        let path = dir.write("r_2400k.cu8", pseudoRandomBytes(100))
        #expect(error(path).map { _ in false } ?? true)  // the name's rate is fine
        do {
            _ = try Recording.open(path, options: .init(sampleRateHz: 1e20))
            Issue.record("expected an error")
        } catch let e as IQError {
            #expect(e == .invalidSampleRate(1e20))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func archivesOver8GiBKeepTheirSize() {
        let h = Tar.header(name: "x/x.sigmf-data", size: 9 << 30)
        #expect(h[124] == 0x80)
        var v: Int64 = 0
        for b in h[125..<136] { v = v << 8 | Int64(b) }
        #expect(v == 9 << 30)
    }
}
