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
        let maxErrors = Float(Self.maxSyncErrors), syncSpan = syncOffsets[39]
        let block = Self.candidateBlock
        // Near 2 samples per symbol a packet whose symbols fall between samples slices badly on
        // the sample grid, so the grid halfway between samples is searched too.
        let halfGrid = samplesPerSymbol < 2.15
        let scratchSize = 3 * block + syncSpan + 2
        if syncScratch.count < scratchSize { syncScratch = [Float](repeating: 0, count: scratchSize) }
        return smoothed.withUnsafeBufferPointer { values in
            cumulative.withUnsafeBufferPointer { sums in
                syncOffsets.withUnsafeBufferPointer { offsets in
                    Self.syncBits.withUnsafeBufferPointer { bits in
                        syncScratch.withUnsafeMutableBufferPointer { scratch in
                            let means = scratch.baseAddress!, errors = means + block, half = errors + block
                            let inverseWidth = 1 / Double(syncSpan + 2 * halfWindow)
                            /// The first candidate in `start..<start + n` on `grid` (indexed like the
                            /// buffer) that passes, or nil.
                            func firstHit(_ grid: UnsafePointer<Float>, _ start: Int, _ n: Int) -> Int? {
                                // Two passes of eight bits each (the preamble 0xAA, then the
                                // address's first byte 0xD6): one load of each row per candidate.
                                let r0 = grid + start + offsets[0], r1 = grid + start + offsets[1]
                                let r2 = grid + start + offsets[2], r3 = grid + start + offsets[3]
                                let r4 = grid + start + offsets[4], r5 = grid + start + offsets[5]
                                let r6 = grid + start + offsets[6], r7 = grid + start + offsets[7]
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
                                let s0 = grid + start + offsets[8], s1 = grid + start + offsets[9]
                                let s2 = grid + start + offsets[10], s3 = grid + start + offsets[11]
                                let s4 = grid + start + offsets[12], s5 = grid + start + offsets[13]
                                let s6 = grid + start + offsets[14], s7 = grid + start + offsets[15]
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
                                    if i + 16 <= n, !Self.anyAtMost(errors + i, maxErrors) {
                                        i += 16
                                        continue
                                    }
                                    if errors[i] <= maxErrors {
                                        var count = errors[i]
                                        for k in 16..<40 where (grid[start + i + offsets[k]] > means[i]) != (bits[k] > 0) {
                                            count += 1
                                            if count > maxErrors { break }
                                        }
                                        if count <= maxErrors { return start + i }
                                    }
                                    i += 1
                                }
                                return nil
                            }
                            var blockStart = first
                            while blockStart < limit {
                                let n = min(block, limit - blockStart)
                                let upper = sums.baseAddress! + (blockStart + syncSpan + halfWindow)
                                let lower = sums.baseAddress! + (blockStart - halfWindow)
                                for i in 0..<n { means[i] = Float((upper[i] - lower[i]) * inverseWidth) }
                                let onSamples = firstHit(values.baseAddress!, blockStart, n)
                                if halfGrid {
                                    // Midpoints: half[j] lies between samples blockStart + j and + j + 1.
                                    let from = values.baseAddress! + blockStart
                                    for j in 0..<(n + syncSpan + 1) { half[j] = 0.5 * (from[j] + from[j + 1]) }
                                    let between = firstHit(UnsafePointer(half - blockStart), blockStart, onSamples.map { $0 - blockStart + 1 } ?? n)
                                    if let hit = [onSamples, between].compactMap({ $0 }).min() { return hit }
                                } else if let onSamples {
                                    return onSamples
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
    static func anyAtMost(_ p: UnsafePointer<Float>, _ limit: Float) -> Bool {
        let raw = UnsafeRawPointer(p)
        let a = raw.loadUnaligned(as: SIMD4<Float>.self), b = raw.loadUnaligned(fromByteOffset: 16, as: SIMD4<Float>.self)
        let c = raw.loadUnaligned(fromByteOffset: 32, as: SIMD4<Float>.self), d = raw.loadUnaligned(fromByteOffset: 48, as: SIMD4<Float>.self)
        return any((a .<= limit) .| (b .<= limit) .| (c .<= limit) .| (d .<= limit))
    }

    /// `coarseSync` one candidate at a time, in the plainest form, to check it.
    func coarseSyncReference(from first: Int, to limit: Int, halfWindow: Int) -> Int? {
        let syncSpan = syncOffsets[39], inverseWidth = 1 / Double(syncSpan + 2 * halfWindow)
        let shifts: [Float] = samplesPerSymbol < 2.15 ? [0, 0.5] : [0]
        for c in first..<limit {
            let mean = Float((cumulative[c + syncSpan + halfWindow] - cumulative[c - halfWindow]) * inverseWidth)
            for shift in shifts {
                let errors = (0..<40).filter { k in
                    let at = c + syncOffsets[k]
                    let v = shift == 0 ? smoothed[at] : 0.5 * (smoothed[at] + smoothed[at + 1])
                    return (v > mean) != (Self.syncBits[k] > 0)
                }.count
                if errors <= Self.maxSyncErrors { return c }
            }
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
