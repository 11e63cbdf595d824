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

    public var description: String {
        switch self {
        case .invalidArgument(let text):
            return text
        case .invalidDestination(let text, let reason):
            return "--cot \(text): \(reason) (expected udp://HOST:PORT or tcp://HOST:PORT, e.g. udp://239.2.3.1:6969)"
        case .unsupportedScheme(let text, let scheme):
            if scheme == "tls" || scheme == "ssl" {
                return "--cot \(text): TLS to a TAK Server (port 8089, .p12 client certificate) is not implemented yet; "
                    + "use tcp://HOST:8087 on a plain streaming input, or udp://239.2.3.1:6969"
            }
            return "--cot \(text): unknown scheme '\(scheme)' (use udp:// for mesh SA or unicast, tcp:// for a TAK Server)"
        case .resolveFailed(let endpoint, let reason):
            return "\(endpoint): cannot resolve the host (\(reason)); check the name or use an IP address"
        case .socketFailed(let endpoint, let reason):
            return "\(endpoint): cannot open a socket (\(reason))"
        case .connectFailed(let endpoint, let reason):
            return "\(endpoint): cannot connect (\(reason)); is the TAK Server's plain TCP streaming input listening there?"
        case .sendFailed(let endpoint, let reason):
            return "\(endpoint): sending CoT failed (\(reason)) and reconnecting did not help"
        }
    }
}
