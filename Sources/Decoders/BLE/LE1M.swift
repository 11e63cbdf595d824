import Foundation

/// The LE 1M search of `BLEReceiver`.
///
/// ```
/// on air:  preamble 0xAA | access address D6 BE 89 8E | PDU (2-byte header, ≤ 255 bytes) | CRC-24
///          1 Msym/s GFSK, h ≈ 0.5 (±250 kHz), bit 1 = frequency up, bytes LSB first
/// example: ADV_NONCONN_IND with a Remote ID Location on channel 37 —
///          aa d6 be 89 8e cf f7 02 e5 0e 85 … (BLE.airBytes1M of the link-layer golden vector)
/// ```
/// Every sample is a candidate start, sliced at the 40 known preamble + access-address bits against
/// their window mean (which follows the carrier offset), allowing `maxSyncErrors` mismatches. A hit
/// is refined to a quarter sample by correlation, the carrier offset is the midpoint of the sync
/// bits' two levels, and the rest of the packet is sliced at that timing; CRC-24 decides.
extension BLEReceiver {
    static let maxSyncErrors = 2
    /// Candidates examined per pass of the searches.
    static let candidateBlock = 2048

    static let syncBits: [Float] = {
        let bytes: [UInt8] = [0xAA, 0xD6, 0xBE, 0x89, 0x8E]
        return bytes.flatMap { b in (0..<8).map { b >> $0 & 1 == 1 ? Float(1) : -1 } }
    }()
    static let syncOnes = Float(syncBits.filter { $0 > 0 }.count)

    enum Outcome {
        case needMoreSamples
        case bad
        case good(Packet, end: Int)
    }

    func scan1M() {
        let sps = samplesPerSymbol
        let halfWindow = Int(sps / 2 + 1)
        let syncSpan = syncOffsets[39]
        var c = Int(next1M - base)
        let count = smoothed.count
        let limit = count - (syncSpan + halfWindow + 4)
        c = max(c, halfWindow + 2)
        smoothed.withUnsafeBufferPointer { values in
        while c < limit {
            guard let hit = coarseSync(from: c, to: limit, halfWindow: halfWindow) else { c = limit; break }
            c = hit
            // Fine: the best whole sample from −1 to +3, then halves and quarters around it (the
            // correlation peak is smooth, so this finds the best quarter in 9 tries instead of 17).
            func score(_ start: Double) -> Float {
                var total: Float = 0
                for k in 0..<40 { total += Self.syncBits[k] * Self.interpolate(values, at: start + Double(k) * sps) }
                return total
            }
            var bestStart = Double(c), bestScore = -Float.infinity
            for shift in -1...3 {
                let v = score(Double(c + shift))
                if v > bestScore { bestScore = v; bestStart = Double(c + shift) }
            }
            for step in [0.5, 0.25] {
                let centre = bestStart
                for start in [centre - step, centre + step] {
                    let v = score(start)
                    if v > bestScore { bestScore = v; bestStart = start }
                }
            }
            switch decode1M(start: bestStart, values: values) {
            case .needMoreSamples:
                return
            case .bad:
                counters.syncs += 1
                counters.badCRC += 1
                c += 4
            case .good(let packet, let end):
                counters.syncs += 1
                counters.packets += 1
                pending.append(packet)
                c = max(c + 1, end)
            }
        }
        }
        next1M = base + Int64(c)
    }

