import IQ

/// One Cursor-on-Target event (CoT 2.0, "TAK Protocol version 0"): what (`type`), which object
/// (`uid`), where (`point`), when (`time`/`start`/`stale`) and free detail.
///
/// Wire form, one event per UDP datagram or back to back on a TCP stream, with no newline
/// anywhere (TAK receivers split a stream after `</event>`):
///
///     <?xml version="1.0" encoding="UTF-8" standalone="yes"?><event version="2.0"
///      uid="uasense-MFG1A0123456789" type="a-u-A-M-H-Q" how="m-g" time="2021-05-21T21:52:11.162Z"
///      start="2021-05-21T21:52:11.162Z" stale="2021-05-21T21:52:21.162Z"><point lat="45.5457468"
///      lon="-122.9681496" hae="237.0" ce="30.0" le="25.0"/><detail>…</detail></event>
///
/// Unknown `hae`, `ce` and `le` are written 9999999.0, the CoT convention for "unknown" (a 0 would
/// draw as a perfect fix on the ellipsoid).
public struct CoTEvent: Sendable, Equatable {
    public var uid: String
    public var type: String
    /// How the position was obtained: `m-g` GPS (reported by the aircraft), `m-c` configured
    /// (the sensor's own position from its configuration), `h-e` estimated.
    public var how: String
    /// Seconds since 1970 UTC.
    public var timeS: Double
    public var startS: Double
    public var staleS: Double
    public var latitudeDeg: Double
    public var longitudeDeg: Double
    /// Height above the WGS-84 ellipsoid; nil = unknown.
    public var heightAboveEllipsoidM: Double?
    /// Horizontal error radius (`ce`); nil = unknown.
    public var circularErrorM: Double?
    /// Vertical error (`le`); nil = unknown.
    public var linearErrorM: Double?
    public var detail: [CoTDetail]

    /// The value CoT uses for an unknown `hae`, `ce` or `le`.
    public static let unknownValue = 9_999_999.0

    public init(uid: String, type: String, how: String, timeS: Double, startS: Double? = nil, staleS: Double,
                latitudeDeg: Double, longitudeDeg: Double, heightAboveEllipsoidM: Double? = nil,
                circularErrorM: Double? = nil, linearErrorM: Double? = nil, detail: [CoTDetail] = []) {
        self.uid = uid
        self.type = type
        self.how = how
        self.timeS = timeS
        self.startS = startS ?? timeS
        self.staleS = staleS
        self.latitudeDeg = latitudeDeg
        self.longitudeDeg = longitudeDeg
        self.heightAboveEllipsoidM = heightAboveEllipsoidM
        self.circularErrorM = circularErrorM
        self.linearErrorM = linearErrorM
        self.detail = detail
    }

    /// The event as one XML document (UTF-8), without a trailing newline.
    public var xml: String {
        var out = #"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#
        out += "<event version=\"2.0\""
        XML.attribute("uid", uid, into: &out)
        XML.attribute("type", type, into: &out)
        XML.attribute("how", how, into: &out)
        XML.attribute("time", Self.timestamp(timeS), into: &out)
        XML.attribute("start", Self.timestamp(startS), into: &out)
        XML.attribute("stale", Self.timestamp(staleS), into: &out)
        out += "><point"
        XML.attribute("lat", XML.fixed(latitudeDeg, decimals: 7), into: &out)
        XML.attribute("lon", XML.fixed(longitudeDeg, decimals: 7), into: &out)
        XML.attribute("hae", Self.orUnknown(heightAboveEllipsoidM), into: &out)
        XML.attribute("ce", Self.orUnknown(circularErrorM), into: &out)
        XML.attribute("le", Self.orUnknown(linearErrorM), into: &out)
        out += "/>"
        if !detail.isEmpty {
            out += "<detail>"
            for d in detail { d.write(into: &out) }
            out += "</detail>"
        }
        out += "</event>"
        return out
    }

    /// `2021-05-21T21:52:11.162Z`: milliseconds, as TAK clients and pytak write them.
    public static func timestamp(_ secondsSince1970: Double) -> String {
        RFC3339.format(secondsSince1970, fractionDigits: 3)
    }

