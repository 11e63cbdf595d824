import Foundation

/// The LE Coded (Bluetooth 5 Long Range) search of `BLEReceiver`; the bit layer is in
/// `CodedFEC.swift`.
///
/// ```
/// on air:  preamble 00111100 ×10 (80 µs) | FEC block 1, S=8: AA + CI + TERM1 (296 µs)
///          | FEC block 2, S=8 or S=2: PDU + CRC + TERM2 (up to 17 ms at S=8)
/// example: an ADV_EXT_IND pointing at its AUX_ADV_IND (ADI, AuxPtr: channel 23, 300 µs units, Coded):
///          PDU 07 0a 05 18 2a 10 57 86 04 …, 80 + 296 + (10 + 5)·8·2·4 + 24 symbols ≈ 1.4 ms at S=8
/// ```
/// Method: the preamble's ±1 pattern is zero-mean, so its correlation with the discriminator
/// ignores the carrier offset; it is computed at every sample from one 8-symbol period summed
/// over the ten periods, and normalised by the window's spread so the threshold means the same at
/// any level. A hit is refined to the best quarter sample within three periods, and FEC block 1
/// is decoded there and one period either side (the preamble repeats, so a noisy peak can be a
/// period off): symbols sampled with a Gardner timing loop (a long S=8 packet drifts a symbol at
/// 50 ppm), demapped to soft coded bits, Viterbi-decoded; the advertising access address must come
/// out exactly. Block 2 follows at the coding CI names, then de-whitening and CRC-24.
///
/// The S=8 pattern map is written two ways in public sources (0 → 0011 in the specification's
/// table, 0 → 1100 in an SDR decoder's notes); block 1 is tried both ways, which costs one more
/// 37-bit Viterbi per preamble, and the way that yields the access address is used for block 2.
final class CodedSearch {
    var next: Int64 = 0
    /// Absolute sample the packet being received needs before it is worth decoding again.
    var waitUntil: Int64 = 0
    let preambleOffsets: [Int]
    let phaseOffsets: [Int]
    let periodOffsets: [Int]
    let span: Int
    // Scratch, reused.
    var scratch: [Float] = []
    var symbols: [Float] = []
    var soft: [Float] = []
    var viterbi = CodedViterbi()

    /// The preamble's symbols as ±1 (bit 1 = +1).
    static let periodSigns: [Float] = CodedPHY.preamblePeriod.map { $0 == 1 ? 1 : -1 }
    /// Normalised correlation a candidate needs: about 4.5 standard deviations of noise.
    static let threshold: Float = 0.5

    init(samplesPerSymbol sps: Double) {
        preambleOffsets = (0..<CodedPHY.preambleSymbols).map { Int((Double($0) * sps).rounded()) }
        phaseOffsets = Array(preambleOffsets.prefix(8))
        periodOffsets = (0..<10).map { Int((Double($0 * 8) * sps).rounded()) }
        span = preambleOffsets[79] + 1
    }
}

/// Samples symbol after symbol at a rate kept in step by a Gardner detector on the discriminator:
/// at a transition the value halfway between two symbols should be the carrier offset, and its
/// excess, signed by the transition's direction, says how late the clock is.
struct SymbolClock {
    var position: Double
    let step: Double
    let offset: Float
    let clip: Float
    /// Converts the detector output to samples of timing error.
    let errorScale: Float
    var previous: Float = 0
    static let gain: Float = 0.04

    init(position: Double, samplesPerSymbol: Double, offset: Float, previous: Float) {
        self.position = position
        step = samplesPerSymbol
        self.offset = offset
        // Peak deviation in radians per sample; the discriminator reaches about 0.9 of it.
        let swing = Float(2 * Double.pi * 250e3 / (samplesPerSymbol * 1e6)) * 0.9
        clip = 1.6 * swing
        errorScale = Float(samplesPerSymbol) / (4 * swing * swing)
        self.previous = previous
    }

    /// Whether the next symbol lies inside `count` buffered samples.
    func available(_ count: Int) -> Bool { position + 2 < Double(count) }

