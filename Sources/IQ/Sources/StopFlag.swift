import Synchronization

/// A one-way flag any thread may set and read (e.g. `stop()` from a signal handler's thread).
public final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    public init() {}
    public func set() { value.store(true, ordering: .releasing) }
    public var isSet: Bool { value.load(ordering: .acquiring) }
}
