import Foundation
import IQ
import TestSupport
import Testing

/// cu8 code of a normalised component (inverse of the cu8 decoder).
private func code(_ x: Float) -> Int { Int((x * 127.5 + 127.5).rounded()) }

@Suite(.serialized) struct RtlTcpTests {
    let settings = TunerSettings(centerFrequencyHz: 915e6, sampleRateHz: 2_400_000, gainDB: 40.2, ppm: -3)

    @Test func streamsInRealTimeWithoutDropsAndConfiguresTheTuner() throws {
        let server = try FakeRtlTcpServer()
        let source = try RtlTcpSource(host: "127.0.0.1", port: server.port, settings: settings)
        defer { source.stop() }
        #expect(source.info.hardware?.contains("R820T") == true)
        var block = IQBlock()
        var expected: Int64 = 0
        var mismatches = 0
        let wanted: Int64 = 4_800_000  // 2 s at 2.4 MS/s
        let t0 = monotonicNs()
        while expected < wanted {
            guard try source.read(into: &block, timeoutS: 2) == .samples else { Issue.record("timed out"); return }
            #expect(block.firstSampleIndex == expected)
            #expect(block.droppedBefore == 0)
            for (k, s) in block.samples.enumerated() {
                let index = Int(block.firstSampleIndex) + k
                if code(s.i) != index % 256 || code(s.q) != (index / 256) % 256 { mismatches += 1 }
            }
            expected = block.endSampleIndex
        }
        let elapsedS = Double(monotonicNs() - t0) * 1e-9
        #expect(mismatches == 0)
        #expect(source.stats.samplesDropped == 0)
        #expect(source.stats.discontinuities == 0)
        // Paced by the server: 2 s of samples cannot arrive much faster than 2 s (socket buffers aside).
        #expect(elapsedS > 1.5 && elapsedS < 3.5, "\(elapsedS) s")
        let commands = server.commands()
        #expect(commands.contains { $0 == (0x02, 2_400_000) })
        #expect(commands.contains { $0 == (0x01, 915_000_000) })
        #expect(commands.contains { $0 == (0x03, 1) })
        #expect(commands.contains { $0 == (0x04, 402) })
        #expect(commands.contains { $0 == (0x05, UInt32(bitPattern: -3)) })
    }

    @Test func reconnectsAfterTheServerIsKilledAndReportsTheGap() throws {
        let dir = TempDir()
        var server = try FakeRtlTcpServer(dir: dir)
        let port = server.port
        let source = try RtlTcpSource(host: "127.0.0.1", port: port, settings: settings)
        defer { source.stop() }
        var block = IQBlock()
        var delivered: Int64 = 0
        while delivered < 1_200_000 {
            if try source.read(into: &block, timeoutS: 2) == .samples { delivered += Int64(block.count) }
        }
        server.kill()
        let downS = 0.8
        usleep(UInt32(downS * 1e6))
        server = try FakeRtlTcpServer(port: port, dir: dir)
        let restartedNs = monotonicNs()
        var gap: IQBlock?
        var lastEnd: Int64 = block.endSampleIndex
        while gap == nil, Double(monotonicNs() - restartedNs) * 1e-9 < 5 {
            guard try source.read(into: &block, timeoutS: 0.2) == .samples else { continue }
            if block.droppedBefore > 0 {
                gap = block
            } else {
                #expect(block.firstSampleIndex == lastEnd)
            }
            lastEnd = block.endSampleIndex
        }
        let reconnectS = Double(monotonicNs() - restartedNs) * 1e-9
        let found = try #require(gap, "no gap reported after the server restarted")
        #expect(reconnectS < 2.0, "reconnected after \(reconnectS) s")
        let gapS = Double(found.droppedBefore) / 2_400_000
        #expect(gapS > downS * 0.8 && gapS < downS + 2.5, "gap \(gapS) s for an outage of \(downS) s")
        #expect(source.stats.reconnects == 1)
        #expect(source.stats.discontinuities >= 1)
        #expect(source.stats.samplesDropped >= found.droppedBefore)
    }

    @Test func serverClosingMidStreamIsBridged() throws {
        let server = try FakeRtlTcpServer(extra: ["--close-after-samples", "300000"])
        let source = try RtlTcpSource(host: "127.0.0.1", port: server.port, settings: settings)
        defer { source.stop() }
        var block = IQBlock()
        var sawGap = false
        var delivered: Int64 = 0
        let t0 = monotonicNs()
        while !sawGap, Double(monotonicNs() - t0) * 1e-9 < 5 {
            guard try source.read(into: &block, timeoutS: 0.5) == .samples else { continue }
            delivered += Int64(block.count)
            sawGap = block.droppedBefore > 0
        }
        #expect(sawGap)
        #expect(delivered >= 300_000)
        #expect(source.stats.reconnects >= 1)
    }

    @Test func wrongHeaderIsAClearError() throws {
        let server = try FakeRtlTcpServer(extra: ["--header-magic", "XXXX"])
        do {
            _ = try RtlTcpSource(host: "127.0.0.1", port: server.port, settings: settings)
            Issue.record("expected an error")
        } catch let error as IQError {
            #expect(error.description == "rtl_tcp://127.0.0.1:\(server.port): not an rtl_tcp server (header starts with 'XXXX', expected 'RTL0')")
        }
    }

    @Test func absentServerIsAClearError() throws {
        let server = try FakeRtlTcpServer()
        let port = server.port
        server.kill()
        #expect(throws: IQError.connectFailed(endpoint: "rtl_tcp://127.0.0.1:\(port)", reason: "Connection refused")) {
            _ = try RtlTcpSource(host: "127.0.0.1", port: port, settings: settings)
        }
    }

    @Test func serverGoneForGoodEndsWithAnError() throws {
        let server = try FakeRtlTcpServer()
        let source = try RtlTcpSource(host: "127.0.0.1", port: server.port, settings: settings, reconnectTimeoutS: 0.5)
        defer { source.stop() }
        var block = IQBlock()
        _ = try source.read(into: &block, timeoutS: 2)
        server.kill()
        let t0 = monotonicNs()
        var thrown: IQError?
        while thrown == nil, Double(monotonicNs() - t0) * 1e-9 < 5 {
            do { _ = try source.read(into: &block, timeoutS: 0.2) } catch let error as IQError { thrown = error }
        }
        #expect(thrown == .connectionLost(endpoint: "rtl_tcp://127.0.0.1:\(server.port)", afterS: 0.5))
    }
}
