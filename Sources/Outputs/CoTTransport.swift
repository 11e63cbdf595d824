#if canImport(Glibc)
import Glibc
#endif

/// Where CoT goes: `udp://239.2.3.1:6969` (ATAK's mesh SA multicast, the default), any UDP
/// unicast `udp://HOST:PORT`, a TAK Server's plain streaming input `tcp://HOST:8087`, or its TLS
/// input with a client certificate `tls://HOST:8089`.
public struct CoTDestination: Sendable, Equatable, CustomStringConvertible {
    public enum Transport: String, Sendable { case udp, tcp, tls }

    public var transport: Transport
    public var host: String
    public var port: UInt16

    public static let meshGroup = "239.2.3.1"
    public static let meshPort: UInt16 = 6969
    public static let takServerPort: UInt16 = 8087
    public static let takServerTLSPort: UInt16 = 8089

    public init(transport: Transport, host: String, port: UInt16) {
        self.transport = transport
        self.host = host
        self.port = port
    }

    /// `udp://[HOST][:PORT]` (empty host: the mesh SA group), `tcp://HOST[:PORT]`; IPv6 hosts in
    /// brackets (`udp://[ff02::1]:6969`).
    public init(parsing text: String) throws {
        guard let schemeEnd = text.firstRange(of: "://") else {
            throw OutputError.invalidDestination(text, reason: "no scheme")
        }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard let transport = Transport(rawValue: scheme) else {
            throw OutputError.unsupportedScheme(text, scheme: scheme)
        }
        var rest = Substring(text[schemeEnd.upperBound...])
        if rest.hasSuffix("/") { rest.removeLast() }
        var host: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else {
                throw OutputError.invalidDestination(text, reason: "unclosed '[' around an IPv6 address")
            }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty {
                throw OutputError.invalidDestination(text, reason: "unexpected '\(after)' after the address")
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
        }
        guard !host.contains("/"), !host.contains(" ") else {
            throw OutputError.invalidDestination(text, reason: "'\(host)' is not a host name or address")
        }
        var port = [.udp: Self.meshPort, .tcp: Self.takServerPort, .tls: Self.takServerTLSPort][transport]!
        if let portText {
            guard let p = UInt16(portText), p > 0 else {
                throw OutputError.invalidDestination(text, reason: "port '\(portText)' is not 1–65535")
            }
            port = p
        }
        if host.isEmpty {
            guard transport == .udp else {
                throw OutputError.invalidDestination(text, reason: "\(transport.rawValue):// needs the TAK Server's host")
            }
            host = Substring(Self.meshGroup)
        }
        self.init(transport: transport, host: String(host), port: port)
    }

    public var description: String {
        "\(transport.rawValue)://" + (host.contains(":") ? "[\(host)]" : host) + ":\(port)"
    }
}

/// Sends whole CoT events. Implementations are not thread-safe: one caller at a time.
public protocol CoTSender: AnyObject {
    var endpoint: String { get }
    /// Sends one event (the bytes of one XML document).
    func send(_ event: [UInt8]) throws
    func close()
}

/// Resolves `host:port` for one socket type (numeric addresses and names).
func resolve(host: String, port: UInt16, socketType: Int32, endpoint: String) throws -> [(family: Int32, address: [UInt8])] {
    var hints = addrinfo()
    hints.ai_family = AF_UNSPEC
    hints.ai_socktype = socketType
    var list: UnsafeMutablePointer<addrinfo>?
    let rc = getaddrinfo(host, String(port), &hints, &list)
    guard rc == 0, let first = list else {
        throw OutputError.resolveFailed(endpoint: endpoint, reason: String(cString: gai_strerror(rc)))
    }
    defer { freeaddrinfo(list) }
    var out: [(Int32, [UInt8])] = []
    var entry: UnsafeMutablePointer<addrinfo>? = first
    while let ai = entry {
        entry = ai.pointee.ai_next
        guard let sa = ai.pointee.ai_addr else { continue }
        let bytes = UnsafeRawBufferPointer(start: sa, count: Int(ai.pointee.ai_addrlen))
        out.append((ai.pointee.ai_family, Array(bytes)))
    }
    return out
}

private func errnoText() -> String { String(cString: strerror(errno)) }

/// One datagram per send (a CoT event, a detection record), to a multicast group (TTL 1 by
/// default: the venue LAN, as ATAK's mesh SA) or a unicast address. The socket is never connected, so a receiver that is not up yet
/// costs nothing (no ICMP-refused errors on later sends).
public final class UDPDatagramSender: CoTSender {
    public let endpoint: String
    private let fd: Int32
    private let address: [UInt8]
    /// Datagrams the kernel refused (counted, not thrown: the network going away must not stop a
    /// sensor), and the first reason.
    public private(set) var failedSends = 0
    public private(set) var firstFailure: String?
    public private(set) var datagramsSent = 0

