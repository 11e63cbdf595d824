import ArgumentParser
import Foundation
import IQ

/// How to read a raw file when its name and metadata do not say.
struct RecordingOptions: ParsableArguments {
    @Option(help: "Sample format of raw files: cu8, cs8, cs16 or cf32 (default: from the extension).")
    var format: String?

    @Option(help: "Sample rate in Hz (default: SigMF metadata or a name tag like _2400k).")
    var rate: Double?

    @Option(help: "Centre frequency in Hz (default: SigMF metadata or a name tag like _915M). With --profile: the frequency the SDR was tuned to (the IF).")
    var freq: Double?

    @Option(name: .customLong("dc-offset"), help: "cu8 zero code (RTL-SDR).")
    var dcOffset: Float = 127.5

    @Option(help: ArgumentHelp("Receiver profile (JSON, e.g. calibration/receivers/…): the recording was made behind this downconverter; its frequencies become sky frequencies and a mirrored spectrum is conjugated back.", valueName: "file"))
    var profile: String?

    func options() throws -> Recording.Options {
        guard dcOffset.isFinite, (0...255).contains(dcOffset) else {
            throw IQError.invalidArgument("--dc-offset must be a cu8 code between 0 and 255")
        }
        return Recording.Options(format: try format.map(SampleFormat.init(name:)), sampleRateHz: rate,
                                 centerFrequencyHz: freq, dcOffset: dcOffset,
                                 receiverProfile: try profile.map(ReceiverProfile.load(path:)))
    }
}

/// Tuner settings for live sources.
struct TunerOptions: ParsableArguments {
    @Option(help: "Centre frequency in Hz (default 915 MHz; for file: sources, overrides the file's). With --profile: the sky frequency to receive (required); the tuner goes to the IF.")
    var freq: Double?

    @Option(help: "Sample rate in Hz (default 2.4 MS/s; RTL-SDR: 225001–300000 or 900001–3200000; for file: sources, overrides the file's).")
    var rate: Double?

    @Option(help: "Tuner gain in dB, or 'auto' (default: the profile's tuner_gain_db, else auto).")
    var gain: String?

    @Option(help: "Frequency correction in ppm (default: the profile's tuner_ppm, else 0).")
    var ppm: Int?

    @Option(help: ArgumentHelp("Receiver profile (JSON, e.g. calibration/receivers/…): the downconverter in front of the SDR. Frequencies reported are sky frequencies; a mirrored spectrum is conjugated back.", valueName: "file"))
    var profile: String?

    @Flag(name: .customLong("bias-tee"), help: "Power an LNA through the antenna port.")
    var biasTee = false

    @Option(name: .customLong("reconnect-timeout"), help: "rtl_tcp: give up after this many seconds without the server (default: never).")
    var reconnectTimeoutS: Double?

    func receiverProfile() throws -> ReceiverProfile? {
        guard let profile else { return nil }
        let loaded = try ReceiverProfile.load(path: profile)
        // 915 MHz, the default, is no sky frequency for a downconverter: make the user say which.
        guard freq != nil else {
            throw IQError.invalidArgument("--profile needs --freq: the sky frequency to receive (e.g. --freq 2402e6)")
        }
        return loaded
    }

    /// Explicit options win; a profile fills in what the user left out (gain, ppm).
    func settings(profile: ReceiverProfile? = nil) throws -> TunerSettings {
        var gainDB = profile?.tunerGainDB
        if let gain {
            if gain.lowercased() == "auto" {
                gainDB = nil
            } else {
                guard let g = Double(gain) else { throw IQError.invalidArgument("gain must be a number of dB or 'auto'") }
                gainDB = g
            }
        }
        return TunerSettings(centerFrequencyHz: freq ?? 915_000_000, sampleRateHz: rate ?? 2_400_000, gainDB: gainDB,
                             ppm: ppm ?? profile?.tunerPPM ?? 0, biasTee: biasTee, receiverProfile: profile)
    }
}

/// Opens any source named on the command line.
func openSource(_ text: String, tuner: TunerOptions, recording: RecordingOptions? = nil,
                realTime: Bool) throws -> any IQSource {
    let spec = try SourceSpec(text)
    let profile = try tuner.receiverProfile()
    switch spec {
    case .rtlsdr(let selector):
        return try RtlSdrSource(selector: selector, settings: tuner.settings(profile: profile))
    case .rtlTcp(let host, let port):
        return try RtlTcpSource(host: host, port: port, settings: tuner.settings(profile: profile),
                                reconnectTimeoutS: tuner.reconnectTimeoutS)
    case .file(let path):
        var options = try recording?.options() ?? .init()
        options.sampleRateHz = options.sampleRateHz ?? tuner.rate
        if let profile, options.receiverProfile == nil {
            // --freq names the sky here, as for live sources; the file's own frequency is the IF.
            options.receiverProfile = profile
            options.centerFrequencyHz = try options.centerFrequencyHz
                ?? tuner.freq.map { try profile.intermediateFrequencyHz(skyHz: $0) }
        } else {
            options.centerFrequencyHz = options.centerFrequencyHz ?? tuner.freq
        }
        return try FileSource(path: path, options: options, pacing: realTime ? .realTime : .asFastAsPossible)
    }
}

/// Stop requested by SIGINT or SIGTERM.
let stopRequested = StopFlag()

func installStopHandlers() {
    _ = stopRequested.isSet  // initialise the global before a handler can touch it
    // A second signal ends at once: the operator (or systemd) has waited long enough.
    signal(SIGINT) { _ in if stopRequested.isSet { _exit(130) } else { stopRequested.set() } }
    signal(SIGTERM) { _ in if stopRequested.isSet { _exit(143) } else { stopRequested.set() } }
    // A parent may have started us with these blocked (they are inherited); a sensor must
    // always stop cleanly on them. Threads started later inherit this mask.
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGINT)
    sigaddset(&set, SIGTERM)
    sigprocmask(SIG_UNBLOCK, &set, nil)
}

func printErr(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

enum Text {
    static func hz(_ v: Double?) -> String {
        guard let v else { return "unknown" }
        if v >= 1e9 { return String(format: "%.6f GHz", v / 1e9) }
        if v >= 1e6 { return String(format: "%.6f MHz", v / 1e6) }
        if v >= 1e3 { return String(format: "%.3f kHz", v / 1e3) }
        return String(format: "%.0f Hz", v)
    }

    static func rate(_ v: Double) -> String {
        v >= 1e6 ? String(format: "%g MS/s", v / 1e6) : String(format: "%g kS/s", v / 1e3)
    }

    static func seconds(_ v: Double) -> String { String(format: "%.3f s", v) }
}
