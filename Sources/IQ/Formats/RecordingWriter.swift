/// Writes IQ to disk in any format: raw (`OUT.cu8` …), a SigMF pair (`OUT.sigmf-meta` or
/// `OUT.sigmf-data`) or a SigMF archive (`OUT.sigmf`).
///
/// Samples stream straight to the data file; metadata is written at `finish()`, when the
/// sample count is known. For an archive the data member's size is patched into its header,
/// then the metadata member and the end-of-archive blocks follow.
///
/// A gap in the input (`IQBlock.droppedBefore > 0`) starts a new SigMF capture segment whose
/// `core:global_index` keeps the original stream position, so a reader can still place every
/// sample in time.
public final class RecordingWriter {
    public enum Container: Sendable { case raw, sigmf, sigmfArchive }

    public let path: String
    public let container: Container
    public let format: SampleFormat
    /// Metadata to write; callers may add annotations and global fields before `finish()`.
    public var metadata: SigMFMetadata
    public private(set) var samplesWritten: Int64 = 0

    private let dataFile: WritableFile
    private let metaPath: String?
    private let archiveStem: String?
    private let converter: SampleConverter
    private var scratch: [UInt8] = []
    private var expectedStreamIndex: Int64?
    private var finished = false

    /// - Parameters:
    ///   - format: sample format to write; for raw output defaults to the file's extension.
    ///   - metadata: SigMF metadata to start from (rate, captures, annotations, extensions are kept).
    public init(path: String, format: SampleFormat?, metadata: SigMFMetadata, dcOffset: Float = 127.5) throws {
        self.path = path
        let lower = path.lowercased()
        let fmt: SampleFormat
        if lower.hasSuffix(".sigmf-meta") || lower.hasSuffix(".sigmf-data") {
            container = .sigmf
            let stem = String(path.dropLast(".sigmf-meta".count))
            metaPath = stem + ".sigmf-meta"
            archiveStem = nil
            fmt = format ?? SampleFormat(sigmfDatatype: metadata.datatype ?? "") ?? .cf32
            dataFile = try WritableFile(path: stem + ".sigmf-data")
        } else if lower.hasSuffix(".sigmf") {
            container = .sigmfArchive
            let name = String(path.split(separator: "/").last ?? "recording").dropLast(".sigmf".count)
            archiveStem = "\(name)/\(name)"
            metaPath = nil
            fmt = format ?? SampleFormat(sigmfDatatype: metadata.datatype ?? "") ?? .cf32
            dataFile = try WritableFile(path: path)
            try dataFile.write(Tar.header(name: archiveStem! + ".sigmf-data", size: 0))
        } else {
            container = .raw
            metaPath = nil
            archiveStem = nil
            let ext = path.split(separator: "/").last.flatMap { $0.contains(".") ? $0.split(separator: ".").last : nil }
            guard let f = format ?? ext.flatMap({ SampleFormat(fileExtension: String($0)) }) else {
                throw IQError.unknownFormat(path: path)
            }
            fmt = f
            dataFile = try WritableFile(path: path)
        }
        self.format = fmt
        self.metadata = metadata
        // What this writer produces is a plain, conforming dataset: drop the keys that described
        // the old file's layout or content (they would be wrong for the new one).
        for key in ["core:trailing_bytes", "core:sha512", "core:dataset", "core:metadata_only"] {
            self.metadata.global[key] = nil
        }
        for k in self.metadata.captures.indices { self.metadata.captures[k].fields["core:header_bytes"] = nil }
        self.metadata.global["core:datatype"] = .string(fmt.sigmfDatatype)
        self.metadata.global["core:version"] = .string(SigMFMetadata.specVersion)
        if self.metadata.captures.isEmpty { self.metadata.captures = [SigMFCapture(sampleStart: 0)] }
        converter = SampleConverter(format: fmt, dcOffset: dcOffset)
    }

    deinit { if !finished { try? finish() } }

    /// Appends a block. A gap before it (dropped samples) opens a new capture segment.
    public func write(_ block: IQBlock) throws {
        try block.samples.withUnsafeBufferPointer { try write($0, firstSampleIndex: block.firstSampleIndex,
                                                               droppedBefore: block.droppedBefore,
                                                               captureTimeS: block.captureTimeS,
                                                               centerFrequencyHz: block.centerFrequencyHz) }
    }

    public func write(_ samples: UnsafeBufferPointer<IQSample>, firstSampleIndex: Int64? = nil, droppedBefore: Int64 = 0,
                      captureTimeS: Double? = nil, centerFrequencyHz: Double? = nil) throws {
        guard samples.count > 0 else { return }
        if let index = firstSampleIndex {
            let last = metadata.captures[metadata.captures.count - 1]
            let isFirst = expectedStreamIndex == nil
            let gap = expectedStreamIndex.map { index != $0 } ?? false
            let retuned = !isFirst && centerFrequencyHz != nil && centerFrequencyHz != last.frequencyHz
            if isFirst {
                // Fill in what the caller did not know when it built the metadata.
                var first = metadata.captures[0]
                if first.frequencyHz == nil { first.frequencyHz = centerFrequencyHz }
                if first.datetimeS == nil { first.datetimeS = captureTimeS }
                if index != 0 || droppedBefore > 0 { first.fields["core:global_index"] = .int(index) }
                metadata.captures[0] = first
            } else if gap || retuned {
                metadata.captures.append(SigMFCapture(sampleStart: samplesWritten,
                                                      frequencyHz: centerFrequencyHz ?? last.frequencyHz,
                                                      datetimeS: captureTimeS, globalIndex: index))
            }
            expectedStreamIndex = index + Int64(samples.count)
        }
        let bytes = samples.count * format.bytesPerSample
        if scratch.count < bytes { scratch = [UInt8](repeating: 0, count: bytes) }
        try scratch.withUnsafeMutableBytes { raw in
            let slice = UnsafeMutableRawBufferPointer(rebasing: raw[0..<bytes])
            _ = converter.encode(samples, into: slice)
            try dataFile.write(UnsafeRawBufferPointer(slice))
        }
        samplesWritten += Int64(samples.count)
    }

    /// Writes the metadata (SigMF) and closes the files. Safe to call once; later calls do nothing.
    public func finish() throws {
        guard !finished else { return }
        finished = true
        let metaText = Array(metadata.serialized().utf8)
        switch container {
        case .raw:
            try dataFile.close()
        case .sigmf:
            try dataFile.close()
            let meta = try WritableFile(path: metaPath!)
            try meta.write(metaText)
            try meta.close()
        case .sigmfArchive:
            let dataBytes = samplesWritten * Int64(format.bytesPerSample)
            let stem = archiveStem!
            try dataFile.patch(Tar.header(name: stem + ".sigmf-data", size: dataBytes), at: 0)
            try dataFile.write(Tar.padding(for: dataBytes))
            try dataFile.write(Tar.header(name: stem + ".sigmf-meta", size: Int64(metaText.count)))
            try dataFile.write(metaText)
            try dataFile.write(Tar.padding(for: Int64(metaText.count)))
            try dataFile.write(Tar.endOfArchive)
            try dataFile.close()
        }
    }
}
