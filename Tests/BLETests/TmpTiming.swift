import Foundation
import IQ
import Synth
import Testing
@testable import BLE

@Suite struct TmpTiming {
    @Test func timing() {
        let air = BLEPacketTrial(count: 1000, snrDB: 15, maxOffsetHz: 100e3, maxPPM: 50).scene.render()
        for (a, b) in [(true, false)] {
            var best = 0.0
            for _ in 0..<15 {
                let r = BLEReceiver(sampleRateHz: 2.4e6, channel: 37, receive1M: a, receiveCoded: b)!
                let t0 = DispatchTime.now().uptimeNanoseconds
                air.withUnsafeBufferPointer { all in
                    var s = 0
                    while s < all.count { let e = min(all.count, s + 65536); _ = r.process(UnsafeBufferPointer(rebasing: all[s..<e])); s = e }
                }
                let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
                best = max(best, Double(air.count) / dt / 1e6)
            }
            print("TIMING 1M \(a) coded \(b): \(best) MS/s")
        }
    }
}
