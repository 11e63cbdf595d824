import CMosquitto
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `mosquitto_lib_init` once per process (a global `let` is initialised exactly once, thread-safely).
private let mosquittoLibrary: Int32 = mosquitto_lib_init()

/// What libmosquitto's network thread reports. Called on that thread: keep it short, never call
/// back into the client's loop control (stop/destroy) from here.
protocol MQTTClientDelegate: AnyObject, Sendable {
    /// CONNACK arrived: 0 accepted, otherwise the broker's refusal code (5 = not authorised).
    func mqttConnected(code: Int32)
    /// The connection ended; 0 when we asked for it.
    func mqttDisconnected(code: Int32)
    /// A QoS 0 message was written to the socket, or a QoS 1 message acknowledged (PUBACK).
    func mqttPublished(mid: Int32)
    /// Warnings and errors from the library (TLS failures say why only here).
    func mqttLog(text: String)
    /// A connection attempt failed without the broker answering; the next comes in `retryInS`.
    func mqttConnectFailed(reason: String, retryInS: Double)
}

struct MQTTClientOptions {
    var clientID: String
    var host: String
    var port: Int32
    var keepAliveS: Int32
    var username: String?
    var password: String?
    var will: (topic: String, payload: [UInt8])?
    var tls: (caFile: String?, certificate: String?, key: String?)?
    var reconnectMaxDelayS: Double
}

/// The publish result the output needs: the message id, and whether libmosquitto kept the message.
enum MQTTPublishResult {
    /// Sent, or (QoS 1 while disconnected: MOSQ_ERR_NO_CONN) queued inside libmosquitto, which
    /// sends it again after the reconnect and reports the PUBACK like any other.
    case accepted(mid: Int32)
    /// QoS 0 while disconnected: nothing kept.
    case notConnected
    /// Refused for good (too large, invalid topic, out of memory).
    case refused(String)
}

/// A thin wrapper over libmosquitto with our own network thread (`mosquitto_loop` in a loop,
/// libmosquitto told with `threaded_set` that another thread runs it). Callbacks come back through
/// an unretained userdata pointer to this object, which stays valid because `deinit` joins the
/// thread before destroying the handle.
///
/// Why not `loop_start`: libmosquitto 2.0's own thread gives up for good on some errors (a TLS
/// error ends `loop_forever`), never retries a connect that failed at once (a name that does not
/// resolve, or `connect_async` before `loop_start`), and reconnects with a blocking connect that a
/// silent network holds for minutes, so stopping could hang. Here every failure, whatever its
/// kind, leads to the next attempt after a backoff (1, 2, 4, 8 s … up to the maximum), connects
/// are non-blocking, and stopping takes at most a second.
///
/// `publish` at QoS 1 while disconnected returns MOSQ_ERR_NO_CONN but keeps the message queued;
/// it goes out (DUP set) after the reconnect and its PUBACK fires `on_publish` — so it must not be
/// handed over again. QoS 0 while disconnected is dropped.
final class MQTTClient: @unchecked Sendable {
    private let handle: OpaquePointer
    private weak var delegate: MQTTClientDelegate?
    let options: MQTTClientOptions
    let endpoint: String
    private let stopRequested = Atomic<Bool>(false)
    private let exited = DispatchSemaphore(value: 0)
    private var running = false
    /// Network-thread state, touched only there (callbacks run inside `mosquitto_loop`).
    private var sessionUp = false
    private var refusedThisAttempt = false

    init(_ options: MQTTClientOptions, endpoint: String, delegate: MQTTClientDelegate) throws(OutputError) {
        _ = mosquittoLibrary
        self.options = options
        self.endpoint = endpoint
        // Clean session: durability comes from our spool, not from broker-side session state.
        guard let handle = mosquitto_new(options.clientID, true, nil) else {
            throw OutputError.mqttFailed(endpoint: endpoint, reason: "cannot create an MQTT client (out of memory or bad client id)")
        }
        self.handle = handle
        self.delegate = delegate
        mosquitto_user_data_set(handle, Unmanaged.passUnretained(self).toOpaque())
        mosquitto_connect_callback_set(handle) { _, userdata, code in
            guard let userdata else { return }
            let client = Unmanaged<MQTTClient>.fromOpaque(userdata).takeUnretainedValue()
            client.sessionUp = code == 0
            client.refusedThisAttempt = code != 0
            client.delegate?.mqttConnected(code: code)
        }
        mosquitto_disconnect_callback_set(handle) { _, userdata, code in
            guard let userdata else { return }
            let client = Unmanaged<MQTTClient>.fromOpaque(userdata).takeUnretainedValue()
            client.sessionUp = false
            client.delegate?.mqttDisconnected(code: code)
        }
        mosquitto_publish_callback_set(handle) { _, userdata, mid in
            guard let userdata else { return }
            Unmanaged<MQTTClient>.fromOpaque(userdata).takeUnretainedValue().delegate?.mqttPublished(mid: mid)
        }
        mosquitto_log_callback_set(handle) { _, userdata, level, text in
            // Debug lines come for every packet: build a String only for what matters.
            guard let userdata, let text, level & Int32(MOSQ_LOG_ERR | MOSQ_LOG_WARNING) != 0 else { return }
            Unmanaged<MQTTClient>.fromOpaque(userdata).takeUnretainedValue().delegate?.mqttLog(text: String(cString: text))
        }
        if let will = options.will {
            let rc = will.payload.withUnsafeBytes {
                mosquitto_will_set(handle, will.topic, Int32($0.count), $0.baseAddress, 1, true)
            }
            guard rc == MOSQ_ERR_SUCCESS.rawValue else {
                throw OutputError.mqttFailed(endpoint: endpoint, reason: "cannot set the last will (\(Self.errorText(rc)))")
            }
        }
        if options.username != nil || options.password != nil {
            let rc = mosquitto_username_pw_set(handle, options.username ?? "", options.password)
            guard rc == MOSQ_ERR_SUCCESS.rawValue else {
                throw OutputError.mqttFailed(endpoint: endpoint, reason: "cannot use this user name (\(Self.errorText(rc)))")
            }
        }
        if let tls = options.tls {
            // Without a CA file, the system's trust store (Debian keeps hashed CA links there).
            let caDirectory = tls.caFile == nil ? "/etc/ssl/certs" : nil
            let rc = mosquitto_tls_set(handle, tls.caFile, caDirectory, tls.certificate, tls.key, nil)
            guard rc == MOSQ_ERR_SUCCESS.rawValue else {
                throw OutputError.mqttFailed(endpoint: endpoint,
                                             reason: "TLS setup failed (\(Self.errorText(rc))); check the CA, certificate and key files")
            }
        }
        // Packets from other threads are queued and written by ours (woken through its socket pair).
        _ = mosquitto_threaded_set(handle, true)
    }

