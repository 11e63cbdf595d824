import Foundation
#if canImport(Glibc)
import Glibc
#endif
import IQ

/// A fresh temporary directory per test, removed at deinit.
public final class TempDir {
    public let path: String

    public init() {
        path = NSTemporaryDirectory() + "uasense-test-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    public func file(_ name: String) -> String { path + "/" + name }

    public func write(_ name: String, _ bytes: [UInt8]) -> String {
        let p = file(name)
        _ = FileManager.default.createFile(atPath: p, contents: Data(bytes))
        return p
    }

    public func write(_ name: String, text: String) -> String { write(name, Array(text.utf8)) }
}

/// Deterministic pseudo-random bytes (LCG), so failures reproduce.
public func pseudoRandomBytes(_ count: Int, seed: UInt32 = 1) -> [UInt8] {
    var state = seed
    return (0..<count).map { _ in
        state = state &* 1_664_525 &+ 1_013_904_223
        return UInt8(state >> 24)
    }
}

/// Reads every sample of a recording through `FileSource` with the given block size.
public func readAll(_ path: String, options: Recording.Options = .init(), blockSamples: Int = 65536) throws -> [IQSample] {
    let source = try FileSource(path: path, options: options, blockSamples: blockSamples)
    var block = IQBlock()
    var all: [IQSample] = []
    while try source.read(into: &block) == .samples { all += block.samples }
    return all
}

/// Runs a program and returns (exit status, stdout, stderr).
@discardableResult
public func runProcess(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> (Int32, String, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Drain both pipes concurrently so a chatty child cannot block on a full pipe.
    nonisolated(unsafe) var errData = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        errData = err.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

/// Path of a fixture in Tests/Fixtures.
public func fixturePath(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/\(name)").path
}

/// The built `uasense` binary, next to the test bundle.
public func uasenseBinary() -> String {
    let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for dir in [here, here.deletingLastPathComponent()] {
        let candidate = dir.appendingPathComponent("uasense").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return root.appendingPathComponent(".build/debug/uasense").path
}

/// Largest |difference| of any component; infinity when the lengths differ.
public func maxDifference(_ a: [IQSample], _ b: [IQSample]) -> Float {
    guard a.count == b.count else { return .infinity }
    return zip(a, b).reduce(0) { max($0, abs($1.0.i - $1.1.i), abs($1.0.q - $1.1.q)) }
}

/// The fake rtl_tcp server (Fixtures/fake_rtl_tcp.py) as a child process on loopback.
public final class FakeRtlTcpServer {
    let process = Process()
    public let port: UInt16
    let commandsLog: String
    private let dir: TempDir

    public init(port: UInt16 = 0, extra: [String] = [], dir: TempDir = TempDir()) throws {
        self.dir = dir
        let ready = dir.file("ready-\(UUID().uuidString)")
        commandsLog = dir.file("commands.log")
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", fixturePath("fake_rtl_tcp.py"), "--port", String(port), "--ready-file", ready,
                             "--commands-log", commandsLog] + extra
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: ready) && Date() < deadline { usleep(10_000) }
        let text = (try? String(contentsOfFile: ready, encoding: .utf8)) ?? ""
        guard let p = UInt16(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            process.terminate()
            throw IQError.invalidArgument("fake rtl_tcp server did not start")
        }
        self.port = p
    }

    public func kill() {
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit {
        if process.isRunning { kill() }
    }

    /// Commands the server received, as (id, parameter).
    public func commands() -> [(UInt8, UInt32)] {
        let text = (try? String(contentsOfFile: commandsLog, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ")
            guard parts.count == 2, let id = UInt8(parts[0].dropFirst("cmd=0x".count), radix: 16),
                  let param = UInt32(parts[1].dropFirst("param=".count)) else { return nil }
            return (id, param)
        }
    }
}


/// Quantises samples to cu8 and back, as an RTL-SDR's 8-bit converter would.
public func cu8RoundTrip(_ samples: [IQSample]) -> [IQSample] {
    SampleConverter(format: .cu8).roundTrip(samples)
}
