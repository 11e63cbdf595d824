/// What a decimating FIR filter still needs of its input, as planar I and Q arrays (contiguous
/// Floats, so the filter's inner loops run over plain vectors): the newest `keep` samples of
/// the blocks before, at positions 0..<keep, then room for the current block. Before the
/// stream starts, and after a gap, the held samples are zero.
final class FilterHistory {
    /// Samples carried from block to block (filter length − 1).
    let keep: Int
    private(set) var i: UnsafeMutablePointer<Float>
    private(set) var q: UnsafeMutablePointer<Float>
    private var capacity: Int

    init(keep: Int, blockCapacity: Int = 65536) {
        self.keep = keep
        capacity = keep + blockCapacity
        i = .allocate(capacity: capacity)
        q = .allocate(capacity: capacity)
        i.initialize(repeating: 0, count: capacity)
        q.initialize(repeating: 0, count: capacity)
    }

    deinit {
        i.deallocate()
        q.deallocate()
    }

    /// Forgets the past (a gap in the input): the held samples become zeros.
    func reset() {
        i.update(repeating: 0, count: keep)
        q.update(repeating: 0, count: keep)
    }

    /// Makes room for a block of `count` samples after the held ones (grows only when needed).
    func reserve(_ count: Int) {
        guard keep + count > capacity else { return }
        let newCapacity = max(keep + count, capacity * 2)
        for pointer in [\FilterHistory.i, \FilterHistory.q] {
            let fresh = UnsafeMutablePointer<Float>.allocate(capacity: newCapacity)
            fresh.initialize(from: self[keyPath: pointer], count: keep)
            (fresh + keep).initialize(repeating: 0, count: newCapacity - keep)
            self[keyPath: pointer].deallocate()
            self[keyPath: pointer] = fresh
        }
        capacity = newCapacity
    }

    /// After a block of `count` samples was written at `keep…`, keeps its newest `keep` samples.
    func advance(by count: Int) {
        let total = keep + count
        i.update(from: i + (total - keep), count: keep)
        q.update(from: q + (total - keep), count: keep)
    }
}
