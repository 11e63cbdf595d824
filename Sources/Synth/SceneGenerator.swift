import IQ
import Spectrum
#if canImport(Glibc)
import Glibc
#endif

/// Deterministic synthetic IQ scenes: bursts of chosen time, frequency, modulation and SNR in
/// white noise, written as SigMF with one annotation per burst as ground truth.
///
/// SNR is the burst's power over the noise power in the burst's own bandwidth (for a tone,
/// in one FFT-bin-sized 10 kHz), so it is what a detector with a matched bandwidth sees.
public struct Scene: Sendable {
    public enum Modulation: Sendable, Equatable {
        /// Unmodulated carrier.
        case tone
        /// 2-FSK with random symbols: frequency deviation ±`deviationHz` at `symbolRateHz`.
        case fsk(deviationHz: Double, symbolRateHz: Double)
        /// On-off keying of a carrier with random bits at `symbolRateHz` (433 MHz sensor style).
        case ook(symbolRateHz: Double)
        /// Gaussian noise with a flat spectrum exactly `bandwidthHz` wide: the cleanest test of
        /// bandwidth estimation, and a stand-in for OFDM and spread-spectrum links.
        case noise(bandwidthHz: Double)
        /// Bluetooth LE style GFSK (h = 0.5, BT = 0.5) of the given bits; a clock error is a
        /// `symbolRateHz` that is not exact. The SNR counts noise in 2 × the symbol rate
        /// (2 MHz for LE 1M), the bandwidth BLE sensitivity figures use.
        case gfsk(bits: [UInt8], symbolRateHz: Double)
    }

    public struct Burst: Sendable, Equatable {
        public var startS: Double
        public var durationS: Double
        /// Offset from the centre frequency.
        public var offsetHz: Double
        public var modulation: Modulation
        public var snrDB: Double
        public var label: String

        public init(startS: Double, durationS: Double, offsetHz: Double, modulation: Modulation, snrDB: Double, label: String) {
            self.startS = startS
            self.durationS = durationS
            self.offsetHz = offsetHz
            self.modulation = modulation
            self.snrDB = snrDB
            self.label = label
        }

        /// Occupied bandwidth used for the SNR definition and the annotation edges.
        public var bandwidthHz: Double {
            switch modulation {
            case .tone: return 10_000
            case .fsk(let dev, let rate): return 2 * dev + rate
            case .ook(let rate): return 2 * rate
            case .noise(let bandwidth): return bandwidth
            case .gfsk(_, let rate): return 2 * rate
            }
        }
    }

    public var sampleRateHz: Double
    public var centerFrequencyHz: Double
    public var durationS: Double
    /// Noise power over the whole sampled band, dBFS.
    public var noiseDBFS: Double
    public var bursts: [Burst]
    public var seed: UInt64
    public var description: String
    /// Constant added to every sample, like an RTL-SDR's LO leakage (the DC spike).
    public var dcOffset: IQSample = .zero

    public init(sampleRateHz: Double, centerFrequencyHz: Double, durationS: Double, noiseDBFS: Double = -30,
                bursts: [Burst], seed: UInt64 = 1, description: String = "") {
        self.sampleRateHz = sampleRateHz
        self.centerFrequencyHz = centerFrequencyHz
        self.durationS = durationS
        self.noiseDBFS = noiseDBFS
        self.bursts = bursts
        self.seed = seed
        self.description = description
    }

    public var sampleCount: Int { Int((durationS * sampleRateHz).rounded()) }

