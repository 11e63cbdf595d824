import ArgumentParser
import Foundation
import Outputs

/// `--cot` and its companions: TAK Cursor-on-Target output (docs/COT.md).
struct CoTOptions: ParsableArguments {
    @Option(name: .customLong("cot"), help: ArgumentHelp(
        "Send Remote ID detections as TAK Cursor-on-Target: udp://239.2.3.1:6969 (mesh SA multicast; any udp://HOST:PORT for unicast), tcp://HOST:8087 or tls://HOST:8089 (TAK Server).",
        valueName: "url"))
    var destination: String?

    @Option(name: .customLong("cot-rate-limit"), help: ArgumentHelp(
        "Send at most one CoT update per UAS per this many seconds (0 = every broadcast).", valueName: "seconds"))
    var minUpdateIntervalS: Double = 1

    @Option(name: .customLong("cot-friend"), help: ArgumentHelp(
        "A UAS ID to show as friendly (a-f-…) rather than unknown; repeat for more.", valueName: "uas-id"))
    var friends: [String] = []

    @Option(name: .customLong("cot-friends-file"), help: ArgumentHelp(
        "File of UAS IDs to show as friendly, one per line ('#' starts a comment).", valueName: "file"))
    var friendsFile: String?

    @Option(name: .customLong("sensor-position"), help: ArgumentHelp(
        "Where this sensor stands (WGS-84 degrees, metres above the ellipsoid). CoT places UAS heard without a position here, with ce the estimated radius.",
        valueName: "lat,lon[,alt]"))
    var sensorPosition: String?

    @Option(name: .customLong("cot-ttl"), help: ArgumentHelp("Multicast TTL for udp:// (1 = this network only).", valueName: "hops"))
    var multicastTTL: Int32 = 1

    @Option(name: .customLong("cot-cert"), help: ArgumentHelp(
        "tls://: the client certificate and key, PKCS#12 as TAK Server issues them.", valueName: "file.p12"))
    var certificate: String?

    @Option(name: .customLong("cot-cert-password"), help: ArgumentHelp(
        "Password of --cot-cert (default: $UASENSE_COT_CERT_PASSWORD, else TAK's atakatak).", valueName: "password"))
    var certificatePassword: String?

    @Option(name: .customLong("cot-ca"), help: ArgumentHelp(
        "tls://: CA certificates (PEM) that signed the TAK Server's certificate (default: the system's).", valueName: "file.pem"))
    var certificateAuthority: String?

    /// The sink, or nil without `--cot`. Opening it connects a tcp:// destination.
    func makeOutput(sensorID: String) throws -> CoTOutput? {
        guard let destination else { return nil }
        guard minUpdateIntervalS.isFinite, minUpdateIntervalS >= 0, minUpdateIntervalS <= 3600 else {
            throw OutputError.invalidArgument("--cot-rate-limit must be 0–3600 seconds")
        }
        var settings = CoTSettings(sensorID: sensorID, sensorPosition: try sensorPosition.map(GeoPosition.init(parsing:)))
        settings.minUpdateIntervalS = minUpdateIntervalS
        var ids = Set(friends)
        if let friendsFile {
            guard let text = try? String(contentsOfFile: friendsFile, encoding: .utf8) else {
                throw OutputError.invalidArgument("--cot-friends-file \(friendsFile): cannot read the file")
            }
            for line in text.split(whereSeparator: \.isNewline) {
                let id = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
                    .trimmingCharacters(in: .whitespaces)
                if !id.isEmpty { ids.insert(id) }
            }
        }
        settings.friendlyUASIDs = ids
        let tls = certificate.map { path in
            TLSClientOptions(certificatePath: path,
                             certificatePassword: certificatePassword
                                 ?? ProcessInfo.processInfo.environment["UASENSE_COT_CERT_PASSWORD"] ?? "atakatak",
                             caPath: certificateAuthority)
        }
        return try CoTOutput(destination: destination, settings: settings, multicastTTL: multicastTTL, tls: tls)
    }
}
