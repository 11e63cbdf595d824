import Foundation
import IQ
#if canImport(Glibc)
import Glibc
#endif

/// Where and how the sensor publishes over MQTT. Topics are `<topicPrefix>/<sensorID>/…`.
public struct MQTTSettings: Sendable {
    /// Host, port and scheme from the URL (credentials go to `username` / `password`).
    public let host: String
    public let port: Int
    public let useTLS: Bool
    public let sensorID: String
    public let spoolDirectory: String

    /// Overrides the URL's.
    public var username: String?
    public var password: String?
    /// mqtts: PEM file of CAs trusted for the broker (default: the system's).
    public var caPath: String?
    /// mqtts: client certificate and key, PEM (optional: for brokers that require them).
    public var certificatePath: String?
    public var keyPath: String?
    /// How often the retained status message is refreshed.
    public var heartbeatIntervalS: Double = 30
    public var keepAliveS: Int = 30
    /// Reconnect delays grow from 1 s up to this.
    public var reconnectMaxDelayS: Double = 10
    /// QoS 0 detections held in memory while the broker is unreachable; beyond, the oldest are
    /// dropped and counted.
    public var detectionQueueLimit: Int = 10_000
    /// Offline analysis: a full detection queue makes the caller wait while the broker is
    /// connected, rather than drop (a live sensor must never wait on a network).
    public var waitWhenQueueFull = false
    /// The on-disk spool of track updates; beyond, the oldest are dropped and counted.
    public var spoolLimitBytes: Int = 256 << 20
    public var topicPrefix: String = "uasense"

    /// `mqtt://[user[:password]@]host[:port]` (port 1883) or `mqtts://…` (port 8883); IPv6 hosts
    /// in brackets; user and password may be percent-encoded.
    public init(url: String, sensorID: String, spoolDirectory: String) throws(OutputError) {
        let shown = Self.redacted(url)
        func bad(_ reason: String) -> OutputError {
            .mqttSettings(shown, reason: reason + " (expected mqtt://[USER[:PASSWORD]@]HOST[:PORT] or mqtts://…)")
        }
        guard let schemeEnd = url.firstRange(of: "://") else { throw bad("no scheme") }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "mqtt" || scheme == "mqtts" else {
            throw OutputError.mqttSettings(shown, reason: "unknown scheme '\(scheme)' (use mqtt:// or mqtts:// for TLS)")
        }
        useTLS = scheme == "mqtts"
        var rest = Substring(url[schemeEnd.upperBound...])
        if rest.hasSuffix("/") { rest.removeLast() }
        if let at = rest.lastIndex(of: "@") {
            let userinfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            let colon = userinfo.firstIndex(of: ":")
            let user = colon.map { userinfo[..<$0] } ?? userinfo
            guard let decodedUser = String(user).removingPercentEncoding else { throw bad("bad percent-encoding in the user name") }
            username = decodedUser.isEmpty ? nil : decodedUser
            if let colon {
                guard let decoded = String(userinfo[userinfo.index(after: colon)...]).removingPercentEncoding else {
                    throw bad("bad percent-encoding in the password")
                }
                password = decoded
            }
        }
        guard !rest.contains("/") else {
            throw OutputError.mqttSettings(shown, reason: "a path is not supported: topics are <prefix>/<sensor id>/detections, …/tracks, …/status")
        }
        var host: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw bad("unclosed '[' around an IPv6 address") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty { throw bad("unexpected '\(after)' after the address") }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
        }
        guard !host.isEmpty else { throw bad("no host") }
        guard !host.contains(" "), !host.contains("\0") else { throw bad("'\(host)' is not a host name or address") }
        var port = useTLS ? 8883 : 1883
        if let portText {
            guard let p = Int(portText), (1...65535).contains(p) else { throw bad("port '\(portText)' is not 1–65535") }
            port = p
        }
        self.host = String(host)
        self.port = port
        try Self.checkTopicLevel(sensorID, what: "sensor id")
        self.sensorID = sensorID
        guard !spoolDirectory.isEmpty else { throw OutputError.invalidArgument("the MQTT spool directory is empty; give a directory path") }
        self.spoolDirectory = spoolDirectory
    }

    /// The broker without credentials, e.g. `mqtt://127.0.0.1:1883`.
    public var endpoint: String {
        (useTLS ? "mqtts://" : "mqtt://") + (host.contains(":") ? "[\(host)]" : host) + ":\(port)"
    }

    static func checkTopicLevel(_ text: String, what: String, slashAllowed: Bool = false) throws(OutputError) {
        let forbidden = slashAllowed ? "'+', '#' or NUL" : "'+', '#', '/' or NUL"
        guard !text.isEmpty, !text.contains("+"), !text.contains("#"), !text.contains("\0"),
              slashAllowed || !text.contains("/"), text.utf8.count < 1024 else {
            throw OutputError.invalidArgument("\(what) '\(text)' cannot be used in an MQTT topic: it must be non-empty, without \(forbidden)")
        }
    }

    /// The URL with its password replaced by ***, for messages.
    static func redacted(_ url: String) -> String {
        guard let schemeEnd = url.firstRange(of: "://"), let at = url.lastIndex(of: "@"), at > schemeEnd.upperBound,
              let colon = url[schemeEnd.upperBound..<at].firstIndex(of: ":") else { return url }
        return String(url[..<url.index(after: colon)]) + "***" + String(url[at...])
    }
}

