import Captures
import Detection

/// The CoT sink a command wires in: Remote ID broadcasts in (after the tracker has merged them),
/// rate-limited CoT events out over UDP or TCP.
public final class CoTOutput {
    public let mapper: RemoteIDCoT
    public let sender: any CoTSender
    public private(set) var eventsSent = 0
    /// Sent, by object: aircraft, operator, home, delete.
    public private(set) var sentByKind: [String: Int] = [:]
    public private(set) var bytesSent = 0
    /// The largest event sent; mesh SA datagrams should stay under ~1400 bytes (no fragmentation).
    public private(set) var largestEventBytes = 0

    public init(sender: any CoTSender, settings: CoTSettings) {
        self.sender = sender
        mapper = RemoteIDCoT(settings: settings)
    }

    /// Opens the destination (`udp://…`, `tcp://…`, `tls://…` with `tls`); a TAK Server that is not
    /// there, or refuses the certificate, is reported here.
    public convenience init(destination: String, settings: CoTSettings, multicastTTL: Int32 = 1,
                            tls: TLSClientOptions? = nil) throws {
        let d = try CoTDestination(parsing: destination)
        guard (1...255).contains(multicastTTL) else {
            throw OutputError.invalidArgument("--cot-ttl must be 1–255 (1 keeps mesh SA on the local network)")
        }
        let sender: any CoTSender
        switch d.transport {
        case .udp: sender = try UDPDatagramSender(host: d.host, port: d.port, multicastTTL: multicastTTL)
        case .tcp: sender = try TCPCoTSender(host: d.host, port: d.port)
        case .tls:
            guard let tls else {
                throw OutputError.invalidArgument("--cot \(destination): tls:// needs the client certificate: --cot-cert FILE.p12 "
                                                  + "(with --cot-cert-password, and the TAK Server's CA as --cot-ca FILE.pem)")
            }
            sender = try TCPCoTSender(host: d.host, port: d.port, tls: tls)
        }
        self.init(sender: sender, settings: settings)
    }

    /// One Remote ID broadcast, after `tracker.add(frame)`.
    public func add(_ frame: RemoteIDFrame, tracker: UASTracker) throws {
        try send(mapper.update(frame, tracker: tracker))
    }

    /// Sends the updates the rate limit held back (`nowS` nil: all of them, at the end of a recording).
    public func flush(nowS: Double? = nil) throws {
        try send(mapper.flush(nowS: nowS))
    }

    private func send(_ events: [CoTEvent]) throws {
        for event in events {
            let bytes = Array(event.xml.utf8)
            try sender.send(bytes)
            eventsSent += 1
            sentByKind[Self.kind(event), default: 0] += 1
            bytesSent += bytes.count
            largestEventBytes = max(largestEventBytes, bytes.count)
        }
    }

    static func kind(_ event: CoTEvent) -> String {
        if event.type == "t-x-d-d" { return "delete" }
        if event.uid.hasSuffix("-operator") { return "operator" }
        if event.uid.hasSuffix("-home") { return "home" }
        return "aircraft"
    }

    public func close() { sender.close() }

    /// One line for stderr: what went where, and what was held back or could not be placed.
    public var summary: String {
        let c = mapper.counts
        let sent = sentByKind
        var text = "CoT to \(sender.endpoint): \(eventsSent) events (\(sent["aircraft"] ?? 0) aircraft, "
            + "\(sent["operator"] ?? 0) operator, \(sent["home"] ?? 0) home"
        if let deletes = sent["delete"] { text += ", \(deletes) deletes" }
        text += ")"
        if c.heldBack > 0 {
            text += "; \(c.heldBack) broadcasts merged into later updates by the rate limit of one update per "
                + "\(XML.fixed(mapper.settings.minUpdateIntervalS, decimals: 1)) s per UAS"
        }
        if c.unplaced > 0 {
            text += "; \(c.unplaced) updates without a position not sent (pass --sensor-position LAT,LON to place them at the sensor)"
        }
        if let udp = sender as? UDPDatagramSender, udp.failedSends > 0 {
            text += "; \(udp.failedSends) datagrams refused by the network (\(udp.firstFailure ?? "unknown reason"))"
        }
        return text
    }
}