    mutating func next(_ values: UnsafeBufferPointer<Float>) -> Float {
        let s = max(-clip, min(clip, BLEReceiver.interpolate(values, at: position) - offset))
        let mid = max(-clip, min(clip, BLEReceiver.interpolate(values, at: position - step / 2) - offset))
        let lateSamples = max(-1, min(1, (s - previous) * mid * errorScale))
        previous = s
        position += step - Double(Self.gain * lateSamples)
        return s
    }
}

extension BLEReceiver {
    enum CodedOutcome {
        /// The packet runs to about this buffer position, not yet received.
        case needMoreSamples(until: Double)
        case noAccessAddress
        case badCRC
        case good(Packet, end: Int)
    }

    func scanCoded() {
        let sps = samplesPerSymbol
        let count = smoothed.count
        // A packet found earlier is still arriving: nothing to do until it has.
        guard base + Int64(count) >= coded.waitUntil else { return }
        // Room for the scan window, the refinement three periods on and a try one period later.
        let limit = count - (coded.span + Int(32 * sps) + 4)
        var c = max(Int(coded.next - base), 1)
        smoothed.withUnsafeBufferPointer { values in
            while c < limit {
                guard let hit = codedPreambleHit(from: c, to: limit) else { c = limit; break }
                // Best integer start within three periods, then the best quarter sample around it.
                var best = hit, bestScore = -Float.infinity
                for s in hit...(hit + Int(24 * sps)) {
                    let score = preambleScore(start: Double(s), values: values)
                    if score > bestScore { bestScore = score; best = s }
                }
                var start = Double(best)
                for quarter in -3...3 where quarter != 0 {
                    let score = preambleScore(start: Double(best) + Double(quarter) / 4, values: values)
                    if score > bestScore { bestScore = score; start = Double(best) + Double(quarter) / 4 }
                }
                let period = 8 * sps
                let tries = [start, start + period, start - period].filter { $0 >= 1 }
                    .map { ($0, preambleScore(start: $0, values: values)) }.sorted { $0.1 > $1.1 }.map(\.0)
                var outcome = CodedOutcome.noAccessAddress
                for t in tries {
                    outcome = decodeCoded(start: t, values: values)
                    if case .noAccessAddress = outcome { continue }
                    break
                }
                switch outcome {
                case .needMoreSamples(let until):
                    coded.waitUntil = base + Int64(until.rounded(.up))
                    return
                case .noAccessAddress:
                    counters.codedPreambles += 1
                    counters.codedBadAccessAddress += 1
                    c = best + Int(4 * sps)
                case .badCRC:
                    counters.codedPreambles += 1
                    counters.codedBadCRC += 1
                    c = best + Int(Double(CodedPHY.preambleSymbols + CodedPHY.block1Symbols) * sps)
                case .good(let packet, let end):
                    counters.codedPreambles += 1
                    counters.codedPackets += 1
                    pending.append(packet)
                    c = max(c + 1, end)
                }
            }
        }
        coded.next = base + Int64(c)
    }

    /// Correlation of the discriminator with the preamble pattern starting at `start`.
    func preambleScore(start: Double, values: UnsafeBufferPointer<Float>) -> Float {
        var score: Float = 0
        for k in 0..<CodedPHY.preambleSymbols {
            score += CodedSearch.periodSigns[k & 7] * Self.interpolate(values, at: start + Double(k) * samplesPerSymbol)
        }
        return score
    }

