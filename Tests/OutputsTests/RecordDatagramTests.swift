import Crypto
import Foundation
import IQ
import Testing
@testable import Outputs

/// Records as UDP datagrams: size, splitting, signing, checking, and a loopback round trip.
@Suite struct RecordDatagramTests {
    static let key = SymmetricKey(data: Array(repeating: UInt8(0x5A), count: 32))

    static func record(messages: Int) -> JSONValue {
        let message = JSONValue.object(["type": .string("location"), "lat": .double(51.4775), "lon": .double(-0.0015),
                                        "alt_geo_m": .double(120), "speed_h_mps": .double(12.5), "direction_deg": .double(45),
                                        "timestamp_s": .double(1234.5), "status": .string("airborne")])
        return .object(["schema": .int(1), "kind": .string("remote_id"), "uas_id": .string("1596F3SYNTH0001"),
                        "time": .string("2026-11-29T12:00:00.000000Z"), "sensor_id": .string("test"),
                        "remote_id": .array(Array(repeating: message, count: messages))])
    }

    @Test func smallRecordIsOneDatagramAndSignatureChecks() throws {
        let record = Self.record(messages: 1)
        let plain = RecordDatagram.datagrams(record, key: nil)
        #expect(plain.count == 1 && plain[0] == Array(record.serialized().utf8))
        let signed = RecordDatagram.datagrams(record, key: Self.key)
        #expect(signed.count == 1 && signed[0].count <= RecordDatagram.maximumBytes)
        let opened = try #require(RecordDatagram.open(signed[0], key: Self.key))
        #expect(opened.record == (try JSONValue.parse(Data(record.serialized().utf8))))
        #expect(opened.verification == .valid)
        // The signature is HMAC-SHA256 over exactly the JSON bytes, in lowercase hex.
        let text = String(decoding: signed[0], as: UTF8.self)
        let mac = HMAC<SHA256>.authenticationCode(for: Array(record.serialized().utf8), using: Self.key)
        #expect(text.hasSuffix("\nhmac-sha256=" + mac.map { String(format: "%02x", $0) }.joined()))
    }

    @Test func forgedOrTamperedRecordsFailTheCheck() throws {
        let signed = RecordDatagram.datagrams(Self.record(messages: 1), key: Self.key)[0]
        // Another key.
        let other = SymmetricKey(data: Array(repeating: UInt8(1), count: 32))
        #expect(RecordDatagram.open(signed, key: other)?.verification == .invalid)
        // One byte of the record changed.
        var tampered = signed
        let digit = tampered.firstIndex(of: UInt8(ascii: "5"))!
        tampered[digit] = UInt8(ascii: "6")
        #expect(RecordDatagram.open(tampered, key: Self.key)?.verification == .invalid)
        // Unsigned where a signature is expected; no key to check.
        let plain = RecordDatagram.datagrams(Self.record(messages: 1), key: nil)[0]
        #expect(RecordDatagram.open(plain, key: Self.key)?.verification == .invalid)
        #expect(RecordDatagram.open(signed, key: nil)?.verification == .unsigned)
        // Not JSON, truncated, empty: no record, no crash.
        #expect(RecordDatagram.open(Array("hello".utf8), key: nil) == nil)
        #expect(RecordDatagram.open(Array(signed.prefix(40)), key: Self.key) == nil)
        #expect(RecordDatagram.open([], key: nil) == nil)
    }

    @Test func largeRecordSplitsOneMessagePerDatagram() throws {
        let record = Self.record(messages: 9)
        #expect(record.serialized().utf8.count > RecordDatagram.maximumBytes)
        let datagrams = RecordDatagram.datagrams(record, key: Self.key)
        #expect(datagrams.count == 9)
        for (k, datagram) in datagrams.enumerated() {
            #expect(datagram.count <= RecordDatagram.maximumBytes)
            let opened = try #require(RecordDatagram.open(datagram, key: Self.key))
            let fields = try #require(opened.record.objectValue)
            #expect(opened.verification == .valid)
            #expect(fields["part"] == .int(Int64(k + 1)) && fields["parts"] == .int(9))
            #expect(fields["uas_id"] == .string("1596F3SYNTH0001") && fields["remote_id"]?.arrayValue?.count == 1)
        }
    }

    @Test func keyFiles() throws {
        let dir = NSTemporaryDirectory() + "uasense-key-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let hex = String(repeating: "5a", count: 32)
        try (hex + "\n").write(toFile: dir + "/hex", atomically: true, encoding: .utf8)
        let fromHex = try RecordDatagram.key(fromFile: dir + "/hex")
        #expect(fromHex == Self.key)
        try "short".write(toFile: dir + "/short", atomically: true, encoding: .utf8)
        #expect(throws: OutputError.badKey(path: dir + "/short", reason: "a key needs at least 16 bytes (e.g. 64 hex digits)")) {
            _ = try RecordDatagram.key(fromFile: dir + "/short")
        }
        #expect(throws: OutputError.self) { _ = try RecordDatagram.key(fromFile: dir + "/missing") }
        #expect(throws: OutputError.self) { _ = try UDPEndpoint("tcp://host:1") }
        #expect(throws: OutputError.self) { _ = try UDPEndpoint("udp://host:99999") }
        #expect(try UDPEndpoint("udp://:6969").port == 6969)
    }

    @Test func loopbackRoundTripLosesNothing() throws {
        // 5 000 signed records in bursts of 200, each burst drained before the next (so a busy
        // test machine cannot overflow the receiving socket): every one arrives and verifies, and
        // the sender counts no failure. The sustained rate is `uasense bench --udp`'s to measure.
        let receiver = try UDPReceiver(UDPEndpoint("udp://127.0.0.1:47613"))
        let feed = try UDPRecordFeed(UDPEndpoint("udp://127.0.0.1:47613"), key: Self.key)
        let record = Self.record(messages: 1)
        var verified = 0
        for _ in 0..<25 {
            for _ in 0..<200 { feed.send(record) }
            var got = 0
            while got < 200, let datagram = receiver.receive(timeoutS: 5) {
                got += 1
                if RecordDatagram.open(datagram, key: Self.key)?.verification == .valid { verified += 1 }
            }
        }
        #expect(feed.sender.failedSends == 0 && feed.recordsSent == 5_000 && feed.sender.datagramsSent == 5_000)
        #expect(verified == 5_000)
    }
}
