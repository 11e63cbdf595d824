#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// Client for an rtl_tcp server (osmocom `rtl_tcp`, or rtl_433's `-F rtl_tcp`).
///
/// Wire protocol:
/// - on connect the server sends a 12-byte header: `"RTL0"`, tuner type (u32 BE), gain count (u32 BE);
///   e.g. `52 54 4C 30 00 00 00 05 00 00 00 1D` = R820T with 29 gains;
/// - then an endless stream of cu8 IQ bytes, no framing;
/// - the client sends 5-byte commands: 1 byte id, u32 big-endian parameter;
///   e.g. set 915 MHz = `01 36 89 CA C0`, set 2.4 MS/s = `02 00 24 9F 00`.
///
/// A reader thread fills the ring. When the connection drops it reconnects with backoff
/// (0.1 s doubling to 1 s) and reports the outage as a discontinuity: the samples the server
/// would have sent meanwhile (wall-clock gap × rate) are counted as dropped, so sample time
/// stays continuous with real time.
public final class RtlTcpSource: IQSource, @unchecked Sendable {
    public enum Command: UInt8, Sendable {
        case centerFrequency = 0x01, sampleRate = 0x02, gainMode = 0x03, gain = 0x04, frequencyCorrection = 0x05
        case ifGain = 0x06, testMode = 0x07, digitalAGC = 0x08, directSampling = 0x09, offsetTuning = 0x0a
        case rtlXtal = 0x0b, tunerXtal = 0x0c, gainByIndex = 0x0d, biasTee = 0x0e
    }

    /// Tuner names by the type number in the header (librtlsdr's enum).
    public static let tunerNames = ["unknown", "E4000", "FC0012", "FC0013", "FC2580", "R820T", "R828D"]

    public let host: String
    public let port: UInt16
    public let settings: TunerSettings
    /// Give up when the server stays unreachable this long after a drop (nil = keep trying).
    public let reconnectTimeoutS: Double?
    /// Treat a connection that delivers nothing for this long as dropped.
    public let stallTimeoutS: Double
    public private(set) var info: StreamInfo
    public var measureClipping: Bool {
        get { stream.measureClipping }
        set { stream.measureClipping = newValue }
    }

    private let stream: LiveStream
    private var thread: Thread?
    private let endpoint: String
    private let socketFD = Mutex<Int32>(-1)

    public var stats: SourceStats { stream.stats }

    /// Connects, checks the header and configures the tuner before returning; a server that is
    /// absent or not rtl_tcp is reported here, not later.
    public init(host: String, port: UInt16 = 1234, settings: TunerSettings, reconnectTimeoutS: Double? = nil,
                stallTimeoutS: Double = 3, slotSamples: Int = 16384, slotCount: Int = 128) throws {
        try settings.validate()
        self.host = host
        self.port = port
        self.settings = settings
        self.reconnectTimeoutS = reconnectTimeoutS
        self.stallTimeoutS = stallTimeoutS
        endpoint = "rtl_tcp://\(host):\(port)"
        stream = LiveStream(slotSamples: slotSamples, slotCount: slotCount, settings: settings)
        info = StreamInfo(sampleRateHz: settings.sampleRateHz, centerFrequencyHz: settings.centerFrequencyHz,
                          nativeFormat: .cu8, origin: endpoint, receiverProfile: settings.receiverProfile)
        let (fd, tuner) = try connectAndConfigure(firstTime: true)
        info.hardware = "RTL-SDR (\(tuner) tuner) via \(endpoint)"
        info.startTimeS = wallClockS()
        socketFD.withLock { $0 = fd }
        let thread = Thread { [self] in readerLoop(firstFD: fd) }
        thread.name = "rtl_tcp reader"
        thread.start()
        self.thread = thread
    }

    deinit { stop() }

    public func read(into block: inout IQBlock, timeoutS: Double) throws -> ReadStatus {
        try stream.read(into: &block, timeoutS: timeoutS)
    }

