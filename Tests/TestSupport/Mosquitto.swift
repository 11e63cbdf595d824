import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A free TCP port on loopback (bound, read, released).
public func freeLoopbackPort() -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return UInt16(bigEndian: address.sin_port)
}

/// Whether something accepts TCP connections on 127.0.0.1:port.
public func loopbackPortAccepts(_ port: UInt16) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = port.bigEndian
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
}

/// Debian's mosquitto broker as a child process on a loopback port, with its own config and
/// persistence in a temporary directory. It can be stopped (SIGTERM: it saves its state) and
/// started again on the same port. Killed at deinit; `timeout` ends it should the test runner die.
public final class MosquittoBroker {
    public let port: UInt16
    public let dir = TempDir()
    private var process: ChildProcess?
    public private(set) var config: String

    public static var isInstalled: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/sbin/mosquitto")
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/mosquitto_sub")
    }

    /// `users`: name → password (anonymous access is then refused). `tls`: PEM paths for an
    /// mqtts listener.
    public init(users: [String: String] = [:], tls: (ca: String, certificate: String, key: String)? = nil,
                start: Bool = true) throws {
        port = freeLoopbackPort()
        var lines = [
            "listener \(port) 127.0.0.1",
            "persistence true",
            "persistence_location \(dir.path)/",
            "log_dest file \(dir.path)/broker.log",
            // A persistent subscriber that is away keeps getting detections (QoS 0) queued.
            "queue_qos0_messages true",
            "max_queued_messages 100000",
        ]
        if getuid() == 0 { lines.append("user root") }  // else it drops to "mosquitto", which cannot read the temp dir
        if users.isEmpty {
            lines.append("allow_anonymous true")
        } else {
            let passwords = dir.file("passwords")
            for (k, (name, password)) in users.sorted(by: { $0.key < $1.key }).enumerated() {
                let (status, _, err) = try runProcess("/usr/bin/mosquitto_passwd", (k == 0 ? ["-c"] : []) + ["-b", passwords, name, password])
                guard status == 0 else { throw BrokerError.failed("mosquitto_passwd: \(err)") }
            }
            lines += ["allow_anonymous false", "password_file \(passwords)"]
        }
        if let tls {
            lines += ["cafile \(tls.ca)", "certfile \(tls.certificate)", "keyfile \(tls.key)"]
        }
        config = dir.write("mosquitto.conf", text: lines.joined(separator: "\n") + "\n")
        if start { try self.start() }
    }

    public enum BrokerError: Error { case failed(String) }

    /// Starts the broker and waits (up to 5 s) until it accepts connections.
    public func start() throws {
        let p = try ChildProcess("/usr/bin/timeout", ["300", "/usr/sbin/mosquitto", "-c", config])
        process = p
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            if loopbackPortAccepts(port) { return }
            if !p.isRunning { break }
            usleep(20_000)
        }
        stop()
        let log = (try? String(contentsOfFile: dir.file("broker.log"), encoding: .utf8)) ?? ""
        throw BrokerError.failed("mosquitto did not start on port \(port): \(log.suffix(500))")
    }

    /// SIGTERM (the broker saves its persistent state) and wait.
    /// SIGTERM by default; SIGKILL drops every connection without a goodbye (a crash, a power cut).
    public func stop(_ signal: Int32 = SIGTERM) {
        guard let p = process else { return }
        process = nil
        // The broker runs under `timeout`, which leads its own process group: a SIGKILL must reach
        // the broker itself, not only the wrapper.
        if signal == SIGKILL { kill(-p.pid, SIGKILL) }
        p.stop(signal)
    }

    public var log: String { (try? String(contentsOfFile: dir.file("broker.log"), encoding: .utf8)) ?? "" }

    deinit { stop() }
}

/// `mosquitto_sub` writing "topic payload" lines to a file: an MQTT client independent of ours.
public final class MosquittoSubscriber {
    private let process: ChildProcess
    public let output: String
    private let dir: TempDir

    /// `clientID`: a persistent session (-c) so messages are queued while it is away.
    public init(port: UInt16, topics: [String], clientID: String? = nil, extra: [String] = [], dir: TempDir = TempDir()) throws {
        self.dir = dir
        output = dir.file("sub-\(UUID().uuidString).txt")
        var arguments = ["300", "/usr/bin/mosquitto_sub", "-h", "127.0.0.1", "-p", String(port), "-q", "1", "-v"]
        if let clientID { arguments += ["-c", "-i", clientID] }
        for t in topics { arguments += ["-t", t] }
        process = try ChildProcess("/usr/bin/timeout", arguments + extra, stdoutPath: output)
    }

    public var isRunning: Bool { process.isRunning }

    /// Every received line, split into (topic, payload).
    public func messages() -> [(topic: String, payload: String)] {
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map { line in
            guard let space = line.firstIndex(of: " ") else { return (String(line), "") }
            return (String(line[..<space]), String(line[line.index(after: space)...]))
        }
    }

    /// Waits until `predicate` holds for the messages so far (polls the file every 50 ms).
    @discardableResult
    public func wait(timeoutS: Double, until predicate: ([(topic: String, payload: String)]) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeoutS)
        while true {
            if predicate(messages()) { return true }
            if Date() >= deadline { return false }
            usleep(50_000)
        }
    }

    public func stop() { process.stop(SIGTERM) }

    deinit { stop() }
}
