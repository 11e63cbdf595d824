/// What can go wrong sending detections out. Each case renders as one line saying what is wrong
/// and what to do about it.
public enum OutputError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidArgument(String)
    case invalidDestination(String, reason: String)
    case unsupportedScheme(String, scheme: String)
    case resolveFailed(endpoint: String, reason: String)
    case socketFailed(endpoint: String, reason: String)
    case connectFailed(endpoint: String, reason: String)
    case sendFailed(endpoint: String, reason: String)
    case tlsFailed(endpoint: String, reason: String)
    /// UDP record feeds and `listen`.
    case badDestination(String, reason: String)
    case socket(String, reason: String)
    case badKey(path: String, reason: String)
    /// MQTT: a bad `--mqtt` URL or setting (the URL shown without its password).
    case mqttSettings(String, reason: String)
    /// MQTT: the client library refused something (TLS files, options).
    case mqttFailed(endpoint: String, reason: String)
    /// MQTT spool directory problems.
    case spoolFailed(directory: String, reason: String)
    case spoolInUse(directory: String, pid: Int32?)

    /// The cause alone, without the endpoint (for messages that name it already).
    var reason: String {
        switch self {
        case .invalidArgument(let r), .invalidDestination(_, let r), .resolveFailed(_, let r), .socketFailed(_, let r),
             .connectFailed(_, let r), .sendFailed(_, let r), .tlsFailed(_, let r),
             .badDestination(_, let r), .socket(_, let r), .badKey(_, let r),
             .mqttSettings(_, let r), .mqttFailed(_, let r), .spoolFailed(_, let r):
            return r
        case .spoolInUse(_, let pid):
            return "in use by another uasense process" + (pid.map { " (pid \($0))" } ?? "")
        case .unsupportedScheme(_, let scheme):
            return "unknown scheme \(scheme)"
        }
    }

    public var description: String {
        switch self {
        case .invalidArgument(let text):
            return text
        case .badDestination(let text, let reason), .socket(let text, let reason):
            return "\(text): \(reason)"
        case .badKey(let path, let reason):
            return "\(path): \(reason)"
        case .invalidDestination(let text, let reason):
            return "--cot \(text): \(reason) (expected udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT, e.g. udp://239.2.3.1:6969)"
        case .unsupportedScheme(let text, let scheme):
            return "--cot \(text): unknown scheme '\(scheme)' (use udp:// for mesh SA or unicast, tcp:// or tls:// for a TAK Server)"
        case .resolveFailed(let endpoint, let reason):
            return "\(endpoint): cannot resolve the host (\(reason)); check the name or use an IP address"
        case .socketFailed(let endpoint, let reason):
            return "\(endpoint): cannot open a socket (\(reason))"
        case .connectFailed(let endpoint, let reason):
            return "\(endpoint): cannot connect (\(reason)); is the TAK Server's plain TCP streaming input listening there?"
        case .sendFailed(let endpoint, let reason):
            return "\(endpoint): sending CoT failed (\(reason)) and reconnecting did not help"
        case .tlsFailed(let endpoint, let reason), .mqttFailed(let endpoint, let reason):
            return "\(endpoint): \(reason)"
        case .mqttSettings(let text, let reason):
            return "--mqtt \(text): \(reason)"
        case .spoolFailed(let directory, let reason):
            return "MQTT spool \(directory): \(reason)"
        case .spoolInUse(let directory, let pid):
            return "MQTT spool \(directory) is in use by another uasense process" + (pid.map { " (pid \($0))" } ?? "")
                + "; give each sensor process its own spool directory"
        }
    }
}
