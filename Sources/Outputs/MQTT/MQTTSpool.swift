#if canImport(Glibc)
import Glibc
#endif

/// CRC-32 (IEEE 802.3, the zlib one): enough to tell a torn or garbled record from a whole one.
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}

/// A durable queue of QoS 1 messages on disk, so track updates survive a broker outage and a
/// sensor restart (at-least-once: after a crash, unacked messages and possibly a few acked ones
/// whose acknowledgement was not yet on disk are sent again).
///
/// Layout of the directory:
/// - `segment-<first sequence number, 20 digits>.log`: records back to back, each
///   `[u32 body length][u32 CRC-32 of the body]` then the body `[u64 seq][u16 topic length][topic][payload]`,
///   little-endian. A torn tail (power cut mid-write) fails the length or CRC check and is cut off.
/// - `acked`: the low-water mark (every sequence number below it is acknowledged), replaced
///   atomically (write a temporary file, fdatasync, rename).
/// - `lock`: held with an exclusive `flock` while open; it holds the owner's pid.
///
/// Not thread-safe: one owner (MQTTOutput's publisher thread) calls it.
public final class MQTTSpool {
    public struct Record: Sendable, Equatable {
        public let seq: UInt64
        public let topic: String
        public let payload: [UInt8]
    }

    public let directory: String
    public let limitBytes: Int
    let segmentBytes: Int

    /// Unacknowledged messages dropped by the size cap (oldest first).
    public private(set) var droppedOldest = 0
    /// Times a full disk made the oldest segment give way to a new message.
    public private(set) var diskFullDrops = 0
    /// Damaged records found at open (torn tail, garbage) and cut off; each cut counts once.
    public private(set) var tornRecords = 0
    /// fdatasync calls on segments (one per batch of appends).
    public private(set) var syncs = 0
    /// Every sequence number below this one is acknowledged.
    public private(set) var ackedBelow: UInt64 = 1
    /// The sequence number the next append gets.
    public private(set) var nextSeq: UInt64 = 1
    /// Messages on disk not acknowledged yet.
    public private(set) var depth = 0

    /// Largest body accepted, written or read (a garbled length must not make us allocate gigabytes).
    static let maxBodyBytes = 16 << 20
    static let headerBytes = 8

    private struct Segment {
        let firstSeq: UInt64
        var endSeq: UInt64  // one past the last record's
        var bytes: Int
        let path: String
    }

    private var segments: [Segment] = []
    private var ackedAbove = Set<UInt64>()
    private var acksDirty = false
    private var lockFD: Int32 = -1
    private var directoryFD: Int32 = -1
    private var writeFD: Int32 = -1  // the last segment's, once something was appended in this process
    private var unsynced = false
    private var directoryUnsynced = false
    // The read cursor: the next record to hand out is in the segment starting at cursorSegment, at cursorOffset.
    private var cursorSegment: UInt64 = 0
    private var cursorOffset = 0
    private var readFD: Int32 = -1
    private var readFDSegment: UInt64 = 0
    private var closed = false

    private var totalBytes: Int { segments.reduce(0) { $0 + $1.bytes } }