/// What the MQTT output did so far (this process).
public struct MQTTCounters: Sendable, Equatable {
    public var connected = false
    public var connects = 0
    public var disconnects = 0
    public var detectionsSent = 0
    public var detectionsDropped = 0
    public var tracksSpooled = 0
    public var tracksAcked = 0
    /// Track updates not acknowledged yet (on disk, or about to be written there).
    public var spoolDepth = 0
    public var spoolDroppedOldest = 0
    public var spoolTornRecords = 0
    /// The last problem, one line without the broker's address (the summary puts it in front).
    public var lastError: String?

    public init() {}
}

/// A first-in first-out queue without O(n) removals at the front.
struct FIFO<Element> {
    private var items: [Element] = []
    private var head = 0

    var count: Int { items.count - head }
    var isEmpty: Bool { count == 0 }

    mutating func append(_ item: Element) { items.append(item) }

    mutating func popFirst() -> Element? {
        guard head < items.count else { return nil }
        let item = items[head]
        head += 1
        if head >= 1024, head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
        return item
    }

    mutating func popFirst(_ n: Int) -> [Element] {
        let k = min(n, count)
        let out = Array(items[head..<(head + k)])
        head += k
        if head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
        return out
    }

    /// Puts items back at the front, in their order.
    mutating func prepend(_ front: [Element]) {
        guard !front.isEmpty else { return }
        items = front + items[head...]
        head = 0
    }
}

/// Detections (QoS 0), track updates (QoS 1 through a durable on-disk spool), a retained status
/// heartbeat and an availability topic with a last will, to an MQTT broker through libmosquitto.
///
/// Threads: libmosquitto's network thread (callbacks) and one publisher thread that owns the
/// spool and hands messages to libmosquitto; callers only append to in-memory queues under a lock.
public final class MQTTOutput: @unchecked Sendable, MQTTClientDelegate {
    public let settings: MQTTSettings
    public let endpoint: String
    let detectionsTopic: String
    let tracksTopic: String
    let statusTopic: String
    let availabilityTopic: String

    /// Spooled messages handed to libmosquitto at once; the rest wait on disk (bounded memory
    /// during a long outage).
    static let maxTracksInFlight = 100
    /// QoS 0 messages handed to libmosquitto and not yet written to the socket.
    static let maxDetectionsInFlight = 1000
    /// Track updates waiting for the publisher thread to write them to the spool.
    static let maxPendingTracks = 10_000

    private enum Kind {
        case detection(epoch: Int)
        case track(UInt64)
        case control
        case offline
    }

