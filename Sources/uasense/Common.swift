import ArgumentParser
import Foundation
import IQ

/// How to read a raw file when its name and metadata do not say.
struct RecordingOptions: ParsableArguments {
    @Option(help: "Sample format of raw files: cu8, cs8, cs16 or cf32 (default: from the extension).")
    var format: String?

    @Option(help: "Sample rate in Hz (default: SigMF metadata or a name tag like _2400k).")
    var rate: Double?

    @Option(help: "Centre frequency in Hz (default: SigMF metadata or a name tag like _915M).")
    var freq: Double?

    @Option(name: .customLong("dc-offset"), help: "cu8 zero code (RTL-SDR).")
    var dcOffset: Float = 127.5

    func options() throws -> Recording.Options {
        guard dcOffset.isFinite, (0...255).contains(dcOffset) else {
            throw IQError.invalidArgument("--dc-offset must be a cu8 code between 0 and 255")
        }
        return Recording.Options(format: try format.map(SampleFormat.init(name:)), sampleRateHz: rate,
                                 centerFrequencyHz: freq, dcOffset: dcOffset)
    }
}

/// Tuner settings for live sources.
struct TunerOptions: ParsableArguments {
    @Option(help: "Centre frequency in Hz (default 915 MHz; for file: sources, overrides the file's).")
    var freq: Double?

    @Option(help: "Sample rate in Hz (default 2.4 MS/s; RTL-SDR: 225001–300000 or 900001–3200000; for file: sources, overrides the file's).")
    var rate: Double?

    @Option(help: "Tuner gain in dB, or 'auto'.")
    var gain: String = "auto"

    @Option(help: "Frequency correction in ppm.")
    var ppm: Int = 0

    @Flag(name: .customLong("bias-tee"), help: "Power an LNA through the antenna port.")
    var biasTee = false

    @Option(name: .customLong("reconnect-timeout"), help: "rtl_tcp: give up after this many seconds without the server (default: never).")
    var reconnectTimeoutS: Double?

    func settings() throws -> TunerSettings {
        var gainDB: Double?
        if gain.lowercased() != "auto" {
            guard let g = Double(gain) else { throw IQError.invalidArgument("gain must be a number of dB or 'auto'") }
            gainDB = g
        }
        return TunerSettings(centerFrequencyHz: freq ?? 915_000_000, sampleRateHz: rate ?? 2_400_000, gainDB: gainDB, ppm: ppm,
                             biasTee: biasTee)
    }
}

/// Opens any source named on the command line.
func openSource(_ text: String, tuner: TunerOptions, recording: RecordingOptions? = nil,
                realTime: Bool) throws -> any IQSource {
    switch try SourceSpec(text) {
    case .rtlsdr(let selector):
        return try RtlSdrSource(selector: selector, settings: tuner.settings())
    case .rtlTcp(let host, let port):
        return try RtlTcpSource(host: host, port: port, settings: tuner.settings(),
                                reconnectTimeoutS: tuner.reconnectTimeoutS)
    case .file(let path):
        var options = try recording?.options() ?? .init()
        options.sampleRateHz = options.sampleRateHz ?? tuner.rate
        options.centerFrequencyHz = options.centerFrequencyHz ?? tuner.freq
        return try FileSource(path: path, options: options, pacing: realTime ? .realTime : .asFastAsPossible)
    }
}

/// Stop requested by SIGINT or SIGTERM.
let stopRequested = StopFlag()

func installStopHandlers() {
    _ = stopRequested.isSet  // initialise the global before a handler can touch it
    signal(SIGINT) { _ in stopRequested.set() }
    signal(SIGTERM) { _ in stopRequested.set() }
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
