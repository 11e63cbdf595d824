import IQ

/// The most recent samples of a stream, addressed by absolute sample index, so a burst's edges
/// can be re-examined at full time resolution after the spectrogram has found it.
final class SampleHistory {
    let capacity: Int
    private let storage: UnsafeMutableBufferPointer<IQSample>
    /// Absolute index one past the newest sample held.
    private(set) var endIndex: Int64 = 0
    private var count = 0

    init(capacity: Int) {
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
        storage.initialize(repeating: .zero)
    }

    deinit { storage.deallocate() }

    var startIndex: Int64 { endIndex - Int64(count) }

    /// Ring position of an absolute index (non-negative for any index).
    private static func slot(_ index: Int64, _ capacity: Int) -> Int {
        let c = Int64(capacity)
        return Int(((index % c) + c) % c)
    }

    /// Appends a block; a gap (the block does not follow on) empties the history first.
    func append(_ block: IQBlock) {
        if block.firstSampleIndex != endIndex { count = 0 }
        endIndex = block.firstSampleIndex
        block.samples.withUnsafeBufferPointer { src in
            var offset = max(0, src.count - capacity)  // only the newest `capacity` matter
            endIndex += Int64(offset)
            while offset < src.count {
                let slot = Self.slot(endIndex, capacity)
                let run = min(src.count - offset, capacity - slot)
                (storage.baseAddress! + slot).update(from: src.baseAddress! + offset, count: run)
                offset += run
                endIndex += Int64(run)
                count = min(capacity, count + run)
            }
        }
    }

    /// Copies samples [from, from + out.count) into `out`; false if any of them is not held.
    func copy(from: Int64, into out: UnsafeMutableBufferPointer<IQSample>) -> Bool {
        guard from >= startIndex, from + Int64(out.count) <= endIndex else { return false }
        var index = from
        var written = 0
        while written < out.count {
            let slot = Self.slot(index, capacity)
            let run = min(out.count - written, capacity - slot)
            (out.baseAddress! + written).update(from: storage.baseAddress! + slot, count: run)
            written += run
            index += Int64(run)
        }
        return true
    }
}