    private let condition = NSCondition()
    private let spool: MQTTSpool
    private var client: MQTTClient?
    private let startS = monotonicS()
    private let startWallS = Date().timeIntervalSince1970

    // Guarded by `condition`.
    private var detections = FIFO<[UInt8]>()
    private var pendingTracks = FIFO<[UInt8]>()
    /// Track updates the publisher has taken from `pendingTracks` and not yet written to the spool.
    private var tracksBeingSpooled = 0
    private var newAcks: [UInt64] = []
    private var inFlight: [Int32: Kind] = [:]
    private var earlyAcks = Set<Int32>()
    private var detectionsInFlight = 0
    private var tracksInFlight = 0
    private var epoch = 0  // +1 per disconnect: QoS 0 messages handed before it are lost
    private var needAnnounce = false
    private var connectedSinceWallS: Double?
    private var health: [String: JSONValue] = [:]
    private var state = MQTTCounters()
    private var lastErrorIsConnection = false
    /// The last error is libmosquitto's own log line.
    private var lastErrorIsFromLibrary = false
    private var stopping = false
    private var publisherDone = false
    private var closeStarted = false
    private var offlineAcked = false
    private var closeFinished = false
    /// Track updates dropped before reaching the spool (the pending queue was full).
    private var pendingTracksDropped = 0

    public init(settings: MQTTSettings) throws(OutputError) {
        try MQTTSettings.checkTopicLevel(settings.topicPrefix, what: "topic prefix", slashAllowed: true)
        for (path, what) in [(settings.caPath, "CA file"), (settings.certificatePath, "client certificate"), (settings.keyPath, "client key")] {
            if let path, access(path, R_OK) != 0 {
                throw OutputError.mqttFailed(endpoint: settings.endpoint, reason: "\(what) \(path): cannot read it (\(String(cString: strerror(errno))))")
            }
        }
        if (settings.certificatePath == nil) != (settings.keyPath == nil) {
            throw OutputError.mqttFailed(endpoint: settings.endpoint, reason: "a client certificate needs its key and the key its certificate")
        }
        if !settings.useTLS, settings.caPath != nil || settings.certificatePath != nil {
            throw OutputError.mqttFailed(endpoint: settings.endpoint, reason: "CA and client certificate files need mqtts://")
        }
        self.settings = settings
        endpoint = settings.endpoint
        let base = settings.topicPrefix + "/" + settings.sensorID + "/"
        detectionsTopic = base + "detections"
        tracksTopic = base + "tracks"
        statusTopic = base + "status"
        availabilityTopic = base + "availability"
        spool = try MQTTSpool(directory: settings.spoolDirectory, limitBytes: settings.spoolLimitBytes)
        state.spoolDepth = spool.depth
        state.spoolTornRecords = spool.tornRecords
        let options = MQTTClientOptions(
            clientID: "uasense-" + settings.sensorID, host: settings.host, port: Int32(settings.port),
            keepAliveS: Int32(max(5, min(settings.keepAliveS, 65535))),
            username: settings.username, password: settings.password,
            will: (availabilityTopic, Array("offline".utf8)),
            tls: settings.useTLS ? (settings.caPath, settings.certificatePath, settings.keyPath) : nil,
            reconnectMaxDelayS: settings.reconnectMaxDelayS)
        let client = try MQTTClient(options, endpoint: endpoint, delegate: self)
        self.client = client
        client.start()
        let thread = Thread { [self] in self.runPublisher() }
        thread.name = "uasense-mqtt"
        thread.start()
    }

    // MARK: Caller side

