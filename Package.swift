// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "vigil",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "vigil", targets: ["vigil"]),
        .library(name: "VigilCore", targets: ["VigilCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // Shared Signals: JOSE signing and keys (over swift-crypto), and the push transmitter's HTTP(S) client.
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.7.1"),
        .package(url: "https://github.com/apple/swift-crypto", "4.1.0"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    ],
    targets: [
        // C libraries from Debian, each behind one module with a one-line shim.
        .systemLibrary(
            name: "CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        .systemLibrary(
            name: "CYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]
        ),
        .systemLibrary(
            name: "CMaxMindDB",
            pkgConfig: "libmaxminddb",
            providers: [.apt(["libmaxminddb-dev"])]
        ),

        // Domain-free machinery under the engine (JSON scanner and writer, RFC 3339, UTF-8, SipHash,
        // chunked storage, the position index): not a product, like swift-nio's `_NIODataStructures`.
        // Its API is public (no product exports it, so only this package sees it) and `@inlinable`, so
        // its generic and small functions are specialized and inlined into VigilCore's hot path as if
        // they were VigilCore's own.
        .target(name: "_VigilMachinery"),

        // The deterministic engine: no C, no I/O, event time is its only clock.
        .target(name: "VigilCore", dependencies: ["_VigilMachinery"]),

        // Thin adapters around the C libraries.
        .target(name: "VigilGeo", dependencies: ["VigilCore", "CMaxMindDB"]),
        .target(
            name: "VigilKafka",
            dependencies: ["CRdKafka", .product(name: "Logging", package: "swift-log")]
        ),

        // Seeded, realistic IdP traffic (normal users plus attacks) for `vigil demo` and the benchmarks.
        .target(name: "VigilWorkload", dependencies: ["VigilCore"]),

        // Composition root: sources, sinks, config files, lifecycle.
        .target(
            name: "VigilDaemon",
            dependencies: [
                "VigilCore", "_VigilMachinery", "VigilGeo", "VigilKafka", "VigilWorkload",
                .product(name: "Logging", package: "swift-log"),
                "CYAML",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .executableTarget(
            name: "vigil",
            dependencies: [
                "VigilDaemon",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),

        // `swift run -c release vigil-bench`: the engine and its C limits side by side (BENCHMARKS.md).
        // It imports the C modules directly on purpose: the raw libmaxminddb and librdkafka rates are
        // the yardsticks.
        .executableTarget(
            name: "vigil-bench",
            dependencies: [
                "VigilCore", "VigilGeo", "VigilKafka", "VigilWorkload", "VigilDaemon", "VigilTestSupport", "CMaxMindDB",
                "CRdKafka",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ]
        ),

        // What every test target (and the bench, which runs the daemon the same way) shares, once: waits,
        // the failure type, the quiet logger, paths (MaxMind test data, the `vigil` binary), child
        // processes, kcat, the daemon process, event lines. No `@testable` import: the bench builds it in
        // release.
        .target(
            name: "VigilTestSupport",
            dependencies: ["VigilKafka", .product(name: "Logging", package: "swift-log")],
            path: "Tests/VigilTestSupport"
        ),
        .testTarget(name: "_VigilMachineryTests", dependencies: ["_VigilMachinery"]),
        .testTarget(
            name: "VigilCoreTests",
            dependencies: ["VigilCore", "_VigilMachinery", "VigilTestSupport", "VigilWorkload"],
            exclude: ["Decode/Formats/README.md"]),
        .testTarget(name: "VigilWorkloadTests", dependencies: ["VigilWorkload", "VigilCore"]),
        // The bench's own judgement (which figures it may call met), not its measurements.
        .testTarget(name: "VigilBenchTests", dependencies: ["vigil-bench"]),
        .testTarget(name: "VigilGeoTests", dependencies: ["VigilGeo", "VigilCore", "VigilTestSupport"]),
        .testTarget(name: "VigilKafkaTests", dependencies: ["VigilKafka", "VigilTestSupport"]),
        .testTarget(
            name: "VigilDaemonTests",
            dependencies: [
                "VigilDaemon", "VigilCore", "_VigilMachinery", "VigilGeo", "VigilKafka", "VigilWorkload",
                "VigilTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            resources: [.copy("Scenarios")]
        ),
    ]
)
