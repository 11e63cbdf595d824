/// At most one send per key per interval, judged on the stream's sample time (so a recording
/// analysed offline gives the same sends as the same samples live). A clock that goes backwards
/// (the next file of an `analyze` run) starts the key afresh rather than silencing it.
///
/// A request inside the interval is held, not dropped: `releaseDue(upToS:)` hands it back when the
/// interval ends, so the last change before a quiet spell always goes out (a throttle with leading
/// and trailing edges). The caller keeps the payload — the latest state — and sends that. Track
/// update events use it this way. An output that merges the held state itself (CoT to a TAK
/// Server) asks `allows` and notes its sends with `markSent`.
public struct RateLimiter<Key: Hashable & Comparable & Sendable>: Sendable {
    /// Shortest time between two sends for one key; 0 sends every request.
    public let minimumIntervalS: Double
    /// When each key last sent.
    private var lastSentS: [Key: Double] = [:]
    /// Keys holding a request, with the time it will be released.
    private var heldUntilS: [Key: Double] = [:]

    public init(minimumIntervalS: Double) throws(TrackConfigurationError) {
        guard minimumIntervalS.isFinite, minimumIntervalS >= 0 else {
            throw .invalidUpdateInterval(minimumIntervalS)
        }
        self.minimumIntervalS = minimumIntervalS
    }

    /// For an interval already checked; anything not finite or below 0 counts as 0.
    public init(validatedIntervalS: Double) {
        minimumIntervalS = validatedIntervalS.isFinite ? max(0, validatedIntervalS) : 0
    }

    /// Whether `key` may send at `timeS`.
    public func allows(_ key: Key, atS timeS: Double) -> Bool {
        guard let last = lastSentS[key], timeS >= last else { return true }
        return timeS - last >= minimumIntervalS
    }

    /// Notes a send for `key` at `timeS`; a request it held is settled by it.
    public mutating func markSent(_ key: Key, atS timeS: Double) {
        lastSentS[key] = timeS
        heldUntilS[key] = nil
    }

    /// A request to send for `key` at `timeS`: true means send now (counted as sent); false means
    /// it is held until the interval since the last send ends.
    public mutating func request(_ key: Key, atS timeS: Double) -> Bool {
        guard allows(key, atS: timeS) else {
            heldUntilS[key] = (lastSentS[key] ?? timeS) + minimumIntervalS
            return false
        }
        markSent(key, atS: timeS)
        return true
    }

    /// Held requests whose interval has ended by `timeS`, in time order (ties by key), each with
    /// the time it became sendable. They count as sent at that time.
    public mutating func releaseDue(upToS timeS: Double) -> [(key: Key, timeS: Double)] {
        var due: [(key: Key, timeS: Double)] = []
        for (key, releaseS) in heldUntilS where releaseS <= timeS { due.append((key, releaseS)) }
        due.sort { ($0.timeS, $0.key) < ($1.timeS, $1.key) }
        for (key, releaseS) in due { markSent(key, atS: releaseS) }
        return due
    }

    /// When the earliest held request will be released, if any is held.
    public var nextReleaseS: Double? { heldUntilS.values.min() }

    /// Whether a request for `key` is waiting to be released.
    public func isHeld(_ key: Key) -> Bool { heldUntilS[key] != nil }

    /// Forgets a key (its track ended): a held request is dropped and the next request sends at once.
    public mutating func forget(_ key: Key) {
        lastSentS[key] = nil
        heldUntilS[key] = nil
    }
}
