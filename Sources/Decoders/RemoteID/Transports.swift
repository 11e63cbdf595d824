/// Remote ID inside its transports' containers.
///
/// - Bluetooth (legacy and extended advertising): AD structure type 0x16 (service data, 16-bit
///   UUID) whose data is `FA FF` (UUID 0xFFFA, little-endian) `0D` (application code: Open Drone
///   ID) `counter` `message or pack`. Example AD: `1e 16 fa ff 0d 07 12 26 24 …` (a Location,
///   counter 7).
/// - Wi-Fi beacon: vendor-specific element 221 with OUI `FA 0B BC`, type `0D`, then `counter pack`.
extension RemoteID {
    public struct Framed: Equatable, Sendable {
        /// The sender's message counter (changes when the content does; used to drop repeats).
        public var counter: UInt8
        public var message: Message

        public init(counter: UInt8, message: Message) {
            self.counter = counter
            self.message = message
        }
    }

    /// NAN service info: the message counter, then a message or pack.
    public static func decodeNANServiceInfo(_ info: [UInt8]) -> Result<Framed, DecodeFailure>? {
        guard let counter = info.first else { return nil }
        return decode(info[1...]).map { Framed(counter: counter, message: $0) }
    }

    /// The data of a Bluetooth service-data AD structure (after the AD type byte).
    public static func decodeBluetoothServiceData(_ data: [UInt8]) -> Result<Framed, DecodeFailure>? {
        guard data.count >= 4, data[0] == 0xFA, data[1] == 0xFF, data[2] == 0x0D else { return nil }  // not Remote ID
        return decode(data[4...]).map { Framed(counter: data[3], message: $0) }
    }

    /// The body of a Wi-Fi vendor-specific element (after its ID and length bytes).
    public static func decodeWiFiVendorElement(_ body: [UInt8]) -> Result<Framed, DecodeFailure>? {
        guard body.count >= 5, body[0] == 0xFA, body[1] == 0x0B, body[2] == 0xBC, body[3] == 0x0D else { return nil }
        return decode(body[5...]).map { Framed(counter: body[4], message: $0) }
    }
}