    /// The first candidate in `first..<limit` whose preamble correlation passes the threshold.
    /// Candidates go in blocks, each step a pass the compiler vectorises: one period's
    /// correlation at every sample, the ten periods' sum, the test against the window's spread.
    func codedPreambleHit(from first: Int, to limit: Int) -> Int? {
        let reach = coded.periodOffsets[9], block = BLEReceiver.candidateBlock
        if coded.scratch.count < 2 * block + reach { coded.scratch = [Float](repeating: 0, count: 2 * block + reach) }
        let threshold2 = CodedSearch.threshold * CodedSearch.threshold
            * Float(CodedPHY.preambleSymbols * CodedPHY.preambleSymbols)
        let span = coded.span, spanF = Float(span), spanSquared = spanF * spanF
        return smoothed.withUnsafeBufferPointer { values in
            cumulative.withUnsafeBufferPointer { sums in
                cumulativeSquares.withUnsafeBufferPointer { squares in
                    coded.scratch.withUnsafeMutableBufferPointer { scratch in
                        let r = scratch.baseAddress!, shortfall = r + block + reach
                        var blockStart = first
                        while blockStart < limit {
                            let n = min(block, limit - blockStart)
                            // One period: + for the symbols that are 1 (00111100).
                            let v = values.baseAddress! + blockStart, o = coded.phaseOffsets
                            let v0 = v + o[0], v1 = v + o[1], v2 = v + o[2], v3 = v + o[3]
                            let v4 = v + o[4], v5 = v + o[5], v6 = v + o[6], v7 = v + o[7]
                            for i in 0..<(n + reach) {
                                r[i] = (v2[i] + v3[i] + v4[i] + v5[i]) - (v0[i] + v1[i] + v6[i] + v7[i])
                            }
                            // Ten periods, and how far each falls short of p > τ·80·σ (σ² from the
                            // window's sums), without branches: a candidate passes below zero.
                            let p = coded.periodOffsets
                            let p1 = r + p[1], p2 = r + p[2], p3 = r + p[3], p4 = r + p[4], p5 = r + p[5]
                            let p6 = r + p[6], p7 = r + p[7], p8 = r + p[8], p9 = r + p[9]
                            let sumsLow = sums.baseAddress! + blockStart, sumsHigh = sumsLow + span
                            let squaresLow = squares.baseAddress! + blockStart, squaresHigh = squaresLow + span
                            for i in 0..<n {
                                let total = ((r[i] + p1[i]) + (p2[i] + p3[i])) + ((p4[i] + p5[i]) + (p6[i] + p7[i])) + (p8[i] + p9[i])
                                let sum = Float(sumsHigh[i] - sumsLow[i]), sumSquares = Float(squaresHigh[i] - squaresLow[i])
                                let positive = max(total, 0)
                                shortfall[i] = threshold2 * (spanF * sumSquares - sum * sum) - positive * positive * spanSquared
                            }
                            var i = 0
                            while i < n {
                                // "At most the largest negative float" is "below zero".
                                if i + 16 <= n, !BLEReceiver.anyAtMost(shortfall + i, -.leastNonzeroMagnitude) { i += 16; continue }
                                if shortfall[i] < 0 { return blockStart + i }
                                i += 1
                            }
                            blockStart += n
                        }
                        return nil
                    }
                }
            }
        }
    }

    /// `codedPreambleHit` one candidate at a time in double precision, to check it (the symbol
    /// offsets are the same: one period's, plus whole periods, each rounded to a sample).
    func codedPreambleHitReference(from first: Int, to limit: Int) -> Int? {
        let span = Double(coded.span)
        for c in first..<limit {
            var score = 0.0
            for j in 0..<10 {
                for k in 0..<8 {
                    score += Double(CodedSearch.periodSigns[k]) * Double(smoothed[c + coded.periodOffsets[j] + coded.phaseOffsets[k]])
                }
            }
            let mean = (cumulative[c + coded.span] - cumulative[c]) / span
            let variance = (cumulativeSquares[c + coded.span] - cumulativeSquares[c]) / span - mean * mean
            if score > 0, score / (Double(CodedPHY.preambleSymbols) * variance.squareRoot()) > Double(CodedSearch.threshold) {
                return c
            }
        }
        return nil
    }

