/// Just enough POSIX tar for SigMF archives (`.sigmf`): list members with their byte ranges,
/// so the data member is read in place without extracting; and write a ustar archive whose
/// data member is streamed and its size patched at the end.
///
/// Header block (512 bytes, ustar): name[0..<100], mode[100..<108], uid, gid, size[124..<136]
/// (octal), mtime[136..<148], chksum[148..<156], typeflag[156], linkname, magic "ustar"[257..<263],
/// version, uname, gname, devmajor, devminor, prefix[345..<500]. Python's tarfile writes pax
/// ('x') headers for long names; GNU tar writes 'L' long-name entries. Both are understood.
public enum Tar {
    public struct Member: Equatable, Sendable {
        public var name: String
        public var dataOffset: Int64
        public var size: Int64
    }

    public static let blockSize = 512

    /// Lists regular-file members. Throws `notATar` if the first header is not a valid tar header.
    public static func members(of file: ReadableFile) throws -> [Member] {
        var members: [Member] = []
        var offset: Int64 = 0
        var pendingName: String?
        var pendingSize: Int64?
        var first = true
        while offset + Int64(blockSize) <= file.size {
            let header = try file.readBytes(at: offset, count: blockSize)
            if header.allSatisfy({ $0 == 0 }) { break }  // end-of-archive marker
            guard checksumValid(header), let headerSize = octal(header[124..<136]) else {
                if first { throw IQError.notATar(path: file.path) }
                throw IQError.archiveIncomplete(path: file.path, reason: "has a corrupt header at byte \(offset)")
            }
            first = false
            let size = pendingSize ?? headerSize
            let dataOffset = offset + Int64(blockSize)
            guard size >= 0 else {
                throw IQError.archiveIncomplete(path: file.path, reason: "has a member with a negative size at byte \(offset)")
            }
            // Compared without adding, so an absurd size cannot overflow.
            guard size <= file.size - dataOffset else {
                throw IQError.archiveIncomplete(path: file.path, reason: "is truncated (member at byte \(offset) runs past the end)")
            }
            let type = header[156]
            switch type {
            case UInt8(ascii: "x"):  // pax extended header for the next member
                let records = try file.readBytes(at: dataOffset, count: Int(min(size, 1 << 20)))
                (pendingName, pendingSize) = parsePax(records)
            case UInt8(ascii: "L"):  // GNU long name for the next member
                let raw = try file.readBytes(at: dataOffset, count: Int(min(size, 4096)))
                pendingName = cString(raw[...])
            case UInt8(ascii: "0"), 0:
                var name = cString(header[0..<100])
                let prefix = cString(header[345..<500])
                if !prefix.isEmpty, header[257..<262].elementsEqual("ustar".utf8) { name = prefix + "/" + name }
                members.append(Member(name: pendingName ?? name, dataOffset: dataOffset, size: size))
                pendingName = nil
                pendingSize = nil
            default:
                pendingName = nil
                pendingSize = nil
            }
            offset = dataOffset + (size + Int64(blockSize) - 1) / Int64(blockSize) * Int64(blockSize)
        }
        if first { throw IQError.notATar(path: file.path) }
        return members
    }

    /// A ustar header for a regular file.
    public static func header(name: String, size: Int64, mtime: Int64 = 0) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: blockSize)
        func put(_ s: String, at: Int, width: Int) {
            for (k, b) in s.utf8.prefix(width).enumerated() { h[at + k] = b }
        }
        func putOctal(_ v: Int64, at: Int, width: Int) {
            let digits = String(v, radix: 8)
            put(String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits, at: at, width: width - 1)
        }
        var nameField = name
        if name.utf8.count > 100, let slash = name.lastIndex(of: "/") {
            put(String(name[..<slash]), at: 345, width: 155)
            nameField = String(name[name.index(after: slash)...])
        }
        put(nameField, at: 0, width: 100)
        putOctal(0o644, at: 100, width: 8)
        putOctal(0, at: 108, width: 8)
        putOctal(0, at: 116, width: 8)
        if size < 0o77777777777 {
            putOctal(size, at: 124, width: 12)
        } else {
            // 8 GiB and more: GNU base-256 (high bit set, big-endian), which readers understand.
            var v = size
            for k in stride(from: 135, through: 125, by: -1) { h[k] = UInt8(v & 0xFF); v >>= 8 }
            h[124] = 0x80
        }
        putOctal(mtime, at: 136, width: 12)
        h[156] = UInt8(ascii: "0")
        put("ustar", at: 257, width: 6)  // "ustar\0"
        put("00", at: 263, width: 2)
        put("uasense", at: 265, width: 32)
        put("uasense", at: 297, width: 32)
        for k in 148..<156 { h[k] = 0x20 }
        let sum = h.reduce(0) { $0 + Int64($1) }
        let digits = String(sum, radix: 8)
        put(String(repeating: "0", count: max(0, 6 - digits.count)) + digits, at: 148, width: 6)
        h[154] = 0
        h[155] = 0x20
        return h
    }

    public static func padding(for size: Int64) -> [UInt8] {
        let rem = Int(size % Int64(blockSize))
        return rem == 0 ? [] : [UInt8](repeating: 0, count: blockSize - rem)
    }

    public static let endOfArchive = [UInt8](repeating: 0, count: 2 * blockSize)

    static func checksumValid(_ h: [UInt8]) -> Bool {
        guard let stored = octal(h[148..<156]) else { return false }
        var unsigned: Int64 = 0
        var signed: Int64 = 0
        for (k, b) in h.enumerated() {
            let v: UInt8 = (148..<156).contains(k) ? 0x20 : b
            unsigned += Int64(v)
            signed += Int64(Int8(bitPattern: v))
        }
        return stored == unsigned || stored == signed
    }

    static func octal(_ field: ArraySlice<UInt8>) -> Int64? {
        if let first = field.first, first & 0x80 != 0 {  // GNU base-256 for large sizes
            var v: Int64 = Int64(first & 0x7F)
            for b in field.dropFirst() { v = v << 8 | Int64(b) }
            return v
        }
        var v: Int64 = 0
        var seen = false
        for b in field {
            if b == 0 || b == 0x20 { if seen { break } else { continue } }
            guard b >= 0x30, b <= 0x37 else { return nil }
            v = v * 8 + Int64(b - 0x30)
            seen = true
        }
        return v
    }

    static func cString(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// pax records: "<len> <key>=<value>\n" …
    static func parsePax(_ bytes: [UInt8]) -> (String?, Int64?) {
        var name: String?
        var size: Int64?
        var pos = 0
        while pos < bytes.count {
            guard let space = bytes[pos...].firstIndex(of: 0x20),
                  let length = Int(String(decoding: bytes[pos..<space], as: UTF8.self)),
                  length > 0, pos + length <= bytes.count
            else { break }
            let record = bytes[(space + 1)..<(pos + length)]
            if let eq = record.firstIndex(of: UInt8(ascii: "=")) {
                let key = String(decoding: record[record.startIndex..<eq], as: UTF8.self)
                var value = String(decoding: record[(eq + 1)...], as: UTF8.self)
                if value.hasSuffix("\n") { value.removeLast() }
                if key == "path" { name = value }
                if key == "size" { size = Int64(value) }
            }
            pos += length
        }
        return (name, size)
    }
}
