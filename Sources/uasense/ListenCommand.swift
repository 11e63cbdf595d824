import ArgumentParser
import Foundation
import IQ
import Outputs

struct ListenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "listen",
        abstract: "Receive detection records over UDP and print them as a live table, to check a feed.")

    @Argument(help: "udp://:PORT, udp://ADDRESS:PORT or a multicast group udp://239.x.y.z:PORT.")
    var endpoint: String

    @Option(name: .customLong("key-file"), help: "Check each record's HMAC-SHA256 against the key in this file; the exit status is 1 if any record fails the check.")
    var keyFile: String?

    @Option(help: "Stop after this many records.")
    var count: Int?

    @Option(help: "Stop after this many seconds without a datagram.")
    var timeout: Double?

    @Flag(help: "Print each record's JSON (and its signature check) instead of a table row.")
    var json = false

    func run() throws {
        let receiver: UDPReceiver
        let key: RecordDatagram.Key?
        do {
            key = try keyFile.map { path throws(OutputError) in try RecordDatagram.key(fromFile: path) }
            receiver = try UDPReceiver(UDPEndpoint(endpoint))
        } catch {
            printErr("uasense: \(error)")
            throw ExitCode(1)
        }
        installStopHandlers()
        printErr("listening on \(receiver.endpoint)" + (key == nil ? "" : " (checking HMAC-SHA256)"))
        if !json { FileHandle.standardOutput.write(Data((Self.header + "\n").utf8)) }
        var received = 0, unreadable = 0, forged = 0
        var quietSince = monotonicNs()
        while !stopRequested.isSet, count.map({ received < $0 }) ?? true {
            guard let datagram = receiver.receive(timeoutS: 0.25) else {
                if let timeout, Double(monotonicNs() - quietSince) * 1e-9 >= timeout { break }
                continue
            }
            quietSince = monotonicNs()
            guard let (record, check) = RecordDatagram.open(datagram, key: key) else {
                unreadable += 1
                continue
            }
            received += 1
            if check == .invalid { forged += 1 }
            var line: String
            if json {
                var fields = record.objectValue ?? [:]
                fields["signature"] = .string(check.rawValue)
                line = JSONValue.object(fields).serialized()
            } else {
                line = Self.row(record, check)
            }
            line += "\n"
            // Unbuffered, so a user piping the table sees each record as it arrives.
            FileHandle.standardOutput.write(Data(line.utf8))
        }
        printErr("\(received) records" + (unreadable > 0 ? ", \(unreadable) unreadable datagrams" : "")
                 + (key == nil ? "" : ", \(forged) failed the HMAC check"))
        // A script watching a feed learns of forged (or wrongly keyed) records from the status.
        if forged > 0 { throw ExitCode(1) }
    }

    static let header = "time                         kind       family                  uas_id                 "
        + "lat          lon           alt_m    snr_db  freq_MHz   sig"

    static func row(_ record: JSONValue, _ check: RecordDatagram.Verification) -> String {
        let r = record.objectValue ?? [:]
        func text(_ key: String, _ width: Int) -> String {
            let value = r[key]?.stringValue ?? r[key].flatMap { $0.doubleValue.map { String($0) } } ?? "-"
            return value.count >= width ? String(value.prefix(width - 1)) + " " : value.padding(toLength: width, withPad: " ", startingAt: 0)
        }
        func number(_ key: String, _ format: String, _ width: Int, scale: Double = 1) -> String {
            let value = r[key]?.doubleValue.map { String(format: format, $0 * scale) } ?? "-"
            return value.padding(toLength: width, withPad: " ", startingAt: 0)
        }
        let sig = check == .valid ? "ok" : check == .invalid ? "FORGED?" : "-"
        return text("time", 29) + text("kind", 11) + text("family", 24) + text("uas_id", 23)
            + number("lat", "%.7f", 13) + number("lon", "%.7f", 14) + number("alt_geo_m", "%.1f", 9)
            + number("snr_db", "%.1f", 8) + number("freq_hz", "%.3f", 11, scale: 1e-6) + sig
            + (r["parts"] != nil ? "  part \(r["part"]?.int64Value ?? 0)/\(r["parts"]?.int64Value ?? 0)" : "")
    }
}
