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

/// A child process started with posix_spawn, its signal mask emptied and SIGTERM/SIGINT/SIGHUP/
/// SIGPIPE at their defaults. Test threads (libdispatch workers) block most signals and
/// Foundation's `Process` passes that mask on, so such a child never sees SIGTERM.
public final class ChildProcess {
    public let pid: pid_t
    private var status: Int32?

    public init(_ path: String, _ arguments: [String], stdoutPath: String? = nil) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGALRM] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let rc = posix_spawn(&pid, path, &actions, &attributes, argv, environ)
        guard rc == 0 else { throw MosquittoBroker.BrokerError.failed("cannot start \(path): \(String(cString: strerror(rc)))") }
        self.pid = pid
    }

    public var isRunning: Bool {
        guard status == nil else { return false }
        var raw: Int32 = 0
        if waitpid(pid, &raw, WNOHANG) == pid { status = raw; return false }
        return true
    }

    /// Waits up to `timeoutS` for the exit; the raw wait status, nil on timeout.
    @discardableResult
    public func wait(timeoutS: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeoutS)
        while isRunning, Date() < deadline { usleep(10_000) }
        return status
    }

    /// Sends `signal` and waits for the exit (SIGKILL after 5 s).
    public func stop(_ signal: Int32 = SIGTERM) {
        guard isRunning else { return }
        kill(pid, signal)
        if wait(timeoutS: 5) == nil {
            kill(pid, SIGKILL)
            var raw: Int32 = 0
            while waitpid(pid, &raw, 0) < 0, errno == EINTR {}
            status = raw
        }
    }

    deinit { stop(SIGKILL) }
}

/// Runs a program to its end (killed after `timeoutS`); (exit status or -1, stdout).
public func runChild(_ path: String, _ arguments: [String], timeoutS: Double = 10) throws -> (Int32, String) {
    let dir = TempDir()
    let out = dir.file("stdout")
    let child = try ChildProcess(path, arguments, stdoutPath: out)
    let raw = child.wait(timeoutS: timeoutS)
    child.stop(SIGKILL)
    let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
    guard let raw, raw & 0x7F == 0 else { return (-1, text) }
    return ((raw >> 8) & 0xFF, text)
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
    public func stop() {
        guard let p = process else { return }
        process = nil
        p.stop(SIGTERM)
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
        var arguments = ["120", "/usr/bin/mosquitto_sub", "-h", "127.0.0.1", "-p", String(port), "-q", "1", "-v"]
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
