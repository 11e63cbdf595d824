import Dispatch
import Synchronization

/// Single-producer, single-consumer ring of fixed-size raw sample slots between a capture
/// thread (USB callback, socket reader) and the consumer.
///
/// The producer never waits and never allocates: when every slot is full it drops the data,
/// counts it, and still advances the sample counter so sample time stays exact; the next slot
/// it fills carries the dropped count (`droppedBefore`). Slots are preallocated at init.
final class SampleRing: @unchecked Sendable {
    struct SlotHeader {
        var byteCount = 0
        var firstSampleIndex: Int64 = 0
        var droppedBefore: Int64 = 0
        var captureTimeS: Double = 0
    }

    let slotBytes: Int
    let slotCount: Int
    /// Used by capture callbacks to date each slot.
    var sampleRateHz: Double = 1
    let bytesPerSample: Int
    private let storage: UnsafeMutableRawPointer
    private let headers: UnsafeMutablePointer<SlotHeader>
    // Monotonic counters; slot = counter % slotCount. Producer owns `head`, consumer owns `tail`.
    private let head = Atomic<Int>(0)
    private let tail = Atomic<Int>(0)
    private let ready = DispatchSemaphore(value: 0)
    let droppedTotal = Atomic<Int64>(0)
    let discontinuities = Atomic<Int64>(0)

    // Producer-only state.
    private var nextSampleIndex: Int64 = 0
    private var pendingDropped: Int64 = 0

    init(slotBytes: Int, slotCount: Int, bytesPerSample: Int) {
        self.slotBytes = slotBytes
        self.slotCount = slotCount
        self.bytesPerSample = bytesPerSample
        storage = .allocate(byteCount: slotBytes * slotCount, alignment: 64)
        headers = .allocate(capacity: slotCount)
        headers.initialize(repeating: SlotHeader(), count: slotCount)
    }

    deinit {
        storage.deallocate()
        headers.deallocate()
    }

    // MARK: Producer side

    /// Copies whole samples from `bytes` into the next free slot, or drops them when the ring is
    /// full. `bytes.count` must be a multiple of `bytesPerSample` and ≤ `slotBytes`.
    func push(_ bytes: UnsafeRawBufferPointer, captureTimeS: Double) {
        let samples = Int64(bytes.count / bytesPerSample)
        let h = head.load(ordering: .relaxed)
        if h - tail.load(ordering: .acquiring) >= slotCount {
            skip(samples: samples)
            return
        }
        let slot = h % slotCount
        if let src = bytes.baseAddress { (storage + slot * slotBytes).copyMemory(from: src, byteCount: bytes.count) }
        headers[slot] = SlotHeader(byteCount: bytes.count, firstSampleIndex: nextSampleIndex,
                                   droppedBefore: pendingDropped, captureTimeS: captureTimeS)
        nextSampleIndex += samples
        pendingDropped = 0
        head.store(h + 1, ordering: .releasing)
        ready.signal()
    }

    /// Accounts for samples that existed in the stream but will never be delivered (overrun,
    /// reconnect gap). The next pushed slot reports them in `droppedBefore`.
    func skip(samples: Int64) {
        guard samples > 0 else { return }
        if pendingDropped == 0 { discontinuities.add(1, ordering: .relaxed) }
        nextSampleIndex += samples
        pendingDropped += samples
        droppedTotal.add(samples, ordering: .relaxed)
    }

    /// Wakes a waiting consumer without data (used on stop).
    func wake() { ready.signal() }

    // MARK: Consumer side

    /// Waits up to `timeoutS` for a filled slot; calls `body` with its bytes and header, then
    /// frees the slot. Returns false on timeout or wake-up without data.
    func pop(timeoutS: Double, _ body: (UnsafeRawBufferPointer, SlotHeader) throws -> Void) rethrows -> Bool {
        let t = tail.load(ordering: .relaxed)
        if head.load(ordering: .acquiring) == t {
            _ = ready.wait(timeout: .now() + timeoutS)
            if head.load(ordering: .acquiring) == t { return false }
        } else {
            _ = ready.wait(timeout: .now())  // keep the semaphore count in step with the slots
        }
        let slot = t % slotCount
        let header = headers[slot]
        try body(UnsafeRawBufferPointer(start: storage + slot * slotBytes, count: header.byteCount), header)
        tail.store(t + 1, ordering: .releasing)
        return true
    }
}
