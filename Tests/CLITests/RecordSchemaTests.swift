import Foundation
import IQ
import TestSupport
import Testing

/// Every record `uasense analyze` writes — detections and track events — against
/// docs/detection-record.schema.json, checked by the reference Python `jsonschema` package
/// (Tests/Fixtures/validate_records.py; `make deps` installs it).
@Suite struct RecordSchemaTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let schema = root.appendingPathComponent("docs/detection-record.schema.json").path
    let binary = uasenseBinary()

    struct Report: Decodable {
        struct Invalid: Decodable, CustomStringConvertible {
            var file: String
            var line: Int
            var keywords: [String]
            var paths: [String]
            var message: String
            var description: String { "\(file):\(line) \(keywords) \(paths): \(message)" }
        }

        var records: Int
        var by_kind: [String: Int]
        var invalid: [Invalid]
    }

    static func validate(_ files: [String]) throws -> Report {
        let (status, out, err) = try runProcess("/usr/bin/env", ["python3", "-W", "ignore", fixturePath("validate_records.py"),
                                                                 schema] + files)
        guard status == 0 else {
            throw IQError.invalidArgument("validate_records.py failed (is jsonschema installed? `pip install jsonschema`): \(err)")
        }
        return try JSONDecoder().decode(Report.self, from: Data(out.utf8))
    }

    static func objects(_ ndjson: String) throws -> [[String: JSONValue]] {
        try ndjson.split(separator: "\n").map { try JSONValue.parse(Data($0.utf8)).objectValue ?? [:] }
    }

    /// The recordings in iq-samples/, the captures in Tests/Fixtures/captures/, and a wideband
    /// recording (LE Coded Remote ID received from IQ).
    func inputs(in dir: TempDir) throws -> [String] {
        let samples = Self.root.appendingPathComponent("iq-samples").path
        let captures = fixturePath("captures")
        var paths = try FileManager.default.contentsOfDirectory(atPath: samples).sorted()
            .filter { $0.hasSuffix(".sigmf-meta") || $0.hasSuffix(".sigmf") }.map { samples + "/" + $0 }
        paths += try FileManager.default.contentsOfDirectory(atPath: captures).sorted()
            .filter { $0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng") }.map { captures + "/" + $0 }
        let wide = dir.file("wide.sigmf-meta")
        let (status, _, err) = try runProcess(binary, ["synth", "ble-wideband", "--duration", "0.2", "-o", wide])
        #expect(status == 0, "\(err)")
        return paths + [wide]
    }

    @Test func everyRecordAnalyzeEmitsValidates() throws {
        let dir = TempDir()
        let inputs = try inputs(in: dir)
        #expect(inputs.count == 7)
        var outputs: [String] = []
        var detections = 0
        var identified = 0
        for (k, input) in inputs.enumerated() {
            let (status, plain, err) = try runProcess(binary, ["analyze", "--sensor-id", "s1", input])
            #expect(status == 0, "\(input): \(err)")
            outputs.append(dir.write("plain-\(k).ndjson", text: plain))
            detections += plain.split(separator: "\n").count
            // Default settings, and a short timeout with no rate limit so that real captures lose
            // and regain their tracks.
            for (n, options) in [["--tracks"], ["--tracks", "--track-timeout", "0.05", "--track-interval", "0"]].enumerated() {
                let (status, out, err) = try runProcess(binary, ["analyze", "--sensor-id", "s1", input] + options)
                #expect(status == 0, "\(input): \(err)")
                outputs.append(dir.write("tracks-\(k)-\(n).ndjson", text: out))
                let records = try Self.objects(out)
                // The detections are exactly those without --tracks; track records are added between them.
                let kept = out.split(separator: "\n").filter { !$0.contains("\"kind\":\"track\"") }
                #expect(kept.map { $0 + "\n" }.joined() == plain, "\(input) \(options)")
                // In time order (RFC 3339 with a fixed number of digits sorts as text).
                let times = records.map { $0["time"]?.stringValue ?? "" }
                #expect(times == times.sorted(), "\(input) \(options)")
                // Every track ends with its loss.
                var lastEvent: [String: String] = [:]
                for r in records where r["kind"] == .string("track") {
                    lastEvent[r["track_id"]?.stringValue ?? "?"] = r["event"]?.stringValue
                    if r["reason"] == .string("identified") { identified += 1 }
                }
                #expect(lastEvent.values.allSatisfy { $0 == "lost" }, "\(input) \(options)")
                #expect(lastEvent.isEmpty == plain.isEmpty)
            }
        }
        let report = try Self.validate(outputs)
        #expect(report.invalid.isEmpty, "\(report.invalid.prefix(5))")
        #expect(report.by_kind["remote_id"] == 3 * detections && detections > 300)
        #expect((report.by_kind["track/update"] ?? 0) > 100 && (report.by_kind["track/lost"] ?? 0) > 100)
        #expect(report.records == report.by_kind.values.reduce(0, +))
        #expect(identified > 0)  // a transmitter heard before its Basic ID (the Long Range capture)
    }

    @Test func theSchemaRejectsBrokenRecords() throws {
        let dir = TempDir()
        let (status, out, err) = try runProcess(binary, ["analyze", "--sensor-id", "s1", "--tracks",
                                                         fixturePath("captures/odid_wifi_bcn_sample.pcap")])
        #expect(status == 0, "\(err)")
        let records = try Self.objects(out)
        let detection = try #require(records.first { $0["kind"] == .string("remote_id") })
        let update = try #require(records.first { $0["event"] == .string("update") })
        let lost = try #require(records.first { $0["event"] == .string("lost") })
        func edited(_ record: [String: JSONValue], _ change: (inout [String: JSONValue]) -> Void) -> [String: JSONValue] {
            var r = record
            change(&r)
            return r
        }
        func editedMessage(_ type: String, _ change: @escaping (inout [String: JSONValue]) -> Void) -> [String: JSONValue] {
            edited(detection) { r in
                r["remote_id"] = .array((r["remote_id"]?.arrayValue ?? []).map { message in
                    guard var m = message.objectValue, m["type"] == .string(type) else { return message }
                    change(&m)
                    return .object(m)
                })
            }
        }
        let cases: [(what: String, record: [String: JSONValue], keyword: String)] = [
            ("detection without time", edited(detection) { $0["time"] = nil }, "required"),
            ("detection without sensor_id", edited(detection) { $0["sensor_id"] = nil }, "required"),
            ("detection with freq_hz as text", edited(detection) { $0["freq_hz"] = .string("2437000000") }, "type"),
            ("detection with counter as a fraction", edited(detection) { $0["counter"] = .double(2.5) }, "type"),
            ("detection with an unknown field", edited(detection) { $0["heading_deg"] = .int(90) }, "additionalProperties"),
            ("Basic ID with an unknown field", editedMessage("basic_id") { $0["serial"] = .string("x") }, "additionalProperties"),
            ("Location with lat as text", editedMessage("location") { $0["lat"] = .string("45.5") }, "type"),
            ("track without track_id", edited(update) { $0["track_id"] = nil }, "required"),
            ("track with frame_count as text", edited(update) { $0["frame_count"] = .string("1") }, "type"),
            ("track with an unknown field", edited(update) { $0["speed_kmh"] = .int(3) }, "additionalProperties"),
            ("lost event without its reason", edited(lost) { $0["reason"] = nil }, "required"),
        ]
        let broken = dir.write("broken.ndjson", text: cases.map { JSONValue.object($0.record).serialized() + "\n" }.joined())
        let intact = dir.write("intact.ndjson", text: [detection, update, lost].map { JSONValue.object($0).serialized() + "\n" }.joined())
        let report = try Self.validate([broken, intact])
        #expect(report.records == cases.count + 3)
        for (k, c) in cases.enumerated() {
            let rejection = report.invalid.first { $0.file == broken && $0.line == k + 1 }
            #expect(rejection?.keywords.contains(c.keyword) == true, "\(c.what): \(rejection?.description ?? "accepted")")
        }
        #expect(!report.invalid.contains { $0.file == intact }, "\(report.invalid)")
    }
}
