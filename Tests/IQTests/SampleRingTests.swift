@testable import IQ
import TestSupport
import Testing

/// The capture-thread ring: drops whole slots when full, counts them, keeps sample time exact.
@Suite struct SampleRingTests {
    @Test func overrunDropsCountsAndKeepsSampleTime() {
        let ring = SampleRing(slotBytes: 8, slotCount: 2, bytesPerSample: 2)
        let chunk: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]  // 4 samples
        for t in 0..<5 { chunk.withUnsafeBytes { ring.push($0, captureTimeS: Double(t)) } }
        #expect(ring.droppedTotal.load(ordering: .relaxed) == 12)  // slots 3, 4, 5 dropped
        #expect(ring.discontinuities.load(ordering: .relaxed) == 1)
        var headers: [SampleRing.SlotHeader] = []
        while ring.pop(timeoutS: 0, { _, h in headers.append(h) }) {}
        #expect(headers.map(\.firstSampleIndex) == [0, 4])
        chunk.withUnsafeBytes { ring.push($0, captureTimeS: 9) }
        _ = ring.pop(timeoutS: 0) { _, h in headers.append(h) }
        #expect(headers.last?.firstSampleIndex == 20)
        #expect(headers.last?.droppedBefore == 12)
        #expect(headers.last?.captureTimeS == 9)
    }

    @Test func skipReportsAGapOnTheNextSlot() {
        let ring = SampleRing(slotBytes: 4, slotCount: 4, bytesPerSample: 2)
        let chunk: [UInt8] = [128, 128, 128, 128]
        chunk.withUnsafeBytes { ring.push($0, captureTimeS: 0) }
        ring.skip(samples: 1000)
        chunk.withUnsafeBytes { ring.push($0, captureTimeS: 1) }
        var headers: [SampleRing.SlotHeader] = []
        while ring.pop(timeoutS: 0, { _, h in headers.append(h) }) {}
        #expect(headers.map(\.firstSampleIndex) == [0, 1002])
        #expect(headers.map(\.droppedBefore) == [0, 1000])
    }

    @Test func liveStreamConvertsSlotsIntoBlocks() throws {
        let stream = LiveStream(slotSamples: 2, slotCount: 4, format: .cu8, dcOffset: 127.5, centerFrequencyHz: 915e6)
        stream.measureClipping = true
        let chunk: [UInt8] = [0, 255, 128, 128]
        chunk.withUnsafeBytes { stream.ring.push($0, captureTimeS: 5) }
        var block = IQBlock()
        #expect(try stream.read(into: &block, timeoutS: 0) == .samples)
        #expect(block.samples.first == IQSample(i: -1, q: 1))
        #expect(block.clippedSamples == 1)
        #expect(block.centerFrequencyHz == 915e6 && block.captureTimeS == 5)
        #expect(try stream.read(into: &block, timeoutS: 0.01) == .timedOut)
        stream.fail(.deviceLost("rtlsdr:0"))
        #expect(throws: IQError.deviceLost("rtlsdr:0")) { try stream.read(into: &block, timeoutS: 0.01) }
        stream.stop()
        #expect(try stream.read(into: &block, timeoutS: 0.01) == .endOfStream)
    }
}