    static func orUnknown(_ value: Double?) -> String {
        guard let value, value.isFinite, abs(value) < unknownValue else { return "9999999.0" }
        return XML.fixed(value, decimals: 1)
    }
}

/// The children of `<detail>` that uasense writes. TAK clients render `contact`, `track`,
/// `remarks`, `link` and `usericon`; unknown elements (`__uasense`) pass through TAK Server and
/// clients untouched, for machine readers.
public enum CoTDetail: Sendable, Equatable {
    /// The label on the map.
    case contact(callsign: String)
    /// Heading (degrees from true north) and ground speed.
    case track(courseDeg: Double, speedMps: Double)
    /// Where the position and altitude came from (`GPS`, `USER`, …).
    case precisionLocation(geopointSource: String, altitudeSource: String)
    /// Ties this object to another: `relation="p-p"` names the parent (the aircraft) of an operator
    /// or home marker.
    case link(uid: String, type: String, relation: String)
    case remarks(String)
    case userIcon(path: String)
    /// Any other element with attributes in this order (names are uasense's, values are escaped).
    case element(name: String, attributes: [Attribute])
    /// An empty element, e.g. `__forcedelete`.
    case flag(name: String)

    public struct Attribute: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    func write(into out: inout String) {
        switch self {
        case .contact(let callsign):
            out += "<contact"
            XML.attribute("callsign", callsign, into: &out)
            out += "/>"
        case .track(let course, let speed):
            out += "<track"
            XML.attribute("course", XML.fixed(course, decimals: 1), into: &out)
            XML.attribute("speed", XML.fixed(speed, decimals: 2), into: &out)
            out += "/>"
        case .precisionLocation(let point, let altitude):
            out += "<precisionlocation"
            XML.attribute("geopointsrc", point, into: &out)
            XML.attribute("altsrc", altitude, into: &out)
            out += "/>"
        case .link(let uid, let type, let relation):
            out += "<link"
            XML.attribute("uid", uid, into: &out)
            XML.attribute("type", type, into: &out)
            XML.attribute("relation", relation, into: &out)
            out += "/>"
        case .remarks(let text):
            out += "<remarks>" + XML.escaped(text) + "</remarks>"
        case .userIcon(let path):
            out += "<usericon"
            XML.attribute("iconsetpath", path, into: &out)
            out += "/>"
        case .element(let name, let attributes):
            out += "<" + name
            for a in attributes { XML.attribute(a.name, a.value, into: &out) }
            out += "/>"
        case .flag(let name):
            out += "<" + name + "/>"
        }
    }
}

/// XML text helpers: escaping that keeps any string (a hostile UAS ID included) inside its
/// attribute or element, and locale-free fixed-point numbers.
public enum XML {
    /// Escapes markup characters and replaces what XML 1.0 cannot carry at all (C0 controls other
    /// than tab, LF, CR; U+FFFE, U+FFFF) with U+FFFD. Tab, LF and CR become character references
    /// so that attribute-value normalisation does not turn them into spaces.
    public static func escaped(_ text: String) -> String {
        var out = ""
        out.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\t": out += "&#9;"
            case "\n": out += "&#10;"
            case "\r": out += "&#13;"
            default:
                if scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF {
                    out.unicodeScalars.append("\u{FFFD}")
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    static func attribute(_ name: String, _ value: String, into out: inout String) {
        out += " " + name + "=\"" + escaped(value) + "\""
    }

    /// `v` rounded to `decimals` places, written without exponent or locale (`-122.9681496`).
    /// Non-finite values have no CoT spelling; they become 0 and callers keep them out.
    public static func fixed(_ v: Double, decimals: Int) -> String {
        guard v.isFinite else { return "0" }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (abs(v) * scale).rounded()
        // Beyond 2^53 the scaled value has no fraction left to print.
        guard scaled < 9.0e15 else { return String(Int64(v.rounded())) }
        let units = UInt64(scaled)
        let whole = units / UInt64(scale)
        var text = (v < 0 && units != 0 ? "-" : "") + String(whole)
        if decimals > 0 {
            let fraction = String(units % UInt64(scale))
            text += "." + String(repeating: "0", count: decimals - fraction.count) + fraction
        }
        return text
    }
}