    /// The first candidate in `first..<limit` whose 40 sync bits, sliced against their window
    /// mean, show at most `maxSyncErrors` mismatches. Runs at every sample, so candidates go in
    /// blocks: window means, then the first 16 bits' error counts across the block (passes the
    /// compiler vectorises); only candidates that survive see the other 24 bits.
    func coarseSync(from first: Int, to limit: Int, halfWindow: Int) -> Int? {
        let maxErrors = Self.maxSyncErrors, syncSpan = syncOffsets[39]
        let block = Self.candidateBlock
        if syncScratch.count < 2 * block { syncScratch = [Float](repeating: 0, count: 2 * block) }
        return smoothed.withUnsafeBufferPointer { values in
            cumulative.withUnsafeBufferPointer { sums in
                syncOffsets.withUnsafeBufferPointer { offsets in
                    Self.syncBits.withUnsafeBufferPointer { bits in
                        syncScratch.withUnsafeMutableBufferPointer { scratch in
                            let means = UnsafeMutableBufferPointer(rebasing: scratch[0..<block])
                            let errors = UnsafeMutableBufferPointer(rebasing: scratch[block..<(2 * block)])
                            let inverseWidth = 1 / Double(syncSpan + 2 * halfWindow)
                            // The first 16 bits' rows, and whether each bit is a 1.
                            let rows = (0..<16).map { values.baseAddress! + offsets[$0] }
                            var blockStart = first
                            while blockStart < limit {
                                let n = min(block, limit - blockStart)
                                let upper = sums.baseAddress! + (blockStart + syncSpan + halfWindow)
                                let lower = sums.baseAddress! + (blockStart - halfWindow)
                                for i in 0..<n { means[i] = Float((upper[i] - lower[i]) * inverseWidth) }
                                // Two passes of eight bits each (the preamble 0xAA, then the address's
                                // first byte 0xD6): one load of each row per candidate, no
                                // intermediate stores.
                                let b = blockStart
                                let r0 = rows[0] + b, r1 = rows[1] + b, r2 = rows[2] + b, r3 = rows[3] + b
                                let r4 = rows[4] + b, r5 = rows[5] + b, r6 = rows[6] + b, r7 = rows[7] + b
                                for i in 0..<n {
                                    let m = means[i]
                                    // 0xAA LSB first: 0 1 0 1 0 1 0 1
                                    var e: Float = r0[i] > m ? 1 : 0
                                    e += r1[i] > m ? 0 : 1
                                    e += r2[i] > m ? 1 : 0
                                    e += r3[i] > m ? 0 : 1
                                    e += r4[i] > m ? 1 : 0
                                    e += r5[i] > m ? 0 : 1
                                    e += r6[i] > m ? 1 : 0
                                    e += r7[i] > m ? 0 : 1
                                    errors[i] = e
                                }
                                let s0 = rows[8] + b, s1 = rows[9] + b, s2 = rows[10] + b, s3 = rows[11] + b
                                let s4 = rows[12] + b, s5 = rows[13] + b, s6 = rows[14] + b, s7 = rows[15] + b
                                for i in 0..<n {
                                    let m = means[i]
                                    // 0xD6 LSB first: 0 1 1 0 1 0 1 1
                                    var e: Float = s0[i] > m ? 1 : 0
                                    e += s1[i] > m ? 0 : 1
                                    e += s2[i] > m ? 0 : 1
                                    e += s3[i] > m ? 1 : 0
                                    e += s4[i] > m ? 0 : 1
                                    e += s5[i] > m ? 1 : 0
                                    e += s6[i] > m ? 0 : 1
                                    e += s7[i] > m ? 0 : 1
                                    errors[i] += e
                                }
                                var i = 0
                                while i < n {
                                    // Sixteen at a time while none can pass: most candidates in noise.
                                    if i + 16 <= n, !Self.anyAtMost(errors.baseAddress! + i, Float(maxErrors)) {
                                        i += 16
                                        continue
                                    }
                                    if errors[i] <= Float(maxErrors) {
                                        let c = blockStart + i
                                        var count = Int(errors[i])
                                        for k in 16..<40 where (values[c + offsets[k]] > means[i]) != (bits[k] > 0) {
                                            count += 1
                                            if count > maxErrors { break }
                                        }
                                        if count <= maxErrors { return c }
                                    }
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
    }

    /// Whether any of the 16 values from `p` is at most `limit`, four lanes at a time.
    @inline(__always)
    static func anyAtMost(_ p: UnsafeMutablePointer<Float>, _ limit: Float) -> Bool {
        let raw = UnsafeRawPointer(p)
        let a = raw.loadUnaligned(as: SIMD4<Float>.self), b = raw.loadUnaligned(fromByteOffset: 16, as: SIMD4<Float>.self)
        let c = raw.loadUnaligned(fromByteOffset: 32, as: SIMD4<Float>.self), d = raw.loadUnaligned(fromByteOffset: 48, as: SIMD4<Float>.self)
        return any((a .<= limit) .| (b .<= limit) .| (c .<= limit) .| (d .<= limit))
    }

    /// `coarseSync` one candidate at a time, in the plainest form, to check it.
    func coarseSyncReference(from first: Int, to limit: Int, halfWindow: Int) -> Int? {
        let syncSpan = syncOffsets[39], inverseWidth = 1 / Double(syncSpan + 2 * halfWindow)
        for c in first..<limit {
            let mean = Float((cumulative[c + syncSpan + halfWindow] - cumulative[c - halfWindow]) * inverseWidth)
            let errors = (0..<40).filter { (smoothed[c + syncOffsets[$0]] > mean) != (Self.syncBits[$0] > 0) }.count
            if errors <= Self.maxSyncErrors { return c }
        }
        return nil
    }

    /// Slices the packet whose first preamble bit is centred at buffer position `start`.
    func decode1M(start: Double, values: UnsafeBufferPointer<Float>) -> Outcome {
        let sps = samplesPerSymbol
        // Carrier offset: halfway between the mean "1" and the mean "0" of the sync bits, which stays
        // unbiased although the access address has more ones than zeros.
        var sumOnes: Float = 0, sumZeros: Float = 0
        for k in 0..<40 {
            let v = Self.interpolate(values, at: start + Double(k) * sps)
            if Self.syncBits[k] > 0 { sumOnes += v } else { sumZeros += v }
        }
        let offset = 0.5 * (sumOnes / Self.syncOnes + sumZeros / (40 - Self.syncOnes))
        let lastNeeded: (Int) -> Double = { bits in start + Double(bits) * sps + 2 }
        func byte(_ index: Int) -> UInt8 {
            var b: UInt8 = 0
            for bit in 0..<8 where Self.interpolate(values, at: start + Double(40 + index * 8 + bit) * sps) > offset { b |= 1 << bit }
            return b
        }
        guard lastNeeded(56) < Double(smoothed.count) else { return .needMoreSamples }
        var header = [byte(0), byte(1)]
        BLE.whiten(&header, channel: channel)
        let totalBytes = 2 + Int(header[1]) + 3
        guard lastNeeded(40 + totalBytes * 8) < Double(smoothed.count) else { return .needMoreSamples }
        var body = (0..<totalBytes).map(byte)
        BLE.whiten(&body, channel: channel)
        guard case .success(let pdu) = BLE.checkCRC(body[...]) else { return .bad }
        let first = Int((start - sps / 2).rounded())
        let end = Int((start + Double(40 + totalBytes * 8) * sps).rounded())
        return .good(packet(first: first, end: end, phy: .le1M, pduAndCRC: body[...], pdu: pdu, offset: offset), end: end)
    }
}
