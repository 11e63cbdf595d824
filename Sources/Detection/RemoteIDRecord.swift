import Captures
import IQ
import RemoteID

/// The detection record (`../shared/ARCHITECTURE.md`, docs/DETECTION_RECORD.md) for Remote ID:
/// one JSON object per decoded broadcast, every field with its unit in its name, unknown values
/// absent.
public enum RemoteIDRecord {
    public static let schemaVersion: Int64 = 1

    /// - Parameters:
    ///   - sensorID: who heard it.
    ///   - knownUASID: the ID this transmitter sent earlier, for a broadcast without a Basic ID.
    public static func json(_ frame: RemoteIDFrame, sensorID: String, knownUASID: String? = nil) -> JSONValue {
        var r: [String: JSONValue] = [
            "schema": .int(schemaVersion),
            "time": .string(RFC3339.format(frame.timestampS)),
            "sensor_id": .string(sensorID),
            "kind": .string("remote_id"),
            "family": .string(frame.transport.rawValue),
            "confidence": .double(frame.transport == .bleLegacy || frame.transport == .bleExtended ? 0.99 : 0.95),
            "counter": .int(Int64(frame.counter)),
        ]
        if let f = frame.frequencyHz { r["freq_hz"] = .number(f) }
        if let rssi = frame.rssiDBm { r["rssi_dbm"] = .number(rssi) }
        if let ch = frame.channel { r["channel"] = .int(Int64(ch)) }
        if let a = frame.address { r["address"] = .string(a) }
        if let phy = frame.phy { r["phy"] = .string(phy) }
        if let v = frame.sampleIndex { r["sample_index"] = .int(v) }
        if let v = frame.snrDB { r["snr_db"] = .double((v * 10).rounded() / 10) }
        if let v = frame.rssiDBFS { r["rssi_dbfs"] = .double((v * 10).rounded() / 10) }
        let messages = flatten(frame.message)
        for message in messages {
            switch message {
            case .basicID(let b) where r["uas_id"] == nil && !b.uasID.isEmpty:  // all-NUL ID: unknown
                r["uas_id"] = .string(b.uasID)
            case .location(let l):
                // The summary fields carry a position only when it is one; the raw values (flagged
                // by the tracker) stay in `remote_id`.
                if let lat = l.latitudeDeg, let lon = l.longitudeDeg, isPosition(lat, lon) {
                    r["lat"] = .double(lat)
                    r["lon"] = .double(lon)
                }
                if let v = l.altitudeGeodeticM { r["alt_geo_m"] = .number(v) }
            case .system(let s):
                if let lat = s.operatorLatitudeDeg, let lon = s.operatorLongitudeDeg, isPosition(lat, lon) {
                    r["operator_lat"] = .double(lat)
                    r["operator_lon"] = .double(lon)
                }
            default:
                break
            }
        }
        if r["uas_id"] == nil, let knownUASID { r["uas_id"] = .string(knownUASID) }
        r["remote_id"] = .array(messages.map(messageJSON))
        return .object(r)
    }

    /// Latitude and longitude inside their ranges (the wire allows ±214°).
    public static func isPosition(_ latDeg: Double, _ lonDeg: Double) -> Bool {
        abs(latDeg) <= 90 && abs(lonDeg) <= 180
    }

    /// The record's name of a message type (`type` in `remote_id`, keys of a track's `message_counts`).
    public static func typeName(_ type: RemoteID.MessageType) -> String {
        switch type {
        case .basicID: return "basic_id"
        case .location: return "location"
        case .authentication: return "authentication"
        case .selfID: return "self_id"
        case .system: return "system"
        case .operatorID: return "operator_id"
        case .messagePack: return "pack"
        }
    }

    /// The messages of a frame (a pack's contents, or the single message).
    public static func flatten(_ message: RemoteID.Message) -> [RemoteID.Message] {
        if case .pack(let p) = message { return p.messages }
        return [message]
    }