    /// Opens (creating it if needed) and recovers the spool in `directory`: takes the lock, reads
    /// the low-water mark, checks every record and cuts damaged tails off, deletes fully acked segments.
    public init(directory: String, limitBytes: Int = 256 << 20, segmentBytes: Int? = nil) throws(OutputError) {
        let dir = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        self.directory = dir
        self.limitBytes = max(limitBytes, 4096)
        // Several segments under the cap, so dropping the oldest one frees a fraction, not everything.
        self.segmentBytes = max(1024, segmentBytes ?? min(4 << 20, self.limitBytes / 8))
        try makeDirectories(dir)
        directoryFD = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directoryFD >= 0 else { throw failure("cannot open the directory (\(errnoText()))") }
        do {
            try takeLock()
            readAckedBelow()
            try recoverSegments()
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    private func failure(_ reason: String) -> OutputError { .spoolFailed(directory: directory, reason: reason) }

    private func makeDirectories(_ path: String) throws(OutputError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, 0o755) != 0, errno != EEXIST {
                throw failure("cannot create \(prefix) (\(errnoText()))")
            }
        }
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw failure("not a directory")
        }
    }

    private func takeLock() throws(OutputError) {
        let path = directory + "/lock"
        lockFD = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard lockFD >= 0 else { throw failure("cannot open \(path) (\(errnoText()))") }
        // A process that is just exiting (a quick restart), or a child between fork and exec
        // holding a copy of the descriptor, lets go within moments: wait up to 1 s before giving up.
        var locked = false
        for attempt in 0..<20 {
            if flock(lockFD, LOCK_EX | LOCK_NB) == 0 { locked = true; break }
            if errno != EWOULDBLOCK { break }
            if attempt < 19 { usleep(50_000) }
        }
        if !locked {
            let busy = errno == EWOULDBLOCK
            let reason = errnoText()
            var buffer = [UInt8](repeating: 0, count: 32)
            let n = buffer.withUnsafeMutableBytes { pread(lockFD, $0.baseAddress, $0.count, 0) }
            let text = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : ""
            let pid = Int32(text.split(whereSeparator: { !$0.isNumber }).first ?? "")
            Glibc.close(lockFD)
            lockFD = -1
            if busy { throw OutputError.spoolInUse(directory: directory, pid: pid) }
            throw failure("cannot lock \(path) (\(reason))")
        }
        let pidText = Array("\(getpid())\n".utf8)
        _ = ftruncate(lockFD, 0)
        _ = pidText.withUnsafeBytes { pwrite(lockFD, $0.baseAddress, $0.count, 0) }
    }

    /// A missing or unreadable `acked` file means "nothing acknowledged": everything is sent again.
    private func readAckedBelow() {
        guard let bytes = try? readWholeFile(directory + "/acked", maxBytes: 1 << 20) else { return }
        let text = String(decoding: bytes, as: UTF8.self)
        var below: UInt64?
        var above: [UInt64] = []
        for line in text.split(separator: "\n") {
            if line.hasPrefix("acked-below "), let v = UInt64(line.dropFirst("acked-below ".count)), v >= 1 {
                below = v
            } else if line.hasPrefix("acked ") {
                above = line.dropFirst("acked ".count).split(separator: " ").compactMap { UInt64($0) }
            }
        }
        guard let below else { return }
        ackedBelow = below
        ackedAbove = Set(above.filter { $0 > below })
    }

    private func readWholeFile(_ path: String, maxBytes: Int = .max) throws(OutputError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("cannot open \(path) (\(errnoText()))") }
        defer { Glibc.close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw failure("cannot stat \(path) (\(errnoText()))") }
        guard Int(info.st_size) <= maxBytes else { throw failure("\(path) is \(info.st_size) bytes, more than it can be") }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, $0.count - done, off_t(done)) }
            if n < 0, errno == EINTR { continue }
            if n < 0 { throw failure("cannot read \(path) (\(errnoText()))") }
            if n == 0 { break }
            done += n
        }
        return Array(bytes[0..<done])
    }

    private static func segmentName(_ firstSeq: UInt64) -> String {
        let digits = String(firstSeq)
        return "segment-" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".log"
    }

    private func listSegments() throws(OutputError) -> [UInt64] {
        guard let dir = opendir(directory) else { throw failure("cannot list the directory (\(errnoText()))") }
        defer { closedir(dir) }
        var found: [UInt64] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name.hasPrefix("segment-"), name.hasSuffix(".log"), name.count == 8 + 20 + 4,
                  let seq = UInt64(name.dropFirst(8).dropLast(4)), seq > 0 else { continue }
            found.append(seq)
        }
        return found.sorted()
    }

    /// Parses one record at `offset` of `bytes`; nil when it is not a whole, intact record.
    static func parseRecord(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> (record: Record, size: Int)? {
        guard offset + headerBytes <= bytes.count else { return nil }
        let length = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian)
        let crc = bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self).littleEndian
        guard length >= 10, length <= maxBodyBytes, offset + headerBytes + length <= bytes.count else { return nil }
        let body = UnsafeRawBufferPointer(rebasing: bytes[(offset + headerBytes)..<(offset + headerBytes + length)])
        guard CRC32.checksum(body) == crc else { return nil }
        let seq = body.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian
        let topicLength = Int(body.loadUnaligned(fromByteOffset: 8, as: UInt16.self).littleEndian)
        guard 10 + topicLength <= length else { return nil }
        let topic = String(decoding: body[10..<(10 + topicLength)], as: UTF8.self)
        let payload = Array(body[(10 + topicLength)...])
        return (Record(seq: seq, topic: topic, payload: payload), headerBytes + length)
    }

    static func encodeRecord(seq: UInt64, topic: [UInt8], payload: [UInt8]) -> [UInt8] {
        var body: [UInt8] = []
        body.reserveCapacity(10 + topic.count + payload.count)
        withUnsafeBytes(of: seq.littleEndian) { body += $0 }
        withUnsafeBytes(of: UInt16(topic.count).littleEndian) { body += $0 }
        body += topic
        body += payload
        let crc = body.withUnsafeBytes { CRC32.checksum($0) }
        var out: [UInt8] = []
        out.reserveCapacity(headerBytes + body.count)
        withUnsafeBytes(of: UInt32(body.count).littleEndian) { out += $0 }
        withUnsafeBytes(of: crc.littleEndian) { out += $0 }
        return out + body
    }

    private func recoverSegments() throws(OutputError) {
        var expectedNext: UInt64 = 0
        for firstSeq in try listSegments() {
            let path = directory + "/" + Self.segmentName(firstSeq)
            // Larger than any segment we write, or unreadable: not ours to trust, and reading it
            // whole could exhaust memory. Set aside (kept for a post-mortem), counted, not fatal.
            let largest = segmentBytes + Self.headerBytes + min(Self.maxBodyBytes, limitBytes / 2)
            guard let bytes = try? readWholeFile(path, maxBytes: largest) else {
                tornRecords += 1
                _ = rename(path, path + ".damaged")
                directoryUnsynced = true
                continue
            }
            var offset = 0
            var endSeq = firstSeq
            // Overlapping a previous segment cannot come from us: the whole file is damaged.
            var damaged = firstSeq < expectedNext
            if !damaged {
                bytes.withUnsafeBytes { raw in
                    while offset < raw.count {
                        guard let (record, size) = Self.parseRecord(raw, at: offset), record.seq == endSeq else {
                            damaged = true
                            return
                        }
                        offset += size
                        endSeq += 1
                    }
                }
            }
            if damaged {
                tornRecords += 1
                offset = firstSeq < expectedNext ? 0 : offset
                let fd = open(path, O_WRONLY | O_CLOEXEC)
                if fd >= 0 {
                    _ = ftruncate(fd, off_t(offset))
                    _ = fsync(fd)
                    Glibc.close(fd)
                }
            }
            if offset == 0 || endSeq <= ackedBelow {
                // Empty, wholly damaged or fully acknowledged: nothing to keep.
                unlink(path)
                directoryUnsynced = true
                continue
            }
            segments.append(Segment(firstSeq: firstSeq, endSeq: endSeq, bytes: offset, path: path))
            expectedNext = endSeq
            depth += Int(endSeq - max(firstSeq, ackedBelow))
                - ackedAbove.reduce(0) { $0 + ($1 >= firstSeq && $1 < endSeq ? 1 : 0) }
        }
        // Out-of-order acks of messages that are no longer on disk mean nothing.
        ackedAbove = ackedAbove.filter { seq in segments.contains { seq >= $0.firstSeq && seq < $0.endSeq } }
        nextSeq = max(ackedBelow, segments.last?.endSeq ?? 1)
        advanceLowWater()
        cursorSegment = segments.first?.firstSeq ?? 0
        cursorOffset = 0
        syncDirectory()
    }

    /// Appends one message; it is on disk once `sync()` returned. Returns its sequence number.
    @discardableResult
    public func append(topic: String, payload: [UInt8]) throws(OutputError) -> UInt64 {
        guard !closed else { throw failure("the spool is closed") }
        let topicBytes = Array(topic.utf8)
        guard topicBytes.count <= Int(UInt16.max), 10 + topicBytes.count + payload.count <= Self.maxBodyBytes,
              Self.headerBytes + 10 + topicBytes.count + payload.count <= limitBytes / 2 else {
            throw OutputError.invalidArgument("MQTT message of \(payload.count) bytes is too large for the spool in \(directory)")
        }
        let seq = nextSeq
        let record = Self.encodeRecord(seq: seq, topic: topicBytes, payload: payload)
        if writeFD < 0 || (segments.last?.bytes ?? 0) >= segmentBytes {
            try startSegment(firstSeq: seq)
        }
        guard var active = segments.last else { throw failure("no segment to write to") }
        var written = 0
        while written < record.count {
            let n = record.withUnsafeBytes { Glibc.write(writeFD, $0.baseAddress! + written, $0.count - written) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 {
                let code = errno
                // Leave no half record behind: the next append starts on a record boundary.
                _ = ftruncate(writeFD, off_t(active.bytes))
                written = 0
                // A full disk: the oldest messages make room for the newest, counted as dropped.
                if code == ENOSPC || code == EDQUOT, dropOldestSegment() {
                    diskFullDrops += 1
                    continue
                }
                throw failure("cannot write (\(String(cString: strerror(code))))")
            }
            written += n
        }
        active.bytes += record.count
        active.endSeq = seq + 1
        segments[segments.count - 1] = active
        nextSeq = seq + 1
        depth += 1
        unsynced = true
        enforceLimit()
        return seq
    }

    private func startSegment(firstSeq: UInt64) throws(OutputError) {
        if writeFD >= 0 {
            if unsynced { _ = fdatasync(writeFD); syncs += 1; unsynced = false }
            Glibc.close(writeFD)
            writeFD = -1
        }
        let path = directory + "/" + Self.segmentName(firstSeq)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("cannot create \(path) (\(errnoText()))") }
        writeFD = fd
        segments.append(Segment(firstSeq: firstSeq, endSeq: firstSeq, bytes: 0, path: path))
        if segments.count == 1 { cursorSegment = firstSeq; cursorOffset = 0 }
        directoryUnsynced = true
    }

    /// The size cap: whole segments go, oldest first; their unacknowledged messages are counted.
    private func enforceLimit() {
        while totalBytes > limitBytes, dropOldestSegment() {}
    }

    /// Deletes the oldest segment (never the one being written), counting its unacknowledged
    /// messages as dropped; false when there is none to delete.
    private func dropOldestSegment() -> Bool {
        guard segments.count > 1 else { return false }
        let oldest = segments.removeFirst()
        if oldest.endSeq > ackedBelow {
            let from = max(oldest.firstSeq, ackedBelow)
            let alreadyAcked = ackedAbove.filter { $0 >= from && $0 < oldest.endSeq }
            let lost = Int(oldest.endSeq - from) - alreadyAcked.count
            droppedOldest += lost
            depth -= lost
            ackedAbove.subtract(alreadyAcked)
            ackedBelow = oldest.endSeq
            acksDirty = true
        }
        unlink(oldest.path)
        directoryUnsynced = true
        if cursorSegment == oldest.firstSeq { moveCursorPast(oldest.firstSeq) }
        advanceLowWater()
        return true
    }

    private func moveCursorPast(_ segmentFirstSeq: UInt64) {
        if let next = segments.first(where: { $0.firstSeq > segmentFirstSeq }) {
            cursorSegment = next.firstSeq
            cursorOffset = 0
        }
    }

    /// Makes every append so far durable: one fdatasync for the whole batch.
    public func sync() throws(OutputError) {
        if unsynced, writeFD >= 0 {
            guard fdatasync(writeFD) == 0 else { throw failure("fdatasync failed (\(errnoText()))") }
            syncs += 1
            unsynced = false
        }
        syncDirectory()
    }

    private func syncDirectory() {
        if directoryUnsynced, directoryFD >= 0 {
            _ = fsync(directoryFD)
            directoryUnsynced = false
        }
    }

    /// Marks one message acknowledged (any order). In memory until `persistAcks()`.
    public func ack(_ seq: UInt64) {
        guard seq >= ackedBelow, seq < nextSeq, ackedAbove.insert(seq).inserted else { return }
        depth -= 1
        acksDirty = true
        advanceLowWater()
    }

    private func advanceLowWater() {
        while true {
            if ackedAbove.remove(ackedBelow) != nil {
                ackedBelow += 1
                continue
            }
            // Skip a hole (records cut off at recovery) up to the next record that exists.
            if let next = segments.first(where: { $0.endSeq > ackedBelow }) {
                if next.firstSeq > ackedBelow {
                    ackedBelow = next.firstSeq
                    continue
                }
            } else if ackedBelow < nextSeq {
                ackedBelow = nextSeq
                continue
            }
            break
        }
        if !ackedAbove.isEmpty, let low = ackedAbove.min(), low < ackedBelow {
            ackedAbove = ackedAbove.filter { $0 >= ackedBelow }
        }
    }

    /// Writes the low-water mark and the acknowledgements above it atomically (temporary file,
    /// fdatasync, rename) and deletes segments that are wholly acknowledged. No-op when nothing changed.
    public func persistAcks() throws(OutputError) {
        guard acksDirty, !closed else { return }
        // Wholly acknowledged segments go first, whether or not the mark can be written: on a full
        // disk this is what frees space. Safe before the mark is on disk: after a crash the older
        // mark only makes later messages go out again (at least once), and the newest segment,
        // which fixes the next sequence number, always stays.
        while segments.count > 1, let oldest = segments.first, oldest.endSeq <= ackedBelow {
            segments.removeFirst()
            unlink(oldest.path)
            directoryUnsynced = true
            if cursorSegment == oldest.firstSeq { moveCursorPast(oldest.firstSeq) }
        }
        let temporary = directory + "/acked.tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("cannot create \(temporary) (\(errnoText()))") }
        // Out-of-order acks above the mark: a handful normally (bounded by the messages in flight).
        let above = ackedAbove.sorted().prefix(10_000).map(String.init).joined(separator: " ")
        let text = Array("uasense MQTT spool\nacked-below \(ackedBelow)\nacked \(above)\n".utf8)
        let n = text.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let synced = fdatasync(fd) == 0
        Glibc.close(fd)
        guard n == text.count, synced else { throw failure("cannot write \(temporary) (\(errnoText()))") }
        guard rename(temporary, directory + "/acked") == 0 else {
            throw failure("cannot rename \(temporary) (\(errnoText()))")
        }
        acksDirty = false
        directoryUnsynced = true
        syncDirectory()
    }

    /// The next unacknowledged messages not handed out yet, in order (at most `max`). Each
    /// message is handed out once per process lifetime.
    public func next(max count: Int) -> [Record] {
        var out: [Record] = []
        while out.count < count, !closed {
            guard let index = segments.firstIndex(where: { $0.firstSeq == cursorSegment }) else {
                // The cursor's segment is gone (acknowledged or dropped): go on with the next one.
                guard let next = segments.first(where: { $0.firstSeq > cursorSegment }) else { break }
                cursorSegment = next.firstSeq
                cursorOffset = 0
                continue
            }
            let segment = segments[index]
            if cursorOffset >= segment.bytes {
                guard index + 1 < segments.count else { break }
                cursorSegment = segments[index + 1].firstSeq
                cursorOffset = 0
                continue
            }
            guard let (record, size) = readRecord(segment, at: cursorOffset) else {
                // Unreadable although it passed recovery (disk error): skip the rest of the segment.
                tornRecords += 1
                cursorOffset = segment.bytes
                continue
            }
            cursorOffset += size
            if record.seq >= ackedBelow, !ackedAbove.contains(record.seq) { out.append(record) }
        }
        return out
    }

    /// Whether `next` would find more records (it may still skip some already acknowledged).
    public var hasMoreToHandOut: Bool {
        guard let last = segments.last else { return false }
        if cursorSegment < last.firstSeq { return true }
        return cursorSegment == last.firstSeq && cursorOffset < last.bytes
    }

    private func readRecord(_ segment: Segment, at offset: Int) -> (Record, Int)? {
        if readFD < 0 || readFDSegment != segment.firstSeq {
            if readFD >= 0 { Glibc.close(readFD) }
            readFD = open(segment.path, O_RDONLY | O_CLOEXEC)
            readFDSegment = segment.firstSeq
            guard readFD >= 0 else { return nil }
        }
        var header = [UInt8](repeating: 0, count: Self.headerBytes)
        guard preadAll(readFD, &header, offset) else { return nil }
        let length = header.withUnsafeBytes { Int($0.loadUnaligned(as: UInt32.self).littleEndian) }
        guard length >= 10, length <= Self.maxBodyBytes, offset + Self.headerBytes + length <= segment.bytes else { return nil }
        var whole = [UInt8](repeating: 0, count: Self.headerBytes + length)
        guard preadAll(readFD, &whole, offset) else { return nil }
        return whole.withUnsafeBytes { raw in Self.parseRecord(raw, at: 0).map { ($0.record, $0.size) } }
    }

    private func preadAll(_ fd: Int32, _ buffer: inout [UInt8], _ offset: Int) -> Bool {
        var done = 0
        while done < buffer.count {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, $0.count - done, off_t(offset + done)) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { return false }
            done += n
        }
        return true
    }

    /// Syncs, writes the low-water mark and releases the lock. Idempotent.
    public func close() {
        guard !closed else { return }
        try? sync()
        try? persistAcks()
        closed = true
        for fd in [writeFD, readFD, directoryFD, lockFD] where fd >= 0 { Glibc.close(fd) }
        writeFD = -1
        readFD = -1
        directoryFD = -1
        lockFD = -1
    }
}

private func errnoText() -> String { String(cString: strerror(errno)) }
