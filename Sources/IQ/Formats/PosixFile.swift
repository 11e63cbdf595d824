#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin wrappers over POSIX file descriptors: positioned reads for replay (no shared offset,
/// no Foundation buffering) and plain appends for writers. Errors name the path and errno text.
public final class ReadableFile {
    public let path: String
    public let size: Int64
    private let fd: Int32

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT { throw IQError.fileNotFound(path: path) }
            throw IQError.unreadable(path: path, reason: String(cString: strerror(code)))
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw IQError.unreadable(path: path, reason: reason)
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            Glibc.close(fd)
            throw IQError.unreadable(path: path, reason: "is a directory")
        }
        self.fd = fd
        self.size = Int64(st.st_size)
    }

    deinit { Glibc.close(fd) }

    /// Reads up to `buffer.count` bytes at `offset`; returns the bytes read (0 at end of file).
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        var done = 0
        while done < buffer.count {
            let n = pread(fd, base + done, buffer.count - done, off_t(offset + Int64(done)))
            if n < 0 {
                if errno == EINTR { continue }
                throw IQError.unreadable(path: path, reason: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Reads exactly `count` bytes at `offset` (fewer only at end of file).
    public func readBytes(at offset: Int64, count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let n = try bytes.withUnsafeMutableBytes { try read(into: $0, at: offset) }
        bytes.removeLast(count - n)
        return bytes
    }
}

public final class WritableFile {
    public let path: String
    private var fd: Int32
    public private(set) var bytesWritten: Int64 = 0

    public init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw IQError.unwritable(path: path, reason: String(cString: strerror(errno))) }
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let n = Glibc.write(fd, p, left)
            if n < 0 {
                if errno == EINTR { continue }
                throw IQError.unwritable(path: path, reason: String(cString: strerror(errno)))
            }
            p += n
            left -= n
            bytesWritten += Int64(n)
        }
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Overwrites bytes already written, at `offset`, without moving the append position.
    public func patch(_ bytes: [UInt8], at offset: Int64) throws {
        try bytes.withUnsafeBytes { raw in
            guard pwrite(fd, raw.baseAddress, raw.count, off_t(offset)) == raw.count else {
                throw IQError.unwritable(path: path, reason: String(cString: strerror(errno)))
            }
        }
    }

    public func close() throws {
        guard fd >= 0 else { return }
        let rc = Glibc.close(fd)
        fd = -1
        if rc != 0 { throw IQError.unwritable(path: path, reason: String(cString: strerror(errno))) }
    }
}

public func fileExists(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0
}