    public init(host: String, port: UInt16, multicastTTL: Int32 = 1) throws {
        endpoint = "udp://" + (host.contains(":") ? "[\(host)]" : host) + ":\(port)"
        guard let target = try resolve(host: host, port: port, socketType: Int32(SOCK_DGRAM.rawValue), endpoint: endpoint).first else {
            throw OutputError.resolveFailed(endpoint: endpoint, reason: "no address")
        }
        let fd = socket(target.family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw OutputError.socketFailed(endpoint: endpoint, reason: errnoText()) }
        var ttl = multicastTTL
        var loop: Int32 = 1  // a TAK client on this host hears the sensor too
        if target.family == AF_INET {
            setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_TTL, &ttl, socklen_t(MemoryLayout<Int32>.size))
            setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_LOOP, &loop, socklen_t(MemoryLayout<Int32>.size))
        } else if target.family == AF_INET6 {
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_MULTICAST_HOPS, &ttl, socklen_t(MemoryLayout<Int32>.size))
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_MULTICAST_LOOP, &loop, socklen_t(MemoryLayout<Int32>.size))
        }
        self.fd = fd
        address = target.address
    }

    deinit { close() }

    public func send(_ event: [UInt8]) throws {
        while true {
            let n = event.withUnsafeBytes { bytes in
                address.withUnsafeBytes { sa in
                    sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL),
                           sa.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(sa.count))
                }
            }
            if n >= 0 { datagramsSent += 1; return }
            if errno == EINTR { continue }
            failedSends += 1
            if firstFailure == nil { firstFailure = errnoText() }
            return
        }
    }

    private var closed = false
    public func close() {
        guard !closed else { return }
        closed = true
        Glibc.close(fd)
    }
}

/// Events back to back on a TCP stream to a TAK Server's streaming input: plain (8087) or TLS
/// with a client certificate (8089). Events from the server (other clients' traffic) are read and
/// discarded so its buffers never stall us. A failed send reconnects (three tries, 0.25–1 s apart)
/// and resends the whole event.
public final class TCPCoTSender: CoTSender {
    public let endpoint: String
    private let host: String
    private let port: UInt16
    private var fd: Int32 = -1
    private let tls: TLSClientContext?
    private var session: TLSSession?
    public private(set) var reconnects = 0

    /// Connects (and with `tls`, shakes hands) before returning, so a wrong host, port or
    /// certificate is reported at start.
    public init(host: String, port: UInt16, tls: TLSClientOptions? = nil) throws {
        self.host = host
        self.port = port
        endpoint = (tls == nil ? "tcp://" : "tls://") + (host.contains(":") ? "[\(host)]" : host) + ":\(port)"
        self.tls = try tls.map { [endpoint] in try TLSClientContext($0, endpoint: endpoint) }
        fd = try connect()
    }

    deinit { close() }

    private func connect() throws -> Int32 {
        var lastError = "no address"
        for target in try resolve(host: host, port: port, socketType: Int32(SOCK_STREAM.rawValue), endpoint: endpoint) {
            let fd = socket(target.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { lastError = errnoText(); continue }
            // Linux applies the send timeout to connect too: an unreachable server fails in 3 s.
            var timeout = timeval(tv_sec: 3, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var on: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
            let rc = target.address.withUnsafeBytes { sa in
                Glibc.connect(fd, sa.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(sa.count))
            }
            if rc == 0 {
                guard let tls else { return fd }
                // The handshake reads: bound it like the writes.
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                do {
                    session = try TLSSession(context: tls, fd: fd, host: host)
                    return fd
                } catch {
                    Glibc.close(fd)
                    throw error
                }
            }
            lastError = errnoText()
            Glibc.close(fd)
        }
        throw OutputError.connectFailed(endpoint: endpoint, reason: lastError)
    }

    public func send(_ event: [UInt8]) throws {
        var delayS = 0.25
        // The first failure says why (e.g. the server's TLS alert); later ones only that it persists.
        var firstError: String?
        var lastError = ""
        for attempt in 0..<4 {
            if attempt > 0 {
                usleep(UInt32(delayS * 1e6))
                delayS *= 2
                do {
                    session = nil
                    fd = try connect()
                    reconnects += 1
                } catch let error as OutputError {
                    lastError = error.reason
                    firstError = firstError ?? lastError
                    continue
                }
            }
            if fd >= 0, drainIncoming(), writeAll(event) { return }
            lastError = session?.lastFailure.map { "TLS: \($0); does the server accept this client certificate?" } ?? errnoText()
            firstError = firstError ?? lastError
            session = nil
            if fd >= 0 { Glibc.close(fd) }
            fd = -1
        }
        let reason = firstError.map { $0 == lastError ? $0 : "\($0); then \(lastError)" } ?? lastError
        throw OutputError.sendFailed(endpoint: endpoint, reason: reason)
    }

    /// Reads whatever the server sent; false when it closed the connection.
    private func drainIncoming() -> Bool {
        if let session { return session.drain(fd: fd) }
        var scratch = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n > 0 { continue }
            if n == 0 { errno = ECONNRESET; return false }
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
        }
    }

    private func writeAll(_ bytes: [UInt8]) -> Bool {
        if let session { return session.write(bytes) }
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n > 0 { sent += n; continue }
            if n < 0, errno == EINTR { continue }
            return false
        }
        return true
    }

    /// Half-closes and waits briefly for the server's end: closing with unread data would reset
    /// the connection and could cost the server the last events.
    public func close() {
        guard fd >= 0 else { return }
        _ = drainIncoming()
        session?.shutdown()
        shutdown(fd, Int32(SHUT_WR))
        var timeout = timeval(tv_sec: 0, tv_usec: 500_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var scratch = [UInt8](repeating: 0, count: 4096)
        // Bounded: a busy server may keep sending other clients' traffic.
        var reads = 0
        while reads < 64, scratch.withUnsafeMutableBytes({ recv(fd, $0.baseAddress, $0.count, 0) }) > 0 { reads += 1 }
        session = nil
        Glibc.close(fd)
        fd = -1
    }
}