    /// Renders the scene into normalised samples.
    public func render() -> [IQSample] {
        var rng = Xoshiro256(seed: seed)
        let n = sampleCount
        let noiseSigma = Float((pow(10, noiseDBFS / 10) / 2).squareRoot())  // per component
        var out = [IQSample](repeating: .zero, count: n)
        for k in 0..<n {
            let (a, b) = rng.gaussianPair()
            out[k] = IQSample(i: a * noiseSigma, q: b * noiseSigma)
        }
        let noisePerHz = pow(10, noiseDBFS / 10) / sampleRateHz
        for burst in bursts {
            let amplitude = (noisePerHz * burst.bandwidthHz * pow(10, burst.snrDB / 10)).squareRoot()
            let first = max(0, Int((burst.startS * sampleRateHz).rounded()))
            let last = min(n, first + Int((burst.durationS * sampleRateHz).rounded()))
            guard first < last else { continue }
            if case .noise(let bandwidthHz) = burst.modulation {
                let shaped = Self.bandLimitedNoise(count: last - first, offsetHz: burst.offsetHz, bandwidthHz: bandwidthHz,
                                                   sampleRateHz: sampleRateHz, rms: Float(amplitude), rng: &rng)
                for k in first..<last {
                    out[k].i += shaped[k - first].i
                    out[k].q += shaped[k - first].q
                }
                continue
            }
            if case .gfsk(let bits, let symbolRateHz) = burst.modulation {
                // The packet starts exactly at startS, between samples if it falls there.
                let startSamples = max(0, burst.startS * sampleRateHz)
                let first = Int(startSamples.rounded(.down))
                let modulator = GFSKModulator(symbolRateHz: symbolRateHz)
                let wave = modulator.modulate(bits: bits, sampleRateHz: sampleRateHz, offsetHz: burst.offsetHz,
                                              phase: Double(rng.next() % 6283) / 1000,
                                              delaySamples: startSamples - Double(first))
                for k in first..<min(n, first + wave.count) {  // the tail runs past the annotated bits
                    out[k].i += Float(amplitude) * wave[k - first].i
                    out[k].q += Float(amplitude) * wave[k - first].q
                }
                continue
            }
            var phase = Double(rng.next() % 6283) / 1000
            var symbolValue = 0.0
            var nextSymbolAt = 0.0
            for k in first..<last {
                let t = Double(k - first) / sampleRateHz
                var frequency = burst.offsetHz
                var gain = 1.0
                switch burst.modulation {
                case .tone: break
                case .fsk(let dev, let rate):
                    if t >= nextSymbolAt { symbolValue = rng.next() & 1 == 0 ? -1 : 1; nextSymbolAt += 1 / rate }
                    frequency += dev * symbolValue
                case .ook(let rate):
                    if t >= nextSymbolAt { symbolValue = rng.next() & 1 == 0 ? 0 : 1; nextSymbolAt += 1 / rate }
                    gain = symbolValue * 2.0.squareRoot()  // same mean power as a carrier on half the time
                case .noise, .gfsk: break
                }
                phase += 2 * Double.pi * frequency / sampleRateHz
                if phase > Double.pi { phase -= 2 * Double.pi } else if phase < -Double.pi { phase += 2 * Double.pi }
                out[k].i += Float(amplitude * gain * cos(phase))
                out[k].q += Float(amplitude * gain * sin(phase))
            }
        }
        if dcOffset != .zero {
            for k in 0..<n {
                out[k].i += dcOffset.i
                out[k].q += dcOffset.q
            }
        }
        return out
    }

    /// Complex Gaussian noise whose spectrum is flat over [offset − B/2, offset + B/2] and zero
    /// elsewhere (synthesised in the frequency domain), scaled to exactly `rms`.
    static func bandLimitedNoise(count: Int, offsetHz: Double, bandwidthHz: Double, sampleRateHz: Double, rms: Float,
                                 rng: inout Xoshiro256) -> [IQSample] {
        var size = 1
        while size < count { size <<= 1 }
        let plan = FFTPlan(size: size, direction: .backward)
        let binHz = sampleRateHz / Double(size)
        for k in 0..<size {
            let f = Double(k < size / 2 ? k : k - size) * binHz
            if abs(f - offsetHz) <= bandwidthHz / 2 {
                let (a, b) = rng.gaussianPair()
                plan.input[k] = IQSample(i: a, q: b)
            } else {
                plan.input[k] = .zero
            }
        }
        plan.execute()
        var out = Array(plan.output[0..<count])
        let power = out.reduce(0.0) { $0 + Double($1.power) } / Double(max(count, 1))
        let scale = power > 0 ? rms / Float(power.squareRoot()) : 0
        for k in out.indices {
            out[k].i *= scale
            out[k].q *= scale
        }
        return out
    }

