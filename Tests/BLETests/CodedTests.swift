import Foundation
import IQ
import Synth
import TestSupport
import Testing
@testable import BLE

@Suite struct CodedExploreTests {
    @Test func explore() {
        for phy in [BLEReceiver.PHY.codedS8, .codedS2] {
            for snr in [0.0, 2, 3, 4, 5, 6, 8, 12, 20] {
                let trial = BLEPacketTrial(count: 100, snrDB: snr, maxOffsetHz: 100e3, maxPPM: 50, phy: phy)
                let samples = cu8RoundTrip(trial.scene.render())
                let r = BLEReceiver(sampleRateHz: 2.4e6, channel: 37)!
                var packets = r.process(samples)
                packets += r.finish()
                let rate = trial.decodeRate(packets.map { ($0.sampleIndex, $0.pdu) })
                print("EXPLORE \(phy) snr \(snr) rate \(rate) packets \(packets.count) \(r.counters)")
            }
        }
    }
}

