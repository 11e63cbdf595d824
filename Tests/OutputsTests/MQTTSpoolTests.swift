import Foundation
#if canImport(Glibc)
import Glibc
#endif
@testable import Outputs
import TestSupport
import Testing

@Suite struct MQTTSpoolTests {
    func payload(_ n: Int, size: Int = 40) -> [UInt8] {
        let head = Array("{\"n\":\(n),\"pad\":\"".utf8)
        return head + [UInt8](repeating: UInt8(ascii: "x"), count: max(0, size - head.count - 2)) + Array("\"}".utf8)
    }

    func segmentFiles(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix("segment-") }.sorted()
    }

    @Test func reopenKeepsExactlyTheUnacked() throws {
        let dir = TempDir()
        do {
            let spool = try MQTTSpool(directory: dir.path)
            for n in 1...10 { #expect(try spool.append(topic: "t/tracks", payload: payload(n)) == UInt64(n)) }
            try spool.sync()
            let handed = spool.next(max: 100)
            #expect(handed.map(\.seq) == Array(1...10))
            for seq: UInt64 in [1, 2, 3, 4, 7] { spool.ack(seq) }
            #expect(spool.depth == 5)
            #expect(spool.ackedBelow == 5)
            spool.close()
        }
        let reopened = try MQTTSpool(directory: dir.path)
        #expect(reopened.depth == 5)
        let records = reopened.next(max: 100)
        #expect(records.map(\.seq) == [5, 6, 8, 9, 10])
        #expect(records.map(\.payload) == [5, 6, 8, 9, 10].map { payload($0) })
        #expect(records.allSatisfy { $0.topic == "t/tracks" })
        #expect(try reopened.append(topic: "t/tracks", payload: payload(11)) == 11)
    }

    @Test func outOfOrderAcksAdvanceTheLowWaterMark() throws {
        let dir = TempDir()
        let spool = try MQTTSpool(directory: dir.path)
        for n in 1...6 { try spool.append(topic: "t", payload: payload(n)) }
        _ = spool.next(max: 10)
        spool.ack(3)
        spool.ack(2)
        #expect(spool.ackedBelow == 1)
        spool.ack(1)
        #expect(spool.ackedBelow == 4)
        spool.ack(6)
        spool.ack(6)  // a duplicate ack changes nothing
        spool.ack(99)  // nor one for a message that never existed
        #expect(spool.depth == 2)
        spool.ack(5)
        spool.ack(4)
        #expect(spool.ackedBelow == 7)
        #expect(spool.depth == 0)
        try spool.persistAcks()
        spool.close()
        let reopened = try MQTTSpool(directory: dir.path)
        #expect(reopened.depth == 0)
        #expect(reopened.next(max: 10).isEmpty)
        #expect(try reopened.append(topic: "t", payload: payload(7)) == 7)  // numbers never go back
    }

    @Test func acknowledgedSegmentsGoEvenWhenTheMarkCannotBeWritten() throws {
        let dir = TempDir()
        let spool = try MQTTSpool(directory: dir.path, segmentBytes: 256)
        for n in 1...40 { try spool.append(topic: "t", payload: payload(n)) }
        try spool.sync()
        #expect(segmentFiles(dir.path).count >= 3)
        for record in spool.next(max: 100) { spool.ack(record.seq) }
        // Something stops the mark being written (a full disk; here a directory in the way):
        // deleting the acknowledged segments is what frees the space, so it happens anyway.
        #expect(mkdir(dir.file("acked.tmp"), 0o755) == 0)
        #expect(throws: OutputError.self) { try spool.persistAcks() }
        #expect(segmentFiles(dir.path).count == 1)
        #expect(spool.depth == 0)
        #expect(try spool.append(topic: "t", payload: payload(41)) == 41)
        spool.close()
    }

    /// A spool holding messages 1…5, closed; the path of its segment.
    func closedSpoolOfFive(_ dir: TempDir) throws -> String {
        let spool = try MQTTSpool(directory: dir.path)
        for n in 1...5 { try spool.append(topic: "t", payload: payload(n)) }
        spool.close()
        return dir.file(try #require(segmentFiles(dir.path).last))
    }

    @Test func tornTailIsCutOffAndCounted() throws {
        let dir = TempDir()
        let file = try closedSpoolOfFive(dir)
        let size = try #require(FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
        #expect(truncate(file, off_t(size - 3)) == 0)  // power cut in the middle of the 5th record
        let spool = try MQTTSpool(directory: dir.path)
        #expect(spool.tornRecords == 1)
        #expect(spool.depth == 4)
        let records = spool.next(max: 10)
        #expect(records.map(\.seq) == [1, 2, 3, 4])
        #expect(records.map(\.payload) == (1...4).map { payload($0) })
        #expect(try spool.append(topic: "t", payload: payload(5)) == 5)
        spool.close()
        // The cut is on disk: a second reopen finds nothing torn.
        let again = try MQTTSpool(directory: dir.path)
        #expect(again.tornRecords == 0)
        #expect(again.next(max: 10).map(\.seq) == [1, 2, 3, 4, 5])
    }

    @Test func flippedByteInTheMiddleIsDetected() throws {
        let dir = TempDir()
        let file = try closedSpoolOfFive(dir)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
        bytes[bytes.count / 2] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let spool = try MQTTSpool(directory: dir.path)
        #expect(spool.tornRecords == 1)
        let seqs = spool.next(max: 10).map(\.seq)
        #expect(seqs == Array(1...UInt64(seqs.count)))
        #expect(seqs.count < 5 && seqs.count >= 1)
    }

    @Test func garbageFilesNeverCrash() throws {
        let dir = TempDir()
        _ = dir.write("segment-00000000000000000001.log", pseudoRandomBytes(5000, seed: 7))
        // A header claiming a 4 GiB body.
        _ = dir.write("segment-00000000000000000100.log", [0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4] + pseudoRandomBytes(100, seed: 3))
        _ = dir.write("acked", pseudoRandomBytes(100, seed: 9))
        _ = dir.write("segment-junk.log", pseudoRandomBytes(100, seed: 5))
        let spool = try MQTTSpool(directory: dir.path)
        #expect(spool.tornRecords == 2)
        #expect(spool.depth == 0)
        #expect(spool.next(max: 10).isEmpty)
        let seq = try spool.append(topic: "t", payload: payload(1))
        #expect(spool.next(max: 10).map(\.seq) == [seq])

        // A file far larger than any segment is set aside unread (it could exhaust memory).
        let big = TempDir()
        _ = big.write("segment-00000000000000000001.log", pseudoRandomBytes(64 << 10, seed: 11))
        let spool2 = try MQTTSpool(directory: big.path, limitBytes: 8192, segmentBytes: 1024)
        #expect(spool2.tornRecords == 1 && spool2.depth == 0)
        #expect(FileManager.default.fileExists(atPath: big.file("segment-00000000000000000001.log.damaged")))
        spool2.close()

        // A spool path that is a file: a clear error, naming it.
        let file = dir.write("plain-file", text: "x")
        #expect {
            try MQTTSpool(directory: file)
        } throws: { error in
            "\(error)".contains(file)
        }
    }

    @Test func sizeCapDropsTheOldestAndCounts() throws {
        let dir = TempDir()
        let spool = try MQTTSpool(directory: dir.path, limitBytes: 8192, segmentBytes: 1024)
        for n in 1...200 { try spool.append(topic: "t", payload: payload(n, size: 100)) }
        try spool.sync()
        #expect(spool.droppedOldest > 0)
        #expect(spool.depth + spool.droppedOldest == 200)
        let onDisk = segmentFiles(dir.path).reduce(0) { total, name in
            total + ((try? FileManager.default.attributesOfItem(atPath: dir.file(name))[.size] as? Int) ?? 0)
        }
        #expect(onDisk <= 8192)
        let records = spool.next(max: 1000)
        #expect(records.count == spool.depth)
        #expect(records.first?.seq == UInt64(spool.droppedOldest + 1))  // the oldest went
        #expect(records.last?.seq == 200)
    }

    @Test func fullyAckedSegmentsAreDeleted() throws {
        let dir = TempDir()
        let spool = try MQTTSpool(directory: dir.path, segmentBytes: 1024)
        for n in 1...100 { try spool.append(topic: "t", payload: payload(n, size: 100)) }
        try spool.sync()
        #expect(segmentFiles(dir.path).count >= 8)
        for record in spool.next(max: 1000) { spool.ack(record.seq) }
        try spool.persistAcks()
        #expect(segmentFiles(dir.path).count == 1)  // only the one being written stays
        spool.close()
        let reopened = try MQTTSpool(directory: dir.path)
        #expect(reopened.depth == 0)
        #expect(segmentFiles(dir.path).isEmpty)
    }

    @Test func appendsAreSyncedInBatches() throws {
        let dir = TempDir()
        let spool = try MQTTSpool(directory: dir.path)
        for n in 1...100 { try spool.append(topic: "t", payload: payload(n)) }
        try spool.sync()
        try spool.sync()  // nothing new: no second fdatasync
        #expect(spool.syncs == 1)
    }

    @Test func secondOpenerGetsTheLockError() throws {
        let dir = TempDir()
        let first = try MQTTSpool(directory: dir.path)
        #expect {
            try MQTTSpool(directory: dir.path)
        } throws: { error in
            guard let e = error as? OutputError, case .spoolInUse(let path, let pid) = e else { return false }
            return path == dir.path && pid == getpid() && e.description.contains(dir.path) && e.description.contains("pid \(getpid())")
        }
        first.close()
        let second = try MQTTSpool(directory: dir.path)
        second.close()
    }

    @Test func handsOutEachRecordOnce() throws {
        let dir = TempDir()
        let spool = try MQTTSpool(directory: dir.path, segmentBytes: 1024)
        for n in 1...30 { try spool.append(topic: "t", payload: payload(n, size: 100)) }
        #expect(spool.hasMoreToHandOut)
        let a = spool.next(max: 10)
        let b = spool.next(max: 100)
        #expect(a.map(\.seq) + b.map(\.seq) == Array(1...30))
        #expect(!spool.hasMoreToHandOut)
        #expect(spool.next(max: 10).isEmpty)
        try spool.append(topic: "t", payload: payload(31))
        #expect(spool.next(max: 10).map(\.seq) == [31])
    }
}

