import CRtlSdr
import Foundation

/// Local RTL-SDR dongle through librtlsdr's asynchronous reader.
///
/// `rtlsdr_read_async` runs on its own thread and calls back with each USB transfer; the
/// callback only copies into the preallocated ring (or drops and counts when the consumer is
/// behind) and returns, so the USB transfers are resubmitted at once. If `read_async` returns
/// without `stop()`, the device was lost (unplugged, USB error) and `read` reports it after the
/// samples already captured.
public final class RtlSdrSource: IQSource, @unchecked Sendable {
    /// Which dongle: by index (`rtlsdr:0`) or by serial (`rtlsdr:serial=00000001`).
    public enum Selector: Sendable, Equatable {
        case index(Int)
        case serial(String)
    }

    public struct Device: Sendable, Equatable {
        public var index: Int
        public var name: String
        public var manufacturer: String
        public var product: String
        public var serial: String
    }

    /// Lists attached dongles (no device is opened).
    public static func devices() -> [Device] {
        let count = rtlsdr_get_device_count()
        return (0..<count).map { index in
            var manufacturer = [CChar](repeating: 0, count: 256)
            var product = [CChar](repeating: 0, count: 256)
            var serial = [CChar](repeating: 0, count: 256)
            _ = rtlsdr_get_device_usb_strings(index, &manufacturer, &product, &serial)
            func text(_ chars: [CChar]) -> String {
                String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
            let name = rtlsdr_get_device_name(index).map { String(cString: $0) } ?? "RTL-SDR"
            return Device(index: Int(index), name: name, manufacturer: text(manufacturer), product: text(product),
                          serial: text(serial))
        }
    }

    public let settings: TunerSettings
    public private(set) var info: StreamInfo
    public var measureClipping: Bool {
        get { stream.measureClipping }
        set { stream.measureClipping = newValue }
    }
    public var stats: SourceStats { stream.stats }

    private let stream: LiveStream
    private var device: OpaquePointer?
    private var thread: Thread?
    private let transferBytes: Int
    private let finished = DispatchSemaphore(value: 0)

    /// Opens and configures the dongle and starts streaming.
    /// - Parameter transferBytes: bytes per USB transfer (multiple of 16384); 65536 = 13.7 ms at 2.4 MS/s.
    public init(selector: Selector = .index(0), settings: TunerSettings, transferBytes: Int = 65536,
                ringSlots: Int = 64) throws {
        try settings.validate()
        self.settings = settings
        self.transferBytes = transferBytes
        stream = LiveStream(slotSamples: transferBytes / 2, slotCount: ringSlots, settings: settings)
        let count = rtlsdr_get_device_count()
        guard count > 0 else { throw IQError.noDevice }
        let index: UInt32
        switch selector {
        case .index(let i):
            guard i >= 0, i < Int(count) else { throw IQError.deviceNotFound("index \(i) (\(count) attached)") }
            index = UInt32(i)
        case .serial(let serial):
            let found = rtlsdr_get_index_by_serial(serial)
            guard found >= 0 else { throw IQError.deviceNotFound("serial '\(serial)'") }
            index = UInt32(found)
        }
        var dev: OpaquePointer?
        try Self.check(rtlsdr_open(&dev, index), "rtlsdr_open(\(index))")
        device = dev
        do {
            try Self.check(rtlsdr_set_sample_rate(dev, UInt32(settings.sampleRateHz.rounded())), "rtlsdr_set_sample_rate")
            try Self.check(rtlsdr_set_center_freq(dev, UInt32(settings.tunerFrequencyHz.rounded())), "rtlsdr_set_center_freq")
            // -2 means "already that value" (e.g. 0 ppm on a fresh device), not a failure.
            let ppm = rtlsdr_set_freq_correction(dev, Int32(settings.ppm))
            if ppm != 0 && ppm != -2 { try Self.check(ppm, "rtlsdr_set_freq_correction") }
            if let gain = settings.gainDB {
                try Self.check(rtlsdr_set_tuner_gain_mode(dev, 1), "rtlsdr_set_tuner_gain_mode")
                try Self.check(rtlsdr_set_tuner_gain(dev, Self.nearestGain(dev, tenthsDB: Int32((gain * 10).rounded()))),
                               "rtlsdr_set_tuner_gain")
            } else {
                try Self.check(rtlsdr_set_tuner_gain_mode(dev, 0), "rtlsdr_set_tuner_gain_mode")
            }
            try Self.check(rtlsdr_set_agc_mode(dev, settings.digitalAGC ? 1 : 0), "rtlsdr_set_agc_mode")
            try Self.check(rtlsdr_set_bias_tee(dev, settings.biasTee ? 1 : 0), "rtlsdr_set_bias_tee")
            try Self.check(rtlsdr_reset_buffer(dev), "rtlsdr_reset_buffer")
        } catch {
            rtlsdr_close(dev)
            device = nil
            throw error
        }
        let tunerType = Int(rtlsdr_get_tuner_type(dev).rawValue)
        let tuner = tunerType < RtlTcpSource.tunerNames.count ? RtlTcpSource.tunerNames[tunerType] : "unknown"
        let devices = Self.devices()
        let serial = devices.first { $0.index == Int(index) }?.serial ?? ""
        info = StreamInfo(sampleRateHz: Double(rtlsdr_get_sample_rate(dev)), centerFrequencyHz: settings.centerFrequencyHz,
                          nativeFormat: .cu8, origin: "rtlsdr:\(index)",
                          hardware: "RTL-SDR \(tuner) serial \(serial)", startTimeS: wallClockS(),
                          receiverProfile: settings.receiverProfile)
        stream.ring.sampleRateHz = info.sampleRateHz
        let thread = Thread { [self] in captureLoop() }
        thread.name = "rtlsdr reader"
        thread.start()
        self.thread = thread
    }

    deinit {
        stop()
        if let device { rtlsdr_close(device) }
    }

    public func read(into block: inout IQBlock, timeoutS: Double) throws -> ReadStatus {
        try stream.read(into: &block, timeoutS: timeoutS)
    }

    /// Cancels streaming and waits for the capture thread to leave librtlsdr.
    public func stop() {
        guard !stream.stopFlag.isSet else { return }
        stream.stop()
        if let device { rtlsdr_cancel_async(device) }
        if thread != nil { _ = finished.wait(timeout: .now() + 2) }
    }

    private func captureLoop() {
        let context = Unmanaged.passUnretained(stream.ring).toOpaque()
        let rc = rtlsdr_read_async(device, { buffer, length, context in
            // Runs on librtlsdr's thread for every USB transfer: copy or drop, never block.
            guard let buffer, let context else { return }
            let ring = Unmanaged<SampleRing>.fromOpaque(context).takeUnretainedValue()
            let bytes = Int(length) & ~1
            let startS = wallClockS() - Double(bytes / 2) / ring.sampleRateHz
            var offset = 0
            while offset < bytes {
                let n = min(ring.slotBytes, bytes - offset)
                ring.push(UnsafeRawBufferPointer(start: buffer + offset, count: n),
                          captureTimeS: startS + Double(offset / 2) / ring.sampleRateHz)
                offset += n
            }
        }, context, 0, UInt32(transferBytes))
        if !stream.stopFlag.isSet {
            stream.fail(.deviceLost("\(info.origin) (rtlsdr_read_async returned \(rc))"))
        }
        finished.signal()
    }

    private static func nearestGain(_ dev: OpaquePointer?, tenthsDB: Int32) -> Int32 {
        let count = rtlsdr_get_tuner_gains(dev, nil)
        guard count > 0 else { return tenthsDB }
        var gains = [Int32](repeating: 0, count: Int(count))
        _ = rtlsdr_get_tuner_gains(dev, &gains)
        return gains.min { abs($0 - tenthsDB) < abs($1 - tenthsDB) } ?? tenthsDB
    }

    private static func check(_ rc: Int32, _ call: String) throws {
        if rc < 0 { throw IQError.device(call: call, code: rc) }
    }
}
