import Foundation

/// A recorded IQ stream on disk, opened and checked: where its samples are, what format and
/// rate they have, and what its metadata says. Opening reads only metadata and headers.
///
/// Accepted paths:
/// - raw files `*.cu8|cs8|cs16|cf32` (and aliases), rate/frequency from `--rate`/`--freq` or name tags;
/// - SigMF pairs, by either `NAME.sigmf-meta` or `NAME.sigmf-data`;
/// - SigMF archives `NAME.sigmf` (tar), read in place.
public struct Recording: Sendable {
    public enum Container: String, Sendable {
        case raw
        case sigmf
        case sigmfArchive = "sigmf-archive"
    }

    /// What the user may override on the command line.
    public struct Options: Sendable {
        public var format: SampleFormat?
        public var sampleRateHz: Double?
        public var centerFrequencyHz: Double?
        /// cu8 zero code (RTL-SDR): 127.5 unless the dongle is known to sit elsewhere.
        public var dcOffset: Float
        /// The downconverter the recording was made behind. Its frequencies (the file's, or
        /// `centerFrequencyHz`, both what the SDR was tuned to) are IFs and are mapped to the sky;
        /// a mirrored spectrum is conjugated back when samples are read.
        public var receiverProfile: ReceiverProfile?

        public init(format: SampleFormat? = nil, sampleRateHz: Double? = nil, centerFrequencyHz: Double? = nil,
                    dcOffset: Float = 127.5, receiverProfile: ReceiverProfile? = nil) {
            self.format = format
            self.sampleRateHz = sampleRateHz
            self.centerFrequencyHz = centerFrequencyHz
            self.dcOffset = dcOffset
            self.receiverProfile = receiverProfile
        }
    }

    public var path: String
    public var container: Container
    public var format: SampleFormat
    public var dcOffset: Float
    /// Metadata as read (SigMF) or synthesised (raw), with overrides applied. With a receiver
    /// profile, frequencies (captures, annotation edges) are sky frequencies and the global
    /// `uasense:receiver_profile` says which profile made them so.
    public var metadata: SigMFMetadata
    /// The profile applied when opening, if any.
    public private(set) var receiverProfile: ReceiverProfile?
    /// The file that holds the samples, and the byte range of the samples inside it.
    public var dataPath: String
    public var dataOffset: Int64
    public var sampleCount: Int64

    public var sampleRateHz: Double { metadata.sampleRateHz ?? 0 }
    public var centerFrequencyHz: Double? { metadata.captures.first?.frequencyHz }
    public var startTimeS: Double? { metadata.captures.first?.datetimeS }
    public var durationS: Double { Double(sampleCount) / sampleRateHz }
    /// Samples must be conjugated when read: the profile's downconverter mirrored the spectrum.
    public var spectrumInverted: Bool { receiverProfile?.spectralInversion ?? false }

    /// Sample rates above this are taken for typing errors (and would make buffers absurd).
    public static let maximumSampleRateHz = 1e10
    static let maximumIndex: Int64 = 1 << 62

    public static func open(_ path: String, options: Options = Options()) throws -> Recording {
        let lower = path.lowercased()
        var recording: Recording
        if lower.hasSuffix(".sigmf-meta") || lower.hasSuffix(".sigmf-data") {
            recording = try openPair(stem: String(path.dropLast(".sigmf-meta".count)), options: options)
        } else if lower.hasSuffix(".sigmf") {
            recording = try openArchive(path, options: options)
        } else {
            recording = try openRaw(path, options: options)
        }
        try recording.applyOverridesAndCheck(options)
        return recording
    }

    // MARK: - Raw

    private static func openRaw(_ path: String, options: Options) throws -> Recording {
        let file = try ReadableFile(path: path)
        let ext = path.split(separator: "/").last.flatMap { name in
            name.contains(".") ? name.split(separator: ".").last.map(String.init) : nil
        } ?? ""
        guard let format = options.format ?? SampleFormat(fileExtension: ext) else {
            throw IQError.unknownFormat(path: path)
        }
        let tags = NameTags(path: path)
        guard let rate = options.sampleRateHz ?? tags.sampleRateHz else { throw IQError.missingSampleRate(path: path) }
        var meta = SigMFMetadata(format: format, sampleRateHz: rate)
        meta.captures = [SigMFCapture(sampleStart: 0, frequencyHz: tags.centerFrequencyHz)]
        return try Recording(path: path, container: .raw, format: format, dcOffset: options.dcOffset, metadata: meta,
                             dataPath: path, dataOffset: 0, dataBytes: file.size)
    }

