/// A run of contiguous samples and where it sits in the stream.
///
/// Sample time is the absolute sample index: it counts every sample the source produced,
/// delivered or not, so an event found in any block can be placed exactly in the stream even
/// after drops. `droppedBefore` says how many samples were lost between the previous block and
/// this one (0 = contiguous): `firstSampleIndex` already includes them.
///
/// Sources reuse one block's storage: `samples` is resized in place and keeps its capacity,
/// so a steady-state read loop allocates nothing.
public struct IQBlock: Sendable {
    public var samples: [IQSample]
    /// Absolute index of `samples[0]` in the stream.
    public var firstSampleIndex: Int64
    /// Samples lost immediately before this block (overrun, reconnect gap). 0 when contiguous.
    public var droppedBefore: Int64
    /// Wall-clock time of `samples[0]`, seconds since 1970 UTC, when known.
    public var captureTimeS: Double?
    /// Centre frequency for this block, when known: the tuned one, or the sky frequency when a
    /// receiver profile maps the tuner's IF back to RF.
    public var centerFrequencyHz: Double?
    /// Samples whose I or Q sat at the ADC's extreme code (only counted when the source is asked to).
    public var clippedSamples: Int

    public init(capacity: Int = 0) {
        samples = []
        samples.reserveCapacity(capacity)
        firstSampleIndex = 0
        droppedBefore = 0
        captureTimeS = nil
        centerFrequencyHz = nil
        clippedSamples = 0
    }

    public var count: Int { samples.count }

    /// Index one past the last sample of this block.
    public var endSampleIndex: Int64 { firstSampleIndex + Int64(samples.count) }

    /// Sets `samples.count` to `count` without giving capacity back.
    @inlinable
    public mutating func resize(to count: Int) {
        let current = samples.count
        if current < count {
            samples.append(contentsOf: repeatElement(.zero, count: count - current))
        } else if current > count {
            samples.removeLast(current - count)
        }
    }
}

/// What a source knows about the stream it produces.
public struct StreamInfo: Sendable {
    public var sampleRateHz: Double
    /// Centre frequency at the start of the stream: the tuned one, or with a receiver profile the
    /// sky frequency (the tuner sits at the IF).
    public var centerFrequencyHz: Double?
    /// How samples arrive from the hardware or file (before conversion to `IQSample`).
    public var nativeFormat: SampleFormat
    /// Human-readable origin, e.g. "rtl_tcp://127.0.0.1:1234" or a file path.
    public var origin: String
    /// Hardware description for SigMF `core:hw`.
    public var hardware: String?
    /// Wall-clock time of sample 0, seconds since 1970 UTC, when known.
    public var startTimeS: Double?
    /// Total samples for finite sources (files).
    public var totalSamples: Int64?
    /// The downconverter profile applied: frequencies are sky frequencies and, when it inverts,
    /// samples arrive already conjugated.
    public var receiverProfile: ReceiverProfile?

    public init(sampleRateHz: Double, centerFrequencyHz: Double? = nil, nativeFormat: SampleFormat,
                origin: String, hardware: String? = nil, startTimeS: Double? = nil, totalSamples: Int64? = nil,
                receiverProfile: ReceiverProfile? = nil) {
        self.receiverProfile = receiverProfile
        self.sampleRateHz = sampleRateHz
        self.centerFrequencyHz = centerFrequencyHz
        self.nativeFormat = nativeFormat
        self.origin = origin
        self.hardware = hardware
        self.startTimeS = startTimeS
        self.totalSamples = totalSamples
    }
}

/// Counters a source keeps; safe to read from any thread through `IQSource.stats`.
public struct SourceStats: Sendable, Equatable {
    public var samplesDelivered: Int64 = 0
    public var samplesDropped: Int64 = 0
    /// Number of gaps (each run of dropped blocks or each reconnect counts once).
    public var discontinuities: Int64 = 0
    public var reconnects: Int64 = 0
    public init() {}
}

public enum ReadStatus: Sendable, Equatable {
    /// `block` holds new samples.
    case samples
    /// Nothing arrived within the wait; the stream goes on (live sources only).
    case timedOut
    /// The stream is over (end of file, or `stop()` was called).
    case endOfStream
}

/// A producer of IQ blocks: a file, an RTL-SDR, an rtl_tcp server.
///
/// Pull model: the consumer calls `read(into:)` on its own thread. Live sources fill an internal
/// ring from a capture thread and never block that thread on the consumer.
public protocol IQSource: AnyObject {
    var info: StreamInfo { get }
    var stats: SourceStats { get }
    /// Fills `block` with the next samples (reusing its storage). Throws only when the source
    /// cannot go on (device lost, server gone for good, I/O error).
    func read(into block: inout IQBlock, timeoutS: Double) throws -> ReadStatus
    /// Asks the source to end; a blocked `read` returns `.endOfStream` soon after. Thread-safe.
    func stop()
}

extension IQSource {
    public func read(into block: inout IQBlock) throws -> ReadStatus {
        try read(into: &block, timeoutS: 1.0)
    }
}