    /// Decodes FEC blocks 1 and 2 of a packet whose first preamble symbol is centred at `start`.
    func decodeCoded(start: Double, values: UnsafeBufferPointer<Float>) -> CodedOutcome {
        let sps = samplesPerSymbol
        let count = smoothed.count
        var offset: Float = 0
        for k in 0..<CodedPHY.preambleSymbols { offset += Self.interpolate(values, at: start + Double(k) * sps) }
        offset /= Float(CodedPHY.preambleSymbols)
        var clock = SymbolClock(position: start + Double(CodedPHY.preambleSymbols) * sps, samplesPerSymbol: sps,
                                offset: offset, previous: Self.interpolate(values, at: start + 79 * sps) - offset)
        // FEC block 1.
        coded.symbols.removeAll(keepingCapacity: true)
        // Where the last of `symbols` more symbols will be, with room for clock error.
        func until(_ symbols: Int) -> CodedOutcome {
            .needMoreSamples(until: clock.position + Double(symbols) * sps * 1.0002 + 2)
        }
        for k in 0..<CodedPHY.block1Symbols {
            guard clock.available(count) else { return until(CodedPHY.block1Symbols - k) }
            coded.symbols.append(clock.next(values))
        }
        demap(coded.symbols[...], coding: .s8, inverted: false)
        var inverted = false
        var block1 = coded.soft.withUnsafeBufferPointer { coded.viterbi.decode($0, terminated: true) }
        if !Self.isAdvertisingBlock1(block1) {
            inverted = true
            for j in coded.soft.indices { coded.soft[j] = -coded.soft[j] }
            block1 = coded.soft.withUnsafeBufferPointer { coded.viterbi.decode($0, terminated: true) }
            guard Self.isAdvertisingBlock1(block1) else { return .noAccessAddress }
        }
        let coding: CodedPHY.Coding = block1[32] == 1 ? .s2 : .s8
        let perBit = 2 * coding.patternLength
        // FEC block 2: enough for the header and a traceback margin, then the whole block.
        coded.symbols.removeAll(keepingCapacity: true)
        func sample(upTo symbolCount: Int) -> Bool {
            while coded.symbols.count < symbolCount {
                guard clock.available(count) else { return false }
                coded.symbols.append(clock.next(values))
            }
            return true
        }
        guard sample(upTo: 40 * perBit) else { return until(40 * perBit - coded.symbols.count) }
        demap(coded.symbols[...], coding: coding, inverted: inverted)
        let headBits = coded.soft.withUnsafeBufferPointer { coded.viterbi.decode($0, terminated: false) }
        var header = Self.bytes(headBits, count: 2)
        BLE.whiten(&header, channel: channel)
        let pduBytes = 2 + Int(header[1])
        let block2Symbols = CodedPHY.block2Symbols(pduBytes: pduBytes, coding: coding)
        guard sample(upTo: block2Symbols) else { return until(block2Symbols - coded.symbols.count) }
        demap(coded.symbols[...], coding: coding, inverted: inverted)
        let bits = coded.soft.withUnsafeBufferPointer { coded.viterbi.decode($0, terminated: true) }
        var body = Self.bytes(bits, count: pduBytes + 3)
        BLE.whiten(&body, channel: channel)
        guard case .success(let pdu) = BLE.checkCRC(body[...]) else { return .badCRC }
        let first = Int((start - sps / 2).rounded())
        let end = Int((clock.position - sps / 2).rounded())
        return .good(packet(first: first, end: end, phy: coding == .s8 ? .codedS8 : .codedS2, pduAndCRC: body[...],
                            pdu: pdu, offset: offset), end: end)
    }

    /// Soft coded bits (positive = 1) from symbol values, into `coded.soft`.
    func demap(_ symbols: ArraySlice<Float>, coding: CodedPHY.Coding, inverted: Bool) {
        coded.soft.removeAll(keepingCapacity: true)
        let sign: Float = inverted ? -1 : 1
        switch coding {
        case .s2:
            for s in symbols { coded.soft.append(sign * s) }
        case .s8:
            // Coded 1 is sent as 1 1 0 0: the first pair high, the second low.
            var k = symbols.startIndex
            while k + 3 < symbols.endIndex {
                coded.soft.append(sign * ((symbols[k] + symbols[k + 1]) - (symbols[k + 2] + symbols[k + 3])))
                k += 4
            }
        }
    }

    static func isAdvertisingBlock1(_ bits: [UInt8]) -> Bool {
        guard bits.count >= 34 else { return false }
        var aa: UInt32 = 0
        for k in 0..<32 { aa |= UInt32(bits[k]) << UInt32(k) }
        return aa == BLE.advertisingAccessAddress && bits[33] == 0
    }

    /// Bytes from bits sent least significant first.
    static func bytes(_ bits: [UInt8], count: Int) -> [UInt8] {
        (0..<count).map { byte in (0..<8).reduce(UInt8(0)) { $0 | bits[byte * 8 + $1] << UInt8($1) } }
    }
}
