import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process started with posix_spawn, its signal mask emptied and SIGTERM/SIGINT/SIGHUP/
/// SIGPIPE at their defaults. Test threads (libdispatch workers) block most signals and
/// Foundation's `Process` passes that mask on, so such a child never sees SIGTERM.
public final class ChildProcess {
    public let pid: pid_t
    private var status: Int32?

    public init(_ path: String, _ arguments: [String], stdoutPath: String? = nil, stderrPath: String? = nil) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)
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
        guard rc == 0 else { throw ChildProcessError.cannotStart(path, String(cString: strerror(rc))) }
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

public enum ChildProcessError: Error { case cannotStart(String, String) }

/// A child process left running while a test talks to it (started as a `ChildProcess`, so it
/// sees the signals a test sends): output into files (an undrained pipe would block a chatty
/// child), polled with deadlines, killed at the latest when dropped.
public final class BackgroundProcess {
    public let child: ChildProcess
    public let stdoutPath: String
    public let stderrPath: String

    public init(_ executable: String, _ arguments: [String], logsIn dir: TempDir, name: String) throws {
        stdoutPath = dir.file(name + ".out")
        stderrPath = dir.file(name + ".err")
        child = try ChildProcess(executable, arguments, stdoutPath: stdoutPath, stderrPath: stderrPath)
    }

    public var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Polls `condition` every 20 ms until it holds (true) or `timeoutS` passes (false).
    @discardableResult
    public func waitUntil(timeoutS: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeoutS)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }

    public func signal(_ number: Int32) { kill(child.pid, number) }

    /// Waits for the exit; its exit status (128 + N for signal N), or nil if it still runs after
    /// `timeoutS` (it is then killed).
    public func waitForExit(timeoutS: Double) -> Int32? {
        guard let raw = child.wait(timeoutS: timeoutS) else {
            child.stop(SIGKILL)
            return nil
        }
        return raw & 0x7F == 0 ? (raw >> 8) & 0xFF : 128 + (raw & 0x7F)
    }
}