    // MARK: - SigMF pair

    private static func openPair(stem: String, options: Options) throws -> Recording {
        let metaPath = stem + ".sigmf-meta"
        let dataPath = stem + ".sigmf-data"
        let metaFile = try ReadableFile(path: metaPath)
        guard metaFile.size <= 64 << 20 else {
            throw IQError.invalidMetadata(path: metaPath, reason: "metadata file is \(metaFile.size) bytes (limit 64 MiB)")
        }
        let meta = try SigMFMetadata.parse(Data(try metaFile.readBytes(at: 0, count: Int(metaFile.size))), path: metaPath)
        let format = try Self.format(of: meta, path: metaPath)
        let dataFile: ReadableFile
        do {
            dataFile = try ReadableFile(path: dataPath)
        } catch IQError.fileNotFound {
            throw IQError.missingDataFile(path: dataPath)
        }
        return try Recording(path: metaPath, container: .sigmf, format: format, dcOffset: options.dcOffset,
                             metadata: meta, dataPath: dataPath, dataOffset: 0, dataBytes: dataFile.size)
    }

    // MARK: - SigMF archive

    private static func openArchive(_ path: String, options: Options) throws -> Recording {
        let file = try ReadableFile(path: path)
        if file.size == 0 { throw IQError.emptyFile(path: path) }
        let members = try Tar.members(of: file)
        let metas = members.filter { $0.name.lowercased().hasSuffix(".sigmf-meta") }
        guard let metaMember = metas.first else {
            throw IQError.archiveIncomplete(path: path, reason: "holds no .sigmf-meta member")
        }
        let stem = String(metaMember.name.dropLast(".sigmf-meta".count))
        guard let dataMember = members.first(where: { $0.name == stem + ".sigmf-data" }) else {
            throw IQError.archiveIncomplete(path: path, reason: "has no data member \(stem).sigmf-data")
        }
        guard metaMember.size <= 64 << 20 else {
            throw IQError.invalidMetadata(path: path, reason: "metadata member is \(metaMember.size) bytes (limit 64 MiB)")
        }
        let metaBytes = try file.readBytes(at: metaMember.dataOffset, count: Int(metaMember.size))
        let metaName = "\(path)[\(metaMember.name)]"
        let meta = try SigMFMetadata.parse(Data(metaBytes), path: metaName)
        let format = try Self.format(of: meta, path: metaName)
        return try Recording(path: path, container: .sigmfArchive, format: format, dcOffset: options.dcOffset,
                             metadata: meta, dataPath: path, dataOffset: dataMember.dataOffset, dataBytes: dataMember.size)
    }

    private static func format(of meta: SigMFMetadata, path: String) throws -> SampleFormat {
        let datatype = meta.datatype ?? ""
        guard let format = SampleFormat(sigmfDatatype: datatype) else {
            throw IQError.unsupportedDatatype(path: path, datatype: datatype)
        }
        guard meta.numChannels == 1 else {
            throw IQError.invalidMetadata(path: path, reason: "core:num_channels is \(meta.numChannels); only single-channel recordings are supported")
        }
        return format
    }

    // MARK: - Common checks

    private init(path: String, container: Container, format: SampleFormat, dcOffset: Float, metadata: SigMFMetadata,
                 dataPath: String, dataOffset: Int64, dataBytes: Int64) throws {
        var offset = dataOffset
        var bytes = dataBytes
        // Non-conforming datasets: skip a header before the first capture and trailing bytes at the end.
        let header = metadata.captures.first?.headerBytes ?? 0
        let trailing = metadata.global["core:trailing_bytes"]?.int64Value ?? 0
        guard header >= 0, trailing >= 0, header <= bytes, trailing <= bytes - header else {
            throw IQError.invalidMetadata(path: path, reason: "core:header_bytes \(header) / core:trailing_bytes \(trailing) do not fit \(bytes) bytes of data")
        }
        offset += header
        bytes -= header + trailing
        if bytes == 0 { throw IQError.emptyFile(path: dataPath) }
        let size = Int64(format.bytesPerSample)
        guard bytes % size == 0 else {
            throw IQError.partialSample(path: dataPath, byteCount: bytes, bytesPerSample: format.bytesPerSample, format: format)
        }
        self.path = path
        self.container = container
        self.format = format
        self.dcOffset = dcOffset
        self.metadata = metadata
        self.dataPath = dataPath
        self.dataOffset = offset
        self.sampleCount = bytes / size
    }

