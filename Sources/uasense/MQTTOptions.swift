import ArgumentParser
import Foundation
import Outputs

/// `--mqtt` and its companions: the fleet bus (docs/MQTT.md).
struct MQTTOptions: ParsableArguments {
    @Option(name: .customLong("mqtt"), help: ArgumentHelp(
        "Publish to an MQTT broker: mqtt://[USER[:PASSWORD]@]HOST[:PORT] or mqtts://… — detections (QoS 0), track updates (QoS 1, spooled on disk until the broker has them), a retained status heartbeat and availability under uasense/SENSOR_ID/.",
        valueName: "url"))
    var url: String?

    @Option(name: .customLong("mqtt-user"), help: ArgumentHelp("User name for the broker (overrides the URL's).", valueName: "name"))
    var username: String?

    @Option(name: .customLong("mqtt-password"), help: ArgumentHelp(
        "Password for the broker (default: $UASENSE_MQTT_PASSWORD, else the URL's).", valueName: "password"))
    var password: String?

    @Option(name: .customLong("mqtt-ca"), help: ArgumentHelp("mqtts://: CA certificates (PEM) that signed the broker's (default: the system's).", valueName: "file.pem"))
    var caPath: String?

    @Option(name: .customLong("mqtt-cert"), help: ArgumentHelp("mqtts://: a client certificate (PEM), for brokers that ask for one.", valueName: "file.pem"))
    var certificatePath: String?

    @Option(name: .customLong("mqtt-key"), help: ArgumentHelp("mqtts://: the client certificate's private key (PEM).", valueName: "file.pem"))
    var keyPath: String?

    @Option(name: .customLong("mqtt-spool"), help: ArgumentHelp(
        "Directory of the on-disk spool that keeps track updates through broker outages and restarts (default: $STATE_DIRECTORY, $XDG_STATE_HOME/uasense or ~/.local/state/uasense, then mqtt-spool/SENSOR_ID).",
        valueName: "dir"))
    var spoolDirectory: String?

    @Option(name: .customLong("mqtt-heartbeat"), help: ArgumentHelp("Seconds between retained status messages.", valueName: "seconds"))
    var heartbeatIntervalS: Double = 30

    @Option(name: .customLong("mqtt-prefix"), help: ArgumentHelp("First topic level (a fleet may split sites this way).", valueName: "prefix"))
    var topicPrefix: String = "uasense"

    func validate() throws {
        guard heartbeatIntervalS.isFinite, heartbeatIntervalS >= 1, heartbeatIntervalS <= 86_400 else {
            throw ValidationError("--mqtt-heartbeat must be 1–86400 seconds")
        }
        if url == nil, username != nil || password != nil || caPath != nil || certificatePath != nil || keyPath != nil || spoolDirectory != nil {
            throw ValidationError("--mqtt-… options need --mqtt URL")
        }
    }

    /// Where the spool lives when `--mqtt-spool` is not given: a per-sensor folder under the
    /// service's state directory (systemd's StateDirectory=), else the user's.
    static func defaultSpoolDirectory(sensorID: String) -> String {
        let env = ProcessInfo.processInfo.environment
        let base = env["STATE_DIRECTORY"].flatMap { $0.split(separator: ":").first.map(String.init) }
            ?? env["XDG_STATE_HOME"].map { $0 + "/uasense" }
            ?? (env["HOME"] ?? NSHomeDirectory()) + "/.local/state/uasense"
        return base + "/mqtt-spool/" + sensorID
    }

    /// The sink, or nil without `--mqtt`. It connects in the background: a broker that is down
    /// now is not an error for a sensor (track updates wait in the spool).
    func makeOutput(sensorID: String, offline: Bool) throws -> MQTTOutput? {
        guard let url else { return nil }
        var settings = try MQTTSettings(url: url, sensorID: sensorID,
                                        spoolDirectory: spoolDirectory ?? Self.defaultSpoolDirectory(sensorID: sensorID))
        if let username { settings.username = username }
        if let secret = password ?? ProcessInfo.processInfo.environment["UASENSE_MQTT_PASSWORD"] { settings.password = secret }
        settings.caPath = caPath
        settings.certificatePath = certificatePath
        settings.keyPath = keyPath
        settings.heartbeatIntervalS = heartbeatIntervalS
        settings.topicPrefix = topicPrefix
        settings.waitWhenQueueFull = offline
        return try MQTTOutput(settings: settings)
    }
}
