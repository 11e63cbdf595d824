/// One burst of energy found in the spectrogram: when, where in frequency, how wide, how strong.
public struct Burst: Sendable, Equatable {
    /// Absolute index of the first sample of the burst (edge at half power).
    public var sampleStart: Int64
    public var sampleCount: Int64
    /// Absolute RF centre when the tuned frequency is known, else the offset from the centre.
    public var centerFrequencyHz: Double
    /// Width between the half-power edges of the burst's spectrum.
    public var bandwidthHz: Double
    /// Highest power in the burst's band over one frame, dBFS (signal plus noise).
    public var peakDBFS: Double
    /// Signal power over noise power in the burst's own bandwidth.
    public var snrDB: Double

    public init(sampleStart: Int64, sampleCount: Int64, centerFrequencyHz: Double, bandwidthHz: Double,
                peakDBFS: Double, snrDB: Double) {
        self.sampleStart = sampleStart
        self.sampleCount = sampleCount
        self.centerFrequencyHz = centerFrequencyHz
        self.bandwidthHz = bandwidthHz
        self.peakDBFS = peakDBFS
        self.snrDB = snrDB
    }

    public var sampleEnd: Int64 { sampleStart + sampleCount }
    public func durationS(sampleRateHz: Double) -> Double { Double(sampleCount) / sampleRateHz }
}
