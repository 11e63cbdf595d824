/// Reassembles paged Authentication messages (up to 16 pages: page 0 holds the header and 17
/// bytes, pages 1…15 hold 23 bytes each) into the signature data they carry.
public struct AuthenticationAssembler: Sendable {
    public struct Complete: Equatable, Sendable {
        public var authType: UInt8
        /// Seconds since 1970 UTC.
        public var timestampS: Double?
        /// Exactly `length` bytes.
        public var data: [UInt8]
    }

    private var pages: [UInt8: [UInt8]] = [:]
    private var header: RemoteID.AuthenticationPage?

    public init() {}

    /// Adds a page; returns the whole authentication once every page up to the last one is in.
    /// A new page 0 (new type or timestamp) starts over.
    public mutating func add(_ page: RemoteID.AuthenticationPage) -> Complete? {
        if page.pageNumber == 0 {
            if let h = header, h.authType != page.authType || h.timestampS != page.timestampS { pages = [:] }
            header = page
        } else if let h = header, h.authType != page.authType {
            return nil  // a page of another authentication; wait for its page 0
        }
        pages[page.pageNumber] = page.data
        guard let h = header, let last = h.lastPageIndex, let length = h.length else { return nil }
        // The header's length must fit the pages it announces (17 + 23 per extra page).
        guard last < 16, 17 + Int(last) * 23 >= Int(length) else { return nil }
        var data: [UInt8] = []
        for number in 0...last {
            guard let bytes = pages[number] else { return nil }
            data += bytes
        }
        return Complete(authType: h.authType, timestampS: h.timestampS, data: Array(data.prefix(Int(length))))
    }
}