    /// SigMF metadata for the scene: one capture, one annotation per burst (RF edges).
    public func metadata(recorder: String) -> SigMFMetadata {
        var meta = SigMFMetadata(format: .cf32, sampleRateHz: sampleRateHz)
        meta[string: "core:recorder"] = recorder
        meta[string: "core:description"] = description.isEmpty ? nil : description
        meta.global["uasense:seed"] = .int(Int64(bitPattern: seed))
        meta.captures = [SigMFCapture(sampleStart: 0, frequencyHz: centerFrequencyHz, datetimeS: 1_798_761_600)]
        for burst in bursts {
            let center = centerFrequencyHz + burst.offsetHz
            meta.annotations.append(SigMFAnnotation(
                sampleStart: Int64((burst.startS * sampleRateHz).rounded()),
                sampleCount: Int64((burst.durationS * sampleRateHz).rounded()),
                freqLowerEdgeHz: center - burst.bandwidthHz / 2, freqUpperEdgeHz: center + burst.bandwidthHz / 2,
                label: burst.label, comment: "snr_db=\(burst.snrDB)", generator: recorder))
        }
        return meta
    }

    /// Renders and writes the scene (format from the path or `format`).
    public func write(to path: String, format: SampleFormat?, recorder: String) throws -> Int64 {
        let samples = render()
        let writer = try RecordingWriter(path: path, format: format, metadata: metadata(recorder: recorder))
        try samples.withUnsafeBufferPointer { try writer.write($0) }
        try writer.finish()
        return writer.samplesWritten
    }
}

extension Scene {
    /// Built-in scenes, by name, for demos and tests.
    public static func named(_ name: String) -> Scene? {
        switch name {
        case "demo-915":
            // A 915 MHz ISM window as an RTL-SDR sees it: hopping FSK control-link bursts,
            // a longer telemetry burst and a weak carrier.
            var bursts: [Burst] = []
            let hops: [Double] = [-900e3, 300e3, -300e3, 900e3, 0, -600e3, 600e3, -900e3]
            for (k, offset) in hops.enumerated() {
                bursts.append(Burst(startS: 0.02 + Double(k) * 0.05, durationS: 0.004, offsetHz: offset,
                                    modulation: .fsk(deviationHz: 50e3, symbolRateHz: 100e3), snrDB: 15,
                                    label: "fhss-fsk"))
            }
            bursts.append(Burst(startS: 0.11, durationS: 0.06, offsetHz: 450e3,
                                modulation: .fsk(deviationHz: 25e3, symbolRateHz: 64e3), snrDB: 20, label: "telemetry-fsk"))
            bursts.append(Burst(startS: 0.3, durationS: 0.1, offsetHz: -150e3, modulation: .ook(symbolRateHz: 2e3),
                                snrDB: 18, label: "ook-sensor"))
            bursts.append(Burst(startS: 0.2, durationS: 0.2, offsetHz: 1_050e3, modulation: .tone, snrDB: 12, label: "carrier"))
            bursts.append(Burst(startS: 0.05, durationS: 0.03, offsetHz: -650e3, modulation: .noise(bandwidthHz: 500e3), snrDB: 10,
                                label: "wideband"))
            return Scene(sampleRateHz: 2_400_000, centerFrequencyHz: 915e6, durationS: 0.45, noiseDBFS: -28,
                         bursts: bursts, seed: 915, description: "uasense demo scene: 915 MHz ISM bursts in noise")
        default:
            return nil
        }
    }

    /// A random mix of flat band-limited bursts (25 kHz…2 MHz, 100 µs…0.5 s, 6…20 dB SNR) in
    /// RTL-SDR-like noise with a DC spike; for measuring the burst detector.
    /// How `burstMix` fills a burst of bandwidth B: flat Gaussian noise, or constant-envelope 2-FSK
    /// with deviation ±B/4 at B/2 symbols per second (2·deviation + rate = B).
    public enum MixModulation: String, Sendable, CaseIterable { case noise, fsk }

