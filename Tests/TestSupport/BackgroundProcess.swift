import Foundation

/// A child process left running while a test talks to it: output into files (an undrained pipe
/// would block a chatty child), polled with deadlines, killed at the latest when dropped.
public final class BackgroundProcess {
    public let process = Process()
    public let stdoutPath: String
    public let stderrPath: String

    public init(_ executable: String, _ arguments: [String], logsIn dir: TempDir, name: String) throws {
        stdoutPath = dir.file(name + ".out")
        stderrPath = dir.file(name + ".err")
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle(forWritingAtPath: stdoutPath)
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        try process.run()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
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

    public func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for the exit; its status, or nil if it still runs after `timeoutS` (then it is killed).
    public func waitForExit(timeoutS: Double) -> Int32? {
        guard waitUntil(timeoutS: timeoutS, { !process.isRunning }) else {
            signal(SIGKILL)
            process.waitUntilExit()
            return nil
        }
        process.waitUntilExit()
        return process.terminationStatus
    }
}
