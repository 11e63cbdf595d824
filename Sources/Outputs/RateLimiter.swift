/// At most one update per key (a UAS, a track) per `minIntervalS`, on the caller's clock: sample
/// time for recordings, wall-clock time live. A clock that goes backwards (the next file of an
/// `analyze` run) starts the key afresh rather than silencing it.
public struct RateLimiter<Key: Hashable>: Sendable where Key: Sendable {
    /// 0 lets every update through.
    public var minIntervalS: Double
    private var lastS: [Key: Double] = [:]

    public init(minIntervalS: Double) {
        self.minIntervalS = minIntervalS
    }

    /// Whether an update for `key` at `timeS` may go out now.
    public func allows(_ key: Key, atS timeS: Double) -> Bool {
        guard let last = lastS[key], timeS >= last else { return true }
        return timeS - last >= minIntervalS
    }

    /// Notes that an update for `key` went out at `timeS`.
    public mutating func record(_ key: Key, atS timeS: Double) {
        lastS[key] = timeS
    }

    /// When the last update for `key` went out.
    public func lastUpdateS(_ key: Key) -> Double? { lastS[key] }

    public mutating func forget(_ key: Key) { lastS[key] = nil }
}