    public static func messageJSON(_ message: RemoteID.Message) -> JSONValue {
        var o: [String: JSONValue] = [:]
        func put(_ key: String, _ value: Double?) { if let value { o[key] = .number(value) } }
        switch message {
        case .basicID(let m):
            o = ["type": .string("basic_id"), "id_type": .int(Int64(m.idType)), "ua_type": .int(Int64(m.uaType)),
                 "uas_id": .string(m.uasID), "protocol_version": .int(Int64(m.protocolVersion))]
        case .location(let m):
            o = ["type": .string("location"), "status": .int(Int64(m.status)),
                 "height_type": .string(m.heightAboveGround ? "above_ground" : "above_takeoff"),
                 "protocol_version": .int(Int64(m.protocolVersion))]
            put("direction_deg", m.directionDeg)
            put("speed_h_mps", m.speedHorizontalMps)
            put("speed_v_mps", m.speedVerticalMps)
            if let v = m.latitudeDeg { o["lat"] = .double(v) }
            if let v = m.longitudeDeg { o["lon"] = .double(v) }
            put("alt_pressure_m", m.altitudePressureM)
            put("alt_geo_m", m.altitudeGeodeticM)
            put("height_m", m.heightM)
            put("accuracy_h_m", m.horizontalAccuracyM)
            put("accuracy_v_m", m.verticalAccuracyM)
            put("accuracy_baro_m", m.baroAccuracyM)
            put("accuracy_speed_mps", m.speedAccuracyMps)
            put("timestamp_in_hour_s", m.timestampS)
            put("timestamp_accuracy_s", m.timestampAccuracyS)
        case .authentication(let m):
            o = ["type": .string("authentication"), "auth_type": .int(Int64(m.authType)), "page": .int(Int64(m.pageNumber)),
                 "data_hex": .string(m.data.map { b in let s = String(b, radix: 16); return s.count == 1 ? "0" + s : s }.joined()),
                 "protocol_version": .int(Int64(m.protocolVersion))]
            if let v = m.lastPageIndex { o["last_page"] = .int(Int64(v)) }
            if let v = m.length { o["length"] = .int(Int64(v)) }
            if let t = m.timestampS { o["timestamp"] = .string(RFC3339.format(t, fractionDigits: 0)) }
        case .selfID(let m):
            o = ["type": .string("self_id"), "description_type": .int(Int64(m.descriptionType)), "text": .string(m.text),
                 "protocol_version": .int(Int64(m.protocolVersion))]
        case .system(let m):
            o = ["type": .string("system"), "operator_location_type": .int(Int64(m.operatorLocationType)),
                 "classification_type": .int(Int64(m.classificationType)), "area_count": .int(Int64(m.areaCount)),
                 "area_radius_m": .number(m.areaRadiusM), "eu_category": .int(Int64(m.euCategory)),
                 "eu_class": .int(Int64(m.euClass)), "protocol_version": .int(Int64(m.protocolVersion))]
            if let v = m.operatorLatitudeDeg { o["operator_lat"] = .double(v) }
            if let v = m.operatorLongitudeDeg { o["operator_lon"] = .double(v) }
            put("area_ceiling_m", m.areaCeilingM)
            put("area_floor_m", m.areaFloorM)
            put("operator_alt_geo_m", m.operatorAltitudeGeodeticM)
            if let t = m.timestampS { o["timestamp"] = .string(RFC3339.format(t, fractionDigits: 0)) }
        case .operatorID(let m):
            o = ["type": .string("operator_id"), "operator_id_type": .int(Int64(m.operatorIDType)),
                 "operator_id": .string(m.operatorID), "protocol_version": .int(Int64(m.protocolVersion))]
        case .pack(let p):
            o = ["type": .string("pack"), "messages": .array(p.messages.map(messageJSON))]
        }
        return .object(o)
    }
}
