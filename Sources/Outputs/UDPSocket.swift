#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// `udp://HOST:PORT` (a record feed's destination) or `udp://:PORT` / `udp://HOST:PORT` (listen;
/// HOST a local or multicast address).
public struct UDPEndpoint: Equatable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    public init(_ text: String) throws(OutputError) {
        guard text.hasPrefix("udp://") else { throw .badDestination(text, reason: "expected udp://HOST:PORT") }
        let rest = text.dropFirst("udp://".count)
        guard let colon = rest.lastIndex(of: ":"), let port = UInt16(rest[rest.index(after: colon)...]), port > 0 else {
            throw .badDestination(text, reason: "expected udp://HOST:PORT with a port from 1 to 65535")
        }
        host = String(rest[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        self.port = port
    }

    public var description: String { "udp://\(host.contains(":") ? "[\(host)]" : host):\(port)" }

    /// An IPv4 multicast group (224.0.0.0/4).
    var isMulticast: Bool {
        guard let first = host.split(separator: ".").first.flatMap({ Int($0) }) else { return false }
        return (224...239).contains(first)
    }
}

/// A bound UDP socket receiving datagrams (joins the group for a multicast address). One thread
/// at a time may receive (it reuses one buffer); it may be handed to that thread.
public final class UDPReceiver: @unchecked Sendable {
    public let endpoint: UDPEndpoint
    private let fd: Int32
    private var buffer = [UInt8](repeating: 0, count: 65536)

    public init(_ endpoint: UDPEndpoint) throws(OutputError) {
        self.endpoint = endpoint
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .socket(endpoint.description, reason: String(cString: strerror(errno))) }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        // A deep queue rides out scheduling stalls of the reading thread; beyond the system's
        // rmem_max only a privileged process may ask (then the plain request is the fallback).
        var size: Int32 = 8 << 20
        if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = endpoint.port.bigEndian
        let bindHost = endpoint.host.isEmpty || endpoint.isMulticast ? "0.0.0.0" : endpoint.host
        guard inet_pton(AF_INET, bindHost, &address.sin_addr) == 1 else {
            close(fd)
            throw .badDestination(endpoint.description, reason: "listening needs an IPv4 address")
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw .socket(endpoint.description, reason: "cannot listen: \(reason)")
        }
        if endpoint.isMulticast {
            var request = ip_mreq()
            inet_pton(AF_INET, endpoint.host, &request.imr_multiaddr)
            request.imr_interface.s_addr = 0
            setsockopt(fd, Int32(IPPROTO_IP), IP_ADD_MEMBERSHIP, &request, socklen_t(MemoryLayout<ip_mreq>.size))
        }
        self.fd = fd
    }

    deinit { close(fd) }

    /// The next datagram, or nil when none arrives within `timeoutS`.
    public func receive(timeoutS: Double) -> [UInt8]? {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(max(0, timeoutS) * 1000)) > 0 else { return nil }
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n > 0 ? Array(buffer[0..<n]) : nil
    }
}