    deinit {
        stop()
        mosquitto_destroy(handle)
    }

    /// Starts the network thread, which connects and keeps reconnecting until `stop()`.
    func start() {
        guard !running else { return }
        running = true
        let thread = Thread { [self] in
            runNetwork()
            exited.signal()
        }
        thread.name = "uasense-mqtt-net"
        thread.start()
    }

    private func runNetwork() {
        var delayS = 1.0
        var nextAttemptS = 0.0
        var attempted = false
        var socketOpen = false
        var stopDeadlineS = Double.infinity
        while true {
            let nowS = monotonicS()
            if stopRequested.load(ordering: .acquiring) {
                // Give a queued DISCONNECT a moment to go out, then end.
                if stopDeadlineS == .infinity { stopDeadlineS = nowS + 1 }
                if !socketOpen || nowS >= stopDeadlineS { break }
            } else if !socketOpen {
                guard nowS >= nextAttemptS else {
                    usleep(UInt32(min(0.1, nextAttemptS - nowS) * 1e6))
                    continue
                }
                refusedThisAttempt = false
                let rc = attempted ? mosquitto_reconnect_async(handle)
                    : mosquitto_connect_async(handle, options.host, options.port, options.keepAliveS)
                attempted = true
                if rc != MOSQ_ERR_SUCCESS.rawValue {
                    // Failed at once (a name that does not resolve, no route): nothing else retries.
                    delegate?.mqttConnectFailed(reason: Self.errorText(rc), retryInS: delayS)
                    nextAttemptS = nowS + delayS
                    delayS = min(delayS * 2, max(1, options.reconnectMaxDelayS))
                    continue
                }
                socketOpen = true
            }
            let wasUp = sessionUp
            let rc = mosquitto_loop(handle, 100, 1)
            if sessionUp, !wasUp { delayS = 1 }
            if rc != MOSQ_ERR_SUCCESS.rawValue || mosquitto_socket(handle) < 0 {
                // Lost, refused or never made, TLS or protocol error alike: try again after the backoff.
                socketOpen = false
                if sessionUp {
                    // libmosquitto closed the socket without telling: say so, as it would.
                    sessionUp = false
                    delegate?.mqttDisconnected(code: rc == MOSQ_ERR_SUCCESS.rawValue ? Int32(MOSQ_ERR_CONN_LOST.rawValue) : rc)
                }
                if !wasUp, !refusedThisAttempt, !stopRequested.load(ordering: .acquiring) {
                    delegate?.mqttConnectFailed(reason: Self.errorText(rc), retryInS: delayS)
                }
                nextAttemptS = monotonicS() + delayS
                delayS = min(delayS * 2, max(1, options.reconnectMaxDelayS))
            }
        }
    }

    func publish(topic: String, payload: [UInt8], qos: Int32, retain: Bool) -> MQTTPublishResult {
        var mid: Int32 = 0
        let rc = payload.withUnsafeBytes {
            mosquitto_publish(handle, &mid, topic, Int32($0.count), $0.baseAddress, qos, retain)
        }
        switch rc {
        case MOSQ_ERR_SUCCESS.rawValue: return .accepted(mid: mid)
        case MOSQ_ERR_NO_CONN.rawValue: return qos > 0 ? .accepted(mid: mid) : .notConnected
        default: return .refused(Self.errorText(rc))
        }
    }

    /// Sends DISCONNECT (a clean end: the broker does not publish the will).
    func disconnect() { _ = mosquitto_disconnect(handle) }

    /// Stops the network thread and waits for it (at most about a second: a DISCONNECT queued
    /// just before gets that long to go out).
    func stop() {
        guard running else { return }
        running = false
        stopRequested.store(true, ordering: .releasing)
        exited.wait()
    }

    static func errorText(_ rc: Int32) -> String {
        if rc == MOSQ_ERR_ERRNO.rawValue { return String(cString: strerror(errno)) }
        return String(cString: mosquitto_strerror(rc))
    }

    /// "not authorised" for 5, etc.
    static func refusalText(_ code: Int32) -> String {
        let text = String(cString: mosquitto_connack_string(code))
        let trimmed = text.hasPrefix("Connection Refused: ") ? String(text.dropFirst("Connection Refused: ".count)) : text
        return trimmed.hasSuffix(".") ? String(trimmed.dropLast()) : trimmed
    }
}
