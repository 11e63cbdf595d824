import CMosquitto
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
    var reconnectMaxDelayS: Int
}

/// The publish result the output needs: the message id, and whether libmosquitto kept the message.
enum MQTTPublishResult {
    /// Sent, or (QoS 1 while disconnected: MOSQ_ERR_NO_CONN) queued inside libmosquitto, which
    /// sends it again after the reconnect and reports the PUBACK like any other.
    case accepted(mid: Int32, connected: Bool)
    /// QoS 0 while disconnected: nothing kept.
    case notConnected
    /// Refused for good (too large, invalid topic, out of memory).
    case refused(String)
}

/// A thin wrapper over libmosquitto's threaded client (`loop_start`): the library's thread does
/// the network I/O and reconnects; callbacks come back through an unretained userdata pointer to
/// this object, which stays valid because `deinit` stops the thread before destroying the handle.
///
/// Behaviour of libmosquitto 2.0.11 that shapes the use (checked against a real broker):
/// - `connect_async` before `loop_start` with the broker down fails at once (ECONNREFUSED) and
///   the loop thread then never retries. After `loop_start`, the connect is non-blocking, returns
///   success, and the thread keeps retrying with the reconnect delay. A synchronous failure even
///   then (name lookup) also leaves no retry behind, so `connect()` must be repeated by the caller.
/// - `publish` at QoS 1 while disconnected returns MOSQ_ERR_NO_CONN but keeps the message queued;
///   it goes out (DUP set) after the reconnect and its PUBACK fires `on_publish` — so it must not
///   be handed over again. QoS 0 while disconnected is dropped.
final class MQTTClient: @unchecked Sendable {
    private let handle: OpaquePointer
    private weak var delegate: MQTTClientDelegate?
    let options: MQTTClientOptions
    let endpoint: String
    private var stopped = true

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
            Unmanaged<MQTTClient>.fromOpaque(userdata).takeUnretainedValue().delegate?.mqttConnected(code: code)
        }
        mosquitto_disconnect_callback_set(handle) { _, userdata, code in
            guard let userdata else { return }
            Unmanaged<MQTTClient>.fromOpaque(userdata).takeUnretainedValue().delegate?.mqttDisconnected(code: code)
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
                mosquitto_destroy(handle)
                throw OutputError.mqttFailed(endpoint: endpoint, reason: "cannot set the last will (\(Self.errorText(rc)))")
            }
        }
        if options.username != nil || options.password != nil {
            let rc = mosquitto_username_pw_set(handle, options.username ?? "", options.password)
            guard rc == MOSQ_ERR_SUCCESS.rawValue else {
                mosquitto_destroy(handle)
                throw OutputError.mqttFailed(endpoint: endpoint, reason: "cannot use this user name (\(Self.errorText(rc)))")
            }
        }
        if let tls = options.tls {
            // Without a CA file, the system's trust store (Debian keeps hashed CA links there).
            let caDirectory = tls.caFile == nil ? "/etc/ssl/certs" : nil
            let rc = mosquitto_tls_set(handle, tls.caFile, caDirectory, tls.certificate, tls.key, nil)
            guard rc == MOSQ_ERR_SUCCESS.rawValue else {
                mosquitto_destroy(handle)
                throw OutputError.mqttFailed(endpoint: endpoint,
                                             reason: "TLS setup failed (\(Self.errorText(rc))); check the CA, certificate and key files")
            }
        }
        let maxDelayS = UInt32(max(1, options.reconnectMaxDelayS))
        mosquitto_reconnect_delay_set(handle, 1, maxDelayS, true)
    }

    deinit {
        stop()
        mosquitto_destroy(handle)
    }

    /// Starts the network thread; call before the first `connect()` (see the type's notes).
    func start() -> Bool {
        let rc = mosquitto_loop_start(handle)
        if rc == MOSQ_ERR_SUCCESS.rawValue { stopped = false }
        return rc == MOSQ_ERR_SUCCESS.rawValue
    }

    /// Begins connecting in the background; nil on success, else why it failed at once (then
    /// nothing retries: call again later).
    func connect() -> String? {
        let rc = mosquitto_connect_async(handle, options.host, options.port, options.keepAliveS)
        return rc == MOSQ_ERR_SUCCESS.rawValue ? nil : Self.errorText(rc)
    }

    func publish(topic: String, payload: [UInt8], qos: Int32, retain: Bool) -> MQTTPublishResult {
        var mid: Int32 = 0
        let rc = payload.withUnsafeBytes {
            mosquitto_publish(handle, &mid, topic, Int32($0.count), $0.baseAddress, qos, retain)
        }
        switch rc {
        case MOSQ_ERR_SUCCESS.rawValue: return .accepted(mid: mid, connected: true)
        case MOSQ_ERR_NO_CONN.rawValue: return qos > 0 ? .accepted(mid: mid, connected: false) : .notConnected
        default: return .refused(Self.errorText(rc))
        }
    }

    /// Sends DISCONNECT (a clean end: the broker does not publish the will).
    func disconnect() { _ = mosquitto_disconnect(handle) }

    /// Stops the network thread (after `disconnect()` it ends by itself; waits for it).
    func stop() {
        guard !stopped else { return }
        stopped = true
        _ = mosquitto_loop_stop(handle, false)
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
