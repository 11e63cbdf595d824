import Synchronization

/// The consumer half shared by live sources (RTL-SDR, rtl_tcp): takes raw cu8 slots from the
/// ring, converts them into the caller's block, and surfaces a capture-thread failure once
/// the samples that arrived before it have been delivered.
final class LiveStream: @unchecked Sendable {
    let ring: SampleRing
    let converter: SampleConverter
    let stopFlag = StopFlag()
    private let failure = Mutex<IQError?>(nil)
    private let delivered = Atomic<Int64>(0)
    let reconnects = Atomic<Int64>(0)
    var measureClipping = false
    private var centerFrequencyHz: Double?

    /// - Parameters:
    ///   - centerFrequencyHz: what blocks report (the sky frequency behind a downconverter).
    ///   - conjugate: undo a downconverter's spectral inversion while converting.
    init(slotSamples: Int, slotCount: Int, format: SampleFormat, dcOffset: Float, centerFrequencyHz: Double?,
         conjugate: Bool = false) {
        ring = SampleRing(slotBytes: slotSamples * format.bytesPerSample, slotCount: slotCount,
                          bytesPerSample: format.bytesPerSample)
        converter = SampleConverter(format: format, dcOffset: dcOffset, conjugate: conjugate)
        self.centerFrequencyHz = centerFrequencyHz
    }

    /// The stream for `settings`: blocks carry its (sky) centre frequency and arrive conjugated
    /// when its receiver profile inverts the spectrum.
    convenience init(slotSamples: Int, slotCount: Int, settings: TunerSettings) {
        self.init(slotSamples: slotSamples, slotCount: slotCount, format: .cu8, dcOffset: 127.5,
                  centerFrequencyHz: settings.centerFrequencyHz,
                  conjugate: settings.receiverProfile?.spectralInversion ?? false)
    }

    /// Called by the capture thread when it cannot go on. The first failure wins.
    func fail(_ error: IQError) {
        failure.withLock { if $0 == nil { $0 = error } }
        ring.wake()
    }

    var stats: SourceStats {
        var s = SourceStats()
        s.samplesDelivered = delivered.load(ordering: .relaxed)
        s.samplesDropped = ring.droppedTotal.load(ordering: .relaxed)
        s.discontinuities = ring.discontinuities.load(ordering: .relaxed)
        s.reconnects = reconnects.load(ordering: .relaxed)
        return s
    }

    func stop() {
        stopFlag.set()
        ring.wake()
    }

    func read(into block: inout IQBlock, timeoutS: Double) throws -> ReadStatus {
        if stopFlag.isSet { return .endOfStream }
        let converter = self.converter
        let clipping = measureClipping
        let frequency = centerFrequencyHz
        let got = ring.pop(timeoutS: timeoutS) { bytes, header in
            let samples = bytes.count / converter.format.bytesPerSample
            block.resize(to: samples)
            block.samples.withUnsafeMutableBufferPointer { _ = converter.decode(bytes, into: $0) }
            block.firstSampleIndex = header.firstSampleIndex
            block.droppedBefore = header.droppedBefore
            block.captureTimeS = header.captureTimeS
            block.centerFrequencyHz = frequency
            block.clippedSamples = clipping ? SampleConverter.countClipped(bytes, format: converter.format) : 0
        }
        if got {
            delivered.add(Int64(block.count), ordering: .relaxed)
            return .samples
        }
        if stopFlag.isSet { return .endOfStream }
        if let error = failure.withLock({ $0 }) { throw error }
        return .timedOut
    }
}

/// Settings common to RTL-SDR hardware, local or behind rtl_tcp.
public struct TunerSettings: Sendable {
    /// The frequency to receive. With a receiver profile this is the sky frequency and the tuner
    /// is set to the downconverter's IF (`tunerFrequencyHz`).
    public var centerFrequencyHz: Double
    public var sampleRateHz: Double
    /// Tuner gain in dB; nil selects the tuner's AGC.
    public var gainDB: Double?
    public var ppm: Int
    public var biasTee: Bool
    /// RTL2832 digital AGC (separate from the tuner AGC).
    public var digitalAGC: Bool
    /// The downconverter in front of the dongle. Only its frequency plan is used here (IF and
    /// inversion); its `tuner_ppm` and `tuner_gain_db` are defaults for the caller to fill into
    /// `ppm` and `gainDB`, since only the caller knows what the user set explicitly.
    public var receiverProfile: ReceiverProfile?

    public init(centerFrequencyHz: Double, sampleRateHz: Double = 2_400_000, gainDB: Double? = nil, ppm: Int = 0,
                biasTee: Bool = false, digitalAGC: Bool = false, receiverProfile: ReceiverProfile? = nil) {
        self.centerFrequencyHz = centerFrequencyHz
        self.sampleRateHz = sampleRateHz
        self.gainDB = gainDB
        self.ppm = ppm
        self.biasTee = biasTee
        self.digitalAGC = digitalAGC
        self.receiverProfile = receiverProfile
    }

    /// What the tuner is set to: the IF behind a receiver profile, else `centerFrequencyHz`.
    /// NaN when the profile cannot reach `centerFrequencyHz` (`validate()` says why).
    public var tunerFrequencyHz: Double {
        guard let receiverProfile else { return centerFrequencyHz }
        return (try? receiverProfile.intermediateFrequencyHz(skyHz: centerFrequencyHz)) ?? .nan
    }

    /// librtlsdr accepts 225001–300000 Hz and 900001–3200000 Hz; above 2.4 MS/s USB may drop.
    public static func validateSampleRate(_ rateHz: Double) throws {
        let ok = (225_001...300_000).contains(rateHz) || (900_001...3_200_000).contains(rateHz)
        guard ok else {
            throw IQError.invalidArgument(
                "RTL-SDR sample rate \(rateHz) Hz is out of range (225001–300000 or 900001–3200000 Hz)")
        }
    }

    public func validate() throws {
        try Self.validateSampleRate(sampleRateHz)
        // The tuner takes a 32-bit frequency in Hz.
        if let receiverProfile {
            let intermediateHz = try receiverProfile.intermediateFrequencyHz(skyHz: centerFrequencyHz)
            guard intermediateHz >= 1, intermediateHz.rounded() <= Double(UInt32.max) else {
                throw IQError.invalidProfile(path: receiverProfile.path, reason: "IF \(ReceiverProfile.describe(intermediateHz)) for sky frequency "
                                             + "\(ReceiverProfile.describe(centerFrequencyHz)) is out of the tuner's range (1 Hz – 4.29 GHz)")
            }
        } else {
            guard centerFrequencyHz.isFinite, centerFrequencyHz >= 1, centerFrequencyHz.rounded() <= Double(UInt32.max) else {
                throw IQError.invalidArgument("centre frequency \(centerFrequencyHz) Hz is out of range (1 Hz – 4.29 GHz)")
            }
        }
        if let gainDB, !(0...60).contains(gainDB) {
            throw IQError.invalidArgument("gain \(gainDB) dB is out of range (0–60 dB)")
        }
        guard (-1000...1000).contains(ppm) else {
            throw IQError.invalidArgument("frequency correction \(ppm) ppm is out of range (±1000)")
        }
    }
}