    public static func burstMix(seed: UInt64, durationS: Double, sampleRateHz: Double = 2_400_000,
                                centerFrequencyHz: Double = 915e6, minSNRDB: Double = 6, maxSNRDB: Double = 20,
                                modulation: MixModulation = .noise) -> Scene {
        var rng = Xoshiro256(seed: seed ^ 0xB0857)
        var bursts: [Burst] = []
        var t = 0.003 + rng.uniform() * 0.01
        while true {
            // Log-uniform width and duration; very short bursts are wide (a physical link's
            // time-bandwidth product is at least a few).
            let bandwidth = 25e3 * pow(80, rng.uniform())
            let minDuration = max(100e-6, 5 / bandwidth)
            let duration = minDuration * pow(max(1, 0.5 / minDuration), rng.uniform() * rng.uniform())
            if t + duration > durationS - 0.002 { break }
            let span = sampleRateHz / 2 * 0.9 - bandwidth / 2
            let offset = (rng.uniform() * 2 - 1) * max(0, span)
            let snr = minSNRDB + (maxSNRDB - minSNRDB) * rng.uniform()
            let kind: Modulation = modulation == .noise ? .noise(bandwidthHz: bandwidth)
                : .fsk(deviationHz: bandwidth / 4, symbolRateHz: bandwidth / 2)
            bursts.append(Burst(startS: t, durationS: duration, offsetHz: offset, modulation: kind, snrDB: snr, label: "burst"))
            t += duration + 0.002 + rng.uniform() * 0.02
        }
        var scene = Scene(sampleRateHz: sampleRateHz, centerFrequencyHz: centerFrequencyHz, durationS: durationS,
                          noiseDBFS: -30, bursts: bursts, seed: seed,
                          description: "uasense burst-mix: \(bursts.count) \(modulation) bursts, seed \(seed)")
        scene.dcOffset = IQSample(i: 0.02, q: -0.015)
        return scene
    }

    /// Noise only, with the DC spike: anything detected here is a false alarm.
    public static func noiseOnly(seed: UInt64, durationS: Double, sampleRateHz: Double = 2_400_000) -> Scene {
        var scene = Scene(sampleRateHz: sampleRateHz, centerFrequencyHz: 915e6, durationS: durationS, noiseDBFS: -30,
                          bursts: [], seed: seed, description: "uasense noise-only with DC spike, seed \(seed)")
        scene.dcOffset = IQSample(i: 0.02, q: -0.015)
        return scene
    }

    /// A scene by name; `seed` and `durationS` apply to the generated ones.
    public static func named(_ name: String, seed: UInt64, durationS: Double?) -> Scene? {
        switch name {
        case "burst-mix": return burstMix(seed: seed, durationS: durationS ?? 10)
        case "burst-mix-fsk": return burstMix(seed: seed, durationS: durationS ?? 10, modulation: .fsk)
        case "noise": return noiseOnly(seed: seed, durationS: durationS ?? 10)
        case "ble-remote-id": return bleRemoteID(seed: seed, durationS: durationS ?? 1)
        case "ble-wideband": return bleWideband(seed: seed, durationS: durationS ?? 0.25)
        default: return named(name)
        }
    }

    public static let names = ["demo-915", "burst-mix", "burst-mix-fsk", "noise", "ble-remote-id", "ble-wideband"]
}

/// xoshiro256** (Blackman & Vigna): fast, small-state, reproducible across platforms.
public struct Xoshiro256: Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var z = seed
        func splitmix() -> UInt64 {
            z &+= 0x9E37_79B9_7F4A_7C15
            var x = z
            x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
            x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
            return x ^ (x >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = s.3 << 45 | s.3 >> 19
        return result
    }

    /// Uniform in (0, 1].
    public mutating func uniform() -> Double { (Double(next() >> 11) + 1) / 9_007_199_254_740_992 }

    /// Two independent standard normal values (Box–Muller).
    public mutating func gaussianPair() -> (Float, Float) {
        let r = (-2 * log(uniform())).squareRoot()
        let theta = 2 * Double.pi * uniform()
        return (Float(r * cos(theta)), Float(r * sin(theta)))
    }
}
