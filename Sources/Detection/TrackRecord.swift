import IQ
import RemoteID

/// The track record (`kind` `track`, docs/DETECTION_RECORD.md and docs/detection-record.schema.json):
/// one JSON object per track event, in the same stream as the detection records. Units in the
/// names, unknown values absent.
public enum TrackRecord {
    public static func json(_ event: TrackEvent, sensorID: String) -> JSONValue {
        let s = event.snapshot
        var r: [String: JSONValue] = [
            "schema": .int(RemoteIDRecord.schemaVersion),
            "kind": .string("track"),
            "time": .string(RFC3339.format(event.timeS)),
            "sensor_id": .string(sensorID),
            "track_id": .string(event.trackID),
            "families": .array(s.families.map(JSONValue.string)),
            "addresses": .array(s.addresses.map(JSONValue.string)),
            "first_seen_time": .string(RFC3339.format(s.firstSeenS)),
            "last_seen_time": .string(RFC3339.format(s.lastSeenS)),
            "frame_count": .int(Int64(s.frameCount)),
            "message_counts": .object(s.messageCounts.mapValues { .int(Int64($0)) }),
            "flags": .array(s.flags.map(JSONValue.string)),
        ]
        switch event.kind {
        case .update:
            r["event"] = .string("update")
        case .lost(.timeout):
            r["event"] = .string("lost")
            r["reason"] = .string("timeout")
        case .lost(.identified(let replacement)):
            r["event"] = .string("lost")
            r["reason"] = .string("identified")
            r["replaced_by_track_id"] = .string(replacement)
        }
        if let v = s.uasID { r["uas_id"] = .string(v) }
        if let v = s.uaType { r["ua_type"] = .int(Int64(v)) }
        if let l = s.location, let lat = l.latitudeDeg, let lon = l.longitudeDeg {
            r["lat"] = .double(lat)
            r["lon"] = .double(lon)
            if let t = s.positionTimeS { r["position_time"] = .string(RFC3339.format(t)) }
            r["location_status"] = .int(Int64(l.status))
            func put(_ key: String, _ value: Double?) { if let value { r[key] = .number(value) } }
            put("alt_geo_m", l.altitudeGeodeticM)
            put("alt_pressure_m", l.altitudePressureM)
            if let h = l.heightM {
                r["height_m"] = .number(h)
                r["height_type"] = .string(l.heightAboveGround ? "above_ground" : "above_takeoff")
            }
            put("speed_h_mps", l.speedHorizontalMps)
            put("speed_v_mps", l.speedVerticalMps)
            put("direction_deg", l.directionDeg)
            put("accuracy_h_m", l.horizontalAccuracyM)
            put("accuracy_v_m", l.verticalAccuracyM)
        }
        if let lat = s.operatorLatitudeDeg, let lon = s.operatorLongitudeDeg {
            r["operator_lat"] = .double(lat)
            r["operator_lon"] = .double(lon)
        }
        if let v = s.operatorLocationType { r["operator_location_type"] = .int(Int64(v)) }
        if let v = s.operatorAltitudeGeodeticM { r["operator_alt_geo_m"] = .number(v) }
        if let v = s.operatorID { r["operator_id"] = .string(v) }
        if let v = s.selfIDText { r["self_id_text"] = .string(v) }
        return .object(r)
    }
}
