/// Bluetooth LE Coded PHY (Bluetooth 5 "Long Range") bit processing: the rate-½ convolutional
/// code, the pattern mapper and a soft-decision Viterbi decoder.
///
/// ```
/// on air:  preamble      80 symbols, 00111100 ×10, not coded
///          FEC block 1   access address (32 bits) | CI (2 bits: 0 = S=8, 1 = S=2) | TERM1 (3 zero bits)
///                        always coded at S=8: 37 bits → 74 coded bits → 296 symbols
///          FEC block 2   PDU | CRC-24 | TERM2 (3 zero bits), coded at S=8 or S=2 as CI says;
///                        PDU and CRC whitened first (as on LE 1M), then coded
/// code:    K = 4 (8 states), G0 = 1 + D + D² + D³, G1 = 1 + D² + D³; per input bit G0's output
///          goes first, then G1's; each block starts in state 0 and the TERM bits return it there
/// mapper:  S=2: a coded bit is one symbol; S=8: coded 0 → symbols 0 0 1 1, coded 1 → 1 1 0 0
/// example: FEC block 1 of every advertising packet (AA 0x8E89BED6 sent LSB first: 0 1 1 0 1 0 1 1 …,
///          CI 0 = S=8), as coded bit pairs: 00 11 01 01 11 01 00 10 01 11 10 10 01 01 10 11 …
///          and at S=8 the first pair goes on air as 0011 0011, the second as 1100 1100
/// ```
public enum CodedPHY {
    public enum Coding: Int, Sendable, Equatable {
        case s8 = 0
        case s2 = 1

        /// Symbols per coded bit.
        public var patternLength: Int { self == .s8 ? 4 : 1 }
    }

    /// The preamble's 8-symbol period, in transmission order.
    public static let preamblePeriod: [UInt8] = [0, 0, 1, 1, 1, 1, 0, 0]
    public static let preambleSymbols = 80
    /// FEC block 1 length in symbols (37 bits, rate ½, 4 symbols per coded bit).
    public static let block1Symbols = 37 * 2 * 4
    static let termBits = 3

    /// The convolutional encoder from state 0: two coded bits per input bit (G0 first). Input
    /// bits are 0/1; the caller appends the three TERM zeros.
    public static func encode(_ bits: [UInt8]) -> [UInt8] {
        var coded: [UInt8] = []
        coded.reserveCapacity(bits.count * 2)
        var state = 0  // bit 0 = previous input, bit 1 = the one before, bit 2 = the one before that
        for b in bits {
            let bit = Int(b & 1)
            let (g0, g1) = outputs(bit: bit, state: state)
            coded.append(UInt8(g0))
            coded.append(UInt8(g1))
            state = (state << 1 | bit) & 7
        }
        return coded
    }

    /// The two coded bits for input `bit` leaving `state`.
    @inline(__always)
    static func outputs(bit: Int, state: Int) -> (Int, Int) {
        let d1 = state & 1, d2 = state >> 1 & 1, d3 = state >> 2 & 1
        return (bit ^ d1 ^ d2 ^ d3, bit ^ d2 ^ d3)
    }

    /// Coded bits to symbols (0/1) for a coding.
    public static func map(_ coded: [UInt8], coding: Coding) -> [UInt8] {
        guard coding == .s8 else { return coded }
        return coded.flatMap { $0 == 0 ? [0, 0, 1, 1] : [1, 1, 0, 0] as [UInt8] }
    }

    /// The symbols of a whole advertising packet on the Coded PHY: preamble, FEC block 1 with the
    /// advertising access address and `coding`'s CI, FEC block 2 with the PDU and its CRC
    /// whitened for `channel`.
    public static func airSymbols(pdu: [UInt8], channel: Int, coding: Coding,
                                  accessAddress: UInt32 = BLE.advertisingAccessAddress) -> [UInt8] {
        var symbols: [UInt8] = []
        for _ in 0..<(preambleSymbols / 8) { symbols += preamblePeriod }
        var block1 = (0..<32).map { UInt8(accessAddress >> $0 & 1) }
        block1 += [UInt8(coding.rawValue & 1), UInt8(coding.rawValue >> 1 & 1), 0, 0, 0]
        symbols += map(encode(block1), coding: .s8)
        var body = pdu + BLE.crcBytes(BLE.crc24(pdu))
        BLE.whiten(&body, channel: channel)
        var block2: [UInt8] = body.flatMap { byte in (0..<8).map { byte >> $0 & 1 } }
        block2 += [0, 0, 0]
        symbols += map(encode(block2), coding: coding)
        return symbols
    }

    /// Symbols in FEC block 2 for a PDU of `pduBytes` bytes (header included).
    public static func block2Symbols(pduBytes: Int, coding: Coding) -> Int {
        ((pduBytes + 3) * 8 + termBits) * 2 * coding.patternLength
    }
}

/// Soft-decision Viterbi decoder for the Coded PHY's K = 4 code. Soft values are one per coded
/// bit, positive meaning "1", with magnitude the confidence; the decoder maximises the
/// correlation between them and the code's outputs. Buffers are kept between calls.
public struct CodedViterbi {
    private var metrics = [Float](repeating: 0, count: 8)
    private var next = [Float](repeating: 0, count: 8)
    /// One byte per input bit: bit s set when state s's survivor came from the predecessor whose
    /// oldest register bit was 1.
    private var decisions: [UInt8] = []

    public init() {}

    /// Decodes `soft.count / 2` input bits (0/1). `terminated`: the encoder ended in state 0 (the
    /// block's TERM bits), else the best final state is taken.
    public mutating func decode(_ soft: UnsafeBufferPointer<Float>, terminated: Bool) -> [UInt8] {
        let steps = soft.count / 2
        decisions.removeAll(keepingCapacity: true)
        decisions.reserveCapacity(steps)
        // Start in state 0: the other states begin far behind.
        for s in 0..<8 { metrics[s] = s == 0 ? 0 : -1e30 }
        for k in 0..<steps {
            let a = soft[2 * k], b = soft[2 * k + 1]
            var chosen: UInt8 = 0
            for s in 0..<8 {
                // State s = (previous three inputs, newest in bit 0); its predecessors are
                // p = s >> 1 with the oldest bit 0 or 1, and the input that led here is s & 1.
                let bit = s & 1
                let p0 = s >> 1, p1 = s >> 1 | 4
                let (x0, y0) = CodedPHY.outputs(bit: bit, state: p0)
                let (x1, y1) = CodedPHY.outputs(bit: bit, state: p1)
                let m0 = metrics[p0] + (x0 == 1 ? a : -a) + (y0 == 1 ? b : -b)
                let m1 = metrics[p1] + (x1 == 1 ? a : -a) + (y1 == 1 ? b : -b)
                if m1 > m0 {
                    next[s] = m1
                    chosen |= 1 << UInt8(s)
                } else {
                    next[s] = m0
                }
            }
            swap(&metrics, &next)
            decisions.append(chosen)
        }
        var state = 0
        if !terminated {
            for s in 1..<8 where metrics[s] > metrics[state] { state = s }
        }
        var bits = [UInt8](repeating: 0, count: steps)
        for k in stride(from: steps - 1, through: 0, by: -1) {
            bits[k] = UInt8(state & 1)
            let fromOldestOne = decisions[k] >> UInt8(state) & 1 == 1
            state = state >> 1 | (fromOldestOne ? 4 : 0)
        }
        return bits
    }

    public mutating func decode(_ soft: [Float], terminated: Bool) -> [UInt8] {
        soft.withUnsafeBufferPointer { decode($0, terminated: terminated) }
    }
}