    public func waitUntilConnected(timeoutS: Double) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeoutS)
        condition.lock()
        defer { condition.unlock() }
        while !state.connected, !closeStarted {
            if !condition.wait(until: deadline) { break }
        }
        return state.connected
    }

    /// Queues one detection record for `<prefix>/<sensor>/detections` (QoS 0). Never blocks
    /// (unless `waitWhenQueueFull`): beyond `detectionQueueLimit` waiting messages the oldest is
    /// dropped and counted.
    public func publishDetection(_ record: JSONValue) {
        let bytes = Array(record.serialized().utf8)
        condition.lock()
        defer { condition.unlock() }
        guard !closeStarted else { state.detectionsDropped += 1; return }
        if settings.waitWhenQueueFull {
            // Offline analysis makes records faster than a network takes them: while the broker is
            // there, wait for room instead of dropping.
            while detections.count >= max(1, settings.detectionQueueLimit), state.connected, !closeStarted { condition.wait() }
        }
        detections.append(bytes)
        if detections.count > max(1, settings.detectionQueueLimit) {
            _ = detections.popFirst()
            state.detectionsDropped += 1
        }
        condition.broadcast()
    }

    /// Queues one track update for `<prefix>/<sensor>/tracks` (QoS 1): the publisher thread
    /// writes it to the spool (one fdatasync per batch) and sends it until the broker acknowledges.
    public func publishTrack(_ record: JSONValue) {
        let bytes = Array(record.serialized().utf8)
        condition.lock()
        defer { condition.unlock() }
        guard !closeStarted else { pendingTracksDropped += 1; state.spoolDroppedOldest += 1; return }
        pendingTracks.append(bytes)
        if pendingTracks.count > Self.maxPendingTracks {
            _ = pendingTracks.popFirst()
            pendingTracksDropped += 1
            state.spoolDroppedOldest += 1
        }
        condition.broadcast()
    }

    /// Fields merged into the next status heartbeat (e.g. the SDR's sample drops).
    public func setHealth(_ fields: [String: JSONValue]) {
        condition.lock()
        defer { condition.unlock() }
        health.merge(fields) { _, new in new }
    }

    /// Waits until queued detections are written and every spooled track update is acknowledged.
    @discardableResult
    public func flush(timeoutS: Double) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeoutS)
        condition.lock()
        defer { condition.unlock() }
        while !drained {
            if publisherDone || !condition.wait(until: deadline) { break }
        }
        return drained
    }

    private var drained: Bool {
        detections.isEmpty && detectionsInFlight == 0 && pendingTracks.isEmpty && tracksBeingSpooled == 0
            && tracksInFlight == 0 && state.spoolDepth == 0
    }

    /// Flushes (bounded by `timeoutS`), publishes availability "offline", disconnects and stops
    /// the threads; what is still unacknowledged stays in the spool for the next start. Idempotent.
    public func close(timeoutS: Double) {
        condition.lock()
        if closeStarted {
            // A second caller waits for the first to finish.
            while !closeFinished { condition.wait() }
            condition.unlock()
            return
        }
        closeStarted = true
        condition.broadcast()
        condition.unlock()

        flush(timeoutS: timeoutS)
        condition.lock()
        stopping = true
        condition.broadcast()
        while !publisherDone { condition.wait() }
        condition.unlock()

        client?.disconnect()
        client?.stop()
        condition.lock()
        let acks = newAcks
        newAcks = []
        // Detections never written (QoS 0 has no spool) are lost with the process: count them.
        state.detectionsDropped += detections.count + detectionsInFlight
        detections = FIFO()
        detectionsInFlight = 0
        condition.unlock()
        for seq in acks { spool.ack(seq) }
        spool.close()
        condition.lock()
        state.spoolDepth = spool.depth
        state.connected = false
        client = nil  // destroys the libmosquitto handle; no callbacks after this
        closeFinished = true
        condition.broadcast()
        condition.unlock()
    }

    public var counters: MQTTCounters {
        condition.lock()
        defer { condition.unlock() }
        var c = state
        c.spoolDepth += pendingTracks.count
        return c
    }

    /// One line for stderr at the end of a run.
    public var summary: String {
        let c = counters
        var text = "\(endpoint): \(c.detectionsSent) detections sent, \(c.detectionsDropped) dropped; "
            + "\(c.tracksAcked) track updates acked, \(c.spoolDepth) waiting in the spool; "
            + "\(max(0, c.connects - 1)) reconnect" + (c.connects == 2 ? "" : "s")
        if c.connects == 0 { text += " (never connected)" }
        if c.spoolDroppedOldest > 0 { text += "; \(c.spoolDroppedOldest) track updates dropped (spool full)" }
        if c.spoolTornRecords > 0 { text += "; \(c.spoolTornRecords) damaged spool records cut off" }
        if let e = c.lastError {
            text += "; last error: " + e
        }
        return text
    }

    // MARK: libmosquitto's thread

    func mqttConnected(code: Int32) {
        condition.lock()
        defer { condition.unlock() }
        if code == 0 {
            state.connected = true
            state.connects += 1
            connectedSinceWallS = Date().timeIntervalSince1970
            needAnnounce = true
            if lastErrorIsConnection { state.lastError = nil }
        } else {
            let why = MQTTClient.refusalText(code)
            let hint = code == 4 || code == 5 ? "; check the user name and password" : ""
            setError("the broker refused the connection: \(why)\(hint)", connection: true)
        }
        condition.broadcast()
    }

    func mqttDisconnected(code: Int32) {
        condition.lock()
        defer { condition.unlock() }
        let wasConnected = state.connected
        if wasConnected { state.disconnects += 1 }
        state.connected = false
        if code != 0, !closeStarted {
            // Also called for each failed connection attempt; a refusal (bad password) said more already.
            if wasConnected {
                setError("connection lost; reconnecting", connection: true)
            } else if state.lastError == nil {
                setError("cannot connect (is the broker running and reachable?); retrying", connection: true)
            }
        }
        epoch += 1
        // QoS 0 messages not yet written are gone with the connection.
        for (mid, kind) in inFlight {
            if case .detection = kind {
                inFlight[mid] = nil
                detectionsInFlight -= 1
                state.detectionsDropped += 1
            }
        }
        condition.broadcast()
    }

    func mqttPublished(mid: Int32) {
        condition.lock()
        defer { condition.unlock() }
        if let kind = inFlight.removeValue(forKey: mid) {
            complete(kind)
        } else {
            // The callback can beat the publisher's registration of the mid.
            earlyAcks.insert(mid)
        }
        condition.broadcast()
    }

    func mqttConnectFailed(reason: String, retryInS: Double) {
        condition.lock()
        defer { condition.unlock() }
        // The library's own log line says more (a TLS failure says why only there): keep it.
        guard !closeStarted, !lastErrorIsFromLibrary else { return }
        // Plain MQTT to a TLS port: the broker hangs up on the first bytes.
        let hint = !settings.useTLS && reason.lowercased().contains("connection was lost") ? "; a TLS port needs mqtts://" : ""
        setError("cannot connect (\(reason)\(hint)); retrying in \(Int(retryInS.rounded())) s", connection: true)
    }

    func mqttLog(text: String) {
        condition.lock()
        defer { condition.unlock() }
        setError(text, connection: true)
        lastErrorIsFromLibrary = true
    }

    /// Under the lock.
    private func setError(_ text: String, connection: Bool) {
        state.lastError = text
        lastErrorIsConnection = connection
        lastErrorIsFromLibrary = false
    }

    /// Under the lock.
    private func complete(_ kind: Kind) {
        switch kind {
        case .detection:
            detectionsInFlight -= 1
            state.detectionsSent += 1
        case .track(let seq):
            tracksInFlight -= 1
            state.tracksAcked += 1
            newAcks.append(seq)
        case .control:
            break
        case .offline:
            offlineAcked = true
        }
    }

    /// Under the lock.
    private func register(mid: Int32, kind: Kind) {
        if earlyAcks.remove(mid) != nil {
            complete(kind)
            return
        }
        if case .detection(let handedEpoch) = kind, handedEpoch != epoch {
            // The connection dropped between handing over and now: not written.
            detectionsInFlight -= 1
            state.detectionsDropped += 1
            return
        }
        inFlight[mid] = kind
    }

    // MARK: The publisher thread

    private func runPublisher() {
        var nextHeartbeatS = Double.infinity
        var lastPersistS = monotonicS()
        var acksUnpersisted = false
        let statusIntervalS = max(0.1, settings.heartbeatIntervalS)

        condition.lock()
        while true {
            // Take the work under the lock...
            let tracks = pendingTracks.popFirst(pendingTracks.count)
            // Until they are in the spool they are in neither queue: flush must still wait for them.
            tracksBeingSpooled = tracks.count
            let acks = newAcks
            newAcks = []
            let connected = state.connected
            let announce = needAnnounce
            needAnnounce = false
            let closing = stopping
            let trackBudget = closing ? 0 : Self.maxTracksInFlight - tracksInFlight
            let detectionBudget = connected && !closing ? Self.maxDetectionsInFlight - detectionsInFlight : 0
            let batch = detections.popFirst(max(0, min(detectionBudget, 256)))
            detectionsInFlight += batch.count
            let handedEpoch = epoch
            let healthNow = health
            condition.unlock()

            // ...and do it without: disk and libmosquitto calls.
            var errors: [(text: String, connection: Bool)] = []
            var spooled = 0
            var refusedTracks: [UInt64] = []
            for payload in tracks {
                do {
                    try spool.append(topic: tracksTopic, payload: payload)
                    spooled += 1
                } catch {
                    errors.append((error.description, false))
                }
            }
            do { try spool.sync() } catch { errors.append((error.description, false)) }
            for seq in acks { spool.ack(seq) }
            if !acks.isEmpty { acksUnpersisted = true }
            let nowS = monotonicS()
            if acksUnpersisted, nowS - lastPersistS >= 1 || closing {
                // A failure (disk full) is tried again a second later, not at the next ack.
                do {
                    try spool.persistAcks()
                    acksUnpersisted = false
                } catch {
                    errors.append((error.description, false))
                }
                lastPersistS = nowS
            }

            var registrations: [(Int32, Kind)] = []
            let records = trackBudget > 0 ? spool.next(max: trackBudget) : []
            for record in records {
                switch client?.publish(topic: record.topic, payload: record.payload, qos: 1, retain: false) {
                case .accepted(let mid): registrations.append((mid, .track(record.seq)))
                case .refused(let why):
                    // A message the library will never take must not block the spool.
                    refusedTracks.append(record.seq)
                    errors.append(("track update refused by libmosquitto (\(why)); dropped", false))
                case .notConnected, nil: break
                }
            }
            if connected, !closing, announce || nowS >= nextHeartbeatS, let client {
                if announce, case .accepted(let mid) = client.publish(topic: availabilityTopic, payload: Array("online".utf8), qos: 1, retain: true) {
                    registrations.append((mid, .control))
                }
                let status = statusPayload(health: healthNow)
                if case .accepted(let mid) = client.publish(topic: statusTopic, payload: status, qos: 1, retain: true) {
                    registrations.append((mid, .control))
                }
                nextHeartbeatS = nowS + statusIntervalS
            }
            if !connected { nextHeartbeatS = .infinity }
            var returned: [[UInt8]] = []
            var refusedDetections = 0
            for (k, payload) in batch.enumerated() {
                guard let client else { returned = Array(batch[k...]); break }
                switch client.publish(topic: detectionsTopic, payload: payload, qos: 0, retain: false) {
                case .accepted(let mid): registrations.append((mid, .detection(epoch: handedEpoch)))
                case .notConnected: returned = Array(batch[k...])
                case .refused(let why):
                    refusedDetections += 1
                    errors.append(("detection refused by libmosquitto (\(why)); dropped", false))
                }
                if !returned.isEmpty { break }
            }

            condition.lock()
            for (mid, kind) in registrations {
                if case .track = kind { tracksInFlight += 1 }
                register(mid: mid, kind: kind)
            }
            // Every publish happens on this thread, so an early ack left now belongs to a message
            // already written off (handed to a connection that died): kept, it would complete
            // whichever message reuses its id after the 16-bit ids wrap.
            earlyAcks.removeAll()
            newAcks += refusedTracks
            detectionsInFlight -= returned.count + refusedDetections
            state.detectionsDropped += refusedDetections
            if !returned.isEmpty {
                // Not connected after all: back to the front, still under the queue limit.
                detections.prepend(returned)
                while detections.count > max(1, settings.detectionQueueLimit) {
                    _ = detections.popFirst()
                    state.detectionsDropped += 1
                }
            }
            for e in errors { setError(e.text, connection: e.connection) }
            state.tracksSpooled += spooled
            tracksBeingSpooled = 0
            state.spoolDepth = spool.depth
            state.spoolDroppedOldest = spool.droppedOldest + pendingTracksDropped
            state.spoolTornRecords = spool.tornRecords
            condition.broadcast()

            if stopping, closing, pendingTracks.isEmpty, newAcks.isEmpty {
                // The last word, from this thread so that no "online" can follow it: the will only
                // fires for an unclean end.
                if state.connected, let client {
                    condition.unlock()
                    let result = client.publish(topic: availabilityTopic, payload: Array("offline".utf8), qos: 1, retain: true)
                    condition.lock()
                    if case .accepted(let mid) = result {
                        register(mid: mid, kind: .offline)
                        let deadline = Date(timeIntervalSinceNow: 2)
                        while !offlineAcked, state.connected, condition.wait(until: deadline) {}
                    }
                }
                break
            }
            let moreToHand = spool.hasMoreToHandOut && tracksInFlight < Self.maxTracksInFlight && !stopping
            // Refused as "not connected" before the disconnect callback came: wait for it, do not spin.
            let moreDetections = returned.isEmpty && state.connected && !detections.isEmpty
                && detectionsInFlight < Self.maxDetectionsInFlight && !stopping
            if pendingTracks.isEmpty, newAcks.isEmpty, !needAnnounce, !stopping, !moreToHand, !moreDetections {
                var wakeS = nextHeartbeatS
                if acksUnpersisted { wakeS = min(wakeS, lastPersistS + 1) }
                if !returned.isEmpty { wakeS = min(wakeS, monotonicS() + 0.1) }
                let delayS = min(max(0, wakeS - monotonicS()), 3600)
                _ = condition.wait(until: Date(timeIntervalSinceNow: delayS))
            }
        }
        publisherDone = true
        condition.broadcast()
        condition.unlock()
    }

    private func statusPayload(health: [String: JSONValue]) -> [UInt8] {
        condition.lock()
        let c = state
        let since = connectedSinceWallS
        condition.unlock()
        var fields = health
        let nowWallS = Date().timeIntervalSince1970
        fields["sensor_id"] = .string(settings.sensorID)
        fields["time"] = .string(RFC3339.format(nowWallS))
        fields["uptime_s"] = .number((monotonicS() - startS).rounded())
        fields["started"] = .string(RFC3339.format(startWallS, fractionDigits: 0))
        if let since { fields["connected_since"] = .string(RFC3339.format(since, fractionDigits: 0)) }
        var mqtt: [String: JSONValue] = [
            "connects": .int(Int64(c.connects)),
            "disconnects": .int(Int64(c.disconnects)),
            "detections_sent": .int(Int64(c.detectionsSent)),
            "detections_dropped": .int(Int64(c.detectionsDropped)),
            "tracks_spooled": .int(Int64(c.tracksSpooled)),
            "tracks_acked": .int(Int64(c.tracksAcked)),
            "spool_depth": .int(Int64(c.spoolDepth)),
            "spool_dropped_oldest": .int(Int64(c.spoolDroppedOldest)),
            "spool_torn_records": .int(Int64(c.spoolTornRecords)),
        ]
        if let e = c.lastError { mqtt["last_error"] = .string(e) }
        fields["mqtt"] = .object(mqtt)
        return Array(JSONValue.object(fields).serialized().utf8)
    }
}

/// IQ's monotonic clock in seconds.
func monotonicS() -> Double { Double(monotonicNs()) * 1e-9 }
