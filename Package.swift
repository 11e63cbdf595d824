// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "uasense",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "uasense", targets: ["uasense"]),
        .library(name: "IQ", targets: ["IQ"]),
        .library(name: "Spectrum", targets: ["Spectrum"]),
        .library(name: "RemoteID", targets: ["RemoteID"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
    ],
    targets: [
        // System libraries from Debian; the C surface stays inside these two targets.
        .systemLibrary(name: "CRtlSdr", pkgConfig: "librtlsdr", providers: [.apt(["librtlsdr-dev"])]),
        .systemLibrary(name: "CFFTW", pkgConfig: "fftw3f", providers: [.apt(["libfftw3-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        // TLS to a TAK Server (client certificates from .p12): Debian's OpenSSL.
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        // MQTT to a broker (Mosquitto and friends): Debian's libmosquitto, threaded client.
        .systemLibrary(name: "CMosquitto", pkgConfig: "libmosquitto", providers: [.apt(["libmosquitto-dev"])]),

        // Sample formats, SigMF, sources (file, RTL-SDR, rtl_tcp), blocks and drop accounting.
        .target(name: "IQ", dependencies: ["CRtlSdr"]),

        // Waterfall images (PNG through libpng) with axes, colour scale and burst outlines.
        .target(name: "Waterfall", dependencies: ["CPNG"]),

        // Spectral core: FFTW plans, windows, Welch PSD, spectrogram, noise floor, bursts, channelizers.
        .target(name: "Spectrum", dependencies: ["IQ", "CFFTW"]),

        // Remote ID (ASTM F3411 / ASD-STAN EN 4709-002): the message layer, values in SI units.
        .target(name: "RemoteID", path: "Sources/Decoders/RemoteID"),
        // Packet captures: pcap and pcapng in, BLE pcap out.
        .target(name: "Captures", dependencies: ["BLE", "RemoteID"]),

        // Bluetooth LE link layer for advertising: CRC-24, whitening, PDUs, AD structures.
        .target(name: "BLE", dependencies: ["IQ", "Spectrum"], path: "Sources/Decoders/BLE"),

        // Detections: the record contract, per-UAS state and plausibility.
        .target(name: "Detection", dependencies: ["IQ", "RemoteID", "Captures"]),

        // Detections to consoles: UDP JSON (optionally HMAC-signed), TAK Cursor-on-Target (UDP, TCP, TLS),
        // MQTT with an on-disk spool.
        .target(name: "Outputs", dependencies: ["IQ", "RemoteID", "Captures", "Detection", "COpenSSL", "CMosquitto",
                                                .product(name: "Crypto", package: "swift-crypto")]),

        // Synthetic scenes with ground truth, for tests, demos and users.
        .target(name: "Synth", dependencies: ["IQ", "Spectrum", "BLE", "RemoteID"]),

        // The command-line tool.
        .executableTarget(
            name: "uasense",
            dependencies: [
                "IQ",
                "Synth",
                "Spectrum",
                "Waterfall",
                "RemoteID",
                "BLE",
                "Captures",
                "Detection",
                "Outputs",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // Tests. Fixture scripts (fake rtl_tcp server, SigMF cross-checks) live in Tests/Fixtures.
        .target(name: "TestSupport", dependencies: ["IQ"], path: "Tests/TestSupport"),
        .testTarget(name: "IQTests", dependencies: ["IQ", "Synth", "TestSupport"]),
        .testTarget(name: "SpectrumTests", dependencies: ["IQ", "Spectrum", "Synth", "TestSupport"]),
        .testTarget(name: "WaterfallTests", dependencies: ["Waterfall"]),
        .testTarget(name: "RemoteIDTests", dependencies: ["RemoteID"]),
        .testTarget(name: "BLETests", dependencies: ["BLE", "RemoteID", "IQ", "Synth", "TestSupport"]),
        .testTarget(name: "CapturesTests", dependencies: ["Captures", "BLE", "RemoteID", "Detection", "IQ"]),
        .testTarget(name: "DetectionTests", dependencies: ["Detection", "Captures", "RemoteID", "IQ"]),
        .testTarget(name: "CLITests", dependencies: ["IQ", "Captures", "TestSupport", "uasense"]),
        .testTarget(name: "OutputsTests", dependencies: ["Outputs", "Detection", "Captures", "RemoteID", "TestSupport", "IQ",
                                                         .product(name: "Crypto", package: "swift-crypto")]),
    ]
)
