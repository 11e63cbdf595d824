import Foundation
#if canImport(Glibc)
import Glibc
#endif
import IQ
@testable import Outputs
import TestSupport
import Testing

/// The MQTT output against Debian's mosquitto broker on loopback, checked with mosquitto_sub.
/// Serialized: brokers restart on fixed ports and timings matter on a 2-core machine.
@Suite(.serialized, .enabled(if: MosquittoBroker.isInstalled, "needs mosquitto and mosquitto-clients"))
struct MQTTOutputTests {
    static func detection(_ n: Int) -> JSONValue {
        .object(["kind": .string("detection"), "n": .int(Int64(n)), "freq_hz": .int(2_437_000_000 + Int64(n)), "rssi_dbm": .double(-71.5)])
    }

    static func track(_ n: Int) -> JSONValue {
        .object(["kind": .string("track"), "n": .int(Int64(n)), "track_id": .string("T\(n % 7)")])
    }

    func settings(_ broker: MosquittoBroker, spool: TempDir, sensor: String = "s1", user: String? = nil) throws -> MQTTSettings {
        let credentials = user.map { $0 + "@" } ?? ""
        var s = try MQTTSettings(url: "mqtt://\(credentials)127.0.0.1:\(broker.port)", sensorID: sensor, spoolDirectory: spool.path)
        s.reconnectMaxDelayS = 2
        s.heartbeatIntervalS = 5
        return s
    }

    /// Payload numbers received on one topic, in arrival order.
    func numbers(_ messages: [(topic: String, payload: String)], topic: String) -> [Int] {
        messages.filter { $0.topic == topic }.compactMap { m in
            (try? JSONValue.parse(Data(m.payload.utf8)))?.objectValue?["n"]?.int64Value.map { Int($0) }
        }
    }

    /// Distinct numbers in first-arrival order (QoS 1 may deliver a message twice after an outage).
    func firstArrivals(_ values: [Int]) -> [Int] {
        var seen = Set<Int>()
        return values.filter { seen.insert($0).inserted }
    }

