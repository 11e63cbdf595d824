import Foundation
#if canImport(Glibc)
import Glibc
#endif
@testable import Outputs
import Testing

/// A loopback socket of the test's own, bound to a free port.
final class LoopbackSocket {
    let fd: Int32
    let port: UInt16

    init(type: Int32) throws {
        let fd = socket(AF_INET, type, 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else {
            Glibc.close(fd)
            throw OutputError.socketFailed(endpoint: "test", reason: "bind")
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.fd = fd
        port = UInt16(bigEndian: address.sin_port)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        if type == Int32(SOCK_STREAM.rawValue) { listen(fd, 4) }
    }

    deinit { Glibc.close(fd) }

    func receive(_ fd: Int32? = nil) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = buffer.withUnsafeMutableBytes { recv(fd ?? self.fd, $0.baseAddress, $0.count, 0) }
        return n > 0 ? Array(buffer[0..<n]) : nil
    }

    /// Accepts one connection and reads until `count` whole events arrived (or, with nil, until EOF).
    func acceptEvents(count: Int?) -> (connection: Int32, events: [String]) {
        let connection = accept(fd, nil, nil)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var stream = ""
        var events: [String] = []
        while count == nil || events.count < count! {
            guard let bytes = receive(connection) else { break }
            stream += String(decoding: bytes, as: UTF8.self)
            while let end = stream.firstRange(of: "</event>") {
                events.append(String(stream[..<end.upperBound]))
                stream = String(stream[end.upperBound...])
            }
        }
        return (connection, events)
    }
}

@Suite struct TransportTests {
    func event(_ n: Int) -> CoTEvent {
        CoTEvent(uid: "uasense-T\(n)", type: "a-u-A-M-H-Q", how: "m-g", timeS: 1000 + Double(n), staleS: 1010 + Double(n),
                 latitudeDeg: 51, longitudeDeg: -0.1, detail: [.remarks("event \(n)")])
    }

    @Test func udpSendsOneDatagramPerEvent() throws {
        let receiver = try LoopbackSocket(type: Int32(SOCK_DGRAM.rawValue))
        let sender = try UDPDatagramSender(host: "127.0.0.1", port: receiver.port)
        for n in 0..<3 { try sender.send(Array(event(n).xml.utf8)) }
        for n in 0..<3 {
            let datagram = try #require(receiver.receive())
            #expect(String(decoding: datagram, as: UTF8.self) == event(n).xml)
        }
        #expect(sender.failedSends == 0)
        sender.close()
    }

    @Test func udpToAnAbsentReceiverIsNotAnError() throws {
        // Nobody listens on this port any more: a sensor must keep going.
        let port = try LoopbackSocket(type: Int32(SOCK_DGRAM.rawValue)).port
        let sender = try UDPDatagramSender(host: "127.0.0.1", port: port)
        for n in 0..<3 { try sender.send(Array(event(n).xml.utf8)) }
        #expect(sender.failedSends == 0)
    }

    @Test func tcpStreamsEventsAndReconnectsWhenTheServerDrops() async throws {
        let server = try LoopbackSocket(type: Int32(SOCK_STREAM.rawValue))
        let sender = try TCPCoTSender(host: "127.0.0.1", port: server.port)
        // First connection: take two events, then hang up.
        for n in 0..<2 { try sender.send(Array(event(n).xml.utf8)) }
        let first = server.acceptEvents(count: 2)
        #expect(first.events == [event(0).xml, event(1).xml])
        Glibc.close(first.connection)
        // Events back to back, no newline between them (receivers split after </event>).
        #expect(!first.events.joined().contains("\n"))
        usleep(50_000)
        // The next send notices the closed connection, reconnects and sends the whole event.
        let reader = Task.detached { server.acceptEvents(count: nil) }
        try sender.send(Array(event(2).xml.utf8))
        try sender.send(Array(event(3).xml.utf8))
        sender.close()
        let second = await reader.value
        Glibc.close(second.connection)
        #expect(second.events == [event(2).xml, event(3).xml])
        #expect(sender.reconnects == 1)
    }

    @Test func tcpWithoutAServerIsOneClearLine() throws {
        let port = try LoopbackSocket(type: Int32(SOCK_STREAM.rawValue)).port  // closed again at once
        do {
            _ = try TCPCoTSender(host: "127.0.0.1", port: port)
            Issue.record("connected to a closed port")
        } catch let error as OutputError {
            #expect(error.description.hasPrefix("tcp://127.0.0.1:\(port): cannot connect (Connection refused)"))
        }
    }
}