    private mutating func applyOverridesAndCheck(_ options: Options) throws {
        if let rate = options.sampleRateHz { metadata.sampleRateHz = rate }
        guard let rate = metadata.sampleRateHz else { throw IQError.missingSampleRate(path: path) }
        guard rate > 0, rate <= Self.maximumSampleRateHz else { throw IQError.invalidSampleRate(rate) }
        if metadata.captures.isEmpty { metadata.captures = [SigMFCapture(sampleStart: 0)] }
        if let freq = options.centerFrequencyHz {
            guard freq.isFinite, freq >= 0 else { throw IQError.invalidArgument("invalid centre frequency \(freq) Hz") }
            for k in metadata.captures.indices { metadata.captures[k].frequencyHz = freq }
        }
        for capture in metadata.captures {
            if let f = capture.frequencyHz, !f.isFinite {
                throw IQError.invalidMetadata(path: path, reason: "core:frequency is not a finite number")
            }
            // Stream indices must stay far from Int64's limits (they are added to and compared).
            if let g = capture.globalIndex, g < 0 || g > Self.maximumIndex {
                throw IQError.invalidMetadata(path: path, reason: "core:global_index \(g) is out of range (0…2⁶²)")
            }
        }
        if let beyond = metadata.captures.first(where: { $0.sampleStart >= sampleCount }) {
            throw IQError.captureBeyondData(path: path, sampleStart: beyond.sampleStart, sampleCount: sampleCount)
        }
        if let profile = options.receiverProfile { try apply(profile) }
    }

    /// Turns IF frequencies into sky frequencies. Refuses a recording that already went through
    /// a profile (e.g. written by `convert --profile`): mapping twice would put it in the wrong band.
    private mutating func apply(_ profile: ReceiverProfile) throws {
        if let earlier = metadata.global[ReceiverProfile.metadataKey] {
            let name = earlier.objectValue?["name"]?.stringValue ?? "?"
            throw IQError.invalidArgument("\(path): receiver profile '\(name)' was already applied "
                                          + "(\(ReceiverProfile.metadataKey)); its frequencies are sky frequencies, drop --profile")
        }
        for k in metadata.captures.indices {
            guard let intermediateHz = metadata.captures[k].frequencyHz else {
                throw IQError.invalidArgument("\(path): centre frequency unknown, so \(profile.path) cannot map it to the sky; "
                                              + "pass the frequency the SDR was tuned to with --freq HZ (or a name tag like _802M)")
            }
            do {
                metadata.captures[k].frequencyHz = try profile.skyFrequencyHz(intermediateHz: intermediateHz)
            } catch IQError.invalidProfile(let profilePath, let reason) {
                throw IQError.invalidProfile(path: profilePath, reason: "\(reason) (centre of \(path))")
            }
        }
        for k in metadata.annotations.indices {
            let a = metadata.annotations[k]
            guard a.freqLowerEdgeHz != nil || a.freqUpperEdgeHz != nil else { continue }
            let sky = profile.skyEdgesHz(lowerHz: a.freqLowerEdgeHz, upperHz: a.freqUpperEdgeHz)
            metadata.annotations[k].fields["core:freq_lower_edge"] = sky.lowerHz.map(JSONValue.number)
            metadata.annotations[k].fields["core:freq_upper_edge"] = sky.upperHz.map(JSONValue.number)
        }
        metadata.global[ReceiverProfile.metadataKey] = profile.metadataValue
        receiverProfile = profile
    }

    /// The capture segment that holds `sampleIndex` (file-relative), and where the next one starts.
    public func capture(at sampleIndex: Int64) -> (capture: SigMFCapture, nextStart: Int64) {
        var current = metadata.captures[0]
        var next = sampleCount
        for capture in metadata.captures {
            if capture.sampleStart <= sampleIndex {
                current = capture
            } else {
                next = capture.sampleStart
                break
            }
        }
        return (current, next)
    }
}