@Suite struct MQTTSettingsTests {
    @Test func parsesURLs() throws {
        let plain = try MQTTSettings(url: "mqtt://broker.local", sensorID: "north-1", spoolDirectory: "/tmp/s")
        #expect(plain.host == "broker.local" && plain.port == 1883 && !plain.useTLS && plain.username == nil)
        let full = try MQTTSettings(url: "mqtts://sensor:p%40ss:w@[::1]:18883/", sensorID: "n", spoolDirectory: "/tmp/s")
        #expect(full.host == "::1" && full.port == 18883 && full.useTLS)
        #expect(full.username == "sensor" && full.password == "p@ss:w")
        #expect(full.endpoint == "mqtts://[::1]:18883")
        #expect(try MQTTSettings(url: "MQTTS://h", sensorID: "n", spoolDirectory: "/s").port == 8883)
    }

    @Test func refusesBadURLsAndSensorIDs() {
        for (url, fragment) in [("tcp://h:1883", "unknown scheme"), ("h:1883", "no scheme"), ("mqtt://h:0", "port"),
                                ("mqtt://h:99999", "port"), ("mqtt://", "no host"), ("mqtt://h/topic", "path")] {
            #expect {
                try MQTTSettings(url: url, sensorID: "s", spoolDirectory: "/s")
            } throws: { "\($0)".contains(fragment) && "\($0)".hasPrefix("--mqtt ") }
        }
        for id in ["", "a/b", "a+b", "a#", "a\0b"] {
            #expect(throws: OutputError.self) { try MQTTSettings(url: "mqtt://h", sensorID: id, spoolDirectory: "/s") }
        }
        // The password never appears in a message.
        #expect {
            try MQTTSettings(url: "mqtt://u:secret@h:x", sensorID: "s", spoolDirectory: "/s")
        } throws: { !"\($0)".contains("secret") && "\($0)".contains("u:***@h:x") }
    }
}