    public func stop() {
        stream.stop()
        socketFD.withLock { fd in
            if fd >= 0 { shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    // MARK: - Reader thread

    private func readerLoop(firstFD: Int32) {
        let bytesPerSlot = stream.ring.slotBytes
        let staging = UnsafeMutableRawBufferPointer.allocate(byteCount: bytesPerSlot, alignment: 64)
        defer { staging.deallocate() }
        var fd = firstFD
        var filled = 0
        var lastDataNs = monotonicNs()
        while !stream.stopFlag.isSet {
            let n = recv(fd, staging.baseAddress! + filled, bytesPerSlot - filled, 0)
            if n > 0 {
                filled += n
                lastDataNs = monotonicNs()
                if filled == bytesPerSlot {
                    let durationS = Double(bytesPerSlot / 2) / settings.sampleRateHz
                    stream.ring.push(UnsafeRawBufferPointer(staging), captureTimeS: wallClockS() - durationS)
                    filled = 0
                }
                continue
            }
            if n < 0, errno == EINTR { continue }
            let stalled = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)
            if stalled, Double(monotonicNs() - lastDataNs) * 1e-9 < stallTimeoutS { continue }
            if stream.stopFlag.isSet { break }
            // Connection closed, failed or stalled: deliver the whole samples we have, then reconnect.
            let whole = filled / 2 * 2
            if whole > 0 {
                let durationS = Double(whole / 2) / settings.sampleRateHz
                stream.ring.push(UnsafeRawBufferPointer(rebasing: staging[0..<whole]), captureTimeS: wallClockS() - durationS)
            }
            filled = 0
            closeSocket()
            guard let newFD = reconnect(since: lastDataNs) else { break }
            fd = newFD
            lastDataNs = monotonicNs()
        }
        closeSocket()
    }

    private func closeSocket() {
        socketFD.withLock { fd in
            if fd >= 0 { Glibc.close(fd) }
            fd = -1
        }
    }

    /// Retries with backoff; on success counts the outage as dropped samples. Nil when stopped
    /// or when the server did not come back within `reconnectTimeoutS`.
    private func reconnect(since lastDataNs: UInt64) -> Int32? {
        var delayS = 0.1
        let lostNs = monotonicNs()
        while !stream.stopFlag.isSet {
            let downS = Double(monotonicNs() - lostNs) * 1e-9
            if let limit = reconnectTimeoutS, downS > limit {
                stream.fail(.connectionLost(endpoint: endpoint, afterS: limit))
                return nil
            }
            sleepNs(UInt64(delayS * 1e9))
            delayS = min(delayS * 2, 1.0)
            do {
                let (fd, _) = try connectAndConfigure(firstTime: false)
                let gapS = Double(monotonicNs() - lastDataNs) * 1e-9
                stream.ring.skip(samples: max(1, Int64((gapS * settings.sampleRateHz).rounded())))
                stream.reconnects.add(1, ordering: .relaxed)
                socketFD.withLock { $0 = fd }
                if stream.stopFlag.isSet { return nil }
                return fd
            } catch let error as IQError {
                if case .badServerHeader = error {
                    stream.fail(error)
                    return nil
                }
            } catch {}
        }
        return nil
    }

    // MARK: - Connection

    private func connectAndConfigure(firstTime: Bool) throws -> (Int32, String) {
        let fd = try Self.connect(host: host, port: port, endpoint: endpoint)
        do {
            var header = [UInt8](repeating: 0, count: 12)
            var got = 0
            let deadline = monotonicNs() + 5_000_000_000
            while got < 12 {
                let n = header.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, 12 - got, 0) }
                if n > 0 { got += n; continue }
                if n < 0, errno == EINTR || ((errno == EAGAIN || errno == EWOULDBLOCK) && monotonicNs() < deadline) { continue }
                if n == 0 {
                    throw IQError.badServerHeader(endpoint: endpoint, detail: "connection closed after \(got) of the 12 header bytes")
                }
                throw IQError.badServerHeader(endpoint: endpoint, detail: "no 12-byte header within 5 s")
            }
            guard header[0..<4].elementsEqual("RTL0".utf8) else {
                let shown = header[0..<4].map { (0x20...0x7e).contains($0) ? String(UnicodeScalar($0)) : "." }.joined()
                throw IQError.badServerHeader(endpoint: endpoint, detail: "header starts with '\(shown)', expected 'RTL0'")
            }
            let tunerType = Int(header[4]) << 24 | Int(header[5]) << 16 | Int(header[6]) << 8 | Int(header[7])
            let tuner = tunerType < Self.tunerNames.count ? Self.tunerNames[tunerType] : "type \(tunerType)"
            try send(fd, .sampleRate, UInt32(settings.sampleRateHz.rounded()))
            try send(fd, .centerFrequency, UInt32(settings.tunerFrequencyHz.rounded()))
            try send(fd, .frequencyCorrection, UInt32(bitPattern: Int32(settings.ppm)))
            try send(fd, .digitalAGC, settings.digitalAGC ? 1 : 0)
            try send(fd, .biasTee, settings.biasTee ? 1 : 0)
            if let gain = settings.gainDB {
                try send(fd, .gainMode, 1)
                try send(fd, .gain, UInt32((gain * 10).rounded()))
            } else {
                try send(fd, .gainMode, 0)
            }
            return (fd, tuner)
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    private func send(_ fd: Int32, _ command: Command, _ parameter: UInt32) throws {
        let bytes: [UInt8] = [command.rawValue, UInt8(parameter >> 24), UInt8(parameter >> 16 & 0xff),
                              UInt8(parameter >> 8 & 0xff), UInt8(parameter & 0xff)]
        let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, 5, Int32(MSG_NOSIGNAL)) }
        guard n == 5 else {
            throw IQError.connectFailed(endpoint: endpoint, reason: "sending command \(command) failed: \(String(cString: strerror(errno)))")
        }
    }

    /// Blocking TCP connect with a 0.5 s receive timeout so the reader can notice stop and stalls.
    static func connect(host: String, port: UInt16, endpoint: String) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw IQError.connectFailed(endpoint: endpoint, reason: String(cString: gai_strerror(rc)))
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let ai = entry {
            entry = ai.pointee.ai_next
            let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), ai.pointee.ai_protocol)
            guard fd >= 0 else { lastError = String(cString: strerror(errno)); continue }
            var timeout = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            if Glibc.connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 {
                timeout = timeval(tv_sec: 0, tv_usec: 500_000)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                var size: Int32 = 1 << 20
                setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
                return fd
            }
            lastError = String(cString: strerror(errno))
            Glibc.close(fd)
        }
        throw IQError.connectFailed(endpoint: endpoint, reason: lastError)
    }
}
