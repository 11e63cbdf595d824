#if canImport(Glibc)
import Glibc
#endif

/// Replays a `Recording`, as fast as possible or paced to real time.
///
/// Blocks never straddle a SigMF capture boundary, so each block has one centre frequency and
/// a capture time derived from its segment's `core:datetime`. A `core:global_index` jump
/// between segments is reported as dropped samples, like a live overrun.
public final class FileSource: IQSource {
    public enum Pacing: Sendable {
        /// Read as fast as the disk and CPU allow (analysis, benchmarks, CI).
        case asFastAsPossible
        /// Deliver samples no faster than the sample rate (a stand-in for live hardware).
        case realTime
    }

    public let recording: Recording
    public let info: StreamInfo
    public let pacing: Pacing
    public let blockSamples: Int
    /// Count ADC-extreme samples into `IQBlock.clippedSamples` (costs one more pass per block).
    public var measureClipping = false
    /// Start again from the first sample at the end, forever: a recording as a standing test
    /// signal for a sensor and everything downstream. The stream index keeps counting, so the
    /// replays join into one gapless stream; capture times are given for the first pass only.
    public var loops = false
    /// Completed passes over the file.
    public private(set) var passes = 0

    private let file: ReadableFile
    private let converter: SampleConverter
    private var raw: UnsafeMutableRawBufferPointer
    private var position: Int64 = 0  // next file-relative sample
    private var paceStartNs: UInt64 = 0
    private var paceFirstSamples: Int64 = 0
    private var lastStreamEnd: Int64 = 0
    /// Added to the file's stream indices on later passes of a looped replay.
    private var loopOffset: Int64 = 0
    private var statsValue = SourceStats()
    private let stopFlag = StopFlag()

    public init(recording: Recording, blockSamples: Int = 65536, pacing: Pacing = .asFastAsPossible) throws {
        self.recording = recording
        self.pacing = pacing
        self.blockSamples = max(1, blockSamples)
        file = try ReadableFile(path: recording.dataPath)
        // A mirrored spectrum (high-side downconverter) is undone inside the conversion loop.
        converter = SampleConverter(format: recording.format, dcOffset: recording.dcOffset,
                                    conjugate: recording.spectrumInverted)
        raw = .allocate(byteCount: self.blockSamples * recording.format.bytesPerSample, alignment: 64)
        info = StreamInfo(sampleRateHz: recording.sampleRateHz, centerFrequencyHz: recording.centerFrequencyHz,
                          nativeFormat: recording.format, origin: recording.path,
                          hardware: recording.metadata[string: "core:hw"], startTimeS: recording.startTimeS,
                          totalSamples: recording.sampleCount, receiverProfile: recording.receiverProfile)
        // A recording that starts at a global index N has not lost N samples.
        lastStreamEnd = streamIndex(of: 0)
    }

    public convenience init(path: String, options: Recording.Options = .init(), blockSamples: Int = 65536,
                            pacing: Pacing = .asFastAsPossible) throws {
        try self.init(recording: Recording.open(path, options: options), blockSamples: blockSamples, pacing: pacing)
    }

    deinit { raw.deallocate() }

    public var stats: SourceStats { statsValue }

    public func stop() { stopFlag.set() }

    /// Moves the read position (file-relative sample index), e.g. to analyse a slice.
    public func seek(toSample index: Int64) {
        position = min(max(0, index), recording.sampleCount)
        lastStreamEnd = streamIndex(of: position) + loopOffset
    }

    public func read(into block: inout IQBlock, timeoutS: Double = 1.0) throws -> ReadStatus {
        if position >= recording.sampleCount, loops, recording.sampleCount > 0 {
            // The next pass starts right after this one's last sample, whatever gaps the file has.
            passes += 1
            position = 0
            loopOffset = lastStreamEnd - streamIndex(of: 0)
        }
        if stopFlag.isSet || position >= recording.sampleCount { return .endOfStream }
        let (capture, nextStart) = recording.capture(at: position)
        let count = Int(min(Int64(blockSamples), nextStart - position))
        let bytes = count * recording.format.bytesPerSample
        let got = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<bytes]),
                                at: recording.dataOffset + position * Int64(recording.format.bytesPerSample))
        let samples = got / recording.format.bytesPerSample
        guard samples > 0 else {
            // The file shrank under us (another process truncated it).
            throw IQError.unreadable(path: recording.dataPath, reason: "file ended early at sample \(position)")
        }
        block.resize(to: samples)
        block.samples.withUnsafeMutableBufferPointer { out in
            _ = converter.decode(UnsafeRawBufferPointer(rebasing: raw[0..<(samples * recording.format.bytesPerSample)]), into: out)
        }
        let streamStart = streamIndex(of: position, in: capture) + loopOffset
        block.firstSampleIndex = streamStart
        block.droppedBefore = max(0, streamStart - lastStreamEnd)
        block.centerFrequencyHz = capture.frequencyHz
        block.captureTimeS = passes > 0 ? nil : capture.datetimeS.map { $0 + Double(position - capture.sampleStart) / recording.sampleRateHz }
            ?? recording.startTimeS.map { $0 + Double(position) / recording.sampleRateHz }
        block.clippedSamples = measureClipping
            ? SampleConverter.countClipped(UnsafeRawBufferPointer(rebasing: raw[0..<(samples * recording.format.bytesPerSample)]), format: recording.format)
            : 0
        if block.droppedBefore > 0 {
            statsValue.samplesDropped += block.droppedBefore
            statsValue.discontinuities += 1
        }
        position += Int64(samples)
        lastStreamEnd = block.endSampleIndex
        statsValue.samplesDelivered += Int64(samples)
        if pacing == .realTime { pace(deliveredUpTo: position) }
        return .samples
    }

    /// Stream index of a file position: captures with `core:global_index` place their samples
    /// in the original stream; otherwise the stream index is the file index.
    private func streamIndex(of position: Int64, in capture: SigMFCapture? = nil) -> Int64 {
        let segment = capture ?? recording.capture(at: position).capture
        guard let global = segment.globalIndex else { return position + (recording.metadata.captures.first?.globalIndex ?? 0) }
        return global + (position - segment.sampleStart)
    }

    /// Sleeps until the samples delivered so far are due, counting from the first read: the first
    /// block goes out at once, then the stream keeps to the sample rate.
    private func pace(deliveredUpTo sampleIndex: Int64) {
        let now = monotonicNs()
        if paceStartNs == 0 {
            paceStartNs = now
            paceFirstSamples = statsValue.samplesDelivered
            return
        }
        let dueS = Double(statsValue.samplesDelivered - paceFirstSamples) / info.sampleRateHz
        let elapsedS = Double(now - paceStartNs) * 1e-9
        if dueS > elapsedS { sleepNs(UInt64(min(dueS - elapsedS, 10) * 1e9)) }
    }
}

/// Monotonic clock in nanoseconds (pacing, timeouts, benchmarks).
@inline(__always)
public func monotonicNs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Wall-clock time, seconds since 1970 UTC.
public func wallClockS() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

public func sleepNs(_ ns: UInt64) {
    var request = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}
