import Crypto
import Foundation
import IQ

/// Detection records as UDP datagrams: one record per datagram, at most 1200 bytes (fits any
/// path's MTU without IP fragmentation), optionally signed so a console can tell the sensor's
/// records from forged ones.
///
/// ```
/// datagram:  <record JSON, one object, UTF-8>                       unsigned
///            <record JSON>\n hmac-sha256=<64 lowercase hex>          signed: HMAC-SHA256 over the JSON bytes
/// example:   {"channel":37,"family":"ble-legacy-remote-id",…,"schema":1,"uas_id":"1596F3SYNTH0001"}
///            hmac-sha256=5f0c…e1 (shared key from a file)
/// split:     a record too large for one datagram (a Message Pack of many messages) goes as one
///            datagram per Remote ID message, each a whole record with every top-level field and
///            "part": k, "parts": n — a console that ignores parts still gets valid records.
/// ```
public enum RecordDatagram {
    public static let maximumBytes = 1200
    static let signaturePrefix = Array("\nhmac-sha256=".utf8)
    /// Room the signature line takes.
    static let signatureBytes = signaturePrefix.count + 64

    public enum Verification: String, Sendable, Equatable {
        case unsigned, valid, invalid
    }

    /// The datagrams carrying `record` (one unless it has to be split), signed when `key` is given.
    public static func datagrams(_ record: JSONValue, key: SymmetricKey?) -> [[UInt8]] {
        let room = maximumBytes - (key == nil ? 0 : signatureBytes)
        let whole = Array(record.serialized().utf8)
        var bodies = [whole]
        if whole.count > room, var fields = record.objectValue, let messages = fields["remote_id"]?.arrayValue, messages.count > 1 {
            bodies = messages.enumerated().map { k, message in
                fields["remote_id"] = .array([message])
                fields["part"] = .int(Int64(k + 1))
                fields["parts"] = .int(Int64(messages.count))
                return Array(JSONValue.object(fields).serialized().utf8)
            }
        }
        guard let key else { return bodies }
        return bodies.map { $0 + signaturePrefix + Array(hex(HMAC<SHA256>.authenticationCode(for: $0, using: key)).utf8) }
    }

    /// The record in a datagram and whether its signature holds (`invalid` also when a key is
    /// expected and the datagram is unsigned). nil when the body is not a JSON object.
    public static func open(_ datagram: [UInt8], key: SymmetricKey?) -> (record: JSONValue, verification: Verification)? {
        var body = datagram[...], signature: Substring?
        if let cut = datagram.lastIndex(of: UInt8(ascii: "\n")),
           datagram[cut...].starts(with: signaturePrefix) {
            body = datagram[..<cut]
            signature = Substring(decoding: datagram[(cut + signaturePrefix.count)...], as: UTF8.self)
        }
        guard let record = try? JSONValue.parse(Data(body)), record.objectValue != nil else { return nil }
        switch (key, signature) {
        case (nil, nil): return (record, .unsigned)
        case (nil, .some): return (record, .unsigned)  // no key to check with
        case (.some, nil): return (record, .invalid)
        case (.some(let key), .some(let text)):
            let expected = hex(HMAC<SHA256>.authenticationCode(for: Array(body), using: key))
            // Compare without an early exit, so timing does not reveal how much matched.
            let a = Array(expected.utf8), b = Array(text.utf8)
            var difference = a.count ^ b.count
            for k in 0..<min(a.count, b.count) { difference |= Int(a[k] ^ b[k]) }
            return (record, difference == 0 ? .valid : .invalid)
        }
    }

    /// A key from a file: 64 hex digits (32 bytes) or, failing that, the file's bytes as they are
    /// (trailing newline removed). At least 16 bytes.
    public typealias Key = SymmetricKey

    public static func key(fromFile path: String) throws(OutputError) -> SymmetricKey {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .badKey(path: path, reason: "cannot read the file")
        }
        var bytes = [UInt8](data)
        while let last = bytes.last, last == 10 || last == 13 { bytes.removeLast() }
        if bytes.count == 64, let decoded = unhex(bytes) { bytes = decoded }
        guard bytes.count >= 16 else { throw .badKey(path: path, reason: "a key needs at least 16 bytes (e.g. 64 hex digits)") }
        return SymmetricKey(data: bytes)
    }

    static func hex(_ mac: some Sequence<UInt8>) -> String {
        mac.map { String(format: "%02x", $0) }.joined()
    }

    static func unhex(_ text: [UInt8]) -> [UInt8]? {
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        var out: [UInt8] = []
        var k = 0
        while k + 1 < text.count {
            guard let hi = nibble(text[k]), let lo = nibble(text[k + 1]) else { return nil }
            out.append(hi << 4 | lo)
            k += 2
        }
        return out
    }
}

/// Records to one UDP destination: split and signed as `RecordDatagram` says, counted.
public final class UDPRecordFeed {
    public let sender: UDPDatagramSender
    let key: SymmetricKey?
    public private(set) var recordsSent = 0
    /// Records that went as several datagrams (too large for one).
    public private(set) var recordsSplit = 0

    public init(_ destination: UDPEndpoint, key: SymmetricKey?) throws {
        sender = try UDPDatagramSender(host: destination.host.isEmpty ? "127.0.0.1" : destination.host, port: destination.port)
        self.key = key
    }

    public func send(_ record: JSONValue) {
        let datagrams = RecordDatagram.datagrams(record, key: key)
        if datagrams.count > 1 { recordsSplit += 1 }
        for datagram in datagrams { try? sender.send(datagram) }  // failures are counted by the sender
        recordsSent += 1
    }

    /// One line for stderr.
    public var summary: String {
        "\(sender.endpoint): \(recordsSent) records in \(sender.datagramsSent) datagrams"
            + (recordsSplit > 0 ? " (\(recordsSplit) split)" : "") + (key == nil ? "" : ", HMAC-SHA256 signed")
            + (sender.failedSends > 0 ? ", \(sender.failedSends) not sent (\(sender.firstFailure ?? "refused"))" : "")
    }
}