    @Test func deliversDetectionsAndTracksInOrder() throws {
        let broker = try MosquittoBroker()
        let subscriber = try MosquittoSubscriber(port: broker.port, topics: ["uasense/s1/detections", "uasense/s1/tracks"])
        let spool = TempDir()
        let output = try MQTTOutput(settings: settings(broker, spool: spool))
        defer { output.close(timeoutS: 1) }
        #expect(output.waitUntilConnected(timeoutS: 5))
        usleep(300_000)  // mosquitto_sub subscribes
        var tracks = 0
        for n in 0..<2000 {
            output.publishDetection(Self.detection(n))
            if n % 20 == 0 || (n % 7 == 3 && tracks < 300 - 100) {
                output.publishTrack(Self.track(tracks))
                tracks += 1
            }
        }
        while tracks < 300 { output.publishTrack(Self.track(tracks)); tracks += 1 }
        let started = Date()
        #expect(output.flush(timeoutS: 15))
        let flushS = Date().timeIntervalSince(started)
        #expect(subscriber.wait(timeoutS: 10) { self.numbers($0, topic: "uasense/s1/tracks").count >= 300
                && self.numbers($0, topic: "uasense/s1/detections").count >= 2000 })
        let messages = subscriber.messages()
        #expect(numbers(messages, topic: "uasense/s1/detections") == Array(0..<2000))
        #expect(numbers(messages, topic: "uasense/s1/tracks") == Array(0..<300))
        // Byte-for-byte what we serialized.
        let firstTrack = messages.first { $0.topic == "uasense/s1/tracks" }?.payload
        #expect(firstTrack == Self.track(0).serialized())
        let c = output.counters
        #expect(c.detectionsSent == 2000 && c.detectionsDropped == 0)
        #expect(c.tracksSpooled == 300 && c.tracksAcked == 300 && c.spoolDepth == 0)
        #expect(c.connects == 1 && c.lastError == nil)
        output.close(timeoutS: 2)
        #expect(output.summary.hasPrefix("mqtt://127.0.0.1:\(broker.port): 2000 detections sent, 0 dropped; 300 track updates acked, 0 waiting in the spool; 0 reconnects"))
        print("MQTT: 2000 detections + 300 tracks flushed in \(String(format: "%.2f", flushS)) s")
    }

    @Test func offlineAnalysisWaitsForRoomInsteadOfDropping() throws {
        let broker = try MosquittoBroker()
        let subscriber = try MosquittoSubscriber(port: broker.port, topics: ["uasense/s3/detections"])
        let spool = TempDir()
        var s = try settings(broker, spool: spool, sensor: "s3")
        s.detectionQueueLimit = 8
        s.waitWhenQueueFull = true
        let output = try MQTTOutput(settings: s)
        defer { output.close(timeoutS: 1) }
        #expect(output.waitUntilConnected(timeoutS: 5))
        usleep(300_000)
        // Far more than the queue holds, as fast as the caller can go.
        for n in 0..<3000 { output.publishDetection(Self.detection(n)) }
        #expect(output.flush(timeoutS: 15))
        #expect(subscriber.wait(timeoutS: 10) { self.numbers($0, topic: "uasense/s3/detections").count >= 3000 })
        #expect(numbers(subscriber.messages(), topic: "uasense/s3/detections") == Array(0..<3000))
        #expect(output.counters.detectionsDropped == 0)
    }

    @Test func tracksSurviveABrokerOutage() throws {
        let broker = try MosquittoBroker()
        let subscriber = try MosquittoSubscriber(port: broker.port, topics: ["uasense/s1/detections", "uasense/s1/tracks"], clientID: "test-sub-outage")
        let spool = TempDir()
        let output = try MQTTOutput(settings: settings(broker, spool: spool))
        defer { output.close(timeoutS: 1) }
        #expect(output.waitUntilConnected(timeoutS: 5))
        usleep(300_000)
        var detections = 0
        var tracks = 0
        func publish(_ count: Int, pauseUS: UInt32) {
            for _ in 0..<count {
                output.publishTrack(Self.track(tracks))
                tracks += 1
                for _ in 0..<2 { output.publishDetection(Self.detection(detections)); detections += 1 }
                if pauseUS > 0 { usleep(pauseUS) }
            }
        }
        publish(100, pauseUS: 1000)
        broker.stop()
        let outageStart = Date()
        publish(100, pauseUS: 50_000)  // 5 s of updates while the broker is down
        try broker.start()
        let outageS = Date().timeIntervalSince(outageStart)
        publish(100, pauseUS: 1000)
        #expect(output.flush(timeoutS: 20))
        // mosquitto_sub reconnects by itself and its persistent session kept what came meanwhile.
        #expect(subscriber.wait(timeoutS: 10) { Set(self.numbers($0, topic: "uasense/s1/tracks")).count >= 300 })
        #expect(subscriber.isRunning)
        let messages = subscriber.messages()
        let received = numbers(messages, topic: "uasense/s1/tracks")
        #expect(firstArrivals(received) == Array(0..<300))
        let c = output.counters
        #expect(c.disconnects >= 1 && c.connects >= 2)
        #expect(c.tracksAcked == 300 && c.spoolDepth == 0)
        // Detections: each one is either counted as sent or as dropped; what arrived was sent.
        #expect(c.detectionsSent + c.detectionsDropped == detections)
        let receivedDetections = numbers(messages, topic: "uasense/s1/detections")
        #expect(receivedDetections.count <= c.detectionsSent)
        #expect(receivedDetections == receivedDetections.sorted())
        let missing = Set(0..<detections).subtracting(receivedDetections).sorted()
        print("MQTT outage: detections not received: \(missing.first.map { "\($0)…\(missing.last ?? $0)" } ?? "none") "
              + "(the outage began after detection 199 and ended after 399)")
        print("MQTT outage: \(String(format: "%.1f", outageS)) s; tracks 300 published, \(received.count) received "
              + "(\(received.count - 300) duplicates); detections \(detections) published, \(c.detectionsSent) sent, "
              + "\(c.detectionsDropped) dropped, \(receivedDetections.count) received; \(output.summary)")
    }

    @Test func spoolCarriesTracksAcrossARestartDuringAnOutage() throws {
        let broker = try MosquittoBroker()
        let subscriber = try MosquittoSubscriber(port: broker.port, topics: ["uasense/s1/tracks"], clientID: "test-sub-restart")
        let spool = TempDir()
        let first = try MQTTOutput(settings: settings(broker, spool: spool))
        #expect(first.waitUntilConnected(timeoutS: 5))
        usleep(300_000)
        for n in 0..<50 { first.publishTrack(Self.track(n)) }
        #expect(first.flush(timeoutS: 5))
        broker.stop()
        for n in 50..<100 { first.publishTrack(Self.track(n)) }
        first.close(timeoutS: 1)
        #expect(first.counters.spoolDepth == 50)
        #expect(first.summary.contains("50 waiting in the spool"))

        try broker.start()
        let second = try MQTTOutput(settings: settings(broker, spool: spool))
        defer { second.close(timeoutS: 1) }
        #expect(second.counters.spoolDepth == 50)
        #expect(second.flush(timeoutS: 10))
        #expect(second.counters.tracksAcked == 50)
        #expect(subscriber.wait(timeoutS: 10) { Set(self.numbers($0, topic: "uasense/s1/tracks")).count >= 100 })
        #expect(firstArrivals(numbers(subscriber.messages(), topic: "uasense/s1/tracks")) == Array(0..<100))
    }

    @Test func connectsWhenTheBrokerStartsLater() throws {
        // A persistent subscriber session first, so what arrives before mosquitto_sub is back is kept.
        let broker = try MosquittoBroker()
        let subscriber = try MosquittoSubscriber(port: broker.port, topics: ["uasense/s1/tracks"], clientID: "test-sub-late")
        usleep(300_000)
        broker.stop()
        let spool = TempDir()
        let output = try MQTTOutput(settings: settings(broker, spool: spool))
        defer { output.close(timeoutS: 1) }
        for n in 0..<20 { output.publishTrack(Self.track(n)) }
        #expect(!output.waitUntilConnected(timeoutS: 1.5))
        #expect(output.counters.spoolDepth == 20)
        #expect(output.counters.lastError?.contains("cannot connect") == true)
        #expect(output.summary.contains("(never connected)"))
        try broker.start()
        #expect(output.waitUntilConnected(timeoutS: 8))
        #expect(output.counters.lastError == nil)
        #expect(output.flush(timeoutS: 5))
        #expect(subscriber.wait(timeoutS: 8) { Set(self.numbers($0, topic: "uasense/s1/tracks")).count >= 20 })
        #expect(firstArrivals(numbers(subscriber.messages(), topic: "uasense/s1/tracks")) == Array(0..<20))
    }

    @Test func retainedStatusAndAvailability() throws {
        let broker = try MosquittoBroker()
        let spool = TempDir()
        var s = try settings(broker, spool: spool, sensor: "north-7")
        s.heartbeatIntervalS = 0.3
        s.topicPrefix = "site/uas"
        let output = try MQTTOutput(settings: s)
        defer { output.close(timeoutS: 1) }
        output.setHealth(["sdr": .string("rtl-sdr ok"), "dropped_samples": .int(0)])
        #expect(output.waitUntilConnected(timeoutS: 5))
        for n in 0..<3 { output.publishDetection(Self.detection(n)) }
        output.flush(timeoutS: 2)
        usleep(800_000)  // a heartbeat or two after the detections

        // A late subscriber sees the retained messages.
        let late = try runChild("/usr/bin/mosquitto_sub", ["-h", "127.0.0.1", "-p", String(broker.port), "-v", "-C", "2", "-W", "5",
                                                             "-t", "site/uas/north-7/status", "-t", "site/uas/north-7/availability"])
        let lines = late.1.split(separator: "\n").map(String.init)
        #expect(lines.contains("site/uas/north-7/availability online"))
        let statusText = try #require(lines.first { $0.hasPrefix("site/uas/north-7/status ") }).dropFirst("site/uas/north-7/status ".count)
        let status = try #require(try JSONValue.parse(Data(statusText.utf8)).objectValue)
        #expect(status["sensor_id"] == .string("north-7"))
        #expect(status["sdr"] == .string("rtl-sdr ok"))
        #expect(status["time"]?.stringValue.flatMap(RFC3339.parse) != nil)
        #expect(status["connected_since"]?.stringValue.flatMap(RFC3339.parse) != nil)
        #expect(status["uptime_s"]?.doubleValue != nil)
        #expect(status["mqtt"]?.objectValue?["connects"] == .int(1))
        #expect(status["mqtt"]?.objectValue?["detections_sent"] == .int(3))

        output.close(timeoutS: 2)
        let after = try runChild("/usr/bin/mosquitto_sub", ["-h", "127.0.0.1", "-p", String(broker.port), "-v", "-C", "1", "-W", "5",
                                                              "-t", "site/uas/north-7/availability"])
        #expect(after.1 == "site/uas/north-7/availability offline\n")
    }

    @Test func lastWillSaysOfflineWhenTheConnectionDiesUncleanly() throws {
        // Another client taking over our client id makes the broker drop our connection without a
        // DISCONNECT, as when a sensor is SIGKILLed: the broker publishes our will.
        let broker = try MosquittoBroker()
        let watcher = try MosquittoSubscriber(port: broker.port, topics: ["uasense/w1/availability"])
        let spool = TempDir()
        let output = try MQTTOutput(settings: settings(broker, spool: spool, sensor: "w1"))
        defer { output.close(timeoutS: 1) }
        #expect(output.waitUntilConnected(timeoutS: 5))
        #expect(watcher.wait(timeoutS: 5) { $0.map(\.payload) == ["online"] })
        _ = try runChild("/usr/bin/mosquitto_pub", ["-h", "127.0.0.1", "-p", String(broker.port), "-i", "uasense-w1",
                                                  "-t", "uasense/other", "-m", "x"])
        // The will, then our reconnect announcing itself again.
        #expect(watcher.wait(timeoutS: 8) { $0.map(\.payload) == ["online", "offline", "online"] })
        #expect(output.counters.disconnects == 1)
        output.close(timeoutS: 2)
        #expect(watcher.wait(timeoutS: 3) { $0.map(\.payload) == ["online", "offline", "online", "offline"] })
    }

    @Test func wrongPasswordIsReported() throws {
        let broker = try MosquittoBroker(users: ["sensor": "right-password"])
        let spool = TempDir()
        let output = try MQTTOutput(settings: settings(broker, spool: spool, user: "sensor:wrong"))
        defer { output.close(timeoutS: 0.5) }
        #expect(!output.waitUntilConnected(timeoutS: 2))
        let deadline = Date().addingTimeInterval(5)
        while output.counters.lastError == nil, Date() < deadline { usleep(50_000) }
        let error = try #require(output.counters.lastError)
        #expect(error.contains("not authorised"))
        #expect(error.contains("user name and password"))
        #expect(output.summary.contains("not authorised"))
        #expect(!output.summary.contains("wrong"))

        let spool2 = TempDir()
        let good = try MQTTOutput(settings: settings(broker, spool: spool2, sensor: "s2", user: "sensor:right-password"))
        defer { good.close(timeoutS: 0.5) }
        #expect(good.waitUntilConnected(timeoutS: 5))
    }

    @Test func mqttsWithThrowawayCertificates() throws {
        let certs = TempDir()
        func openssl(_ arguments: [String]) throws {
            let (status, _, err) = try runProcess("/usr/bin/openssl", arguments)
            #expect(status == 0, "openssl \(arguments.first ?? ""): \(err)")
        }
        let ca = certs.file("ca.pem"), caKey = certs.file("ca.key")
        let server = certs.file("server.pem"), serverKey = certs.file("server.key"), csr = certs.file("server.csr")
        let ext = certs.write("ext.cnf", text: "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                     "-subj", "/CN=uasense test CA", "-keyout", caKey, "-out", ca])
        try openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-subj", "/CN=127.0.0.1", "-keyout", serverKey, "-out", csr])
        try openssl(["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-days", "2",
                     "-extfile", ext, "-out", server])
        let broker = try MosquittoBroker(tls: (ca, server, serverKey))
        let subscriber = try MosquittoSubscriber(port: broker.port, topics: ["uasense/t1/tracks"], extra: ["--cafile", ca])
        usleep(300_000)

        let spool = TempDir()
        var s = try MQTTSettings(url: "mqtts://127.0.0.1:\(broker.port)", sensorID: "t1", spoolDirectory: spool.path)
        s.caPath = ca
        s.reconnectMaxDelayS = 2
        let output = try MQTTOutput(settings: s)
        defer { output.close(timeoutS: 1) }
        #expect(output.waitUntilConnected(timeoutS: 5))
        for n in 0..<10 { output.publishTrack(Self.track(n)) }
        #expect(output.flush(timeoutS: 5))
        #expect(subscriber.wait(timeoutS: 5) { self.numbers($0, topic: "uasense/t1/tracks").count >= 10 })
        #expect(numbers(subscriber.messages(), topic: "uasense/t1/tracks") == Array(0..<10))
        #expect(output.summary.hasPrefix("mqtts://127.0.0.1:\(broker.port): "))

        // The broker dies mid-session (no TLS goodbye) and comes back: the output reconnects on its
        // own (libmosquitto's own thread would end for good on some TLS errors) and delivers.
        broker.stop(SIGKILL)
        let deadline = Date().addingTimeInterval(5)
        while output.counters.connected, Date() < deadline { usleep(20_000) }
        #expect(!output.counters.connected)
        try broker.start()
        let resubscriber = try MosquittoSubscriber(port: broker.port, topics: ["uasense/t1/tracks"], extra: ["--cafile", ca])
        usleep(300_000)
        #expect(output.waitUntilConnected(timeoutS: 10))
        #expect(output.counters.connects == 2)
        for n in 10..<20 { output.publishTrack(Self.track(n)) }
        #expect(output.flush(timeoutS: 10))
        #expect(resubscriber.wait(timeoutS: 5) { self.numbers($0, topic: "uasense/t1/tracks") == Array(10..<20) })

        // Without our CA the system's trust store refuses the broker, and lastError says so.
        let spool2 = TempDir()
        var untrusted = try MQTTSettings(url: "mqtts://127.0.0.1:\(broker.port)", sensorID: "t2", spoolDirectory: spool2.path)
        untrusted.reconnectMaxDelayS = 2
        let refused = try MQTTOutput(settings: untrusted)
        defer { refused.close(timeoutS: 0.5) }
        #expect(!refused.waitUntilConnected(timeoutS: 2))
        let error = refused.counters.lastError ?? ""
        #expect(error.contains("certificate verify failed"), "\(error)")
    }

    @Test func settingsErrorsAreClear() throws {
        let spool = TempDir()
        var s = try MQTTSettings(url: "mqtts://127.0.0.1:1", sensorID: "x", spoolDirectory: spool.path)
        s.caPath = spool.file("missing-ca.pem")
        #expect { try MQTTOutput(settings: s) } throws: { "\($0)".contains("missing-ca.pem") && "\($0)".contains("cannot read") }

        // Two outputs on one spool: the second is told who holds it.
        let t = try MQTTSettings(url: "mqtt://127.0.0.1:1", sensorID: "x", spoolDirectory: spool.path)
        let first = try MQTTOutput(settings: t)
        defer { first.close(timeoutS: 0) }
        #expect { try MQTTOutput(settings: t) } throws: { "\($0)".contains("in use by another uasense process (pid \(getpid()))") }
    }
}
